package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/pingstreams/pingauth/internal/admin"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/secret/vaulttest"
)

// adminSession is an operator signed in to the JSON admin API.
type adminSession struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
	csrf   string
}

func (s *adminSession) do(method, path string, body any) (int, map[string]any, string) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.cookie != nil {
		req.AddCookie(s.cookie)
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if path == "/api/v1/session" {
		for _, c := range resp.Cookies() {
			if c.Name == "pingauth_session" {
				s.cookie = c
			}
		}
		s.csrf, _ = out["csrf_token"].(string)
	}
	return resp.StatusCode, out, string(raw)
}

// With the real Vault server stopped, the admin API's secret writes answer
// 503 JSON, /auth keeps issuing tokens from the cached secret, /readyz says
// which dependency is down and the metadata stays readable.
func TestVaultOutageOverHTTP(t *testing.T) {
	t.Parallel()
	vs := vaulttest.Private(t)
	a := openAppFromEnv(t, map[string]string{
		"PINGAUTH_SECRET_BACKEND": "vault", "VAULT_ADDR": vs.Addr, "VAULT_TOKEN": vs.Token,
		"PINGAUTH_VAULT_PREFIX": vaulttest.Prefix(t), "PINGAUTH_SECRET_CACHE_TTL": "1ms",
	})
	ctx := context.Background()
	if _, err := a.Projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin.CreateOperatorWithRole(ctx, admin.Actor{Email: "test"}, "admin@acme.example", "operator-pass-1", rbac.RoleTenantAdmin, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := a.Projects.Create(ctx, &project.Project{ID: "shop", TenantID: "acme", Name: "Shop", TokenTTLSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	if err := a.Users.Create(ctx, &enduser.User{ProjectID: "shop", Email: "ann@example.com", Enabled: true}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.HTTP())
	defer srv.Close()
	s := &adminSession{t: t, base: srv.URL}
	if code, _, raw := s.do("POST", "/api/v1/session", map[string]string{"email": "admin@acme.example", "password": "operator-pass-1"}); code != 200 {
		t.Fatalf("login: %d %s", code, raw)
	}
	code, out, raw := s.do("POST", "/api/v1/projects/shop/secret/rotate", map[string]any{"local": true})
	if code != 200 {
		t.Fatalf("rotate with Vault up: %d %s", code, raw)
	}
	first, _ := out["secret"].(string)
	if kid := kidOf(t, postAuth(t, srv.URL+"/auth/shop", "ann@example.com", "correct horse").Token); kid != "v1" {
		t.Fatalf("kid %q", kid)
	}

	vs.Stop()

	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/projects/shop/secret/rotate", map[string]any{"local": true}},
		{"PUT", "/api/v1/projects/shop/secret", map[string]any{"secret": "pasted-secret-0123456789abcdef"}},
	} {
		code, out, raw := s.do(w.method, w.path, w.body)
		e, _ := out["error"].(map[string]any)
		if code != http.StatusServiceUnavailable || e["code"] != "unavailable" || !strings.Contains(raw, "secret store unavailable") {
			t.Errorf("%s %s with Vault stopped: %d %s, want 503 unavailable", w.method, w.path, code, raw)
		}
		if strings.Contains(raw, vs.Addr) || strings.Contains(raw, "127.0.0.1") || strings.Contains(raw, first) {
			t.Errorf("%s %s leaks internals: %s", w.method, w.path, raw)
		}
	}
	// The hot path keeps working from the cache (the 1ms TTL has expired; the
	// refresh fails and the cached keyring serves).
	for range 3 {
		if kid := kidOf(t, postAuth(t, srv.URL+"/auth/shop", "ann@example.com", "correct horse").Token); kid != "v1" {
			t.Fatalf("kid during outage %q", kid)
		}
	}
	code, out, raw = s.do("GET", "/readyz", nil)
	checks, _ := out["checks"].(map[string]any)
	// Degraded, not unready: cached secrets keep /auth serving.
	if code != 200 || out["degraded"] != true || out["ready"] != true || checks["secrets"] != "unavailable" || checks["database"] != "ok" {
		t.Errorf("/readyz during outage: %d %s", code, raw)
	}
	if code, _, raw := s.do("GET", "/api/v1/projects/shop/secret", nil); code != 200 || !strings.Contains(raw, `"version":1`) {
		t.Errorf("secret metadata during outage: %d %s", code, raw)
	}
}
