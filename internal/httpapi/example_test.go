package httpapi_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

var ticketRe = regexp.MustCompile(`window\.PINGAUTH_TICKET = "([^"]+)"`)

// TestExamplePageSandboxed: the example page (where a third-party widget
// script runs) is served under a CSP sandbox without allow-same-origin, so
// browsers give it an opaque origin; it sets no cookie, also when the
// browser sends the console's session cookie.
func TestExamplePageSandboxed(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), nil)
	for _, hdr := range []map[string]string{nil, {"Cookie": "pingauth_session=op-session; __Host-pingauth_session=op-session"}} {
		r := e.call(t, "GET", "/example/"+projA, "", hdr)
		csp := r.header.Get("Content-Security-Policy")
		if r.status != 200 || !strings.Contains(csp, "; "+httpapi.ExampleSandbox) || strings.Contains(csp, "allow-same-origin") ||
			strings.Contains(csp, "allow-popups-to-escape-sandbox") || httpapi.ExampleSandbox != "sandbox allow-scripts allow-forms allow-popups" {
			t.Fatalf("example page CSP (%d): %q", r.status, csp)
		}
		if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
			t.Fatalf("example page sets cookies: %v", sc)
		}
		if r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("example page can be framed: %v", r.header)
		}
	}
}

// TestExampleTicketCORS: the sandboxed page's /auth call ("Origin: null")
// is answered with "Access-Control-Allow-Origin: null" only with the ticket
// its page carries, from the address that loaded it, for its project; other
// opaque-origin callers stay refused. Client addresses come from
// X-Forwarded-For through a trusted proxy.
func TestExampleTicketCORS(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_TRUSTED_PROXIES": "127.0.0.1"})
	e.addUsers(t, projA, 1)
	e.addUsers(t, projB, 1)
	const visitor, other = "198.51.100.7", "203.0.113.9"
	ticket := func(project string) string {
		t.Helper()
		page := e.call(t, "GET", "/example/"+project, "", map[string]string{"X-Forwarded-For": visitor})
		m := ticketRe.FindStringSubmatch(page.raw)
		if page.status != 200 || m == nil {
			t.Fatalf("example page of %s (%d) has no ticket", project, page.status)
		}
		return m[1]
	}
	tA, tB := ticket(projA), ticket(projB)
	if tA == tB {
		t.Fatal("two projects got the same ticket")
	}
	path := func(project, tk string) string {
		if tk == "" {
			return "/auth/" + project
		}
		return "/auth/" + project + "?example_ticket=" + tk
	}
	login := loginBody(userEmail(0), password)

	pre := e.call(t, "OPTIONS", path(projA, tA), "", map[string]string{"Origin": "null", "Access-Control-Request-Method": "POST", "X-Forwarded-For": visitor})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "null" {
		t.Fatalf("preflight with the page's ticket: %d %v", pre.status, pre.header)
	}
	ok := e.call(t, "POST", path(projA, tA), login, map[string]string{"Origin": "null", "X-Forwarded-For": visitor})
	if ok.status != 200 || ok.header.Get("Access-Control-Allow-Origin") != "null" || ok.header.Get("Access-Control-Allow-Credentials") != "" || ok.body["token"] == nil {
		t.Fatalf("POST with the page's ticket: %d %v %s", ok.status, ok.header, ok.raw)
	}
	for name, c := range map[string]struct {
		method, path, origin, ip string
	}{
		"preflight without ticket":  {"OPTIONS", path(projA, ""), "null", visitor},
		"no ticket":                 {"POST", path(projA, ""), "null", visitor},
		"other address":             {"POST", path(projA, tA), "null", other},
		"other project's ticket":    {"POST", path(projB, tA), "null", visitor},
		"tampered ticket":           {"POST", path(projA, tA+"x"), "null", visitor},
		"ticket from a real origin": {"POST", path(projA, tA), "https://evil.example", visitor},
	} {
		hdr := map[string]string{"Origin": c.origin, "X-Forwarded-For": c.ip, "Access-Control-Request-Method": "POST"}
		body := login
		if c.method == "OPTIONS" {
			body = ""
		}
		r := e.call(t, c.method, c.path, body, hdr)
		if r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" || r.body["token"] != nil {
			t.Errorf("%s: %d %v %s, want 403 without CORS headers", name, r.status, r.header, r.raw)
		}
	}
	// Project B's own ticket works for B.
	if r := e.call(t, "POST", path(projB, tB), login, map[string]string{"Origin": "null", "X-Forwarded-For": visitor}); r.status != 200 {
		t.Errorf("project B with its ticket: %d %s", r.status, r.raw)
	}
}
