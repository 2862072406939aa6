package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestAdminAPIJSONIsStrict: the console's JSON API (bind → DecodeStrictJSON)
// answers 400 naming the field for a name in the wrong case, a repeated name
// and invalid UTF-8; {"Email":...} used to sign an operator in.
func TestAdminAPIJSONIsStrict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	e.project("acme", "shop")
	c := e.login("admin@acme.example")
	anon := e.anon()
	jsonCT := []string{"Content-Type", "application/json"}
	cases := []struct {
		name         string
		c            *client
		method, path string
		body         string
		field        string // "" = must succeed
	}{
		{"login", anon, "POST", "/api/v1/session", `{"email":"admin@acme.example","password":"operator-pass-1"}`, ""},
		{"login, Email", anon, "POST", "/api/v1/session", `{"Email":"admin@acme.example","password":"operator-pass-1"}`, "Email"},
		{"login, email twice", anon, "POST", "/api/v1/session", `{"email":"nobody@acme.example","email":"admin@acme.example","password":"operator-pass-1"}`, "email"},
		{"login, invalid UTF-8", anon, "POST", "/api/v1/session", "{\"email\":\"admin\xff@acme.example\",\"password\":\"operator-pass-1\"}", "email"},
		{"project create, Name", c, "POST", "/api/v1/tenants/acme/projects", `{"id":"p2","Name":"x"}`, "Name"},
		{"project create, id twice", c, "POST", "/api/v1/tenants/acme/projects", `{"id":"p3","name":"x","id":"p4"}`, "id"},
		{"project create, invalid UTF-8 name", c, "POST", "/api/v1/tenants/acme/projects", "{\"id\":\"p5\",\"name\":\"\xfe\xff\"}", "name"},
		{"project create, origin twice in a list is fine", c, "POST", "/api/v1/tenants/acme/projects", `{"id":"p6","name":"x","allowed_origins":["https://a.example","https://a.example"]}`, ""},
		{"project update, Status", c, "PUT", "/api/v1/projects/shop", `{"Status":"disabled"}`, "Status"},
		{"project update, status twice", c, "PUT", "/api/v1/projects/shop", `{"status":"active","status":"disabled"}`, "status"},
		{"end-user, attribute twice", c, "POST", "/api/v1/projects/shop/users", `{"email":"ann@example.com","password":"visitor-pass-1","attributes":{"plan":"a","plan":"b"}}`, "attributes.plan"},
		{"end-user, invalid UTF-8 attribute", c, "POST", "/api/v1/projects/shop/users", "{\"email\":\"bob@example.com\",\"password\":\"visitor-pass-1\",\"attributes\":{\"plan\":\"\xff\"}}", "attributes.plan"},
		{"end-user roles, Roles", c, "PUT", "/api/v1/projects/shop/enduser-roles", `{"Roles":["vip"]}`, "Roles"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := tc.c.do(tc.method, tc.path, tc.body, jsonCT...)
			if tc.field == "" {
				if res.StatusCode >= 300 {
					t.Fatalf("%s %s: %d %s", tc.method, tc.path, res.StatusCode, body)
				}
				return
			}
			var eb struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			if res.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &eb) != nil || eb.Error.Code != "invalid_request" || eb.Error.Field != tc.field ||
				!strings.Contains(eb.Error.Message, `"`+tc.field+`"`) {
				t.Fatalf("%s %s %q: %d %s, want 400 naming %q", tc.method, tc.path, tc.body, res.StatusCode, body, tc.field)
			}
		})
	}
}
