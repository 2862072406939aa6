package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// The chat-server connection API: bad input is a 400 naming the field, the
// credential never comes back and never reaches SQL, a project's own
// connection overrides the tenant's, and an operator of another tenant
// cannot touch it.
func TestChatConnectionAPI(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e, c := acmeShop(t, d, "admin@acme.example", rbac.RoleTenantAdmin)
			const password, token = "the-dashboard-password-1", "JWT eyJ.the-session-token.sig"
			for _, bad := range []struct {
				body  map[string]any
				field string
			}{
				{map[string]any{"base_url": "ftp://chat.example", "email": "a@b.example", "password": password}, "base_url"},
				{map[string]any{"base_url": "https://u:p@chat.example", "email": "a@b.example", "password": password}, "base_url"},
				{map[string]any{"email": "a@b.example"}, "email"},
				{map[string]any{"email": "a@b.example", "password": password, "token": token}, "token"},
				{map[string]any{"email": "a@b.example", "password": password, "colour": "red"}, ""},
			} {
				res, body := c.do("PUT", "/api/v1/tenants/acme/chat-connection", bad.body)
				if res.StatusCode != http.StatusBadRequest || (bad.field != "" && !strings.Contains(string(body), `"field":"`+bad.field+`"`)) {
					t.Errorf("PUT %v: %d %s, want 400 naming %q", bad.body, res.StatusCode, body, bad.field)
				}
			}
			res, body := c.do("PUT", "/api/v1/tenants/acme/chat-connection", map[string]any{"base_url": "https://chat.acme.example/api/", "email": "agent@acme.example", "password": password})
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"base_url":"https://chat.acme.example/api"`) || strings.Contains(string(body), password) {
				t.Fatalf("PUT tenant connection: %d %s", res.StatusCode, body)
			}
			res, body = c.do("PUT", "/api/v1/projects/shop1/chat-connection", map[string]any{"token": token})
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"auth":"token"`) || strings.Contains(string(body), "session-token") {
				t.Fatalf("PUT project connection: %d %s", res.StatusCode, body)
			}
			for _, path := range []string{"/api/v1/tenants/acme/chat-connection", "/api/v1/projects/shop1/chat-connection"} {
				res, body := c.do("GET", path, nil)
				if res.StatusCode != http.StatusOK || strings.Contains(string(body), password) || strings.Contains(string(body), "session-token") {
					t.Errorf("GET %s: %d %s", path, res.StatusCode, body)
				}
			}
			var rows []map[string]any
			if err := e.a.DB.Raw("SELECT * FROM chat_connections").Scan(&rows).Error; err != nil || len(rows) != 2 {
				t.Fatalf("chat_connections: %v %v", rows, err)
			}
			for _, r := range rows {
				for k, v := range r {
					if s, ok := v.(string); ok && (strings.Contains(s, password) || strings.Contains(s, "session-token")) {
						t.Errorf("column %s holds the credential", k)
					}
				}
			}
			// The project page says which connection rotates its secret.
			if page := c.page("/console/projects/shop1"); !strings.Contains(page, `id="chat-connection"`) || !strings.Contains(page, "Rotate on the chat server") {
				t.Error("project page does not offer the chat-server rotation")
			}
			e.tenant("globex")
			e.project("globex", "gshop")
			e.operator("admin@globex.example", rbac.RoleTenantAdmin, "globex")
			g := e.login("admin@globex.example")
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				if res, _ := g.do(m, "/api/v1/tenants/acme/chat-connection", map[string]any{"token": token}); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s acme's connection as globex: %d", m, res.StatusCode)
				}
			}
			if res, body := c.do("DELETE", "/api/v1/projects/shop1/chat-connection", nil); res.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", res.StatusCode, body)
			}
			if res, _ := c.do("GET", "/api/v1/projects/shop1/chat-connection", nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("GET after DELETE: %d", res.StatusCode)
			}
		})
	}
}

// The console's chat-server connection: set on the tenant settings page
// (bad input shown on the form, the credential never shown again), tested
// from the project page, removed.
func TestConsoleChatConnection(t *testing.T) {
	t.Parallel()
	_, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	const token = "JWT eyJ.console-session-token.sig"
	if page := c.page("/console/tenants/acme/settings"); !strings.Contains(page, `id="chat-connection-none"`) || !strings.Contains(page, `id="chat-connection-form"`) {
		t.Fatal("settings page without the connection form")
	}
	if page := c.page("/console/projects/shop1"); !strings.Contains(page, `id="no-chat-connection"`) || !strings.Contains(page, "/console/tenants/acme/settings#chat-connection-card") {
		t.Error("project page does not explain rotation without a connection")
	}
	res, body := c.form("/console/tenants/acme/chat-connection", url.Values{"base_url": {"ftp://chat.example"}, "auth": {"token"}, "credential": {token}}, true)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="chat-connection-error"`) || strings.Contains(body, "console-session-token") {
		t.Fatalf("bad base URL: %d %s", res.StatusCode, trim([]byte(body)))
	}
	// A connection that cannot be reached (loopback is refused by the
	// outbound policy): the test says so at once.
	res, body = c.form("/console/tenants/acme/chat-connection", url.Values{"base_url": {"https://127.0.0.1:1"}, "auth": {"token"}, "credential": {token}}, true)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/tenants/acme/settings?done=chat_connection" {
		t.Fatalf("save connection: %d %s", res.StatusCode, trim([]byte(body)))
	}
	page := c.page("/console/tenants/acme/settings?done=chat_connection")
	if !strings.Contains(page, `id="chat-connection-current"`) || !strings.Contains(page, "https://127.0.0.1:1") || strings.Contains(page, "console-session-token") {
		t.Errorf("settings page after saving: %s", trim([]byte(page)))
	}
	if page := c.page("/console/projects/shop1"); !strings.Contains(page, "Rotate on the chat server") || !strings.Contains(page, `id="chat-test"`) {
		t.Error("project page does not offer rotation and test with a connection")
	}
	res, body = c.form("/console/projects/shop1/chat-connection/test", nil, true)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="chat-test-result"`) || !strings.Contains(body, "could not be reached") {
		t.Errorf("test connection: %d %s", res.StatusCode, trim([]byte(body)))
	}
	res, body = c.form("/console/tenants/acme/chat-connection/remove", nil, true)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d %s", res.StatusCode, trim([]byte(body)))
	}
	if page := c.page("/console/tenants/acme/settings"); !strings.Contains(page, `id="chat-connection-none"`) {
		t.Error("connection still shown after removing it")
	}
}
