package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestConsoleRoleRulesForm: the "Who may sign in" form posts to
// /console/projects/:projectId/role-rules; the old /mapping path is gone.
func TestConsoleRoleRulesForm(t *testing.T) {
	t.Parallel()
	e, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	if page := c.page("/console/projects/shop1"); !strings.Contains(page, `action="/console/projects/shop1/role-rules"`) {
		t.Fatal("project page's role rules form does not post to /role-rules")
	}
	res, body := c.form("/console/projects/shop1/role-rules", url.Values{"roles": {"customer, vip"}}, true)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/projects/shop1?done=role_rules" {
		t.Fatalf("role rules: %d Location %q (%s)", res.StatusCode, res.Header.Get("Location"), trim([]byte(body)))
	}
	if !e.a.RBAC.EndUserMayAuthenticate(t.Context(), "shop1", []string{"vip"}) || e.a.RBAC.EndUserMayAuthenticate(t.Context(), "shop1", []string{"guest"}) {
		t.Error("role rules not applied")
	}
	if page := c.page("/console/projects/shop1?done=role_rules"); !strings.Contains(page, "End-user role rules saved.") {
		t.Error("no flash after saving role rules")
	}
	if res, body := c.form("/console/projects/shop1/mapping", url.Values{"roles": {"x"}}, true); res.StatusCode != http.StatusNotFound {
		t.Errorf("old /mapping form path: %d, want 404 (%s)", res.StatusCode, trim([]byte(body)))
	}
}
