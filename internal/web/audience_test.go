package web_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestAdminAPIRefusesAudienceBaseWithPath: the admin API answers 400 naming
// audience_base for a base that is not exactly scheme://host[:port], on
// create and on update.
func TestAdminAPIRefusesAudienceBaseWithPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
	if res, body := c.do("POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "shop", "name": "Shop", "audience_base": "https://chat.example.org:8443/"}); res.StatusCode != http.StatusCreated {
		t.Fatalf("valid audience_base: %d %s", res.StatusCode, body)
	}
	for _, base := range []string{"https://tiledesk.com/projects/OTHER#", "https://tiledesk.com#", "https://tiledesk.com?a", "https://x@tiledesk.com", "https://tiledesk.com/sub"} {
		for _, req := range []struct {
			method, path string
			body         map[string]any
		}{
			{"POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "shop2", "name": "Shop", "audience_base": base}},
			{"PUT", "/api/v1/projects/shop", map[string]any{"name": "Shop", "audience_base": base}},
		} {
			res, body := c.do(req.method, req.path, req.body)
			var eb struct {
				Error struct{ Code, Field string } `json:"error"`
			}
			if res.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &eb) != nil || eb.Error.Field != "audience_base" {
				t.Errorf("%s %s audience_base %q: %d %s, want 400 naming audience_base", req.method, req.path, base, res.StatusCode, body)
			}
		}
	}
}
