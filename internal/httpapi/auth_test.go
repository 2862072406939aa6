package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

const (
	projA   = "5c81593adf767b0017d1aa68"
	projB   = "6d92604beg878c0128e2bb79"
	secretA = "shared-secret-of-project-A-0123456789"
	secretB = "shared-secret-of-project-B-0123456789"
)

type env struct {
	srv *httptest.Server
	app *app.App
}

// newEnv wires the real app on db (newHardEnv: two projects with their
// secrets) and adds one end-user to project A.
func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	e := newHardEnv(t, db, nil).env
	u := &enduser.User{ProjectID: projA, ExternalID: "123", Email: "user@example.com", Firstname: "Andrea", Lastname: "Leo",
		Attributes: map[string]any{"customAttr": "gold"}, Enabled: true}
	if err := e.app.Users.Create(context.Background(), u, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) post(t *testing.T, path, ctype, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestAuthIssuesTokenThatVerifiesWithProjectSecretOnly(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for _, tc := range []struct{ name, ctype, body string }{
			{"json", "application/json", `{"email":"user@example.com","password":"correct horse battery"}`},
			{"form", "application/x-www-form-urlencoded", `email=user%40example.com&password=correct+horse+battery`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := e.post(t, "/auth/"+projA, tc.ctype, tc.body, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				var out httpapi.AuthResponse
				if err := json.Unmarshal(body, &out); err != nil {
					t.Fatal(err)
				}
				if out.JWT != "JWT "+out.Token || out.User.ID != "123" || out.User.Email != "user@example.com" {
					t.Fatalf("response = %+v", out)
				}
				if resp.Header.Get("Cache-Control") != "no-store" {
					t.Error("token response must not be cacheable")
				}
				aud := "https://tiledesk.com/projects/" + projA
				claims := jwt.MapClaims{}
				_, err := jwt.ParseWithClaims(out.Token, claims, func(*jwt.Token) (any, error) { return []byte(secretA), nil },
					jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
				if err != nil {
					t.Fatalf("token does not verify with project A's secret: %v", err)
				}
				for k, v := range map[string]any{"_id": "123", "sub": "userexternal", "aud": aud, "firstname": "Andrea",
					"lastname": "Leo", "email": "user@example.com", "attributes.customAttr": "gold"} {
					if claimAt(claims, k) != v {
						t.Errorf("claim %s = %v, want %v", k, claimAt(claims, k), v)
					}
				}
				iat, _ := claims["iat"].(float64)
				exp, _ := claims["exp"].(float64)
				if exp-iat != 600 || time.Unix(int64(exp), 0).UTC() != out.ExpiresAt {
					t.Errorf("iat=%v exp=%v expires_at=%v; want ttl 600", iat, exp, out.ExpiresAt)
				}
				if jti, _ := claims["jti"].(string); jti == "" {
					t.Error("jti missing")
				}
				_, err = jwt.Parse(out.Token, func(*jwt.Token) (any, error) { return []byte(secretB), nil }, jwt.WithValidMethods([]string{"HS256"}))
				if err == nil {
					t.Fatal("project A's token verified with project B's secret")
				}
			})
		}
	})
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cases := []struct {
			name, path, ctype, body string
			hdr                     map[string]string
			status                  int
			code                    string
		}{
			{"unknown project", "/auth/nope", "application/json", `{"email":"user@example.com","password":"x"}`, nil, 404, "not_found"},
			{"project id with junk", "/auth/%2e%2e", "application/json", `{}`, nil, 404, "not_found"},
			{"wrong password", "/auth/" + projA, "application/json", `{"email":"user@example.com","password":"nope nope"}`, nil, 401, "unauthorized"},
			{"unknown user", "/auth/" + projA, "application/json", `{"email":"ghost@example.com","password":"nope nope"}`, nil, 401, "unauthorized"},
			{"user of other project", "/auth/" + projB, "application/json", `{"email":"user@example.com","password":"correct horse battery"}`, nil, 401, "unauthorized"},
			{"malformed json", "/auth/" + projA, "application/json", `{"email":`, nil, 400, "invalid_request"},
			{"unknown field", "/auth/" + projA, "application/json", `{"email":"a@b.c","password":"x","admin":true}`, nil, 400, "invalid_request"},
			{"missing password", "/auth/" + projA, "application/json", `{"email":"a@b.c"}`, nil, 400, "invalid_request"},
			{"array body", "/auth/" + projA, "application/json", `[1,2]`, nil, 400, "invalid_request"},
			{"trailing data", "/auth/" + projA, "application/json", `{"email":"a@b.c","password":"x"} {}`, nil, 400, "invalid_request"},
			{"trailing brace", "/auth/" + projA, "application/json", `{"email":"user@example.com","password":"correct horse battery"} }`, nil, 400, "invalid_request"},
			{"trailing bracket", "/auth/" + projA, "application/json", `{"email":"user@example.com","password":"correct horse battery"}]`, nil, 400, "invalid_request"},
			{"xml", "/auth/" + projA, "application/xml", `<a/>`, nil, 400, "invalid_request"},
			{"duplicate form field", "/auth/" + projA, "application/x-www-form-urlencoded", `email=a@b.c&email=x@y.z&password=x`, nil, 400, "invalid_request"},
			{"huge body", "/auth/" + projA, "application/json", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, "too_large"},
			{"foreign origin", "/auth/" + projA, "application/json", `{"email":"user@example.com","password":"correct horse battery"}`, map[string]string{"Origin": "https://evil.example.com"}, 403, "forbidden"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := e.post(t, tc.path, tc.ctype, tc.body, tc.hdr)
				var eb httpkit.ErrorBody
				if err := json.Unmarshal(body, &eb); err != nil {
					t.Fatalf("non-JSON error body %q", body)
				}
				if resp.StatusCode != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
					t.Fatalf("got %d %+v, want %d %s", resp.StatusCode, eb, tc.status, tc.code)
				}
				if strings.Contains(string(body), "token") {
					t.Fatalf("error body mentions a token: %s", body)
				}
			})
		}
		// Wrong password and unknown user must be indistinguishable in shape.
		_, b1 := e.post(t, "/auth/"+projA, "application/json", `{"email":"user@example.com","password":"nope nope"}`, nil)
		_, b2 := e.post(t, "/auth/"+projA, "application/json", `{"email":"ghost@example.com","password":"nope nope"}`, nil)
		var e1, e2 httpkit.ErrorBody
		_ = json.Unmarshal(b1, &e1)
		_ = json.Unmarshal(b2, &e2)
		e1.Error.RequestID, e2.Error.RequestID = "", ""
		if e1 != e2 {
			t.Fatalf("wrong password %+v differs from unknown user %+v", e1, e2)
		}
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t, store.SQLite))
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/auth/"+projA, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://shop.example.com")
	if ok.StatusCode != 204 || ok.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		!strings.Contains(ok.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("allowed preflight: %d %v", ok.StatusCode, ok.Header)
	}
	bad := preflight("https://evil.example.com")
	if bad.StatusCode != 403 || bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", bad.StatusCode, bad.Header)
	}
	resp, _ := e.post(t, "/auth/"+projA, "application/json", `{"email":"user@example.com","password":"correct horse battery"}`, map[string]string{"Origin": "https://shop.example.com"})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Fatalf("allowed POST: %d %v", resp.StatusCode, resp.Header)
	}
	// The service's own origin (example page) is allowed.
	resp, _ = e.post(t, "/auth/"+projA, "application/json", `{"email":"user@example.com","password":"correct horse battery"}`, map[string]string{"Origin": "http://pingauth.test"})
	if resp.StatusCode != 200 {
		t.Fatalf("self-origin POST: %d", resp.StatusCode)
	}
	// The origin of the host the request was sent to is not: the Host header
	// is the client's to choose (TestCORSSameOriginIsPublicURLNotHost).
	resp, _ = e.post(t, "/auth/"+projA, "application/json", `{"email":"user@example.com","password":"correct horse battery"}`, map[string]string{"Origin": e.srv.URL})
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("same-host POST (PINGAUTH_PUBLIC_URL is another origin): %d %v", resp.StatusCode, resp.Header)
	}
}

// TestCORSSameOriginIsPublicURLNotHost: "same origin" for /auth/<id> is the
// origin of PINGAUTH_PUBLIC_URL, never the request's Host header; with no
// public URL only the project's allowed origins count.
func TestCORSSameOriginIsPublicURLNotHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, publicURL, host, origin string
		allowed                       bool
	}{
		{"host header names the attacker", "http://pingauth.test", "evil.test", "http://evil.test", false},
		{"host header names the attacker, no public url", "", "evil.test", "http://evil.test", false},
		{"host header is the real host, no public url", "", "127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"public url origin", "http://pingauth.test", "evil.test", "http://pingauth.test", true},
		{"public url origin, case-insensitive", "https://Auth.Example.com/", "auth.example.com", "https://auth.example.com", true},
		{"public url with path", "https://example.com/pingauth", "example.com", "https://example.com", true},
		{"project origin", "", "evil.test", "https://shop.example.com", true},
		{"other scheme of public url", "https://pingauth.test", "pingauth.test", "http://pingauth.test", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httpapi.New(httpapi.Deps{
				Projects:  memProjects{&project.Project{ID: projA, TenantID: "acme", Name: "A", TokenTTLSeconds: 600, Status: project.StatusActive, AllowedOrigins: []string{"https://shop.example.com"}}},
				EndUsers:  memUsers{&enduser.User{ExternalID: "u1", Email: "u1@example.com"}},
				Keyrings:  memKeys{&secret.Keyring{ProjectID: projA, Current: secret.Version{Version: 1, Value: []byte(secretA)}}},
				PublicURL: tc.publicURL, AudienceBase: "https://tiledesk.com",
			})
			for _, method := range []string{http.MethodOptions, http.MethodPost} {
				req := httptest.NewRequest(method, "/auth/"+projA, strings.NewReader(`{"email":"u1@example.com","password":"correct horse battery"}`))
				req.Host = tc.host
				req.Header.Set("Origin", tc.origin)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Access-Control-Request-Method", "POST")
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				acao := w.Header().Get("Access-Control-Allow-Origin")
				if tc.allowed {
					if w.Code >= 300 || acao != tc.origin {
						t.Fatalf("%s Host %q Origin %q: %d ACAO %q, want allowed", method, tc.host, tc.origin, w.Code, acao)
					}
					continue
				}
				var eb httpkit.ErrorBody
				if w.Code != http.StatusForbidden || acao != "" || json.Unmarshal(w.Body.Bytes(), &eb) != nil || eb.Error.Code != "forbidden" || eb.Error.Field != "origin" {
					t.Fatalf("%s Host %q Origin %q: %d ACAO %q %s, want 403 JSON", method, tc.host, tc.origin, w.Code, acao, w.Body)
				}
			}
		})
	}
}

func TestExamplePageAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t, store.SQLite))
	get := func(path string) (int, string) {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/example/" + projA)
	for _, want := range []string{`projectid: "` + projA + `"`, "autoStart: false", `window.PINGAUTH_URL = "/auth/` + projA + `"`, `http://pingauth.test/auth/` + projA, `signInWithCustomToken`} {
		if code != 200 || !strings.Contains(page, want) {
			t.Fatalf("example page (%d) lacks %q", code, want)
		}
	}
	if code, _ := get("/example/nope"); code != 404 {
		t.Fatalf("example of unknown project: %d", code)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("readyz %d %s", code, body)
	}
	if code, body := get("/no/such/route"); code != 404 || !strings.Contains(body, "not_found") {
		t.Fatalf("unknown route %d %s", code, body)
	}
}
