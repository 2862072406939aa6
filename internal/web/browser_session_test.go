package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
	assets "github.com/pingstreams/pingauth/web"
)

// widgetStandIn stands in for the Pingstreams widget on the test site. It
// records every window.Tiledesk call, answers signInWithCustomToken as the
// chat server does (401 unless the string is "JWT <unexpired token>", and
// then the widget signs out), fires onAuthStateChanged, onOpen and onClose,
// and lets the test simulate a conversation being open and a REST call,
// which answers 401 once the token expired (the widget then signs out).
const widgetStandIn = `(function () {
  var queued = (window.Tiledesk && window.Tiledesk.q) || [];
  var handlers = {};
  var calls = [];
  var stub = window.widgetStub = { calls: calls, signIns: [], logged: false, token: "", open: false, replayed: "" };
  function fire(name, detail) { (handlers[name] || []).slice().forEach(function (fn) { fn({ detail: detail }); }); }
  function claims(t) {
    try { var p = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"); while (p.length % 4) p += "="; return JSON.parse(atob(p)); }
    catch (e) { return {}; }
  }
  function expired(t) { var exp = claims(t).exp; return !exp || exp * 1000 <= Date.now(); }
  function signOut(why) {
    stub.logged = false; stub.token = "";
    try { sessionStorage.removeItem("standin.jwt"); } catch (e) {}
    calls.push(["(signed out)", why]);
    fire("onAuthStateChanged", { event: "loggedOut", isLogged: false });
  }
  function signIn(arg) {
    if (typeof arg !== "string" || arg.indexOf("JWT ") !== 0 || expired(arg.slice(4))) { signOut("sign-in 401"); return; }
    stub.token = arg.slice(4); stub.logged = true;
    try { sessionStorage.setItem("standin.jwt", arg); } catch (e) {}
    fire("onAuthStateChanged", { event: "loggedIn", isLogged: true, user_id: claims(stub.token)._id });
  }
  stub.rest = function () {
    if (!stub.token || expired(stub.token)) { signOut("REST 401"); return 401; }
    return 200;
  };
  stub.openConversation = function () { stub.open = true; fire("onOpen", {}); };
  stub.closeConversation = function () { stub.open = false; fire("onClose", {}); };
  window.Tiledesk = function (cmd, arg) {
    if (/^on[A-Z]/.test(cmd) && typeof arg === "function") { (handlers[cmd] = handlers[cmd] || []).push(arg); calls.push([cmd]); return; }
    calls.push([cmd, arg]);
    if (cmd === "signInWithCustomToken") { stub.signIns.push(arg); setTimeout(function () { signIn(arg); }, 20); }
    else if (cmd === "logout") { setTimeout(function () { signOut("logout"); }, 0); }
  };
  // The real widget keeps the JWT and replays it on reload; note what it found.
  try { var kept = sessionStorage.getItem("standin.jwt"); if (kept) stub.replayed = expired(kept.slice(4)) ? "expired" : "valid"; } catch (e) {}
  queued.forEach(function (args) { window.Tiledesk.apply(null, args); });
})();`

// sitePage is a shop page on its own origin: the standard widget loader (the
// stand-in), the SDK from pingauth with its integrity hash, a sign-in form.
const sitePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script>
  window.tiledeskSettings = { projectid: %[1]q, autoStart: false };
  (function (d, s, id, src) {
    var w = window, i = function () { i.c(arguments); }; i.q = []; i.c = function (a) { i.q.push(a); }; w.Tiledesk = i;
    var js = d.createElement(s), fjs = d.getElementsByTagName(s)[0];
    js.id = id; js.async = true; js.src = src; fjs.parentNode.insertBefore(js, fjs);
  }(document, "script", "tiledesk-jssdk", "/widget.js"));
</script>
<script src="%[2]s%[3]s" integrity="%[4]s" crossorigin="anonymous"></script>
</head><body>
<form id="login"><input id="email" name="email"><input id="password" name="password" type="password"><button id="signin" type="submit">Sign in</button></form>
<div id="state"></div>
<script>
  window.states = [];
  window.chat = pingauth.connect({ url: %[2]q, projectId: %[1]q, refreshBefore: 25, recoverDelay: 300,
    onChange: function (s) { states.push(s.state + (s.reason ? ":" + s.reason : "")); document.getElementById("state").textContent = s.state; } });
  chat.passwordForm(document.getElementById("login"));
</script>
</body></html>`

// TestBrowserWidgetSession drives the widget session kit in headless
// Chromium on a shop page of its own origin, with the widget stand-in: a
// visitor signs in once with the password (the widget gets "JWT <token>");
// before the 30 s token expires the kit re-mints it from the refresh
// credential, but not while a conversation is open; a token that expired
// during the open conversation (the widget's REST call answers 401 and the
// widget signs out) is recovered with one re-mint, the page never showing
// the visitor signed out; closing the conversation lets a deferred re-mint
// run. Reloads sign the visitor in again from the refresh credential alone,
// for the project's refresh lifetime; logout() signs the widget out and ends
// the sign-in; a credential an operator revoked, or one past the lifetime,
// signs the visitor out at the next load. The sandboxed example page keeps
// the credential in memory and refreshes through its example ticket.
func TestBrowserWidgetSession(t *testing.T) {
	requireBrowser(t)
	const projectID, secretValue = "5c81593adf767b0017d1aa68", "session-kit-test-secret-0123456789abcdef"
	e := newEnv(t, store.SQLite)
	ctx := context.Background()
	sdk := assets.SDK()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, sitePage, projectID, e.url, sdk.Path, sdk.Integrity)
		case "/widget.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write([]byte(widgetStandIn))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	e.tenant("acme")
	if err := e.a.Projects.Create(ctx, &project.Project{ID: projectID, TenantID: "acme", Name: "Shop", TokenTTLSeconds: 30,
		RefreshTTLSeconds: 3600, AllowedOrigins: []string{site.URL}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Secrets.Put(ctx, projectID, []byte(secretValue), secret.WriteOptions{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	visitor := e.user(projectID, "visitor@example.com")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	authPath, refreshPath := "/auth/"+projectID, "/auth/"+projectID+"/refresh"

	bctx := startBrowser(t)
	tctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	fail := func(step string, err error) {
		t.Helper()
		calls, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`JSON.stringify(window.widgetStub && widgetStub.calls)`))
		states, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`JSON.stringify(window.states)`))
		status, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`JSON.stringify(window.chat && chat.status())`))
		t.Fatalf("%s: %v\nwidget calls %s\npage states %s\nkit status %s\n/auth %+v\n/refresh %+v", step, err, calls, states, status,
			e.requests(authPath), e.requests(refreshPath))
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, actions...); err != nil {
			fail(step, err)
		}
	}
	eval := func(step, expr string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			fail(step, err)
		}
		return v
	}
	wait := func(step, cond string, d time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(tctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			fail(step, err)
		}
	}
	lastToken := func(step string) (string, map[string]any) {
		t.Helper()
		jwt := eval(step, `widgetStub.signIns[widgetStub.signIns.length - 1]`)
		raw, ok := strings.CutPrefix(jwt, "JWT ")
		if !ok {
			t.Fatalf("%s: the widget got %q, want \"JWT <token>\"", step, jwt)
		}
		claims, err := token.Verify(raw, token.VerifyOptions{Audience: "https://tiledesk.com/projects/" + projectID, Keys: []token.Key{{Version: 1, Value: []byte(secretValue)}}})
		if err != nil || claims["_id"] != "visitor@example.com" {
			t.Fatalf("%s: token %v %v", step, claims, err)
		}
		return raw, claims
	}
	count := func(path string, status int) int {
		n := 0
		for _, r := range e.requests(path) {
			if r.Method == "POST" && r.Status == status {
				n++
			}
		}
		return n
	}
	stored := func() string {
		return eval("read storage", `localStorage.getItem("pingauth:`+projectID+`@`+e.url+`") || ""`)
	}
	noSignedOut := func(step string) {
		t.Helper()
		var states []string
		_ = json.Unmarshal([]byte(eval(step, `JSON.stringify(states)`)), &states)
		seen := false
		for _, s := range states {
			seen = seen || s == "signed-in"
			if seen && strings.HasPrefix(s, "signed-out") {
				t.Fatalf("%s: the page showed the visitor signed out: %v", step, states)
			}
		}
	}

	// 1. Sign in once with the password.
	run("site page", chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(css("#login")))
	wait("initial state", `document.getElementById("state").textContent === "signed-out" && !!window.widgetStub`, 10*time.Second)
	run("password sign-in",
		chromedp.SendKeys(css("#email"), "visitor@example.com"),
		chromedp.SendKeys(css("#password"), "password-123"),
		chromedp.Click(css("#signin")))
	wait("widget signed in", `widgetStub.logged && widgetStub.signIns.length === 1`, 10*time.Second)
	tok1, _ := lastToken("first token")
	if calls := eval("calls", `JSON.stringify(widgetStub.calls)`); !strings.Contains(calls, `["signInWithCustomToken","JWT `+tok1+`"]`) {
		t.Fatalf("widget calls %s lack signInWithCustomToken with \"JWT <token>\"", calls)
	}
	if s := stored(); !strings.Contains(s, `"rt":"`+refresh.Prefix) || strings.Contains(s, "password-123") || strings.Contains(s, tok1) {
		t.Fatalf("stored refresh state %q: want the credential only", s)
	}
	for _, r := range e.requests(authPath) {
		if r.Method == "POST" && r.Origin != site.URL {
			t.Errorf("/auth request from origin %q, want the site's %q", r.Origin, site.URL)
		}
	}

	// 2. Expiry → re-mint: no conversation open, so the kit re-mints from the
	//    refresh credential 15 s in (half the 30 s lifetime).
	wait("re-mint before expiry", `widgetStub.logged && widgetStub.signIns.length === 2`, 25*time.Second)
	tok2, _ := lastToken("second token")
	if tok2 == tok1 || count(refreshPath, 200) != 1 || count(authPath, 200) != 1 {
		t.Fatalf("re-mint: new token %v, refreshes %d, password sign-ins %d", tok2 != tok1, count(refreshPath, 200), count(authPath, 200))
	}

	// 3. A conversation is open when the next re-mint is due: deferred, and
	//    the token then expires during the visit. The widget's next REST call
	//    answers 401 and the widget signs out; the kit re-mints once and signs
	//    it in again, without the page ever showing the visitor signed out.
	eval("open conversation", `(widgetStub.openConversation(), "")`)
	wait("re-mint deferred", `chat.status().due === true`, 25*time.Second)
	if n := eval("sign-ins", `String(widgetStub.signIns.length)`); n != "2" {
		t.Fatalf("the kit re-signed in during an open conversation (%s sign-ins)", n)
	}
	_, claims2 := lastToken("second token")
	exp2 := int64(claims2["exp"].(float64))
	wait("second token expired", fmt.Sprintf(`Date.now() > %d`, (exp2+1)*1000), 25*time.Second)
	if st := eval("REST call", `String(widgetStub.rest())`); st != "401" {
		t.Fatalf("REST call with the expired token: %s, want 401", st)
	}
	wait("recovered", `widgetStub.logged && widgetStub.signIns.length === 3`, 10*time.Second)
	lastToken("recovered token")
	if st := eval("REST call", `String(widgetStub.rest())`); st != "200" {
		t.Fatalf("REST call after recovery: %s", st)
	}
	noSignedOut("after the recovery")

	// 4. Deferred again while the conversation stays open; closing it lets
	//    the re-mint run.
	wait("deferred again", `chat.status().due === true`, 25*time.Second)
	eval("close conversation", `(widgetStub.closeConversation(), "")`)
	wait("re-mint after close", `widgetStub.logged && widgetStub.signIns.length === 4`, 10*time.Second)
	lastToken("token after close")
	noSignedOut("after the close")
	if count(authPath, 200) != 1 {
		t.Fatalf("password sign-ins during the visit: %d, want 1", count(authPath, 200))
	}

	// 5. Reloads: signed in again from the refresh credential, no password.
	for i := 0; i < 2; i++ {
		before := count(refreshPath, 200)
		run("reload", chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(css("#login")))
		wait("signed in after reload", `widgetStub.logged && widgetStub.signIns.length === 1 && document.getElementById("state").textContent === "signed-in"`, 10*time.Second)
		lastToken("token after reload")
		if count(refreshPath, 200) != before+1 || count(authPath, 200) != 1 {
			t.Fatalf("reload %d: refreshes %d→%d, password sign-ins %d", i, before, count(refreshPath, 200), count(authPath, 200))
		}
	}

	// 6. logout(): the widget signs out, the credential is forgotten and revoked.
	eval("logout", `chat.logout().then(function () { return ""; })`)
	wait("signed out", `document.getElementById("state").textContent === "signed-out" && !widgetStub.logged`, 10*time.Second)
	if calls := eval("calls", `JSON.stringify(widgetStub.calls)`); !strings.Contains(calls, `["logout",null]`) || stored() != "" {
		t.Fatalf("after logout: calls %s, storage %q", calls, stored())
	}
	if n := count("/auth/"+projectID+"/refresh/revoke", http.StatusNoContent); n != 1 {
		t.Fatalf("logout revocations: %d", n)
	}
	before := len(e.requests(refreshPath))
	run("reload after logout", chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(css("#login")))
	wait("still signed out", `document.getElementById("state").textContent === "signed-out" && !!window.widgetStub`, 10*time.Second)
	if len(e.requests(refreshPath)) != before || eval("sign-ins", `String(widgetStub.signIns.length)`) != "0" {
		t.Fatal("a reload after logout signed the visitor in")
	}

	// 7. An operator revokes the remembered sign-in: the next load signs the
	//    visitor (and the widget) out.
	signInAgain := func(step string) {
		t.Helper()
		run(step, chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(css("#login")))
		wait(step, `document.getElementById("state").textContent === "signed-out" && !!window.widgetStub`, 10*time.Second)
		run(step, chromedp.SendKeys(css("#email"), "visitor@example.com"), chromedp.SendKeys(css("#password"), "password-123"), chromedp.Click(css("#signin")))
		wait(step, `widgetStub.logged && document.getElementById("state").textContent === "signed-in"`, 10*time.Second)
	}
	signInAgain("sign in again")
	op := e.login("admin@acme.example")
	if res, body := op.do("DELETE", "/api/v1/projects/"+projectID+"/users/"+visitor.ID+"/refresh-tokens", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("operator revoke: %d %s", res.StatusCode, body)
	}
	revokedBefore := count(refreshPath, http.StatusUnauthorized)
	run("reload after revocation", chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(css("#login")))
	wait("signed out by the revocation", `document.getElementById("state").textContent === "signed-out" && states.indexOf("signed-out:rejected") >= 0`, 10*time.Second)
	if calls := eval("calls", `JSON.stringify(widgetStub.calls)`); !strings.Contains(calls, `["logout",null]`) || stored() != "" || count(refreshPath, http.StatusUnauthorized) != revokedBefore+1 {
		t.Fatalf("after a revoked refresh: calls %s, storage %q", calls, stored())
	}

	// 8. The refresh lifetime ends the remembered sign-in too.
	signInAgain("sign in for the lifetime check")
	if err := e.a.DB.Model(&refresh.Token{}).Where("end_user_id = ? AND revoked_at IS NULL", visitor.ID).
		Update("expires_at", time.Now().Add(-time.Second)).Error; err != nil {
		t.Fatal(err)
	}
	run("reload after the lifetime", chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(css("#login")))
	wait("signed out after the lifetime", `document.getElementById("state").textContent === "signed-out" && states.indexOf("signed-out:rejected") >= 0`, 10*time.Second)

	// 9. The sandboxed example page: storage throws there, so the kit keeps
	//    the credential in memory, and its refresh goes through the page's
	//    example ticket ("Origin: null").
	run("example page", chromedp.Navigate(e.url+"/example/"+projectID), chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#email"), "visitor@example.com"), chromedp.SendKeys(css("#password"), "password-123"), chromedp.Click(css("#signin")))
	wait("example signed in", `!!window.pingauthResult`, 10*time.Second)
	if st := eval("example storage", `pingauthChat.status().storage`); st != "memory" {
		t.Fatalf("example page storage %q, want memory", st)
	}
	first := eval("example token", `pingauthResult.token`)
	nullBefore := 0
	for _, r := range e.requests(refreshPath) {
		if r.Origin == "null" && r.Status == 200 {
			nullBefore++
		}
	}
	next := eval("example refresh", `pingauthChat.refresh().then(function (r) { return r.token; })`)
	nullAfter := 0
	for _, r := range e.requests(refreshPath) {
		if r.Origin == "null" && r.Status == 200 {
			nullAfter++
		}
	}
	if next == first || next == "" || nullAfter != nullBefore+1 {
		t.Fatalf("example page refresh: new token %v, Origin-null refreshes %d→%d", next != first, nullBefore, nullAfter)
	}
}
