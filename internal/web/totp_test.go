package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// The TOTP store's clock in tests is a testClock (tokens_test.go): codes
// are computed for it and it moves one step at a time (no sleeping, no
// flaky step boundaries).

// next moves to the next 30 s step and returns the new time.
func (c *testClock) next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(operator.TOTPPeriod * time.Second)
	return c.t
}

// totpClock installs a test clock on e's TOTP store (before any request).
func (e *env) totpClock() *testClock {
	c := &testClock{t: time.Date(2030, 6, 1, 12, 0, 5, 0, time.UTC)}
	e.a.TOTP.SetClock(c.Now)
	return c
}

// enrolTOTP enrols o directly in the store (the console flow has its own
// tests) and returns the secret and the recovery codes.
func (e *env) enrolTOTP(o *operator.Operator, clk *testClock) ([]byte, []string) {
	e.t.Helper()
	ctx := context.Background()
	key, err := e.a.TOTP.Begin(ctx, o.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, err := e.a.TOTP.Confirm(ctx, o.ID, operator.TOTPCode(key, clk.Now()))
	if err != nil {
		e.t.Fatal(err)
	}
	return key, codes
}

// signIn posts email, password and code to POST /api/v1/session.
func (e *env) signIn(email, code string) (*client, *http.Response, []byte) {
	e.t.Helper()
	c := e.anon()
	in := map[string]string{"email": email, "password": "operator-pass-1"}
	if code != "" {
		in["code"] = code
	}
	res, body := c.do("POST", "/api/v1/session", in)
	for _, ck := range res.Cookies() {
		if ck.Name == "pingauth_session" {
			c.cookie = ck
		}
	}
	if c.cookie != nil && c.cookie.Value == "" {
		c.cookie = nil
	}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.Unmarshal(body, &out)
	c.csrf = out.CSRF
	return c, res, body
}

// loginTOTP signs in with the current code of key (the clock moves a step
// first so the code is fresh).
func (e *env) loginTOTP(email string, key []byte, clk *testClock) *client {
	e.t.Helper()
	c, res, body := e.signIn(email, operator.TOTPCode(key, clk.next()))
	if res.StatusCode != http.StatusOK || c.cookie == nil {
		e.t.Fatalf("sign-in of %s with a code: %d %s", email, res.StatusCode, body)
	}
	return c
}

func totpAudit(t *testing.T, e *env) []audit.Event {
	t.Helper()
	es, err := e.a.Audit.List(context.Background(), audit.Query{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func countAction(es []audit.Event, action string) int {
	n := 0
	for _, ev := range es {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// TestTOTPSignIn: with TOTP enrolled, the password alone signs in nowhere
// (API: 401; console form: a half-signed-in session that opens no page); a
// wrong code is refused, a replayed one too, five wrong codes lock the
// second factor out (even the right code is then refused, 429); a recovery
// code works once. Audit events carry no code. Both dialects.
func TestTOTPSignIn(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newTOTPEnv(t, d, nil)
			clk := e.totpClock()
			o := e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
			key, codes := e.enrolTOTP(o, clk)

			// Password only: refused, no session.
			c, res, body := e.signIn("root@ops.example", "")
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "code") || c.cookie != nil {
				t.Fatalf("password without code: %d %s (cookie %v)", res.StatusCode, body, c.cookie)
			}
			// The console form: the half-signed-in session opens nothing.
			pending := consoleLoginPending(t, e, "root@ops.example")
			for _, p := range []string{"/console/", "/console/operators", "/api/v1/me"} {
				res, _ := pending.do("GET", p, nil)
				if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusUnauthorized {
					t.Errorf("half-signed-in GET %s: %d, want a redirect to sign-in or 401", p, res.StatusCode)
				}
				if res.StatusCode == http.StatusSeeOther && !strings.HasPrefix(res.Header.Get("Location"), "/console/login") {
					t.Errorf("half-signed-in GET %s redirects to %s", p, res.Header.Get("Location"))
				}
			}

			// Wrong code, then the right one; its replay is refused.
			now := clk.next()
			if _, res, body := e.signIn("root@ops.example", wrongCode(key, now)); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong code: %d %s", res.StatusCode, body)
			}
			good := operator.TOTPCode(key, now)
			c, res, body = e.signIn("root@ops.example", good)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("right code: %d %s", res.StatusCode, body)
			}
			if res, body := c.do("GET", "/api/v1/me", nil); res.StatusCode != http.StatusOK {
				t.Fatalf("session after the code: %d %s", res.StatusCode, body)
			}
			if _, res, body := e.signIn("root@ops.example", good); res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "already used") {
				t.Fatalf("replayed code: %d %s", res.StatusCode, body)
			}

			// A recovery code signs in once.
			if _, res, body := e.signIn("root@ops.example", codes[0]); res.StatusCode != http.StatusOK {
				t.Fatalf("recovery code: %d %s", res.StatusCode, body)
			}
			if _, res, _ := e.signIn("root@ops.example", codes[0]); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("recovery code reused: %d", res.StatusCode)
			}

			// Lockout: five consecutive wrong codes (the reused recovery code
			// above is the first), then even the right code is refused.
			for i := 0; i < 4; i++ {
				if _, res, _ := e.signIn("root@ops.example", wrongCode(key, clk.Now())); res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong code %d: %d", i, res.StatusCode)
				}
			}
			now = clk.next()
			_, res, body = e.signIn("root@ops.example", operator.TOTPCode(key, now))
			if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "failed attempts") {
				t.Fatalf("right code while locked out: %d %s", res.StatusCode, body)
			}

			es := totpAudit(t, e)
			if n := countAction(es, audit.TOTPFailure); n < 5 {
				t.Errorf("totp.failure events = %d, want at least 5", n)
			}
			if n := countAction(es, audit.TOTPRecoveryUsed); n != 1 {
				t.Errorf("totp.recovery_used events = %d, want 1", n)
			}
			raw, _ := json.Marshal(es)
			for _, secret := range append([]string{good, operator.EncodeTOTPSecret(key)}, codes...) {
				if strings.Contains(string(raw), secret) {
					t.Fatalf("the audit log holds a code or the secret (%s)", secret)
				}
			}
		})
	}
}

// newTOTPEnv is newEnv without the sign-in rate limits (every request of
// a test comes from 127.0.0.1); the lockout stays at its default (5).
func newTOTPEnv(t *testing.T, d store.Dialect, extra map[string]string) *env {
	vars := map[string]string{"PINGAUTH_RATE_LOGIN_IP": "off", "PINGAUTH_RATE_LOGIN_USER": "off"}
	for k, v := range extra {
		vars[k] = v
	}
	return newEnvVars(t, d, vars)
}

// wrongCode is a 6-digit code that is none of the accepted ones at now.
func wrongCode(key []byte, now time.Time) string {
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if _, ok := operator.MatchTOTP(key, c, now); !ok {
			return c
		}
	}
	return "444444"
}

// csrfField is invite_test.go's.

// consoleLoginPending signs in with the console form (password only) and
// returns the client holding the half-signed-in cookie.
func consoleLoginPending(t *testing.T, e *env, email string) *client {
	t.Helper()
	c := e.anon()
	res, body := c.do("GET", "/console/login", nil)
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("login page: %d", res.StatusCode)
	}
	var loginCk *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "pingauth_login" {
			loginCk = ck
		}
	}
	form := url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {"operator-pass-1"}, "next": {"/console/"}}
	req, _ := http.NewRequest("POST", e.url+"/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(loginCk)
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/login/totp") {
		t.Fatalf("console password step: %d → %s, want the code step", res.StatusCode, res.Header.Get("Location"))
	}
	for _, ck := range res.Cookies() {
		if ck.Name == "pingauth_session" {
			c.cookie = ck
		}
	}
	if c.cookie == nil {
		t.Fatal("no half-signed-in cookie")
	}
	return c
}

// TestTOTPTokenCreationNeedsSecondFactor: an operator token is refused to a
// session that did not pass the second factor (no TOTP enrolled, 403) and
// to an API token; a session signed in with a code creates one.
func TestTOTPTokenCreationNeedsSecondFactor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	clk := e.totpClock()
	o := e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	plain := e.login("root@ops.example")
	res, body := plain.do("POST", "/api/v1/me/tokens", map[string]any{"name": "ci"})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "second factor") {
		t.Fatalf("token from a session without TOTP: %d %s", res.StatusCode, body)
	}
	key, _ := e.enrolTOTP(o, clk)
	c := e.loginTOTP("root@ops.example", key, clk)
	res, body = c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "ci"})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("token from a session that passed TOTP: %d %s", res.StatusCode, body)
	}
	var tok struct {
		Value string `json:"value"`
	}
	_ = json.Unmarshal(body, &tok)
	res, body = e.anon().do("POST", "/api/v1/me/tokens", map[string]any{"name": "child"}, "Authorization", "Bearer "+tok.Value)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("token created with an API token: %d %s", res.StatusCode, body)
	}
	if toks, err := e.a.Operators.ListTokens(context.Background(), o.ID); err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %v %v, want exactly the one", toks, err)
	}
}

// TestTOTPEnforcement: platform-wide (PINGAUTH_REQUIRE_TOTP=on) and per
// tenant, an operator without the second factor is sent to enrolment
// (console pages) or refused (API, 403) everywhere but enrolment and
// sign-out; operators of other tenants are not affected; after signing in
// with a code everything works again.
func TestTOTPEnforcement(t *testing.T) {
	t.Parallel()
	t.Run("platform", func(t *testing.T) {
		t.Parallel()
		e := newTOTPEnv(t, store.SQLite, map[string]string{"PINGAUTH_REQUIRE_TOTP": "on"})
		clk := e.totpClock()
		o := e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
		c := e.login("root@ops.example")
		assertSentToEnrolment(t, c, "/console/", "/console/operators", "/api/v1/tenants")
		if res, _ := c.do("GET", "/console/account/totp", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("enrolment page under enforcement: %d", res.StatusCode)
		}
		if res, _ := c.do("GET", "/api/v1/me", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("/api/v1/me under enforcement: %d", res.StatusCode)
		}
		key, _ := e.enrolTOTP(o, clk)
		c = e.loginTOTP("root@ops.example", key, clk)
		for _, p := range []string{"/console/", "/console/operators", "/api/v1/tenants"} {
			if res, body := c.do("GET", p, nil); res.StatusCode != http.StatusOK {
				t.Errorf("GET %s after TOTP: %d %s", p, res.StatusCode, trim(body))
			}
		}
	})
	t.Run("tenant", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, store.SQLite)
		clk := e.totpClock()
		e.tenant("acme")
		e.tenant("beta")
		e.project("acme", "shop")
		e.project("beta", "blog")
		e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
		admin := e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
		e.operator("ops@beta.example", rbac.RoleTenantAdmin, "beta")
		ac := e.login("admin@acme.example")
		// The tenant admin turns enforcement on from the settings page.
		form := "_csrf=" + url.QueryEscape(ac.csrf) + "&require_totp=on"
		res, body := ac.doForm("POST", "/console/tenants/acme/require-totp", form)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("require TOTP: %d %s", res.StatusCode, trim(body))
		}
		if tn, _ := e.a.Projects.GetTenant(context.Background(), "acme"); !tn.RequireTOTP {
			t.Fatal("tenant does not require TOTP")
		}
		if countAction(totpAudit(t, e), audit.TenantRequireTOTP) != 1 {
			t.Error("tenant.require_totp not audited")
		}
		// Its members must enrol first (this session too).
		assertSentToEnrolment(t, ac, "/console/", "/console/projects/shop", "/api/v1/projects/shop", "/console/tenants/acme/settings")
		// Members of other tenants are not affected.
		bc := e.login("ops@beta.example")
		if res, body := bc.do("GET", "/api/v1/projects/blog", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("other tenant's operator: %d %s", res.StatusCode, body)
		}
		// A platform admin without TOTP may not act in the enforcing tenant.
		rc := e.login("root@ops.example")
		assertSentToEnrolment(t, rc, "/console/projects/shop", "/api/v1/projects/shop")
		if res, body := rc.do("GET", "/api/v1/projects/blog", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("platform admin in a non-enforcing tenant: %d %s", res.StatusCode, body)
		}
		key, _ := e.enrolTOTP(admin, clk)
		ac = e.loginTOTP("admin@acme.example", key, clk)
		if res, body := ac.do("GET", "/api/v1/projects/shop", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("member after TOTP: %d %s", res.StatusCode, body)
		}
	})
}

// assertSentToEnrolment: console pages redirect to enrolment, the API
// answers 403 naming TOTP.
func assertSentToEnrolment(t *testing.T, c *client, paths ...string) {
	t.Helper()
	for _, p := range paths {
		res, body := c.do("GET", p, nil)
		switch {
		case strings.HasPrefix(p, "/api/"):
			if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "TOTP") {
				t.Errorf("GET %s without TOTP: %d %s, want 403", p, res.StatusCode, body)
			}
		default:
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/account/totp?required=1" {
				t.Errorf("GET %s without TOTP: %d → %s, want the enrolment page", p, res.StatusCode, res.Header.Get("Location"))
			}
		}
	}
}

// doForm posts a urlencoded form with the session cookie.
func (c *client) doForm(method, path, form string) (*http.Response, []byte) {
	c.e.t.Helper()
	return c.do(method, path, form, "Content-Type", "application/x-www-form-urlencoded")
}

// TestTOTPConsoleEnrolDisableReset drives the console forms over HTTP:
// start (QR data: URL, URI and key shown), a wrong code refused, confirm
// (recovery codes shown once), the session then creates tokens; disable
// needs a current code; a platform admin resets another operator's TOTP
// (audited, their sessions end).
func TestTOTPConsoleEnrolDisableReset(t *testing.T) {
	t.Parallel()
	e := newTOTPEnv(t, store.SQLite, nil)
	clk := e.totpClock()
	e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	o := e.operator("ops@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	c := e.login("ops@ops.example")
	other := e.login("ops@ops.example")
	csrf := "_csrf=" + url.QueryEscape(c.csrf)
	res, body := c.doForm("POST", "/console/account/totp/start", csrf)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("start: %d %s", res.StatusCode, trim(body))
	}
	page := string(body)
	if !strings.Contains(page, `src="data:image/png;base64,`) || !strings.Contains(page, "otpauth://totp/") {
		t.Fatalf("enrolment page lacks the QR code or URI:\n%s", trim(body))
	}
	m := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no manual key on the page")
	}
	key, err := operator.DecodeTOTPSecret(m[1])
	if err != nil || len(key) != operator.TOTPSecretBytes {
		t.Fatalf("manual key: %v", err)
	}
	res, body = c.doForm("POST", "/console/account/totp/confirm", csrf+"&code="+wrongCode(key, clk.Now()))
	if res.StatusCode != http.StatusBadRequest || strings.Contains(string(body), m[1]) {
		t.Fatalf("wrong confirmation code: %d (the page must not show the key again)", res.StatusCode)
	}
	res, body = c.doForm("POST", "/console/account/totp/confirm", csrf+"&code="+operator.TOTPCode(key, clk.Now()))
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "totp-recovery-codes") {
		t.Fatalf("confirm: %d %s", res.StatusCode, trim(body))
	}
	codes := regexp.MustCompile(`<li>([a-z2-9-]{14})</li>`).FindAllStringSubmatch(string(body), -1)
	if len(codes) != operator.RecoveryCodeCount {
		t.Fatalf("recovery codes shown: %d", len(codes))
	}
	if res, body := c.do("GET", "/console/account/totp", nil); strings.Contains(string(body), codes[0][1]) || !strings.Contains(string(body), "recovery codes left") {
		t.Fatalf("account page after enrolment (%d) shows a recovery code again or no state", res.StatusCode)
	}
	// The enrolling session passed the second factor; the other one ended.
	if res, body := c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "ci"}); res.StatusCode != http.StatusCreated {
		t.Fatalf("token after enrolment: %d %s", res.StatusCode, body)
	}
	if res, _ := other.do("GET", "/api/v1/me", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another session after enrolment: %d, want ended", res.StatusCode)
	}
	if countAction(totpAudit(t, e), audit.TOTPEnrol) != 1 {
		t.Error("totp.enrol not audited")
	}

	// Disable needs a current code.
	res, _ = c.doForm("POST", "/console/account/totp/disable", csrf+"&code="+wrongCode(key, clk.Now()))
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("disable with a wrong code: %d", res.StatusCode)
	}
	if ok, _ := e.a.TOTP.Enrolled(context.Background(), o.ID); !ok {
		t.Fatal("disabled with a wrong code")
	}
	res, body = c.doForm("POST", "/console/account/totp/disable", csrf+"&code="+operator.TOTPCode(key, clk.next()))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", res.StatusCode, trim(body))
	}
	if ok, _ := e.a.TOTP.Enrolled(context.Background(), o.ID); ok {
		t.Fatal("still enrolled after disable")
	}

	// Platform admin reset.
	key2, _ := e.enrolTOTP(o, clk)
	victim := e.loginTOTP("ops@ops.example", key2, clk)
	root := e.login("root@ops.example")
	res, body = root.doForm("POST", "/console/operators/"+o.ID+"/totp/reset", "_csrf="+url.QueryEscape(root.csrf))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d %s", res.StatusCode, trim(body))
	}
	if ok, _ := e.a.TOTP.Enrolled(context.Background(), o.ID); ok {
		t.Fatal("still enrolled after reset")
	}
	if res, _ := victim.do("GET", "/api/v1/me", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session of the reset operator: %d, want ended", res.StatusCode)
	}
	es := totpAudit(t, e)
	if countAction(es, audit.TOTPReset) != 1 || countAction(es, audit.TOTPDisable) != 1 {
		t.Errorf("reset/disable audit events: %d %d", countAction(es, audit.TOTPReset), countAction(es, audit.TOTPDisable))
	}
}
