package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/admin"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestClaimsPolicyOnAdminWrites: end-users written through the JSON API, a
// CSV import or the console obey the token claims policy (refused attribute
// keys and denied emails are 400s naming the field), and a tenant's email
// deny-list is managed through the API and the console.
func TestClaimsPolicyOnAdminWrites(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("acme")
			e.project("acme", "shop")
			e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
			e.operator("ops@acme.example", rbac.RoleTenantOperator, "acme")
			c := e.login("admin@acme.example")

			for _, tc := range []struct {
				name  string
				body  map[string]any
				field string
			}{
				{"superadmin", map[string]any{"email": "a@shop.test", "attributes": map[string]any{"isSuperadmin": true}}, "attributes.isSuperadmin"},
				{"proto", map[string]any{"email": "b@shop.test", "attributes": map[string]any{"p": map[string]any{"__proto__": 1}}}, "attributes.p.__proto__"},
				{"chat server admin", map[string]any{"email": "admin@tiledesk.com"}, "email"},
			} {
				res, body := c.do("POST", "/api/v1/projects/shop/users", tc.body)
				if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"`+tc.field+`"`) {
					t.Errorf("%s: %d %s", tc.name, res.StatusCode, body)
				}
			}
			if res, body := c.do("POST", "/api/v1/projects/shop/users", map[string]any{"email": "ok@shop.test", "attributes": map[string]any{"role": "owner"}}); res.StatusCode != http.StatusCreated {
				t.Fatalf("role attribute: %d %s", res.StatusCode, body)
			}

			// CSV: each refused row is reported with its reason, and the file
			// is refused whole.
			csv := "email,password,attr.isSuperadmin,attr.role\n" +
				"row1@shop.test,password-0001,,member\n" +
				"row2@shop.test,password-0002,true,\n" +
				"admin@tiledesk.com,password-0003,,\n"
			res, body := c.do("POST", "/api/v1/projects/shop/users/import", csv)
			var refused struct {
				Report admin.ImportReport `json:"report"`
			}
			if err := json.Unmarshal(body, &refused); err != nil || res.StatusCode != http.StatusBadRequest {
				t.Fatalf("import: %d %s", res.StatusCode, body)
			}
			if rep := refused.Report; rep.Created != 0 || rep.Failed != 2 || len(rep.Rows) != 2 || !strings.Contains(strings.ToLower(rep.Rows[0].Error), "issuperadmin") || !strings.Contains(rep.Rows[1].Error, "deny-list") {
				t.Fatalf("import report %+v", rep)
			}

			// The tenant's deny-list: API (normalised), console form, and who may change it.
			res, body = c.do("PUT", "/api/v1/tenants/acme/email-denylist", map[string]any{"entries": []string{" Staff.Acme.Example ", "boss@acme.test"}})
			if res.StatusCode != http.StatusOK || string(body) != `{"email_denylist":["staff.acme.example","boss@acme.test"]}` {
				t.Fatalf("set deny-list: %d %s", res.StatusCode, body)
			}
			if res, body := c.do("PUT", "/api/v1/tenants/acme/email-denylist", map[string]any{"entries": []string{"not an email"}}); res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"email_denylist"`) {
				t.Fatalf("bad entry: %d %s", res.StatusCode, body)
			}
			if res, body := c.do("POST", "/api/v1/projects/shop/users", map[string]any{"email": "pat@eu.staff.acme.example"}); res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"email"`) {
				t.Fatalf("tenant-denied end-user: %d %s", res.StatusCode, body)
			}
			ops := e.login("ops@acme.example")
			if res, _ := ops.do("PUT", "/api/v1/tenants/acme/email-denylist", map[string]any{"entries": []string{}}); res.StatusCode != http.StatusForbidden {
				t.Fatalf("tenant-operator changed the deny-list: %d", res.StatusCode)
			}
			if res, body := ops.do("GET", "/console/tenants/acme/settings", nil); res.StatusCode != http.StatusOK || !strings.Contains(string(body), "boss@acme.test") || strings.Contains(string(body), `id="save-email-denylist"`) {
				t.Fatalf("settings page for a tenant-operator: %d", res.StatusCode)
			}
			res, page := c.form("/console/tenants/acme/email-denylist", url.Values{"entries": {"one@acme.test\r\nacme-staff.test"}}, true)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("console form: %d %s", res.StatusCode, page)
			}
			if res, body := c.do("GET", "/api/v1/tenants/acme", nil); res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"email_denylist":["one@acme.test","acme-staff.test"]`) {
				t.Fatalf("tenant after console form: %s", body)
			}
			if res, page := c.form("/console/tenants/acme/email-denylist", url.Values{"entries": {"bad entry here"}}, true); res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "is not an email address or a domain") {
				t.Fatalf("console form error: %d", res.StatusCode)
			}
		})
	}
}

// attrOf reads one key of a token's `attributes` object (custom data never
// sits at the top level).
func attrOf(claims map[string]any, key string) any {
	a, _ := claims["attributes"].(map[string]any)
	return a[key]
}
