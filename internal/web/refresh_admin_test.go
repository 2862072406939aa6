package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/store"
	assets "github.com/pingstreams/pingauth/web"
)

// TestProjectRefreshTTL: the refresh credential lifetime is edited where the
// token lifetime is — API create (default 30 days when absent) and update,
// console form (30d, 12h, off) — with a 400 naming the field when out of
// bounds; the project page shows both lifetimes with guidance.
func TestProjectRefreshTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
	refreshTTL := func(id string) int {
		t.Helper()
		p, err := e.a.Projects.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return p.RefreshTTLSeconds
	}
	if res, body := c.do("POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "shop", "name": "Shop"}); res.StatusCode != http.StatusCreated ||
		!strings.Contains(string(body), `"refresh_ttl_seconds":2592000`) || refreshTTL("shop") != 2592000 {
		t.Fatalf("create without refresh_ttl_seconds: %d %s", res.StatusCode, body)
	}
	if res, body := c.do("POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "norefresh", "name": "N", "refresh_ttl_seconds": 0}); res.StatusCode != http.StatusCreated || refreshTTL("norefresh") != 0 {
		t.Fatalf("create with refresh off: %d %s", res.StatusCode, body)
	}
	res, body := c.do("POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "bad", "name": "B", "refresh_ttl_seconds": 10})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"refresh_ttl_seconds"`) {
		t.Fatalf("create with refresh_ttl_seconds 10: %d %s", res.StatusCode, body)
	}
	if res, body := c.do("PUT", "/api/v1/projects/shop", map[string]any{"refresh_ttl_seconds": 3600}); res.StatusCode != http.StatusOK || refreshTTL("shop") != 3600 {
		t.Fatalf("update refresh_ttl_seconds: %d %s", res.StatusCode, body)
	}
	if res, body := c.do("PUT", "/api/v1/projects/shop", map[string]any{"name": "Shop 2"}); res.StatusCode != http.StatusOK || refreshTTL("shop") != 3600 {
		t.Fatalf("update without refresh_ttl_seconds must keep it: %d %s", res.StatusCode, body)
	}

	if p := c.page("/console/tenants/acme/projects/new"); !strings.Contains(p, `name="refresh_ttl" id="project-refresh-ttl" value="30d"`) || !strings.Contains(p, "REST credential") {
		t.Fatal("new project form lacks the refresh lifetime (30d default) or the token lifetime guidance")
	}
	form := url.Values{"id": {"formshop"}, "name": {"Form shop"}, "ttl": {"15m"}, "refresh_ttl": {"12h"}, "status": {"active"}}
	if res, body := c.form("/console/tenants/acme/projects", form, true); res.StatusCode != http.StatusSeeOther || refreshTTL("formshop") != 43200 {
		t.Fatalf("console create with 12h: %d %s", res.StatusCode, trim([]byte(body)))
	}
	form.Set("refresh_ttl", "off")
	if res, body := c.form("/console/projects/formshop", form, true); res.StatusCode != http.StatusSeeOther || refreshTTL("formshop") != 0 {
		t.Fatalf("console update with off: %d %s", res.StatusCode, trim([]byte(body)))
	}
	form.Set("refresh_ttl", "100d")
	if res, body := c.form("/console/projects/formshop", form, true); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "refresh_ttl_seconds must be 0") {
		t.Fatalf("console update with 100d: %d %s", res.StatusCode, trim([]byte(body)))
	}
	form.Del("refresh_ttl") // a form without the field keeps the value
	form.Set("name", "Renamed")
	if res, _ := c.form("/console/projects/formshop", form, true); res.StatusCode != http.StatusSeeOther || refreshTTL("formshop") != 0 {
		t.Fatalf("console update without the field: %d, refresh %d", res.StatusCode, refreshTTL("formshop"))
	}
	if p := c.page("/console/projects/formshop/edit"); !strings.Contains(p, `id="project-refresh-ttl" value="off"`) {
		t.Fatal("edit form does not show refresh off")
	}
	p := c.page("/console/projects/shop")
	if !strings.Contains(p, `<span id="refresh-ttl">1h</span>`) || !strings.Contains(p, `<span id="token-ttl">15m</span>`) || !strings.Contains(p, "widget session kit renews it") {
		t.Fatalf("project page lacks the lifetimes or their guidance:\n%s", trim([]byte(p)))
	}
	if res, body := c.do("PUT", "/api/v1/projects/shop", map[string]any{"token_ttl_seconds": 7200}); res.StatusCode != http.StatusOK {
		t.Fatalf("update token ttl: %d %s", res.StatusCode, body)
	}
	if p := c.page("/console/projects/shop"); !strings.Contains(p, "Long: the widget uses this token as its REST credential") {
		t.Fatal("a 2h token lifetime gets no warning")
	}
}

// TestRefreshOperatorRevocation: the users page counts each end-user's
// remembered sign-ins and revokes them (audited); the admin API lists and
// revokes them; disabling a user or resetting the password revokes them at
// once.
func TestRefreshOperatorRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
	if res, body := c.do("POST", "/api/v1/tenants/acme/projects", map[string]any{"id": "shop", "name": "Shop"}); res.StatusCode != http.StatusCreated {
		t.Fatalf("create project: %d %s", res.StatusCode, body)
	}
	if res, body := c.do("POST", "/api/v1/projects/shop/secret/rotate", map[string]any{"local": true}); res.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", res.StatusCode, body)
	}
	ids := map[string]string{}
	for _, email := range []string{"ann@example.com", "bob@example.com", "cid@example.com"} {
		res, body := c.do("POST", "/api/v1/projects/shop/users", map[string]any{"email": email, "password": "visitor-pass-1"})
		var u struct {
			ID string `json:"id"`
		}
		if res.StatusCode != http.StatusCreated || json.Unmarshal(body, &u) != nil {
			t.Fatalf("create user: %d %s", res.StatusCode, body)
		}
		ids[email] = u.ID
	}
	anon := e.anon()
	signIn := func(email string) string {
		t.Helper()
		res, body := anon.do("POST", "/auth/shop", map[string]any{"email": email, "password": "visitor-pass-1", "refresh": true})
		var out struct {
			RefreshToken string `json:"refresh_token"`
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || !strings.HasPrefix(out.RefreshToken, refresh.Prefix) {
			t.Fatalf("sign-in %s: %d %s", email, res.StatusCode, body)
		}
		return out.RefreshToken
	}
	refreshStatus := func(cred string) int {
		t.Helper()
		res, _ := anon.do("POST", "/auth/shop/refresh", map[string]string{"refresh_token": cred})
		return res.StatusCode
	}
	ann1, ann2 := signIn("ann@example.com"), signIn("ann@example.com")
	bob := signIn("bob@example.com")

	page := c.page("/console/projects/shop/users")
	if !strings.Contains(page, `<td class="signins" data-user="ann@example.com">2</td>`) || !strings.Contains(page, `<td class="signins" data-user="bob@example.com">1</td>`) ||
		!strings.Contains(page, `<td class="signins" data-user="cid@example.com">0</td>`) || !strings.Contains(page, "/users/"+ids["ann@example.com"]+"/refresh/revoke") ||
		strings.Contains(page, "/users/"+ids["cid@example.com"]+"/refresh/revoke") {
		t.Fatalf("users page counts or buttons wrong:\n%s", trim([]byte(page)))
	}
	res, body := c.do("GET", "/api/v1/projects/shop/users/"+ids["ann@example.com"]+"/refresh-tokens", nil)
	var list struct {
		SignIns []refresh.Family `json:"sign_ins"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.SignIns) != 2 || strings.Contains(string(body), refresh.Prefix) {
		t.Fatalf("list ann's sign-ins: %d %s", res.StatusCode, body)
	}
	if res, body := c.form("/console/projects/shop/users/"+ids["ann@example.com"]+"/refresh/revoke", nil, true); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/console/projects/shop/users?done=refresh_revoked" {
		t.Fatalf("console revoke: %d %s", res.StatusCode, trim([]byte(body)))
	}
	if s1, s2, s3 := refreshStatus(ann1), refreshStatus(ann2), refreshStatus(bob); s1 != 401 || s2 != 401 || s3 != 200 {
		t.Fatalf("after revoking ann: ann %d %d, bob %d; want 401 401 200", s1, s2, s3)
	}
	events, err := e.a.Audit.List(context.Background(), audit.Query{ProjectID: "shop", Action: "enduser.refresh_revoke"})
	if err != nil || len(events) != 1 || events[0].Actor != "admin@acme.example" || events[0].Target != "ann@example.com" {
		t.Fatalf("audit of the revocation: %+v %v", events, err)
	}

	cid := signIn("cid@example.com")
	res, body = c.do("DELETE", "/api/v1/projects/shop/users/"+ids["cid@example.com"]+"/refresh-tokens", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"revoked_sign_ins":1`) || refreshStatus(cid) != 401 {
		t.Fatalf("API revoke: %d %s", res.StatusCode, body)
	}

	// Disable (console) and password reset (API) revoke at once, with the reason.
	reasons := func(email string) []string {
		var rows []refresh.Token
		if err := e.a.DB.Where("end_user_id = ?", ids[email]).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Reason)
		}
		return out
	}
	bob2 := signIn("bob@example.com")
	if res, _ := c.form("/console/projects/shop/users/"+ids["bob@example.com"]+"/enabled", url.Values{"enabled": {"false"}}, true); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable bob: %d", res.StatusCode)
	}
	for _, r := range reasons("bob@example.com") {
		if r != refresh.ReasonUserDisabled {
			t.Errorf("bob's rows after disable: %v", reasons("bob@example.com"))
		}
	}
	if refreshStatus(bob2) != 401 {
		t.Error("a disabled user's credential still refreshes")
	}
	cid2 := signIn("cid@example.com")
	if res, _ := c.do("POST", "/api/v1/projects/shop/users/"+ids["cid@example.com"]+"/password", map[string]string{"password": "another-pass-2"}); res.StatusCode != http.StatusNoContent {
		t.Fatalf("password reset: %d", res.StatusCode)
	}
	if refreshStatus(cid2) != 401 || !strings.Contains(strings.Join(reasons("cid@example.com"), ","), refresh.ReasonPasswordChanged) {
		t.Fatalf("after password reset: %v", reasons("cid@example.com"))
	}
}

// TestSnippetsUseSDK: every page-side snippet (password, server, exchange)
// loads the widget session kit with the integrity hash of the bytes served.
func TestSnippetsUseSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	if _, err := e.a.Modes.Admin.SetModes(context.Background(), "test", "shop", mapping.AllModes); err != nil {
		t.Fatal(err)
	}
	c := e.login("admin@acme.example")
	p := html.UnescapeString(c.page("/console/projects/shop"))
	sdk := assets.SDK()
	tag := `<script src="` + e.url + sdk.Path + `" integrity="` + sdk.Integrity + `" crossorigin="anonymous"></script>`
	if n := strings.Count(p, tag); n != 3 {
		t.Fatalf("project page has the SDK tag %d times, want 3 (password, server page, exchange)", n)
	}
	for _, want := range []string{`pingauth.connect({ url: "` + e.url + `", projectId: "shop" })`, "chat.passwordForm(", "chat.server(function ()",
		"chat.exchange(function ()", "id_token: idToken", `window.Tiledesk("signInWithCustomToken", "JWT " + token)`, "chat.logout()"} {
		if !strings.Contains(p, want) {
			t.Errorf("project page snippets lack %q", want)
		}
	}
	res, body := e.anon().do("GET", sdk.Path, nil)
	if res.StatusCode != http.StatusOK || string(body) != string(sdk.Body) {
		t.Fatalf("served SDK differs from the one the snippets pin: %d", res.StatusCode)
	}
}
