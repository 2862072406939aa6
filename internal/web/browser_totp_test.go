package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// tokenProbe creates an operator API token from the console page with the
// page's session (CSRF token from /api/v1/me) and returns the HTTP status.
const tokenProbe = `(async () => {
  const me = await (await fetch('/api/v1/me', { credentials: 'same-origin' })).json();
  const r = await fetch('/api/v1/me/tokens', { method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token }, body: JSON.stringify({ name: 'from-browser' }) });
  return r.status;
})()`

// TestBrowserTOTPEnrolAndSignIn drives the console in headless Chromium: an
// operator signs in with the password, cannot create an API token yet,
// enrols TOTP on the account page (the QR code renders under the console
// CSP; the test reads the manual key from the page and computes the codes
// itself), gets ten recovery codes, signs out; the next sign-in asks for a
// code after the password, refuses a wrong one and accepts the right one;
// that session creates an API token. A recovery code signs in once.
func TestBrowserTOTPEnrolAndSignIn(t *testing.T) {
	requireBrowser(t)
	e := newTOTPEnv(t, store.SQLite, nil)
	clk := e.totpClock()
	o := e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	dir := artifactsDir(t)
	bctx := startBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "totp-"+name+".png"), buf, 0o644)
		})
	}
	failed := func(step string, err error) {
		t.Helper()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v (at %s)\n%s", step, err, loc, trim([]byte(html)))
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			failed(step, err)
		}
	}
	text := func(step, sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			failed(step, err)
		}
		return strings.TrimSpace(v)
	}
	eval := func(step, expr string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			failed(step, err)
		}
		return v
	}
	signInPassword := func(step string) {
		t.Helper()
		run(step,
			chromedp.Navigate(e.url+"/console/login"),
			chromedp.WaitVisible(css("#login-form")),
			chromedp.SendKeys(css("#email"), "root@ops.example"),
			chromedp.SendKeys(css("#password"), "operator-pass-1"),
			chromedp.Click(css("#signin")),
		)
	}

	signInPassword("password sign-in")
	run("dashboard", chromedp.WaitVisible(css("#tenant-id")))
	if st := eval("token before TOTP", tokenProbe); st != 403 {
		t.Fatalf("token creation before TOTP: %d, want 403", st)
	}
	run("account page",
		chromedp.Click(css("#account-link")),
		chromedp.WaitVisible(css("#totp-start")),
		shot("01-account"),
		chromedp.Click(css("#totp-start")),
		chromedp.WaitVisible(css("#totp-secret")),
		chromedp.WaitVisible(css("#totp-qr")),
		shot("02-enrol"),
	)
	if w := eval("QR code", "document.getElementById('totp-qr').naturalWidth"); w < 100 {
		t.Fatalf("the QR code did not render (naturalWidth %d)", w)
	}
	if uri := text("read URI", "#totp-uri"); !strings.HasPrefix(uri, "otpauth://totp/pingauth:root%40ops.example?") && !strings.HasPrefix(uri, "otpauth://totp/pingauth:root@ops.example?") {
		t.Fatalf("otpauth URI = %q", uri)
	}
	key, err := operator.DecodeTOTPSecret(text("read key", "#totp-secret"))
	if err != nil || len(key) != operator.TOTPSecretBytes {
		t.Fatalf("manual key from the page: %d bytes, %v", len(key), err)
	}
	run("confirm",
		chromedp.SendKeys(css("#totp-confirm-code"), operator.TOTPCode(key, clk.Now())),
		chromedp.Click(css("#totp-confirm")),
		chromedp.WaitVisible(css("#totp-recovery-codes")),
		shot("03-recovery-codes"),
	)
	codes := strings.Fields(text("read recovery codes", "#totp-recovery-codes"))
	if len(codes) != operator.RecoveryCodeCount {
		t.Fatalf("recovery codes on the page: %q", codes)
	}
	if ok, _ := e.a.TOTP.Enrolled(context.Background(), o.ID); !ok {
		t.Fatal("not enrolled after confirming in the browser")
	}
	run("sign out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")))

	signInPassword("password with TOTP")
	run("code step", chromedp.WaitVisible(css("#totp-code")), shot("04-code-step"))
	// The half-signed-in browser opens no console page.
	run("console while half signed in", chromedp.Navigate(e.url+"/console/operators"), chromedp.WaitVisible(css("#login-form")))
	run("back to the code step", chromedp.Navigate(e.url+"/console/login/totp"), chromedp.WaitVisible(css("#totp-code")))
	now := clk.next()
	run("wrong code",
		chromedp.SendKeys(css("#totp-code"), wrongCode(key, now)),
		chromedp.Click(css("#totp-signin")),
		chromedp.WaitVisible(css(".flash.err")),
		chromedp.WaitVisible(css("#totp-code")),
	)
	run("right code",
		chromedp.SendKeys(css("#totp-code"), operator.TOTPCode(key, now)),
		chromedp.Click(css("#totp-signin")),
		chromedp.WaitVisible(css("#tenant-id")),
		shot("05-signed-in"),
	)
	if st := eval("token after TOTP", tokenProbe); st != 201 {
		t.Fatalf("token creation after signing in with a code: %d, want 201", st)
	}

	run("sign out again", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")))
	signInPassword("password before a recovery code")
	run("recovery code",
		chromedp.WaitVisible(css("#totp-code")),
		chromedp.SendKeys(css("#totp-code"), codes[0]),
		chromedp.Click(css("#totp-signin")),
		chromedp.WaitVisible(css("#tenant-id")),
	)
	run("account after recovery",
		chromedp.Navigate(e.url+"/console/account/totp"),
		chromedp.WaitVisible(css("#totp-state")),
	)
	if s := text("state", "#totp-state"); !strings.Contains(s, "9 recovery codes left") {
		t.Fatalf("account state after a recovery code: %q", s)
	}
	es := totpAudit(t, e)
	if countAction(es, audit.TOTPEnrol) != 1 || countAction(es, audit.TOTPRecoveryUsed) != 1 || countAction(es, audit.TOTPFailure) != 1 {
		t.Errorf("audit: enrol %d, recovery_used %d, failure %d; want 1 each",
			countAction(es, audit.TOTPEnrol), countAction(es, audit.TOTPRecoveryUsed), countAction(es, audit.TOTPFailure))
	}
}
