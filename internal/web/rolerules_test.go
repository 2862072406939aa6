package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/audit"
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

// TestRoleRulesOneValidator: the console form, the enduser-roles API and the
// role-rules API accept and refuse the same role names (they used to differ:
// "shop/admin" passed the API and failed the form).
func TestRoleRulesOneValidator(t *testing.T) {
	t.Parallel()
	e, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	for _, tc := range []struct {
		role string
		ok   bool
	}{{"shop/admin", false}, {`a"b`, false}, {strings.Repeat("r", 65), false}, {"shop-admin", true}, {"vip@shop+1", true}} {
		res, body := c.form("/console/projects/shop1/role-rules", url.Values{"roles": {tc.role}}, true)
		if got := res.StatusCode == http.StatusSeeOther; got != tc.ok {
			t.Errorf("console form %q: %d (%s)", tc.role, res.StatusCode, trim([]byte(body)))
		}
		res2, b2 := c.do("PUT", "/api/v1/projects/shop1/enduser-roles", map[string]any{"roles": []string{tc.role}})
		if got := res2.StatusCode == http.StatusOK; got != tc.ok || (!tc.ok && !strings.Contains(string(b2), `"field":"roles"`)) {
			t.Errorf("enduser-roles API %q: %d %s", tc.role, res2.StatusCode, b2)
		}
		res3, b3 := c.do("POST", "/api/v1/projects/shop1/role-rules", map[string]any{"role": tc.role})
		if got := res3.StatusCode < 300; got != tc.ok {
			t.Errorf("role-rules API %q: %d %s", tc.role, res3.StatusCode, b3)
		}
		res4, b4 := c.do("PUT", "/api/v1/projects/shop1/role-rules", map[string]any{"roles": []string{tc.role, "gold"}})
		if got := res4.StatusCode == http.StatusOK; got != tc.ok || (tc.ok && !strings.Contains(string(b4), `"role":"gold"`)) {
			t.Errorf("PUT role-rules %q: %d %s", tc.role, res4.StatusCode, b4)
		}
		_, _ = c.do("PUT", "/api/v1/projects/shop1/enduser-roles", map[string]any{"roles": []string{}})
	}
	// One audit action for every path: the form, PUT role-rules, the
	// enduser-roles alias and POST of one role.
	evs, err := e.a.Audit.List(t.Context(), audit.Query{ProjectID: "shop1", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "role") || ev.Action == "mapping.update" {
			n++
			if ev.Action != audit.RoleRulesUpdate {
				t.Errorf("role rule change recorded as %q", ev.Action)
			}
		}
	}
	if n < 4 {
		t.Errorf("%d role rule audit events, want one per accepted change", n)
	}
	if !e.a.RBAC.EndUserMayAuthenticate(t.Context(), "shop1", []string{"anyone"}) {
		t.Error("role rules left behind")
	}
}
