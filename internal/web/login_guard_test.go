package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// Repeated wrong passwords lock the operator account out with 429 +
// Retry-After (default: 5 failures), even for the right password, and the
// console pages carry the security headers.
func TestOperatorLoginLockoutAndPageHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	anon := e.anon()
	var last *http.Response
	statuses := []int{}
	for i := 0; i < 7; i++ {
		res, _ := anon.do("POST", "/api/v1/session", map[string]string{"email": "root@ops.example", "password": "wrong password"})
		statuses = append(statuses, res.StatusCode)
		last = res
	}
	if statuses[0] != http.StatusUnauthorized || last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("statuses %v, last Retry-After %q; want 401 first, then 429 with Retry-After", statuses, last.Header.Get("Retry-After"))
	}
	res, _ := anon.do("POST", "/api/v1/session", map[string]string{"email": "root@ops.example", "password": "operator-pass-1"})
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked account accepted the right password: %d", res.StatusCode)
	}
	page, err := http.Get(e.url + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "frame-ancestors 'none'", "Permissions-Policy": "camera=()"} {
		if !strings.Contains(page.Header.Get(h), want) {
			t.Errorf("%s = %q, want %q", h, page.Header.Get(h), want)
		}
	}
}
