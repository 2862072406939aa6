package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// The verification-mode admin API works through the console's guard: an
// operator creates an API key, the site's backend mints with it, and
// disabling the project in the console stops the server-mode fast path at
// once (its cached project row is invalidated).
func TestServerModeThroughAdminAPIAndProjectDisable(t *testing.T) {
	t.Parallel()
	e, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	if res, body := c.do("PUT", "/api/v1/projects/shop1/secret", map[string]any{"secret": "pingstreams-shared-secret-0123"}); res.StatusCode != 200 {
		t.Fatalf("put secret: %d %s", res.StatusCode, body)
	}
	if res, body := c.do("PUT", "/api/v1/projects/shop1/modes", map[string]any{"modes": []string{"password", "server"}}); res.StatusCode != 200 {
		t.Fatalf("set modes: %d %s", res.StatusCode, body)
	}
	res, body := c.do("POST", "/api/v1/projects/shop1/apikeys", map[string]any{"name": "backend"})
	if res.StatusCode != 201 {
		t.Fatalf("create key: %d %s", res.StatusCode, body)
	}
	var created struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &created); err != nil || !strings.HasPrefix(created.Key, "pa_live_") {
		t.Fatalf("key response %s", body)
	}
	mintNow := func() int {
		st, _ := mint(t, e, "shop1", created.Key, serverUser)
		return st
	}
	if got := mintNow(); got != 200 {
		t.Fatalf("server-mode mint: %d", got)
	}
	if res, body := c.do("PUT", "/api/v1/projects/shop1", map[string]any{"status": "disabled"}); res.StatusCode != 200 {
		t.Fatalf("disable: %d %s", res.StatusCode, body)
	}
	if got := mintNow(); got != http.StatusForbidden {
		t.Fatalf("mint right after disabling the project: %d, want 403", got)
	}
	// The key list never shows the key itself.
	if _, body := c.do("GET", "/api/v1/projects/shop1/apikeys", nil); strings.Contains(string(body), created.Key) {
		t.Fatal("API key value listed")
	}
}

// Deleting a project removes its exchange-mode HS secret from the secret
// backend too (it is stored there under its own id, outside the project row).
func TestProjectDeleteRemovesIdPSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop2")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
	res, body := c.do("PUT", "/api/v1/projects/shop2/idp", map[string]any{
		"issuer": "https://idp.example.com/", "audiences": []string{"spa"}, "algorithms": []string{"HS256"},
		"hs_secret": "an-hs-secret-of-the-site-0123456789"})
	if res.StatusCode != 200 {
		t.Fatalf("set idp: %d %s", res.StatusCode, body)
	}
	count := func() int64 {
		var n int64
		if err := e.a.DB.Table("sealed_secrets").Where("project_id LIKE ?", "shop2%").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count() == 0 {
		t.Fatal("the HS secret was not stored in the sealed backend")
	}
	if res, body := c.do("DELETE", "/api/v1/projects/shop2", nil); res.StatusCode >= 300 {
		t.Fatalf("delete project: %d %s", res.StatusCode, body)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d sealed rows of the deleted project remain", n)
	}
}
