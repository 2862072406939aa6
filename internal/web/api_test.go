package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/pingstreams/pingauth/internal/admin"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
	"github.com/pingstreams/pingauth/internal/web"
)

func TestSessionCookieCSRFAndLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.operator("root@ops.example", rbac.RolePlatformAdmin, rbac.AllTenants)
	c := e.login("root@ops.example")
	if !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteLaxMode || c.cookie.Secure {
		t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Secure=%v (plain-http PublicURL)", c.cookie.HttpOnly, c.cookie.SameSite, c.cookie.Secure)
	}
	cases := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no csrf header", []string{"X-CSRF-Token", ""}, http.StatusForbidden},
		{"wrong csrf header", []string{"X-CSRF-Token", "nope"}, http.StatusForbidden},
		{"valid csrf", nil, http.StatusCreated},
	}
	for _, tc := range cases {
		res, body := c.do("POST", "/api/v1/tenants", map[string]string{"id": "t1"}, tc.hdr...)
		if res.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d (%s)", tc.name, res.StatusCode, tc.status, body)
		}
	}
	// Console form without the synchronizer token is refused as well.
	req, _ := http.NewRequest("POST", e.url+"/console/tenants", strings.NewReader(url.Values{"id": {"t2"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(c.cookie)
	if res, err := c.hc.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("console POST without _csrf: %v %v", res.StatusCode, err)
	}
	// Anonymous: API 401, console pages redirect to login.
	anon := e.anon()
	if res, _ := anon.do("GET", "/api/v1/projects", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous API: %d", res.StatusCode)
	}
	if res, _ := anon.do("GET", "/console/", nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/login") {
		t.Errorf("anonymous console: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	// Logout revokes the session server-side: the old cookie is dead.
	if res, _ := c.do("DELETE", "/api/v1/session", nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := c.do("GET", "/api/v1/me", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("cookie after logout: %d, want 401", res.StatusCode)
	}
	// Wrong password.
	res, _ := anon.do("POST", "/api/v1/session", map[string]string{"email": "root@ops.example", "password": "wrong-password"})
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad password: %d", res.StatusCode)
	}
}

func TestSecureCookieOnHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	c, err := web.New(web.Deps{PublicURL: "https://auth.example.com", Operators: e.a.Operators, RBAC: e.a.RBAC, Projects: e.a.Projects, Audit: e.a.Audit})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CookieName(); got != "__Host-pingauth_session" || !c.SecureCookies() {
		t.Errorf("https deployment: cookie %q secure=%v", got, c.SecureCookies())
	}
}

// TestAdminAPIFlow: the tutorial flow through the JSON API, with audit.
func TestAdminAPIFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	clk := e.totpClock()
	acmeAdmin := e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
	mustStatus := func(want int, res *http.Response, body []byte) {
		t.Helper()
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, body)
		}
	}
	res, body := c.do("POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "shop", "name": "Shop", "allowed_origins": []string{"https://shop.example"}})
	mustStatus(http.StatusCreated, res, body)
	// Bad input → 4xx JSON.
	for _, bad := range []any{
		map[string]any{"id": "bad id!", "name": "x"},
		map[string]any{"id": "ok", "name": "x", "token_ttl_seconds": 5},
		map[string]any{"id": "ok2", "name": "x", "surprise": 1},
		map[string]any{"id": "shop", "name": "dup"},
	} {
		res, body := c.do("POST", "/api/v1/tenants/acme/projects", bad)
		var eb struct {
			Error struct{ Code string } `json:"error"`
		}
		if res.StatusCode < 400 || res.StatusCode >= 500 || json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" {
			t.Errorf("bad project %v: %d %s", bad, res.StatusCode, body)
		}
	}
	// Without a chat-server connection a rotation is refused with the reason
	// (the chat server accepts only secrets it generates) and changes nothing.
	res, body = c.do("POST", "/api/v1/projects/shop/secret/rotate", nil)
	if res.StatusCode != http.StatusConflict || !strings.Contains(string(body), "accepts only secrets it generates") || !strings.Contains(string(body), "secret set") {
		t.Fatalf("rotate without a connection: %d %s", res.StatusCode, body)
	}
	res, body = c.do("POST", "/api/v1/projects/shop/secret/rotate", map[string]any{"local": true})
	mustStatus(http.StatusOK, res, body)
	if !strings.Contains(string(body), `"warning":"this secret was generated by pingauth`) {
		t.Errorf("local rotation without its warning: %s", body)
	}
	var rot struct {
		Secret string `json:"secret"`
	}
	_ = json.Unmarshal(body, &rot)
	res, body = c.do("POST", "/api/v1/projects/shop/users", map[string]any{"email": "ann@example.com", "password": "visitor-pass-1", "firstname": "Ann"})
	mustStatus(http.StatusCreated, res, body)

	// CSV import: a file with errors is refused whole, each error with its
	// line; the clean file is then imported.
	csv := "email,firstname,password,roles,attr.plan\n" +
		"bob@example.com,Bob,bob-password-1,vip;beta,gold\n" +
		"ann@example.com,Dup,whatever-123,,\n" +
		"not-an-email,X,password-123,,\n" +
		"carl@example.com,Carl,short,,\n" +
		"dana@example.com,Dana\n"
	res, body = c.do("POST", "/api/v1/projects/shop/users/import", csv)
	mustStatus(http.StatusBadRequest, res, body)
	var refused struct {
		Report admin.ImportReport `json:"report"`
	}
	if err := json.Unmarshal(body, &refused); err != nil {
		t.Fatal(err)
	}
	if rep := refused.Report; rep.Created != 0 || rep.Failed != 4 || len(rep.Rows) != 4 || rep.Rows[0].Line != 3 || rep.Rows[3].Line != 6 || !rep.Refused {
		t.Errorf("refused import report = %+v", rep)
	}
	res, body = c.do("POST", "/api/v1/projects/shop/users/import", "email,firstname,password,roles,attr.plan\nbob@example.com,Bob,bob-password-1,vip;beta,gold\n")
	mustStatus(http.StatusOK, res, body)
	var rep admin.ImportReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Created != 1 || rep.Failed != 0 || len(rep.Rows) != 1 || !rep.Rows[0].OK || rep.Rows[0].Line != 2 {
		t.Errorf("import report = %+v", rep)
	}
	res, body = c.do("POST", "/api/v1/projects/shop/users/import", "nonsense,columns\n1,2\n")
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad CSV header: %d %s", res.StatusCode, body)
	}

	// The end-user can authenticate; the token verifies with the rotated secret.
	res, body = e.anon().do("POST", "/auth/shop", map[string]string{"email": "bob@example.com", "password": "bob-password-1"})
	mustStatus(http.StatusOK, res, body)
	var ar struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(body, &ar)
	claims, err := token.Verify(ar.Token, token.VerifyOptions{Audience: "https://tiledesk.com/projects/shop", Keys: []token.Key{{Version: 1, Value: []byte(rot.Secret)}}})
	if err != nil || attrOf(claims, "plan") != "gold" {
		t.Errorf("token: %v %v", claims, err)
	}

	// End-user role mapping is stored and readable.
	res, body = c.do("PUT", "/api/v1/projects/shop/enduser-roles", map[string]any{"roles": []string{"vip"}})
	mustStatus(http.StatusOK, res, body)
	if !e.a.RBAC.EndUserMayAuthenticate(t.Context(), "shop", []string{"vip"}) || e.a.RBAC.EndUserMayAuthenticate(t.Context(), "shop", nil) {
		t.Error("mapping not applied")
	}

	// Every state change is audited with the operator's email.
	res, body = c.do("GET", "/api/v1/projects/shop/audit", nil)
	mustStatus(http.StatusOK, res, body)
	for _, action := range []string{"project.create", "secret.create", "enduser.create", "enduser.import", "role_rules.update"} {
		if !strings.Contains(string(body), `"action":"`+action+`"`) {
			t.Errorf("audit lacks %s", action)
		}
	}
	if strings.Contains(string(body), rot.Secret) {
		t.Error("audit log contains the secret value")
	}
	if !strings.Contains(string(body), `"actor":"admin@acme.example"`) {
		t.Error("audit actor is not the operator email")
	}
	// Secret metadata never includes the value.
	res, body = c.do("GET", "/api/v1/projects/shop", nil)
	mustStatus(http.StatusOK, res, body)
	if strings.Contains(string(body), rot.Secret) {
		t.Error("project view leaks the secret")
	}

	// API tokens (Bearer) work without CSRF and can be revoked. They are
	// created only by a session that passed the second factor.
	res, body = c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "ci"})
	mustStatus(http.StatusForbidden, res, body)
	key, _ := e.enrolTOTP(acmeAdmin, clk)
	c = e.loginTOTP("admin@acme.example", key, clk)
	res, body = c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "ci"})
	mustStatus(http.StatusCreated, res, body)
	var tok struct {
		Value string              `json:"value"`
		Token struct{ ID string } `json:"token"`
	}
	_ = json.Unmarshal(body, &tok)
	bearer := e.anon()
	res, body = bearer.do("GET", "/api/v1/projects/shop", nil, "Authorization", "Bearer "+tok.Value)
	mustStatus(http.StatusOK, res, body)
	res, body = bearer.do("DELETE", "/api/v1/projects/shop/users/x", nil, "Authorization", "Bearer "+tok.Value)
	mustStatus(http.StatusNotFound, res, body)
	res, body = c.do("DELETE", "/api/v1/me/tokens/"+tok.Token.ID, nil)
	mustStatus(http.StatusNoContent, res, body)
	res, body = bearer.do("GET", "/api/v1/projects/shop", nil, "Authorization", "Bearer "+tok.Value)
	mustStatus(http.StatusUnauthorized, res, body)
}

// TestOpenAPICoversEveryAPIRoute: each /api/v1 route of the access table is documented.
func TestOpenAPICoversEveryAPIRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	res, body := e.anon().do("GET", "/api/v1/openapi.yaml", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "openapi: 3") {
		t.Fatalf("openapi.yaml: %d", res.StatusCode)
	}
	doc := string(body)
	for _, r := range consoleRoutes(t, e) {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		p := strings.Join(parts, "/")
		idx := strings.Index(doc, "\n  "+p+":\n")
		if idx < 0 {
			t.Errorf("%s missing from openapi.yaml", p)
			continue
		}
		section := doc[idx+1:]
		if next := strings.Index(section[2:], "\n  /"); next >= 0 {
			section = section[:next+2]
		}
		if !strings.Contains(section, "\n    "+strings.ToLower(r.Method)+":") {
			t.Errorf("%s %s missing from openapi.yaml", r.Method, p)
		}
	}
}

// The other direction: every path and method openapi.yaml documents is a
// route of the access table (a documented route that was removed or
// renamed fails here).
func TestOpenAPIDocumentsOnlyRoutedPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	res, body := e.anon().do("GET", "/api/v1/openapi.yaml", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("openapi.yaml: %d", res.StatusCode)
	}
	// It is YAML a client's generator can read (a stray brace once made the
	// whole file unparsable while every line-based check passed).
	var spec map[string]any
	if err := yaml.Unmarshal(body, &spec); err != nil || spec["paths"] == nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	routed := map[string]bool{}
	for _, r := range consoleRoutes(t, e) {
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		routed[r.Method+" "+strings.Join(parts, "/")] = true
	}
	inPaths, path, documented := false, "", 0
	for _, line := range strings.Split(string(body), "\n") {
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " "):
			inPaths = false // the next top-level section
		case inPaths && strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case inPaths && path != "" && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     "):
			m := strings.TrimSuffix(strings.TrimSpace(line), ":")
			switch m {
			case "get", "post", "put", "patch", "delete":
				documented++
				if !routed[strings.ToUpper(m)+" "+path] {
					t.Errorf("openapi.yaml documents %s %s, which is not routed", strings.ToUpper(m), path)
				}
			}
		}
	}
	if documented < 20 {
		t.Fatalf("found only %d documented operations: the parser no longer matches openapi.yaml", documented)
	}
}
