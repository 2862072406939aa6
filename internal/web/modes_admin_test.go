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
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop1")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
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
	mint := func() int {
		req, _ := http.NewRequest("POST", e.url+"/auth/shop1", strings.NewReader(`{"user":{"id":"u-1","email":"u1@example.com"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+created.Key)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if got := mint(); got != 200 {
		t.Fatalf("server-mode mint: %d", got)
	}
	if res, body := c.do("PUT", "/api/v1/projects/shop1", map[string]any{"status": "disabled"}); res.StatusCode != 200 {
		t.Fatalf("disable: %d %s", res.StatusCode, body)
	}
	if got := mint(); got != http.StatusForbidden {
		t.Fatalf("mint right after disabling the project: %d, want 403", got)
	}
	// The key list never shows the key itself.
	if _, body := c.do("GET", "/api/v1/projects/shop1/apikeys", nil); strings.Contains(string(body), created.Key) {
		t.Fatal("API key value listed")
	}
}
