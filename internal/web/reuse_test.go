package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestReusedProjectIDAcrossTenants reproduces scenarios 3 and 4 of issue 12:
// globex configures project "shared" (operator, end-user, API key, IdP,
// override), mints with its API key and deletes the project; acme re-creates
// "shared". Then
//   - acme's audit of "shared" — the console page, GET
//     /api/v1/projects/shared/audit, GET /api/v1/audit?project_id=shared and
//     /console/audit?project_id=shared — shows none of globex's events
//     (operator and user emails, key names, IdP URLs), only acme's own;
//   - globex's old API key is refused on the re-created project at once (no
//     cache window), and the re-created project has none of the old API
//     keys, end-users, overrides or IdP.
func TestReusedProjectIDAcrossTenants(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("globex")
			e.tenant("acme")
			e.operator("ops@globex.example", rbac.RoleTenantAdmin, "globex")
			e.operator("ops@acme.example", rbac.RoleTenantAdmin, "acme")
			gx, ac := e.login("ops@globex.example"), e.login("ops@acme.example")
			want := func(c *client, method, path string, body any, status int) []byte {
				t.Helper()
				res, b := c.do(method, path, body)
				if res.StatusCode != status {
					t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, status)
				}
				return b
			}

			want(gx, "POST", "/api/v1/tenants/globex/projects", map[string]any{"id": "shared", "name": "Globex shop"}, http.StatusCreated)
			want(gx, "PUT", "/api/v1/projects/shared/secret", map[string]any{"secret": "globex-shared-secret-0123456789"}, http.StatusOK)
			want(gx, "PUT", "/api/v1/projects/shared/modes", map[string]any{"modes": []string{"password", "server", "exchange"}}, http.StatusOK)
			var key struct {
				Key string `json:"key"`
			}
			if err := json.Unmarshal(want(gx, "POST", "/api/v1/projects/shared/apikeys", map[string]any{"name": "globex-backend-key"}, http.StatusCreated), &key); err != nil || key.Key == "" {
				t.Fatalf("api key: %v", err)
			}
			want(gx, "POST", "/api/v1/projects/shared/users", map[string]any{"email": "victim@globex.example", "password": "victim-password-1"}, http.StatusCreated)
			want(gx, "PUT", "/api/v1/projects/shared/idp", map[string]any{"issuer": "https://idp.globex.example/", "audiences": []string{"spa"},
				"algorithms": []string{"HS256"}, "hs_secret": "an-hs-secret-of-globex-0123456789"}, http.StatusOK)
			want(gx, "PUT", "/api/v1/projects/shared/mapping/overrides/vip-globex", map[string]any{"blocked": true}, http.StatusOK)
			if st, out := mint(t, e, "shared", key.Key, serverUser); st != http.StatusOK {
				t.Fatalf("globex mint: %d %v", st, out)
			}
			globexSecrets := []string{"ops@globex.example", "victim@globex.example", "globex-backend-key", "idp.globex.example", "vip-globex"}
			// globex's own audit shows them: the checks below could fail.
			before := string(want(gx, "GET", "/api/v1/projects/shared/audit", nil, http.StatusOK))
			for _, s := range globexSecrets {
				if !strings.Contains(before, s) {
					t.Fatalf("globex's audit lacks %q before the delete: %s", s, before)
				}
			}
			want(gx, "DELETE", "/api/v1/projects/shared", nil, http.StatusNoContent)

			want(ac, "POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "shared", "name": "Acme shop"}, http.StatusCreated)
			want(ac, "PUT", "/api/v1/projects/shared/secret", map[string]any{"secret": "acme-shared-secret-0123456789ab"}, http.StatusOK)
			want(ac, "PUT", "/api/v1/projects/shared/modes", map[string]any{"modes": []string{"password", "server"}}, http.StatusOK)
			// Scenario 4: the old key is refused at once.
			if st, out := mint(t, e, "shared", key.Key, serverUser); st != http.StatusUnauthorized {
				t.Errorf("globex's old API key on acme's re-created project: %d %v, want 401", st, out)
			}
			// None of the old rows.
			for path, absent := range map[string]string{
				"/api/v1/projects/shared/apikeys":           "globex-backend-key",
				"/api/v1/projects/shared/users":             "victim@globex.example",
				"/api/v1/projects/shared/mapping/overrides": "vip-globex",
			} {
				if b := string(want(ac, "GET", path, nil, http.StatusOK)); strings.Contains(b, absent) {
					t.Errorf("%s of the re-created project shows %q: %s", path, absent, b)
				}
			}
			if res, b := ac.do("GET", "/api/v1/projects/shared/idp", nil); res.StatusCode == http.StatusOK && strings.Contains(string(b), "globex") {
				t.Errorf("the re-created project has globex's IdP: %s", b)
			}
			// Scenario 3: every audit view of acme shows only acme's history.
			for _, path := range []string{"/api/v1/projects/shared/audit", "/api/v1/audit?project_id=shared",
				"/console/projects/shared/audit", "/console/audit?project_id=shared", "/api/v1/audit", "/console/audit"} {
				b := string(want(ac, "GET", path, nil, http.StatusOK))
				for _, s := range globexSecrets {
					if strings.Contains(b, s) {
						t.Errorf("acme's %s shows globex's %q", path, s)
					}
				}
				if !strings.Contains(b, "ops@acme.example") || !strings.Contains(b, "project.create") {
					t.Errorf("acme's %s lacks acme's own project.create: %s", path, truncateBody([]byte(b)))
				}
			}
		})
	}
}
