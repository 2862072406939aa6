package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pingstreams/pingauth/internal/mail/mailtest"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestBrowserInviteAndAcceptAsANewUser drives headless Chromium: globex's
// tenant admin invites a new email on the members page (the link is shown
// once and emailed), signs out; the invitee opens the mailed link, chooses
// their own password and lands signed in on the console holding the role.
func TestBrowserInviteAndAcceptAsANewUser(t *testing.T) {
	requireBrowser(t)
	smtpSrv := mailtest.Start(t, "mailer", "smtp-pass-123")
	e := newEnvVars(t, store.SQLite, map[string]string{"PINGAUTH_SMTP_URL": smtpSrv.URL("pingauth@ops.test")})
	e.tenant("globex")
	e.operator("admin@globex.test", rbac.RoleTenantAdmin, "globex")
	bctx := startBrowser(t)
	tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	run := stepRunner(tctx, t)
	run("admin signs in",
		append(consoleSignIn(e.url, "admin@globex.test", "operator-pass-1"),
			chromedp.WaitVisible(css("header .me")),
			chromedp.Navigate(e.url+"/console/tenants/globex/operators"),
			chromedp.WaitVisible(css("#invite-form")),
			chromedp.SendKeys(css("#invite-email-input"), "newbie@globex.test"),
			chromedp.Click(css("#invite-submit")),
			chromedp.WaitVisible(css("#invite-link")))...,
	)
	link, err := chromedp.Run(tctx, chromedp.Value(css("#invite-link")))
	if err != nil || !strings.HasPrefix(link, e.url+"/console/invite/") {
		t.Fatalf("link shown: %q %v", link, err)
	}
	pending, _ := chromedp.Run(tctx, chromedp.OuterHTML(css("#invitations")))
	if !strings.Contains(pending, "newbie@globex.test") || strings.Contains(pending, link) {
		t.Errorf("pending invitations table: %s", pending)
	}
	msgs := smtpSrv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "newbie@globex.test" || inviteLink.FindString(msgs[0].Data) != link {
		t.Fatalf("mail: %+v", msgs)
	}
	run("admin signs out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")))
	run("invitee opens the mailed link and sets a password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(css("#invite-new-form")),
		chromedp.SendKeys(css("#invite-password"), "newbie-pass-123"),
		chromedp.SendKeys(css("#invite-password-confirm"), "newbie-pass-123"),
		chromedp.Click(css("#invite-create")),
		chromedp.WaitVisible(css("header .me")),
	)
	who, _ := chromedp.Run(tctx, chromedp.Text(css("header .who")))
	if strings.TrimSpace(who) != "newbie@globex.test" {
		t.Errorf("signed in as %q", who)
	}
	o, err := e.a.Operators.GetByEmail(context.Background(), "newbie@globex.test")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.a.RBAC.Allowed(o.ID, "globex", rbac.ObjProject, rbac.ActRead); !ok {
		t.Error("the invitee holds no role in globex")
	}
	run("the link is spent", chromedp.Navigate(link), chromedp.WaitVisible(css("main")))
	body, _ := chromedp.Run(tctx, chromedp.Text(css("main")))
	if !strings.Contains(body, "already used") {
		t.Errorf("reopened link: %s", body)
	}
}
