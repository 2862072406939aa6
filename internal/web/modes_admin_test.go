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
