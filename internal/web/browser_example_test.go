package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// stubWidget is the "third-party" widget loader served to the example page:
// it replaces the window.Tiledesk queue with a recorder and replays the
// queued calls, as the real loader does.
const stubWidget = `(function () {
  var queued = (window.Tiledesk && window.Tiledesk.q) || [];
  var calls = [];
  window.Tiledesk = function () { calls.push(Array.prototype.slice.call(arguments)); };
  window.widgetStub = { loaded: true, calls: calls };
  queued.forEach(function (args) { window.Tiledesk.apply(null, args); });
})();`

// probeScript is what a hostile script on a page tries with the operator's
// browser session: read the admin API and the console (relative and absolute
// URLs), read the cookie, mint an operator API token (JSON with the CSRF
// token read from /api/v1/me if that worked, else a guess; and as a no-cors
// "simple" request). %[1]s is the console's origin as a JS string.
const probeScript = `(async () => {
  const base = %[1]s;
  const out = { origin: self.origin };
  try { out.cookie = document.cookie; } catch (e) { out.cookie = 'threw ' + e.name; }
  try { localStorage.setItem('k', 'v'); out.localStorage = 'ok'; } catch (e) { out.localStorage = 'threw ' + e.name; }
  const probe = async (name, url, init) => {
    try {
      const r = await fetch(url, init);
      let body = '';
      try { body = await r.text(); } catch (e) { body = 'unreadable ' + e.name; }
      out[name] = { status: r.status, type: r.type, body: body.slice(0, 400) };
      return body;
    } catch (e) { out[name] = { error: e.name + ': ' + e.message }; }
  };
  let csrf = 'guessed';
  try { csrf = JSON.parse(await probe('me', '/api/v1/me', { credentials: 'include' })).csrf_token || csrf; } catch (e) {}
  await probe('meAbsolute', base + '/api/v1/me', { credentials: 'include' });
  await probe('meNoCors', base + '/api/v1/me', { credentials: 'include', mode: 'no-cors' });
  await probe('console', base + '/console/', { credentials: 'include' });
  await probe('tokenCreate', base + '/api/v1/me/tokens', { method: 'POST', credentials: 'include',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ name: 'stolen', ttl_seconds: 3600 }) });
  await probe('tokenCreateSimple', base + '/api/v1/me/tokens', { method: 'POST', credentials: 'include', mode: 'no-cors',
    headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ name: 'stolen-too' }) });
  return out;
})()`

type probeResult struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

// TestBrowserExamplePageIsolation: an operator signed in to the console
// opens the example page in the same browser profile. A script on that page
// (where the third-party widget runs) cannot read the admin API or the
// console with the operator's session, cannot read the cookie and cannot
// create an operator token; the page's own sign-in still gets a widget token
// from /auth and hands it to the widget script.
func TestBrowserExamplePageIsolation(t *testing.T) {
	requireBrowser(t)
	widget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(stubWidget))
	}))
	t.Cleanup(widget.Close)
	spki := sha256.Sum256(widget.Certificate().RawSubjectPublicKeyInfo)

	const projectID = "5c81593adf767b0017d1aa68"
	e := newEnvVars(t, store.SQLite, map[string]string{"PINGAUTH_WIDGET_SCRIPT": widget.URL + "/launch.js"})
	clk := e.totpClock()
	e.tenant("acme")
	e.project("acme", projectID)
	e.user(projectID, "visitor@example.com")
	op := e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	res, body := e.login("root@ops.example").do("POST", "/api/v1/projects/"+projectID+"/secret/rotate", map[string]any{"local": true})
	var rot struct {
		Secret string `json:"secret"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &rot) != nil || rot.Secret == "" {
		t.Fatalf("rotate secret: %d %s", res.StatusCode, body)
	}
	// Operator tokens need a session that passed the second factor.
	key, _ := e.enrolTOTP(op, clk)

	// Trust only the stub's self-signed certificate (loopback https, so the
	// example page's CSP allows the script).
	bctx := startBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])))
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %v (at %s)", name, err, loc)
		}
	}
	probe := func(name string) map[string]json.RawMessage {
		t.Helper()
		base, _ := json.Marshal(e.url)
		out, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]json.RawMessage](fmt.Sprintf(probeScript, base), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: probe script: %v", name, err)
		}
		t.Logf("%s: %s", name, mustJSON(out))
		return out
	}
	result := func(out map[string]json.RawMessage, key string) probeResult {
		var r probeResult
		if err := json.Unmarshal(out[key], &r); err != nil {
			t.Fatalf("probe %s: %v (%s)", key, err, out[key])
		}
		return r
	}

	step("console sign-in",
		chromedp.Navigate(e.url+"/console/login"),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#email"), "root@ops.example"),
		chromedp.SendKeys(css("#password"), "operator-pass-1"),
		chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css("#totp-code")),
		chromedp.SendKeys(css("#totp-code"), operator.TOTPCode(key, clk.next())),
		chromedp.Click(css("#totp-signin")),
		chromedp.WaitVisible(css("#new-project-acme")),
	)
	// Control: on the console's own origin the same script reads the
	// operator and the CSRF token — what made the attack possible.
	same := probe("console page")
	if me := result(same, "me"); me.Status != http.StatusOK || !strings.Contains(me.Body, "csrf_token") || !strings.Contains(me.Body, "root@ops.example") {
		t.Fatalf("control: /api/v1/me from the console page = %+v; the browser profile has no operator session", me)
	}
	if tc := result(same, "tokenCreate"); tc.Status != http.StatusCreated {
		t.Fatalf("control: token creation from the console page = %+v", tc)
	}
	toks, err := e.a.Operators.ListTokens(context.Background(), op.ID)
	if err != nil || len(toks) != 1 {
		t.Fatalf("control: operator tokens %v %v, want the one just created", toks, err)
	}
	if err := e.a.Operators.DeleteToken(context.Background(), op.ID, toks[0].ID); err != nil {
		t.Fatal(err)
	}

	step("example page", chromedp.Navigate(e.url+"/example/"+projectID), chromedp.WaitVisible(css("#login")))
	const mePath, tokensPath = "/api/v1/me", "/api/v1/me/tokens"
	seenMe, seenTokens := len(e.requests(mePath)), len(e.requests(tokensPath))
	out := probe("example page")
	var origin, cookie string
	_ = json.Unmarshal(out["origin"], &origin)
	_ = json.Unmarshal(out["cookie"], &cookie)
	if origin != "null" {
		t.Errorf("example page origin = %q, want the opaque origin \"null\"", origin)
	}
	if cookie != "threw SecurityError" && cookie != "" {
		t.Errorf("example page reads document.cookie = %q", cookie)
	}
	for _, key := range []string{"me", "meAbsolute", "console", "tokenCreate"} {
		// CORS requests the server does not allow: the fetch itself rejects.
		if r := result(out, key); !strings.HasPrefix(r.Error, "TypeError") {
			t.Errorf("%s from the example page = %+v, want a TypeError (cross-origin, not readable)", key, r)
		}
	}
	for _, key := range []string{"meNoCors", "tokenCreateSimple"} {
		// no-cors requests are sent but their answer is opaque: no status, no body.
		if r := result(out, key); r.Error == "" && (r.Type != "opaque" || r.Status != 0 || r.Body != "") {
			t.Errorf("%s from the example page = %+v, want an opaque response", key, r)
		}
	}
	// What reached the server: the reads (so CORS, not CSP, stopped them) and
	// the token attempts, all cross-origin from the opaque origin and without
	// the session cookie, none creating a token.
	fromExample := append(e.requests(mePath)[seenMe:], e.requests(tokensPath)[seenTokens:]...)
	if len(e.requests(mePath)) == seenMe {
		t.Error("no /api/v1/me request from the example page reached the server")
	}
	for _, r := range fromExample {
		t.Logf("from the example page: %+v", r)
		if r.Cookie || (r.Origin != "null" && r.Origin != "") || r.Status < 400 {
			t.Errorf("request from the example page: %+v, want Origin null (or none for no-cors GET), no cookie, refused", r)
		}
	}
	if toks, err := e.a.Operators.ListTokens(context.Background(), op.ID); err != nil || len(toks) != 0 {
		t.Fatalf("operator tokens after the example page's attempts: %v %v, want none", toks, err)
	}

	// The page itself still works: its form gets a widget token from /auth
	// and hands "JWT <token>" to the widget script.
	step("example sign-in",
		chromedp.SendKeys(css("#email"), "visitor@example.com"),
		chromedp.SendKeys(css("#password"), "password-123"),
		chromedp.Click(css("#signin")),
	)
	resultJSON, err := chromedp.Run(ctx, chromedp.Poll[string](`window.pingauthResult && JSON.stringify(window.pingauthResult)`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text(css("#status")))
		t.Fatalf("example sign-in: %v (status %q; /auth requests %+v)", err, status, e.requests("/auth/"+projectID))
	}
	var signedIn struct {
		Token string `json:"token"`
		JWT   string `json:"jwt"`
	}
	if err := json.Unmarshal([]byte(resultJSON), &signedIn); err != nil {
		t.Fatalf("pingauthResult: %v (%s)", err, resultJSON)
	}
	claims, err := token.Verify(signedIn.Token, token.VerifyOptions{Audience: "https://tiledesk.com/projects/" + projectID,
		Keys: []token.Key{{Version: 1, Value: []byte(rot.Secret)}}})
	if err != nil || claims["email"] != "visitor@example.com" {
		t.Fatalf("example page token: %v %v", claims, err)
	}
	calls, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.widgetStub && window.widgetStub.calls)`))
	if err != nil || !strings.Contains(calls, `["signInWithCustomToken","JWT `+signedIn.Token+`"]`) {
		t.Fatalf("widget script calls = %s (%v), want signInWithCustomToken with the token", calls, err)
	}
	for _, r := range e.requests("/auth/" + projectID) {
		if r.Cookie {
			t.Errorf("/auth request from the example page carried the session cookie: %+v", r)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
