package main

import (
	"context"
	"os"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	base := os.Args[1]
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 1100))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var b1, b2, b3 []byte
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/login"),
		chromedp.SendKeys(`input[name=email]`, "admin@example.com"),
		chromedp.SendKeys(`input[name=password]`, "a-long-operator-password"),
		chromedp.Submit(`input[name=password]`),
		chromedp.Sleep(time.Second),
		chromedp.Navigate(base+"/console/tenants/default/settings"),
		chromedp.SendKeys(`#email-denylist`, "admin@chat.example\nstaff.agency.example"),
		chromedp.Click(`#save-email-denylist`),
		chromedp.Sleep(time.Second),
		chromedp.FullScreenshot(&b1, 80),
		chromedp.Navigate(base+"/console/projects/shop1/methods"),
		chromedp.Sleep(time.Second),
		chromedp.FullScreenshot(&b2, 60),
		chromedp.Navigate(base+"/console/"),
		chromedp.Sleep(time.Second),
		chromedp.FullScreenshot(&b3, 80),
	)
	if err != nil {
		panic(err)
	}
	_ = os.WriteFile("/tmp/shot-settings.png", b1, 0o644)
	_ = os.WriteFile("/tmp/shot-methods.png", b2, 0o644)
	_ = os.WriteFile("/tmp/shot-dash.png", b3, 0o644)
}
