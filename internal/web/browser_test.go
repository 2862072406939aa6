package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where screenshots go: $PINGAUTH_ARTIFACTS_DIR or a temp dir (kept, logged).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PINGAUTH_ARTIFACTS_DIR")
	if dir == "" {
		d, err := os.MkdirTemp("", "pingauth-artifacts-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// TestBrowserTutorialFlow drives the real console in headless Chromium: a new
// platform admin signs in, creates a tenant and a project, generates the
// shared secret (shown once), adds an end-user, then the example widget page
// obtains a token from /auth/<projectId> that verifies with that secret.
// requireBrowser skips the test when Chromium is missing (fails instead
// under PINGAUTH_TEST_REQUIRE_BROWSER=1).
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("PINGAUTH_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatalf("PINGAUTH_TEST_REQUIRE_BROWSER=1 but %s is missing (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s not installed; set PINGAUTH_TEST_REQUIRE_BROWSER=1 to fail instead", chromiumPath)
	}
}

// startBrowser starts headless Chromium with a fresh profile (closed at the
// end of the test) and returns its context.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

func TestBrowserTutorialFlow(t *testing.T) {
	requireBrowser(t)
	e := newEnv(t, store.SQLite)
	ctx := context.Background()
	if created, err := e.a.BootstrapAdmin(ctx, "admin@example.com", "admin-pass-123"); err != nil || !created {
		t.Fatalf("bootstrap: %v %v", created, err)
	}
	dir := artifactsDir(t)
	bctx := startBrowser(t)
	tctx, cancelT := context.WithTimeout(bctx, 120*time.Second)
	defer cancelT()
	// Accept the confirm() dialogs of the console (rotate secret).
	dialogs := chromedp.Events(tctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(tctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
	failed := func(step string, err error) {
		t.Helper()
		_ = chromedp.Do(tctx, shot("failed-"+strings.ReplaceAll(step, " ", "-")))
		loc, _ := chromedp.Run(tctx, chromedp.Location())
		html, _ := chromedp.Run(tctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v (at %s)\n%s", step, err, loc, trim([]byte(html)))
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, actions...); err != nil {
			failed(step, err)
		}
	}
	get := func(step string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(tctx, a)
		if err != nil {
			failed(step, err)
		}
		return v
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	const projectID = "5c81593adf767b0017d1aa68"
	run("login page",
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(css("#login-form")),
		shot("01-login"),
		chromedp.SendKeys(css("#email"), "admin@example.com"),
		chromedp.SendKeys(css("#password"), "admin-pass-123"),
		chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css("#tenant-id")),
	)
	run("create tenant",
		chromedp.SendKeys(css("#tenant-id"), "acme"),
		chromedp.SendKeys(css("#tenant-name"), "Acme Agency"),
		chromedp.Click(css("#create-tenant")),
		chromedp.WaitVisible(css("#new-project-acme")),
		shot("02-dashboard-empty"),
		chromedp.Click(css("#new-project-acme")),
		chromedp.WaitVisible(css("#project-form")),
	)
	run("tenant email deny-list",
		chromedp.Navigate(e.url+"/console/"),
		chromedp.Click(css("#tenant-settings-acme")),
		chromedp.WaitVisible(css("#email-denylist")),
		chromedp.SendKeys(css("#email-denylist"), "admin@chat.acme.example\nstaff.acme.example"),
		chromedp.Click(css("#save-email-denylist")),
		chromedp.WaitVisible(css(".flash")),
		shot("02b-tenant-settings"),
	)
	if v := get("read deny-list", chromedp.Value(css("#email-denylist"))); !strings.Contains(v, "staff.acme.example") || !strings.Contains(v, "admin@chat.acme.example") {
		t.Fatalf("tenant deny-list after saving: %q", v)
	}
	run("back to the dashboard",
		chromedp.Navigate(e.url+"/console/"),
		chromedp.WaitVisible(css("#new-project-acme")),
		chromedp.Click(css("#new-project-acme")),
		chromedp.WaitVisible(css("#project-form")),
	)
	run("create project",
		chromedp.SendKeys(css("#project-id"), projectID),
		chromedp.SendKeys(css("#project-name"), "Acme Shop"),
		chromedp.SendKeys(css("#project-origins"), "https://shop.acme.example"),
		shot("03-project-new"),
		chromedp.Click(css("#project-save")),
		chromedp.WaitVisible(css("#no-chat-connection")),
		shot("04-project-created"),
	)
	// No chat-server connection: the page says why a rotation cannot be
	// done here, offers the paste form, and a local secret only behind an
	// explicit choice with a warning.
	run("generate a local secret",
		chromedp.Click(css("#local-summary")),
		chromedp.WaitVisible(css("#rotate-local")),
		chromedp.Click(css("#rotate-local")),
		chromedp.WaitVisible(css("#new-secret")),
		chromedp.WaitVisible(css("#local-warning")),
		shot("05-secret-once"),
	)
	secretValue := strings.TrimSpace(get("read secret", chromedp.Text(css("#new-secret"))))
	snippet := get("read snippet", chromedp.Text(css("#snippet")))
	run("back to project",
		chromedp.Click(css("#back-to-project")),
		chromedp.WaitVisible(css("#secret-version")),
		shot("06-project-detail"),
	)
	if len(secretValue) < 32 {
		t.Fatalf("secret shown once looks wrong: %q", secretValue)
	}
	if !strings.Contains(snippet, e.url+"/auth/"+projectID) || !strings.Contains(snippet, "signInWithCustomToken") {
		t.Errorf("widget snippet lacks the auth URL or sign-in call:\n%s", snippet)
	}
	run("add end-user",
		chromedp.Click(css("#users-link")),
		chromedp.WaitVisible(css("#user-form")),
		chromedp.SendKeys(css("#user-email"), "user@example.com"),
		chromedp.SendKeys(css("#user-firstname"), "Andrea"),
		chromedp.SendKeys(css("#user-lastname"), "Leo"),
		chromedp.SendKeys(css("#user-password"), "visitor-pass-1"),
		chromedp.Click(css("#user-add")),
		chromedp.WaitVisible(css(".flash.ok")),
		shot("07-end-users"),
	)
	if usersHTML := get("users table", chromedp.OuterHTML(css("#users"))); !strings.Contains(usersHTML, "user@example.com") {
		t.Fatalf("new end-user not listed: %s", trim([]byte(usersHTML)))
	}
	run("example widget page",
		chromedp.Navigate(e.url+"/example/"+projectID),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#email"), "user@example.com"),
		chromedp.SendKeys(css("#password"), "visitor-pass-1"),
		chromedp.Click(css("#signin")),
	)
	resultJSON := get("wait for token", chromedp.Poll[string](`window.pingauthResult && JSON.stringify(window.pingauthResult)`, chromedp.WithPollingTimeout(20*time.Second)))
	run("example screenshot", shot("08-example-signed-in"))
	var result struct {
		Token string `json:"token"`
		JWT   string `json:"jwt"`
	}
	if err := json.Unmarshal([]byte(resultJSON), &result); err != nil {
		t.Fatalf("pingauthResult: %v (%s)", err, resultJSON)
	}
	if result.JWT != "JWT "+result.Token {
		t.Errorf("jwt field = %q, want \"JWT <token>\"", result.JWT)
	}
	claims, err := token.Verify(result.Token, token.VerifyOptions{
		Audience: "https://tiledesk.com/projects/" + projectID,
		Keys:     []token.Key{{Version: 1, Value: []byte(secretValue)}},
	})
	if err != nil {
		t.Fatalf("token does not verify with the secret the console showed: %v", err)
	}
	if claims["_id"] != "user@example.com" || claims["firstname"] != "Andrea" {
		t.Errorf("claims = %v", claims)
	}
	// The remaining pages render (screenshots for review).
	run("audit page",
		chromedp.Navigate(e.url+"/console/audit"),
		chromedp.WaitVisible(css("#audit")),
		shot("09-audit"),
	)
	get("audit table", chromedp.OuterHTML(css("#audit"))) // the table renders; its rows are checked at the end
	run("operators and dashboard",
		chromedp.Navigate(e.url+"/console/operators"),
		chromedp.WaitVisible(css("main h1")),
		shot("10-operators"),
		chromedp.Navigate(e.url+"/console/"),
		chromedp.WaitVisible(css("#new-project-acme")),
		shot("11-dashboard"),
	)

	// Server mode from the console: enable it, create an API key (shown once),
	// then the site's backend mints with that key over plain HTTP.
	run("enable server mode",
		chromedp.Navigate(e.url+"/console/projects/"+projectID),
		chromedp.Click(css("#methods-link")),
		chromedp.WaitVisible(css("#modes-form")),
		chromedp.Click(css("#mode-server")),
		chromedp.Click(css("#modes-save")),
		chromedp.WaitVisible(css(".flash.ok")),
	)
	run("create API key",
		chromedp.SendKeys(css("#key-name"), "shop-backend"),
		chromedp.Click(css("#key-create")),
		chromedp.WaitVisible(css("#new-key")),
		shot("12-apikey-once"),
	)
	apiKey := strings.TrimSpace(get("read API key", chromedp.Text(css("#new-key"))))
	run("back to sign-in methods",
		chromedp.Click(css("#back-to-methods")),
		chromedp.WaitVisible(css("#keys")),
		shot("13-sign-in-methods"),
	)
	if keysHTML := get("keys table", chromedp.OuterHTML(css("#keys"))); !strings.Contains(keysHTML, "shop-backend") || strings.Contains(keysHTML, apiKey) {
		t.Fatalf("key list lacks the new key or shows its value: %s", trim([]byte(keysHTML)))
	}
	st, minted := mint(t, e, projectID, apiKey, `{"user":{"id":"backend-42","email":"b42@example.com","firstname":"Bea"}}`)
	if st != http.StatusOK {
		t.Fatalf("server-mode mint with the console's key: %d %v", st, minted)
	}
	serverClaims := verifyWidgetToken(t, projectID, secretValue, minted)
	if serverClaims["_id"] != "backend-42" || serverClaims["firstname"] != "Bea" {
		t.Errorf("server-mode claims = %v", serverClaims)
	}
	// Block that visitor on the sign-in methods page: the backend's next mint
	// is refused; unblocking (confirm dialog accepted) lets it in again.
	run("block a user",
		chromedp.Navigate(e.url+"/console/projects/"+projectID+"/methods"),
		chromedp.WaitVisible(css("#override-form")),
		chromedp.SendKeys(css("#override-external-id"), "backend-42"),
		chromedp.SendKeys(css("#override-note"), "abuse report"),
		chromedp.Click(css("#override-blocked")),
		chromedp.Click(css("#override-save")),
		chromedp.WaitVisible(css(`#overrides tr[data-external-id="backend-42"]`)),
		shot("14-user-blocked"),
	)
	if st, out := mint(t, e, projectID, apiKey, `{"user":{"id":"backend-42"}}`); st != http.StatusForbidden {
		t.Fatalf("server-mode mint for a user blocked in the console: %d %v, want 403", st, out)
	}
	run("unblock the user",
		chromedp.Click(css("#override-remove-0")),
		chromedp.WaitVisible(css("#no-overrides")),
	)
	if st, out := mint(t, e, projectID, apiKey, `{"user":{"id":"backend-42"}}`); st != http.StatusOK {
		t.Fatalf("server-mode mint after unblocking in the console: %d %v", st, out)
	}
	run("project snippets",
		chromedp.Navigate(e.url+"/console/projects/"+projectID),
		chromedp.WaitVisible(css("#snippet-server")),
		shot("15-project-with-server-mode"),
	)
	run("audit again", chromedp.Navigate(e.url+"/console/audit"), chromedp.WaitVisible(css("#audit")))
	auditHTML := get("audit table", chromedp.OuterHTML(css("#audit")))
	for _, action := range []string{"tenant.create", "project.create", "secret.create", "enduser.create", "modes.set", "apikey.create", "mapping.override.set", "mapping.override.delete"} {
		if !strings.Contains(auditHTML, action) {
			t.Errorf("audit log lacks %s", action)
		}
	}
	if !strings.Contains(auditHTML, "admin@example.com") {
		t.Error("audit log does not name the operator as actor")
	}
}

// stepRunner returns run(step, actions...) over tctx: a step that fails
// ends the test with the page's location and its main element.
func stepRunner(tctx context.Context, t *testing.T) func(step string, actions ...chromedp.Action[chromedp.Void]) {
	return func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, actions...); err != nil {
			failStep(tctx, t, step, err)
		}
	}
}

// failStep ends the test at a failed browser step, with the page's
// location and its main element.
func failStep(tctx context.Context, t *testing.T, step string, err error) {
	t.Helper()
	loc, _ := chromedp.Run(tctx, chromedp.Location())
	html, _ := chromedp.Run(tctx, chromedp.OuterHTML(chromedp.CSS("main")))
	t.Fatalf("%s: %v (at %s)\n%s", step, err, loc, trim([]byte(html)))
}

// consoleSignIn are the steps that sign an operator in on the console's
// sign-in page (the caller waits for the page it expects next).
func consoleSignIn(base, email, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
	}
}
