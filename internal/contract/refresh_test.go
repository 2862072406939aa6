package contract_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/mapping"
)

// post sends a JSON body to pingauth and decodes the answer.
func (pa *pingauth) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(pa.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// TestRefreshedTokenSignsInAsTheSameVisitor: a token minted from a refresh
// credential (no password) signs in on the real chat server as the same
// visitor as the password sign-in's token — a visitor and nothing more —
// and so does the one after the next rotation; once the visitor is blocked
// the credential mints nothing.
func TestRefreshedTokenSignsInAsTheSameVisitor(t *testing.T) {
	p := chatServer(t)
	pid, sk := p.newProject(t, "refresh")
	pa := openPingauth(t)
	pa.register(t, pid, sk)
	ctx := context.Background()
	proj, err := pa.a.Projects.Get(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	proj.RefreshTTLSeconds = 3600
	if err := pa.a.Projects.Update(ctx, proj); err != nil {
		t.Fatal(err)
	}
	if err := pa.a.Users.Create(ctx, &enduser.User{ProjectID: pid, Email: "rita@shop.test", ExternalID: "cust-r", Firstname: "Rita",
		Enabled: true, Attributes: map[string]any{"plan": "gold"}}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	code, first := pa.post(t, "/auth/"+pid, `{"email":"rita@shop.test","password":"correct horse battery","refresh":true}`)
	rt, _ := first["refresh_token"].(string)
	tok, _ := first["token"].(string)
	if code != 200 || rt == "" || tok == "" {
		t.Fatalf("password sign-in with refresh: %d %v", code, first)
	}
	p.assertVisitor(t, pid, tok, "cust-r")
	for i := 0; i < 2; i++ {
		code, next := pa.post(t, "/auth/"+pid+"/refresh", `{"refresh_token":"`+rt+`"}`)
		newRT, _ := next["refresh_token"].(string)
		newTok, _ := next["token"].(string)
		if code != 200 || newRT == "" || newRT == rt || newTok == "" || newTok == tok {
			t.Fatalf("refresh %d: %d %v", i, code, next)
		}
		p.assertVisitor(t, pid, newTok, "cust-r")
		rt, tok = newRT, newTok
	}
	if err := pa.a.Modes.Admin.PutOverride(ctx, "contract-test", &mapping.Override{ProjectID: pid, ExternalID: "cust-r", Blocked: true}); err != nil {
		t.Fatal(err)
	}
	if code, out := pa.post(t, "/auth/"+pid+"/refresh", `{"refresh_token":"`+rt+`"}`); code != 401 || out["token"] != nil {
		t.Fatalf("refresh of a blocked visitor: %d %v, want 401 and no token", code, out)
	}
}
