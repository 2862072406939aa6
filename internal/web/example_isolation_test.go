package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestExamplePageHoldsNoConsoleCredentials (HTTP level; the browser proof is
// TestBrowserExamplePageIsolation): with the whole app wired, the example
// page is sandboxed and sets no cookie even for a signed-in operator, and the
// admin API answers cross-origin callers ("Origin: null" is the sandboxed
// page) without CORS headers, refuses their preflights and, without the CSRF
// token, their writes. Console pages and API answers cannot be framed.
func TestExamplePageHoldsNoConsoleCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop")
	op := e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	c := e.login("root@ops.example")

	res, _ := c.do("GET", "/example/shop", nil)
	if csp := res.Header.Get("Content-Security-Policy"); res.StatusCode != 200 || !strings.Contains(csp, "sandbox allow-scripts") || strings.Contains(csp, "allow-same-origin") {
		t.Fatalf("example page for a signed-in operator: %d CSP %q", res.StatusCode, csp)
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("example page sets cookies: %v", sc)
	}

	for _, origin := range []string{"null", "https://evil.example"} {
		res, _ = c.do("GET", "/api/v1/me", nil, "Origin", origin, "X-CSRF-Token", "")
		if res.Header.Get("Access-Control-Allow-Origin") != "" || res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("/api/v1/me for Origin %s carries CORS headers: %v", origin, res.Header)
		}
		res, _ = c.do("OPTIONS", "/api/v1/me/tokens", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type,x-csrf-token", "X-CSRF-Token", "")
		if res.StatusCode < 400 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of token creation for Origin %s: %d %v", origin, res.StatusCode, res.Header)
		}
		res, _ = c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "stolen"}, "Origin", origin, "X-CSRF-Token", "")
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("token creation without the CSRF token for Origin %s: %d", origin, res.StatusCode)
		}
	}
	if toks, err := e.a.Operators.ListTokens(context.Background(), op.ID); err != nil || len(toks) != 0 {
		t.Fatalf("operator tokens: %v %v, want none", toks, err)
	}

	for _, path := range []string{"/api/v1/me", "/console/"} {
		res, _ = c.do("GET", path, nil)
		if res.StatusCode != 200 || res.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s can be framed: %d %v", path, res.StatusCode, res.Header)
		}
	}
}
