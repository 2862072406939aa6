package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestBrowserUsersPagingAndSearch drives headless Chromium over the console
// users page of a project with 60 end-users: the total, Next page (cursor)
// to the last page, First page back, then a search typed in the search
// field whose results page on with the search kept.
func TestBrowserUsersPagingAndSearch(t *testing.T) {
	requireBrowser(t)
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop")
	e.seedUsers("shop", 60) // users_list_test.go: page00..page59@list.test, odd ones "OddListerNN"
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	dir := artifactsDir(t)
	bctx := startBrowser(t)
	tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
	fail := func(step string, err error) { t.Helper(); failStep(tctx, t, step, err) }
	run := stepRunner(tctx, t)
	text := func(step, sel string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Text(css(sel)))
		if err != nil {
			fail(step, err)
		}
		return v
	}
	// rows are the external ids of the listed end-users.
	rows := func(step string) []string {
		t.Helper()
		return strings.Fields(text(step, "#users tbody"))
	}
	has := func(list []string, s string) bool {
		for _, v := range list {
			if strings.Contains(v, s) {
				return true
			}
		}
		return false
	}
	count := func(list []string) int {
		n := 0
		for _, v := range list {
			if strings.HasSuffix(v, "@list.test") && strings.HasPrefix(v, "page") {
				n++
			}
		}
		return n / 2 // external id and email
	}
	run("sign in and open the users page",
		append(consoleSignIn(e.url, "admin@acme.example", "operator-pass-1"),
			chromedp.WaitVisible(css("header .me")),
			chromedp.Navigate(e.url+"/console/projects/shop/users"),
			chromedp.WaitVisible(css("#users-next")),
			shot("users-01-first-page"))...,
	)
	if got := text("total", "#users-total"); !strings.Contains(got, "60 end-users") {
		t.Fatalf("total %q", got)
	}
	if r := rows("page 1"); count(r) != 25 || !has(r, "page00@") || has(r, "page25@") {
		t.Fatalf("page 1 rows: %v", r)
	}
	run("next page", chromedp.Click(css("#users-next")), chromedp.WaitVisible(css("#users-first")))
	if r := rows("page 2"); count(r) != 25 || !has(r, "page25@") || has(r, "page24@") {
		t.Fatalf("page 2 rows: %v", r)
	}
	run("last page", chromedp.Click(css("#users-next")), chromedp.WaitVisible(css("#users-first")), shot("users-02-last-page"))
	if r := rows("page 3"); count(r) != 10 || !has(r, "page59@") {
		t.Fatalf("page 3 rows: %v", r)
	}
	if n, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#users-next").length`)); err != nil || n != 0 {
		t.Fatalf("last page has a Next page link (%d, %v)", n, err)
	}
	run("first page", chromedp.Click(css("#users-first")), chromedp.WaitVisible(css("#users-next")))
	if r := rows("back on page 1"); !has(r, "page00@") {
		t.Fatalf("First page rows: %v", r)
	}
	run("search",
		chromedp.SendKeys(css("#user-search"), "ODDLISTER"),
		chromedp.Click(css("form.search button")),
		chromedp.WaitVisible(css("#users-next")),
		shot("users-03-search"),
	)
	if got := text("search total", "#users-total"); !strings.Contains(got, "30 end-users match") {
		t.Fatalf("search total %q", got)
	}
	if r := rows("search page 1"); count(r) != 25 || has(r, "page00@") || !has(r, "page01@") {
		t.Fatalf("search page 1 rows: %v", r)
	}
	run("search, next page", chromedp.Click(css("#users-next")), chromedp.WaitVisible(css("#users-first")))
	if r := rows("search page 2"); count(r) != 5 || !has(r, "page59@") || has(r, "page58@") {
		t.Fatalf("search page 2 rows: %v", r)
	}
	if v, err := chromedp.Run(tctx, chromedp.Value(css("#user-search"))); err != nil || v != "ODDLISTER" {
		t.Fatalf("search field after paging: %q %v", v, err)
	}
}
