package contract_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

// peer is the real chat server started by ../shared/chatserver/start.sh.
type peer struct {
	url, ownerEmail, ownerToken string
	hc                          *http.Client
}

func chatServer(t *testing.T) *peer {
	t.Helper()
	p := &peer{url: os.Getenv("PINGSTREAMS_TEST_URL"), ownerEmail: os.Getenv("PINGSTREAMS_TEST_OWNER_EMAIL"),
		ownerToken: os.Getenv("PINGSTREAMS_TEST_OWNER_TOKEN"), hc: &http.Client{Timeout: 30 * time.Second}}
	if p.url == "" || p.ownerToken == "" {
		if os.Getenv("PINGAUTH_TEST_REQUIRE_CHATSERVER") == "1" {
			t.Fatal("PINGAUTH_TEST_REQUIRE_CHATSERVER=1 but PINGSTREAMS_TEST_URL/PINGSTREAMS_TEST_OWNER_TOKEN are not set (eval \"$(../shared/chatserver/start.sh)\")")
		}
		t.Skip("no chat server: eval \"$(../shared/chatserver/start.sh)\" to run the contract tests")
	}
	return p
}

// call sends a JSON request to the chat server and decodes a JSON answer.
func (p *peer) call(t *testing.T, method, path, auth string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := p.hc.Do(req)
	if err != nil {
		t.Fatalf("chat server %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// newProject creates a chat-server project owned by the test owner and has
// the chat server generate its shared secret (the only secret it accepts).
func (p *peer) newProject(t *testing.T, name string) (id, secret string) {
	t.Helper()
	code, proj := p.call(t, "POST", "/projects", p.ownerToken, map[string]any{"name": name})
	id, _ = proj["_id"].(string)
	if code != 200 || id == "" {
		t.Fatalf("create chat-server project: %d %v", code, proj)
	}
	code, keys := p.call(t, "POST", "/"+id+"/keys/generate", p.ownerToken, nil)
	secret, _ = keys["jwtSecret"].(string)
	if code != 200 || secret == "" {
		t.Fatalf("keys/generate: %d (no secret)", code)
	}
	return id, secret
}

// session is what signinWithCustomToken answered for a widget token.
type session struct {
	status int
	token  string // the session credential the chat server handed back
	user   map[string]any
}

func (p *peer) signIn(t *testing.T, widgetToken string) session {
	t.Helper()
	code, out := p.call(t, "POST", "/auth/signinWithCustomToken", "JWT "+widgetToken, nil)
	s := session{status: code}
	s.token, _ = out["token"].(string)
	s.user, _ = out["user"].(map[string]any)
	return s
}

// assertVisitor: the chat server treated the token as a visitor's and
// nothing more. For a visitor it hands back the custom JWT itself; a
// dashboard session is a token of its own. The returned credential must be
// refused by dashboard-only routes.
func (p *peer) assertVisitor(t *testing.T, projectID, widgetToken, wantID string) {
	t.Helper()
	s := p.signIn(t, widgetToken)
	if s.status != 200 {
		t.Fatalf("signinWithCustomToken: %d", s.status)
	}
	if s.token != "JWT "+widgetToken {
		t.Fatalf("the chat server answered with a session of its own (a dashboard session), not the visitor's token; user %v", s.user)
	}
	if id, _ := s.user["_id"].(string); wantID != "" && id != wantID {
		t.Errorf("visitor _id %q, want %q", id, wantID)
	}
	// A visitor's user is the token's own claims: never a dashboard role.
	if role, _ := s.user["role"].(string); role != "" {
		t.Errorf("the session carries role %q", role)
	}
	if sub, _ := s.user["sub"].(string); sub != "userexternal" {
		t.Errorf("the session's user is not a visitor (sub %q): %v", sub, s.user)
	}
	for _, path := range []string{"/" + projectID + "/project_users", "/" + projectID + "/requests"} {
		if code, _ := p.call(t, "GET", path, s.token, nil); code == 200 {
			t.Errorf("GET %s with the returned credential: 200, want it refused", path)
		}
	}
	if code, out := p.call(t, "GET", "/testauth", "JWT "+widgetToken, nil); code != 200 || out["success"] != true {
		t.Errorf("GET /testauth: %d %v", code, out)
	}
}

// pingauth is a real app (embedded SQLite, sealed store) served over HTTP.
type pingauth struct {
	a   *app.App
	srv *httptest.Server
}

func openPingauth(t *testing.T) *pingauth { return openPingauthEnv(t, nil) }

// openPingauthEnv is openPingauth with extra PINGAUTH_* settings.
func openPingauthEnv(t *testing.T, extra map[string]string) *pingauth {
	t.Helper()
	return openPingauthOpts(t, extra, app.Options{})
}

// openPingauthOpts is openPingauthEnv with app options (clock, backoff).
func openPingauthOpts(t *testing.T, extra map[string]string, opts app.Options) *pingauth {
	t.Helper()
	env := map[string]string{
		"PINGAUTH_DATA_DIR":       t.TempDir(),
		"PINGAUTH_MASTER_KEY":     base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)),
		"PINGAUTH_EMAIL_DENYLIST": "staff.agency.test",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.HashParams = &enduser.TestParams
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.HTTP())
	t.Cleanup(srv.Close)
	return &pingauth{a: a, srv: srv}
}

// register adds the chat server's project to pingauth with the secret the
// chat server generated, every mode on, an API key, and an HS IdP.
func (pa *pingauth) register(t *testing.T, projectID, chatSecret string) (apiKey string) {
	t.Helper()
	ctx := context.Background()
	if _, err := pa.a.Projects.EnsureTenant(ctx, "agency", "Agency"); err != nil {
		t.Fatal(err)
	}
	if err := pa.a.Projects.Create(ctx, &project.Project{ID: projectID, TenantID: "agency", Name: "contract", TokenTTLSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	if _, err := pa.a.Secrets.Put(ctx, projectID, []byte(chatSecret), secret.WriteOptions{Actor: "contract-test"}); err != nil {
		t.Fatal(err)
	}
	adm := pa.a.Modes.Admin
	if _, err := adm.SetModes(ctx, "contract-test", projectID, mapping.AllModes); err != nil {
		t.Fatal(err)
	}
	_, key, err := adm.CreateAPIKey(ctx, "contract-test", projectID, "backend")
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.SetIdP(ctx, "contract-test", &idp.Config{ProjectID: projectID, Issuer: idpIssuer, Audiences: []string{idpAudience},
		Algorithms: []string{"HS256"}, LeewaySeconds: 60}, []byte(idpSecret)); err != nil {
		t.Fatal(err)
	}
	return key
}

const (
	idpIssuer   = "https://idp.shop.test"
	idpAudience = "shop-widget"
	idpSecret   = "the-site-idp-hs-secret-0123456789abcdef"
)

// mint calls POST /auth/<projectId> and returns the status and the token.
func (pa *pingauth) mint(t *testing.T, projectID string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", pa.srv.URL+"/auth/"+projectID, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out.Token
}

func idToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	base := jwt.MapClaims{"iss": idpIssuer, "aud": idpAudience, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range claims {
		base[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, base).SignedString([]byte(idpSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestControlEscalationIsDetected proves the visitor assertions can fail:
// a token the test signs itself with the project's secret, `role: owner`
// and the owner's email (what pingauth must never mint) gets the owner's
// dashboard session from the real chat server.
func TestControlEscalationIsDetected(t *testing.T) {
	p := chatServer(t)
	pid, sk := p.newProject(t, "control")
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"_id": "v-control", "sub": "userexternal",
		"aud": "https://tiledesk.com/projects/" + pid, "email": p.ownerEmail, "role": "owner",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte(sk))
	if err != nil {
		t.Fatal(err)
	}
	s := p.signIn(t, forged)
	if s.status != 200 || s.token == "" || s.token == "JWT "+forged {
		t.Fatalf("control: expected the chat server to return a dashboard session for role owner (status %d)", s.status)
	}
	if code, _ := p.call(t, "GET", "/"+pid+"/project_users", s.token, nil); code != 200 {
		t.Fatalf("control: the dashboard session was refused (%d); the escalation check would prove nothing", code)
	}
}

// TestTokensFromEveryModeSignInAsVisitors: password, server and exchange
// tokens sign in as visitors whose _id is the mapped id, and pass /testauth.
func TestTokensFromEveryModeSignInAsVisitors(t *testing.T) {
	p := chatServer(t)
	pid, sk := p.newProject(t, "modes")
	pa := openPingauth(t)
	key := pa.register(t, pid, sk)
	ctx := context.Background()
	if err := pa.a.Users.Create(ctx, &enduser.User{ProjectID: pid, Email: "ann@shop.test", ExternalID: "cust-1", Firstname: "Ann",
		Enabled: true, Attributes: map[string]any{"plan": "gold"}}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, wantID string
		hdr                map[string]string
	}{
		{"password", `{"email":"ann@shop.test","password":"correct horse battery"}`, "cust-1", nil},
		{"server", `{"user":{"id":"srv-7","email":"bob@shop.test","firstname":"Bob","phone":"+39 055 1234","attributes":{"plan":"pro"}}}`, "srv-7",
			map[string]string{"Authorization": "Bearer " + key}},
		{"exchange", `{"id_token":"` + idToken(t, jwt.MapClaims{"sub": "idp-9", "email": "cy@shop.test", "email_verified": true}) + `"}`, "idp-9", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, tok := pa.mint(t, pid, tc.hdr, tc.body)
			if code != 200 || tok == "" {
				t.Fatalf("mint: %d", code)
			}
			p.assertVisitor(t, pid, tok, tc.wantID)
		})
	}
}

// TestEscalationAttemptsNeverYieldMoreThanAVisitor: every input path that
// could carry a privileged claim (server body, IdP claims, per-user
// overrides, stored end-user attributes, CSV-style attributes) either is
// refused by pingauth or yields a token that signs in as a visitor only.
func TestEscalationAttemptsNeverYieldMoreThanAVisitor(t *testing.T) {
	p := chatServer(t)
	pid, sk := p.newProject(t, "escalation")
	pa := openPingauth(t)
	key := pa.register(t, pid, sk)
	ctx := context.Background()
	adm := pa.a.Modes.Admin
	owner := p.ownerEmail
	bearer := map[string]string{"Authorization": "Bearer " + key}

	// Operator-written data: an override and a stored end-user that carry a
	// site's own role data (allowed inside attributes, inert there).
	if err := adm.PutOverride(ctx, "contract-test", &mapping.Override{ProjectID: pid, ExternalID: "ovr-1",
		Attributes: map[string]any{"role": "owner", "email": "x"}}); err == nil {
		t.Fatal("an override attribute named like a claim was stored")
	}
	if err := adm.PutOverride(ctx, "contract-test", &mapping.Override{ProjectID: pid, ExternalID: "ovr-1",
		Attributes: map[string]any{"isSuperadmin": true}}); err == nil {
		t.Fatal("an isSuperadmin override was stored")
	}
	if err := adm.PutOverride(ctx, "contract-test", &mapping.Override{ProjectID: pid, ExternalID: "ovr-1",
		Attributes: map[string]any{"role": "owner"}}); err != nil {
		t.Fatal(err)
	}
	if err := pa.a.Users.Create(ctx, &enduser.User{ProjectID: pid, Email: "eve@shop.test", ExternalID: "eve", Enabled: true,
		Attributes: map[string]any{"role": "owner", "id_project": "x", "_doc": map[string]any{"_id": "y"}}}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := pa.a.Users.Create(ctx, &enduser.User{ProjectID: pid, Email: "mal@shop.test", Enabled: true,
		Attributes: map[string]any{"isSuperadmin": true}}, "correct horse battery"); err == nil {
		t.Fatal("an end-user with isSuperadmin was stored")
	}
	if err := pa.a.Users.Create(ctx, &enduser.User{ProjectID: pid, Email: "admin@tiledesk.com", Enabled: true}, "correct horse battery"); err == nil {
		t.Fatal("an end-user with the chat server's admin email was stored")
	}

	for _, tc := range []struct {
		name    string
		hdr     map[string]string
		body    string
		refused bool // pingauth answers 4xx and mints nothing
	}{
		{name: "server: role owner inside attributes with the owner's email", hdr: bearer,
			body: fmt.Sprintf(`{"user":{"id":"v1","email":%q,"attributes":{"role":"owner"}}}`, owner)},
		{name: "server: top-level role", hdr: bearer, refused: true,
			body: fmt.Sprintf(`{"user":{"id":"v1","email":%q},"role":"owner"}`, owner)},
		{name: "server: user.role", hdr: bearer, refused: true,
			body: fmt.Sprintf(`{"user":{"id":"v1","email":%q,"role":"owner"}}`, owner)},
		{name: "server: isSuperadmin", hdr: bearer, refused: true, body: `{"user":{"id":"v1","attributes":{"isSuperadmin":true}}}`},
		{name: "server: chat server admin email", hdr: bearer, refused: true, body: `{"user":{"id":"v1","email":"admin@tiledesk.com"}}`},
		{name: "server: staff domain", hdr: bearer, refused: true, body: `{"user":{"id":"v1","email":"it@staff.agency.test"}}`},
		{name: "server: override carries role", hdr: bearer, body: fmt.Sprintf(`{"user":{"id":"ovr-1","email":%q}}`, owner)},
		{name: "exchange: role, unverified owner email, privileged attributes",
			body: `{"id_token":"` + idToken(t, jwt.MapClaims{"sub": "x1", "email": owner, "email_verified": false, "role": "owner",
				"id_project": "other", "_doc": map[string]any{"_id": "admin"},
				"attributes": map[string]any{"role": "owner", "isSuperadmin": true, "__proto__": map[string]any{"role": "owner"}}}) + `"}`},
		{name: "exchange: verified owner email with role",
			body: `{"id_token":"` + idToken(t, jwt.MapClaims{"sub": "x2", "email": owner, "email_verified": true, "role": "owner",
				"attributes": map[string]any{"role": "admin"}}) + `"}`},
		{name: "exchange: chat server admin email, verified",
			body: `{"id_token":"` + idToken(t, jwt.MapClaims{"sub": "x3", "email": "admin@tiledesk.com", "email_verified": true}) + `"}`},
		{name: "password: stored end-user with role, id_project and _doc attributes",
			body: `{"email":"eve@shop.test","password":"correct horse battery"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, tok := pa.mint(t, pid, tc.hdr, tc.body)
			if tc.refused {
				if code < 400 || code >= 500 || tok != "" {
					t.Fatalf("pingauth answered %d (token %v), want a 4xx and no token", code, tok != "")
				}
				return
			}
			if code != 200 {
				t.Fatalf("mint: %d", code)
			}
			p.assertVisitor(t, pid, tok, "")
		})
	}
}
