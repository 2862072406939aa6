package web_test

import (
	"net/http"
	"testing"

	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestConsoleCSPIsTheOnePolicy: every console page, signed in or not, carries
// exactly httpkit.ConsoleCSP (object-src 'none' included: the access-control
// middleware used to replace it with a weaker copy); JSON API answers carry
// the "never a document" policy.
func TestConsoleCSPIsTheOnePolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
	for _, tc := range []struct {
		who  *client
		path string
		want string
	}{
		{e.anon(), "/console/login", httpkit.ConsoleCSP},
		{c, "/console/", httpkit.ConsoleCSP},
		{c, "/console/projects/shop", httpkit.ConsoleCSP},
		{c, "/console/tenants/acme/settings", httpkit.ConsoleCSP},
		{c, "/api/v1/me", "default-src 'none'; frame-ancestors 'none'"},
		{c, "/api/v1/projects/shop", "default-src 'none'; frame-ancestors 'none'"},
	} {
		res, _ := tc.who.do("GET", tc.path, nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") != tc.want {
			t.Errorf("GET %s: %d, CSP %q, want %q", tc.path, res.StatusCode, res.Header.Get("Content-Security-Policy"), tc.want)
		}
	}
}
