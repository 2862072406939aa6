package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// testClock is a settable clock shared with the server's goroutines.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func expect(t *testing.T, what string, want int, res *http.Response, body []byte) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s: %d, want %d (%s)", what, res.StatusCode, want, body)
	}
}

// newToken creates an API token through POST /api/v1/me/tokens.
func (c *client) newToken(in map[string]any) (string, operator.Token) {
	c.e.t.Helper()
	res, body := c.do("POST", "/api/v1/me/tokens", in)
	expect(c.e.t, "create token", http.StatusCreated, res, body)
	var out struct {
		Value string         `json:"value"`
		Token operator.Token `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || !strings.HasPrefix(out.Value, "pat_") {
		c.e.t.Fatalf("token response %s: %v", body, err)
	}
	return out.Value, out.Token
}

// bearer sends a request with an API token.
func (e *env) bearer(tok, method, path string, body any) (*http.Response, []byte) {
	e.t.Helper()
	return e.anon().do(method, path, body, "Authorization", "Bearer "+tok)
}

// Scenario 2 of issue 12, exactly: an operator token works, stops working
// when the operator's password is reset, and stays refused after disable →
// enable (as does a token created between reset and disable).
func TestScenario2OperatorTokenAfterResetAndDisable(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("acme")
			e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
			ops := e.operator("ops@acme.example", rbac.RoleTenantAdmin, "acme")
			root := e.login("root@ops.example")
			tok, _ := e.login2FA("ops@acme.example").newToken(map[string]any{"name": "ci"})

			res, body := e.bearer(tok, "GET", "/api/v1/tenants/acme", nil)
			expect(t, "token before reset", http.StatusOK, res, body)
			res, body = root.do("PATCH", "/api/v1/operators/"+ops.ID, map[string]any{"password": "a-brand-new-pass"})
			expect(t, "password reset", http.StatusOK, res, body)
			res, body = e.bearer(tok, "GET", "/api/v1/tenants/acme", nil)
			expect(t, "token after password reset", http.StatusUnauthorized, res, body)

			tok2, _, err := e.a.Admin.CreateToken(t.Context(), admin.Actor{OperatorID: ops.ID, Email: ops.Email, SecondFactor: true}, admin.TokenInput{Name: "ci2"})
			if err != nil {
				t.Fatal(err)
			}
			res, body = e.bearer(tok2, "GET", "/api/v1/tenants/acme", nil)
			expect(t, "second token", http.StatusOK, res, body)
			for _, disabled := range []bool{true, false} {
				res, body = root.do("PATCH", "/api/v1/operators/"+ops.ID, map[string]any{"disabled": disabled})
				expect(t, "disable/enable", http.StatusOK, res, body)
			}
			for _, tk := range []string{tok, tok2} {
				res, body = e.bearer(tk, "GET", "/api/v1/tenants/acme", nil)
				expect(t, "token after disable → enable", http.StatusUnauthorized, res, body)
			}
		})
	}
}

// A token revoked on one instance is refused by another at once: tokens and
// sessions are read from SQL on every request (nothing cached).
func TestTokenRevocationHoldsAcrossInstances(t *testing.T) {
	t.Parallel()
	e1 := newEnv(t, store.Postgres)
	if e1.a.Config.DatabaseURL == "" {
		t.Skip("no PostgreSQL")
	}
	e1.tenant("acme")
	e1.operator("ops@acme.example", rbac.RoleTenantAdmin, "acme")
	// Instance 2 starts after the role exists (its access policy is loaded
	// at start); the token itself is created afterwards, on instance 1.
	e2 := newEnvVars(t, store.SQLite, map[string]string{"PINGAUTH_DATABASE_URL": e1.a.Config.DatabaseURL})
	c := e1.login2FA("ops@acme.example")
	tok, meta := c.newToken(map[string]any{"name": "ci"})
	res, body := e2.bearer(tok, "GET", "/api/v1/tenants/acme", nil)
	expect(t, "token on instance 2", http.StatusOK, res, body)
	res, body = c.do("DELETE", "/api/v1/me/tokens/"+meta.ID, nil)
	expect(t, "revoke on instance 1", http.StatusNoContent, res, body)
	res, body = e2.bearer(tok, "GET", "/api/v1/tenants/acme", nil)
	expect(t, "revoked token on instance 2", http.StatusUnauthorized, res, body)
}

func TestTokenLifetimesAndLastUse(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)}
	e := newEnvOpts(t, store.SQLite, nil, app.Options{Now: clk.Now})
	e.tenant("acme")
	e.operator("ops@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login2FA("ops@acme.example")

	res, body := c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "long", "ttl_seconds": 366 * 86400})
	expect(t, "over the maximum lifetime", http.StatusBadRequest, res, body)
	var apiErr struct {
		Error struct{ Field string } `json:"error"`
	}
	if _ = json.Unmarshal(body, &apiErr); apiErr.Error.Field != "ttl_seconds" {
		t.Errorf("error names %q, want ttl_seconds: %s", apiErr.Error.Field, body)
	}
	_, def := c.newToken(map[string]any{"name": "default"})
	if def.ExpiresAt == nil || !def.ExpiresAt.Equal(clk.Now().Add(90*24*time.Hour)) {
		t.Errorf("default expiry %v, want 90 days", def.ExpiresAt)
	}
	tok, short := c.newToken(map[string]any{"name": "short", "ttl_seconds": 3600})
	clk.Advance(10 * time.Minute)
	res, body = e.bearer(tok, "GET", "/api/v1/me", nil)
	expect(t, "fresh token", http.StatusOK, res, body)
	used := clk.Now()

	res, body = c.do("GET", "/api/v1/me/tokens", nil)
	expect(t, "list", http.StatusOK, res, body)
	var list struct{ Tokens []operator.Token }
	_ = json.Unmarshal(body, &list)
	found := false
	for _, tk := range list.Tokens {
		if tk.ID == short.ID {
			found = true
			if tk.LastUsedAt == nil || !tk.LastUsedAt.Equal(used) || tk.ExpiresAt == nil || !tk.ExpiresAt.Equal(short.ExpiresAt.UTC()) {
				t.Errorf("listed token: last used %v (want %v), expires %v", tk.LastUsedAt, used, tk.ExpiresAt)
			}
		}
	}
	if !found || strings.Contains(string(body), tok) {
		t.Errorf("token list (found %v) or leaks the value: %s", found, body)
	}
	// The console's account page shows expiry and last use.
	res, body = c.do("GET", "/console/account", nil)
	expect(t, "account page", http.StatusOK, res, body)
	for _, want := range []string{short.ID, used.Format("2006-01-02 15:04 UTC"), short.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")} {
		if !strings.Contains(string(body), want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	clk.Advance(50 * time.Minute)
	res, body = e.bearer(tok, "GET", "/api/v1/me", nil)
	expect(t, "expired token", http.StatusUnauthorized, res, body)
}

func TestPlatformAdminListsAndRevokesAnyOperatorsTokens(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("acme")
			e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
			e.operator("boss@acme.example", rbac.RoleTenantAdmin, "acme")
			ops := e.operator("ops@acme.example", rbac.RoleTenantOperator, "acme")
			root, boss := e.login("root@ops.example"), e.login("boss@acme.example")
			tok, meta := e.login2FA("ops@acme.example").newToken(map[string]any{"name": "ci"})
			list, del := "/api/v1/operators/"+ops.ID+"/tokens", "/api/v1/operators/"+ops.ID+"/tokens/"+meta.ID
			page := "/console/operators/" + ops.ID + "/tokens"

			res, body := boss.do("GET", list, nil)
			expect(t, "tenant admin lists another's tokens", http.StatusForbidden, res, body)
			res, body = boss.do("DELETE", del, nil)
			expect(t, "tenant admin revokes another's token", http.StatusForbidden, res, body)
			res, body = boss.do("GET", page, nil)
			expect(t, "tenant admin opens the tokens page", http.StatusForbidden, res, body)
			res, body = e.bearer(tok, "GET", "/api/v1/me", nil)
			expect(t, "token still works", http.StatusOK, res, body)

			res, body = root.do("GET", list, nil)
			expect(t, "platform admin lists", http.StatusOK, res, body)
			if !strings.Contains(string(body), meta.ID) || strings.Contains(string(body), tok) {
				t.Errorf("list: %s", body)
			}
			res, body = root.do("GET", page, nil)
			expect(t, "platform admin tokens page", http.StatusOK, res, body)
			if !strings.Contains(string(body), meta.ID) {
				t.Error("tokens page lacks the token")
			}
			res, body = root.do("DELETE", del, nil)
			expect(t, "platform admin revokes", http.StatusNoContent, res, body)
			res, body = e.bearer(tok, "GET", "/api/v1/me", nil)
			expect(t, "revoked token", http.StatusUnauthorized, res, body)
			res, body = root.do("GET", "/api/v1/audit?limit=5", nil)
			expect(t, "audit", http.StatusOK, res, body)
			if !strings.Contains(string(body), `"reason":"`+admin.RevokedByAdmin+`"`) || strings.Contains(string(body), tok) {
				t.Errorf("audit of the revocation: %s", body)
			}
		})
	}
}

// A token limited to a tenant acts only there, whatever roles its operator
// has elsewhere; a read-only token may read but not write. Both are
// enforced by the one guard.
func TestTenantScopedAndReadOnlyTokens(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("acme")
			e.tenant("beta")
			e.project("acme", "shop")
			e.project("beta", "blog")
			root := e.login2FA(e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants).Email)
			ops := e.operator("ops@acme.example", rbac.RoleTenantAdmin, "acme")
			// An existing account joins beta by accepting its invitation.
			inv, err := e.a.Admin.AddMember(t.Context(), admin.CLI(), "beta", admin.MemberInput{Email: "ops@acme.example", Role: rbac.RoleTenantAdmin})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.a.Admin.AcceptInvitationSignedIn(t.Context(), admin.Actor{OperatorID: ops.ID, Email: ops.Email}, admin.InviteLinkToken(inv.Link)); err != nil {
				t.Fatal(err)
			}
			c := e.login2FA("ops@acme.example")
			scoped, _ := c.newToken(map[string]any{"name": "acme only", "tenant_id": "acme"})
			ro, _ := c.newToken(map[string]any{"name": "reader", "read_only": true})
			rootScoped, _ := root.newToken(map[string]any{"name": "root acme", "tenant_id": "acme"})
			res, body := c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "x", "tenant_id": "nope"})
			expect(t, "unknown tenant", http.StatusBadRequest, res, body)

			cases := []struct {
				name, tok, method, path string
				body                    any
				want                    int
			}{
				{"scoped: own tenant", scoped, "GET", "/api/v1/tenants/acme", nil, http.StatusOK},
				{"scoped: own project", scoped, "GET", "/api/v1/projects/shop", nil, http.StatusOK},
				{"scoped: write in own tenant", scoped, "PUT", "/api/v1/projects/shop", map[string]any{"name": "Shop 2"}, http.StatusOK},
				{"scoped: other tenant", scoped, "GET", "/api/v1/tenants/beta", nil, http.StatusForbidden},
				{"scoped: other tenant's project", scoped, "GET", "/api/v1/projects/blog", nil, http.StatusForbidden},
				{"scoped: write in other tenant", scoped, "PUT", "/api/v1/projects/blog", map[string]any{"name": "x"}, http.StatusForbidden},
				{"scoped platform admin: platform route", rootScoped, "GET", "/api/v1/operators", nil, http.StatusForbidden},
				{"scoped platform admin: other tenant", rootScoped, "GET", "/api/v1/tenants/beta", nil, http.StatusForbidden},
				{"scoped platform admin: own tenant", rootScoped, "GET", "/api/v1/tenants/acme/projects", nil, http.StatusOK},
				{"read-only: read", ro, "GET", "/api/v1/projects/blog", nil, http.StatusOK},
				{"read-only: write", ro, "PUT", "/api/v1/projects/shop", map[string]any{"name": "x"}, http.StatusForbidden},
				{"read-only: create", ro, "POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "new1", "name": "New"}, http.StatusForbidden},
				{"read-only: delete", ro, "DELETE", "/api/v1/projects/blog", nil, http.StatusForbidden},
				{"read-only: mint a token", ro, "POST", "/api/v1/me/tokens", map[string]any{"name": "wider"}, http.StatusForbidden},
				{"scoped: mint a wider token", scoped, "POST", "/api/v1/me/tokens", map[string]any{"name": "wider"}, http.StatusForbidden},
			}
			for _, tc := range cases {
				res, body := e.bearer(tc.tok, tc.method, tc.path, tc.body)
				if res.StatusCode != tc.want {
					t.Errorf("%s: %d, want %d (%s)", tc.name, res.StatusCode, tc.want, body)
				}
			}
			// Lists through a scoped token show only its tenant.
			for _, path := range []string{"/api/v1/projects", "/api/v1/tenants"} {
				res, body := e.bearer(scoped, "GET", path, nil)
				expect(t, path, http.StatusOK, res, body)
				if strings.Contains(string(body), "beta") || !strings.Contains(string(body), "acme") {
					t.Errorf("%s through an acme token: %s", path, body)
				}
			}
			if _, err := e.a.Projects.Get(t.Context(), "blog"); err != nil {
				t.Error("read-only token deleted a project")
			}
		})
	}
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			testSessionExpiry(t, d)
		})
	}
}

func testSessionExpiry(t *testing.T, d store.Dialect) {
	clk := &testClock{t: time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)}
	e := newEnvOpts(t, d, map[string]string{"PINGAUTH_SESSION_IDLE": "30m", "PINGAUTH_SESSION_MAX": "12h"}, app.Options{Now: clk.Now})
	e.operator("ops@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)

	idle := e.login("ops@ops.example")
	if idle.cookie.MaxAge != int((12 * time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age %d, want the absolute lifetime", idle.cookie.MaxAge)
	}
	clk.Advance(29 * time.Minute)
	res, body := idle.do("GET", "/api/v1/me", nil)
	expect(t, "after 29 idle minutes", http.StatusOK, res, body)
	clk.Advance(30 * time.Minute)
	res, body = idle.do("GET", "/api/v1/me", nil)
	expect(t, "after 30 idle minutes", http.StatusUnauthorized, res, body)

	active := e.login("ops@ops.example")
	for i := 0; i < 35; i++ { // 35 × 20 min = 11 h 40 min of activity
		clk.Advance(20 * time.Minute)
		res, body := active.do("GET", "/api/v1/me", nil)
		expect(t, "active session", http.StatusOK, res, body)
	}
	clk.Advance(20 * time.Minute)
	res, body = active.do("GET", "/api/v1/me", nil)
	expect(t, "active session past 12 h", http.StatusUnauthorized, res, body)
	res, _ = active.do("GET", "/console/", nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("console with an expired session: %d, want a redirect to sign-in", res.StatusCode)
	}
}

// Changing one's own password ends the operator's other sessions, keeps the
// current one, and revokes the API tokens; an admin reset ends every session.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
			ops := e.operator("ops@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
			current, other := e.login2FA("ops@ops.example"), e.login2FA("ops@ops.example")
			tok, _ := current.newToken(map[string]any{"name": "ci"})

			res, body := current.do("POST", "/api/v1/me/password", map[string]any{"current_password": "wrong-password", "new_password": "new-password-123"})
			expect(t, "wrong current password", http.StatusBadRequest, res, body)
			res, body = e.bearer(tok, "POST", "/api/v1/me/password", map[string]any{"current_password": "operator-pass-1", "new_password": "new-password-123"})
			expect(t, "password change with an API token", http.StatusForbidden, res, body)
			res, body = current.do("POST", "/api/v1/me/password", map[string]any{"current_password": "operator-pass-1", "new_password": "new-password-123"})
			expect(t, "own password change", http.StatusNoContent, res, body)

			res, body = current.do("GET", "/api/v1/me", nil)
			expect(t, "current session", http.StatusOK, res, body)
			res, body = other.do("GET", "/api/v1/me", nil)
			expect(t, "other session", http.StatusUnauthorized, res, body)
			res, body = e.bearer(tok, "GET", "/api/v1/me", nil)
			expect(t, "API token", http.StatusUnauthorized, res, body)

			// An admin's reset ends every session, the current one included.
			root := e.login("root@ops.example")
			res, body = root.do("PATCH", "/api/v1/operators/"+ops.ID, map[string]any{"password": "reset-by-admin-1"})
			expect(t, "admin reset", http.StatusOK, res, body)
			res, body = current.do("GET", "/api/v1/me", nil)
			expect(t, "session after admin reset", http.StatusUnauthorized, res, body)
		})
	}
}
