package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestJSONBodiesAreStrict: on every JSON endpoint, member names match
// case-sensitively, a repeated name (at any depth) and invalid UTF-8 in any
// string are a 400 naming the field, never a decoded value: {"Email":...}
// used to log in, and server-mode ids "\xff\xfe" and "\xfe\xff" both became
// "\ufffd\ufffd", one end-user.
func TestJSONBodiesAreStrict(t *testing.T) {
	t.Parallel()
	e := newModesEnv(t, storetest.Open(t, store.SQLite), nil)
	e.setModes(t, mProjA, "password", "server", "exchange")
	_, key := e.newKey(t, mProjA)
	u := &enduser.User{ProjectID: mProjA, ExternalID: "ann", Email: "ann@example.com", Enabled: true}
	if err := e.users.Create(context.Background(), u, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	apiKey := map[string]string{"X-Api-Key": key}
	admin := map[string]string{"Authorization": adminTok}
	const pw = `"password":"correct horse battery"`
	cases := []struct {
		name, path, body string
		hdr              map[string]string
		field            string // "" = must succeed
	}{
		{"password login", "/auth/" + mProjA, `{"email":"ann@example.com",` + pw + `}`, nil, ""},
		{"password login, Email", "/auth/" + mProjA, `{"Email":"ann@example.com",` + pw + `}`, nil, "Email"},
		{"password login, PASSWORD", "/auth/" + mProjA, `{"email":"ann@example.com","PASSWORD":"correct horse battery"}`, nil, "PASSWORD"},
		{"password login, email twice", "/auth/" + mProjA, `{"email":"x@example.com","email":"ann@example.com",` + pw + `}`, nil, "email"},
		{"password login, invalid UTF-8", "/auth/" + mProjA, "{\"email\":\"ann\xff@example.com\"," + pw + "}", nil, "email"},
		{"password login, lone surrogate", "/auth/" + mProjA, `{"email":"ann\ud800@example.com",` + pw + `}`, nil, "email"},
		{"password login, invalid UTF-8 name", "/auth/" + mProjA, "{\"em\xffail\":\"ann@example.com\"," + pw + "}", nil, "body"},
		{"server mode", "/auth/" + mProjA, `{"user":{"id":"x"}}`, apiKey, ""},
		{"server mode, ID", "/auth/" + mProjA, `{"user":{"ID":"x"}}`, apiKey, "user.ID"},
		{"server mode, User", "/auth/" + mProjA, `{"User":{"id":"x"}}`, apiKey, "User"},
		{"server mode, id twice", "/auth/" + mProjA, `{"user":{"id":"x","id":"y"}}`, apiKey, "user.id"},
		{"server mode, user twice", "/auth/" + mProjA, `{"user":{"id":"x"},"user":{"id":"y"}}`, apiKey, "user"},
		{"server mode, attribute twice", "/auth/" + mProjA, `{"user":{"id":"x","attributes":{"plan":"a","plan":"b"}}}`, apiKey, "user.attributes.plan"},
		{"server mode, nested attribute twice", "/auth/" + mProjA, `{"user":{"id":"x","attributes":{"o":{"k":1,"k":2}}}}`, apiKey, "user.attributes.o.k"},
		{"server mode, id \\xff\\xfe", "/auth/" + mProjA, "{\"user\":{\"id\":\"\xff\xfe\"}}", apiKey, "user.id"},
		{"server mode, id \\xfe\\xff", "/auth/" + mProjA, "{\"user\":{\"id\":\"\xfe\xff\"}}", apiKey, "user.id"},
		{"server mode, invalid UTF-8 attribute", "/auth/" + mProjA, "{\"user\":{\"id\":\"x\",\"attributes\":{\"plan\":\"g\xc3\"}}}", apiKey, "user.attributes.plan"},
		{"server mode, invalid UTF-8 role", "/auth/" + mProjA, "{\"user\":{\"id\":\"x\",\"roles\":[\"a\xff\"]}}", apiKey, "user.roles.0"},
		{"exchange, id_token twice", "/auth/" + mProjA, `{"id_token":"a.b.c","id_token":"d.e.f"}`, nil, "id_token"},
		{"exchange, ID_TOKEN", "/auth/" + mProjA, `{"ID_TOKEN":"a.b.c"}`, nil, "ID_TOKEN"},
		{"verify, token twice", "/auth/" + mProjA + "/verify", `{"token":"a.b.c","token":"d.e.f"}`, nil, "token"},
		{"verify, Token", "/auth/" + mProjA + "/verify", `{"Token":"a.b.c"}`, nil, "Token"},
		{"verify, invalid UTF-8", "/auth/" + mProjA + "/verify", "{\"token\":\"a.b.\xff\"}", nil, "token"},
		{"admin API, Modes", "/api/v1/projects/" + mProjA + "/modes", `{"Modes":["password"]}`, admin, "Modes"},
		{"admin API, modes twice", "/api/v1/projects/" + mProjA + "/modes", `{"modes":["server"],"modes":["password"]}`, admin, "modes"},
		{"admin API, invalid UTF-8", "/api/v1/projects/" + mProjA + "/apikeys", "{\"name\":\"\xff\"}", admin, "name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, b := e.do(t, "POST", tc.path, tc.body, tc.hdr)
			if strings.HasSuffix(tc.path, "/modes") {
				code, b = e.do(t, "PUT", tc.path, tc.body, tc.hdr)
			}
			if tc.field == "" {
				if code != 200 {
					t.Fatalf("status %d: %s", code, b)
				}
				return
			}
			var eb httpkit.ErrorBody
			if code != 400 || json.Unmarshal(b, &eb) != nil || eb.Error.Code != "invalid_request" || eb.Error.Field != tc.field || eb.Error.Message == "" {
				t.Fatalf("got %d %s, want 400 naming field %q", code, b, tc.field)
			}
			if tc.field != "body" && !strings.Contains(eb.Error.Message, `"`+tc.field+`"`) {
				t.Fatalf("message %q does not name %q", eb.Error.Message, tc.field)
			}
		})
	}
}
