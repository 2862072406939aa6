package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/web"
)

// consoleRoutes returns the access table of the running console.
func consoleRoutes(t *testing.T, e *env) []web.Route {
	t.Helper()
	c, err := web.New(web.Deps{Projects: e.a.Projects, Operators: e.a.Operators, RBAC: e.a.RBAC, ExtraAPI: e.a.ModeAdminRoutes(), Modes: e.a.ModesAdmin()})
	if err != nil {
		t.Fatal(err)
	}
	return c.Routes()
}

// fill substitutes path parameters.
func fill(path string, params map[string]string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			v, ok := params[p[1:]]
			if !ok {
				v = "x"
			}
			parts[i] = v
		}
	}
	return strings.Join(parts, "/")
}

func bodyFor(method string) any {
	if method == http.MethodGet || method == http.MethodDelete {
		return nil
	}
	return map[string]any{}
}

// TestEveryRouteIsInTheAccessTable makes sure nothing under /console or
// /api/v1 is registered outside the guarded table.
func TestEveryRouteIsInTheAccessTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	table := map[string]bool{}
	for _, r := range consoleRoutes(t, e) {
		table[r.Method+" "+r.Path] = true
	}
	n := 0
	for _, r := range e.a.HTTP().Engine().Routes() {
		if r.Path == "/" || strings.HasPrefix(r.Path, "/console") || strings.HasPrefix(r.Path, "/api/") {
			n++
			if !table[r.Method+" "+r.Path] {
				t.Errorf("route %s %s is not in the access table", r.Method, r.Path)
			}
		}
	}
	if n != len(table) {
		t.Errorf("engine has %d console/api routes, table %d", n, len(table))
	}
}

// TestTenantIsolation: an operator of tenant A gets 403 on EVERY tenant- and
// project-scoped route of tenant B, and on every platform route; lists never
// show tenant B. Positive controls prove the same requests pass in tenant A.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("alpha")
			e.tenant("bravo")
			e.project("alpha", "proj-alpha")
			pb := e.project("bravo", "proj-bravo")
			ub := e.user(pb.ID, "victim@bravo.example")
			e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
			e.operator("admin@alpha.example", rbac.RoleTenantAdmin, "alpha")
			e.operator("op@alpha.example", rbac.RoleTenantOperator, "alpha")
			bAdmin := e.operator("admin@bravo.example", rbac.RoleTenantAdmin, "bravo")
			adminA := e.login("admin@alpha.example")
			opA := e.login("op@alpha.example")
			root := e.login("root@ops.example")

			kb, _, err := e.a.Modes.Admin.CreateAPIKey(context.Background(), "test", pb.ID, "bravo-backend")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.a.Modes.Admin.PutOverride(context.Background(), "test", &mapping.Override{ProjectID: pb.ID, ExternalID: "troll-b", Blocked: true}); err != nil {
				t.Fatal(err)
			}
			bParams := map[string]string{"tenantId": "bravo", "projectId": pb.ID, "userId": ub.ID, "operatorId": bAdmin.ID, "file": "console.css", "tokenId": "tok_x", "keyId": kb.ID}
			routes := consoleRoutes(t, e)
			for _, who := range []*client{adminA, opA} {
				for _, r := range routes {
					if r.Path == "/console/logout" || r.Path == "/api/v1/session" {
						continue // would end the session under test
					}
					path := fill(r.Path, bParams)
					var hdr []string
					reqBody := bodyFor(r.Method)
					if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/console/") {
						// Console forms read form bodies: one that would act on
						// tenant B's data (unblock its user) if the guard let it through.
						reqBody, hdr = url.Values{"external_id": {"troll-b"}}.Encode(), []string{"Content-Type", "application/x-www-form-urlencoded"}
					}
					res, body := who.do(r.Method, path, reqBody, hdr...)
					switch r.Scope {
					case web.ScopeTenant, web.ScopeProject, web.ScopeGlobal:
						if res.StatusCode != http.StatusForbidden {
							t.Errorf("%s %s as tenant-A operator: status %d, want 403 (%s)", r.Method, path, res.StatusCode, trim(body))
						}
					case web.ScopeSignedIn:
						if strings.Contains(strings.ToLower(string(body)), "bravo") {
							t.Errorf("%s %s leaks tenant B data: %s", r.Method, path, trim(body))
						}
					}
				}
			}
			// Nothing of tenant B changed: its API key is still active, its modes
			// and its block untouched.
			if ovs, err := e.a.Modes.Admin.Overrides(context.Background(), pb.ID); err != nil || len(ovs) != 1 || !ovs[0].Blocked {
				t.Errorf("tenant B overrides after the attempts: %+v %v", ovs, err)
			}
			if ks, err := e.a.Modes.Admin.ListAPIKeys(context.Background(), pb.ID); err != nil || len(ks) != 1 || !ks[0].Active() {
				t.Errorf("tenant B API keys after the attempts: %+v %v", ks, err)
			}
			if ms, err := e.a.Modes.Admin.Modes(context.Background(), pb.ID); err != nil || len(ms) != 1 || ms[0] != "password" {
				t.Errorf("tenant B modes after the attempts: %v %v", ms, err)
			}
			// Audit filter by a tenant-B project is refused too.
			for _, p := range []string{"/api/v1/audit?project_id=" + pb.ID, "/console/audit?project_id=" + pb.ID} {
				if res, _ := adminA.do("GET", p, nil); res.StatusCode != http.StatusForbidden {
					t.Errorf("GET %s: %d, want 403", p, res.StatusCode)
				}
			}
			// Unknown project ids look the same as foreign ones (no probing).
			if res, _ := adminA.do("GET", "/api/v1/projects/does-not-exist", nil); res.StatusCode != http.StatusForbidden {
				t.Errorf("unknown project as tenant operator: %d, want 403", res.StatusCode)
			}
			if res, _ := root.do("GET", "/api/v1/projects/does-not-exist", nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("unknown project as platform admin: %d, want 404", res.StatusCode)
			}

			// Positive controls: in tenant A (fresh objects per route, so deletes
			// do not disturb later routes) tenant-admin passes every tenant and
			// project route; tenant-operator passes exactly reads (not operators)
			// and secret rotation; platform routes pass for the platform admin.
			for i, r := range routes {
				if r.Scope == web.ScopePublic || r.Scope == web.ScopeSignedIn {
					continue
				}
				pid := fmt.Sprintf("pa-%d", i)
				e.project("alpha", pid)
				u := e.user(pid, fmt.Sprintf("u%d@alpha.example", i))
				m := e.operator(fmt.Sprintf("m%d@alpha.example", i), rbac.RoleTenantOperator, "alpha")
				path := fill(r.Path, map[string]string{"tenantId": "alpha", "projectId": pid, "userId": u.ID, "operatorId": m.ID})
				if r.Scope == web.ScopeGlobal {
					res, body := root.do(r.Method, path, bodyFor(r.Method))
					if res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusUnauthorized {
						t.Errorf("%s %s as platform admin: %d (%s)", r.Method, path, res.StatusCode, trim(body))
					}
					continue
				}
				operatorMay := (r.Act == rbac.ActRead && r.Obj != rbac.ObjOperator) || (r.Obj == rbac.ObjSecret && r.Act == rbac.ActRotate)
				res, body := opA.do(r.Method, path, bodyFor(r.Method))
				if got := res.StatusCode != http.StatusForbidden; got != operatorMay {
					t.Errorf("%s %s as tenant-operator: status %d, allowed=%v want %v (%s)", r.Method, path, res.StatusCode, got, operatorMay, trim(body))
				}
				res, body = adminA.do(r.Method, path, bodyFor(r.Method))
				if res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusUnauthorized {
					t.Errorf("%s %s as tenant-admin of A: %d (%s)", r.Method, path, res.StatusCode, trim(body))
				}
			}
		})
	}
}

func trim(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
