package app_test

import (
	"context"
	"fmt"
	"github.com/pingstreams/pingauth/internal/admin"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/rbac"
)

const (
	exIss = "https://login.shop.example"
	exAud = "shop-web"
)

func siteToken(t *testing.T, hsSecret string) string {
	t.Helper()
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": exIss, "aud": exAud, "sub": "site|42", "email": "zoe@example.com",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}).SignedString([]byte(hsSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exchangeToken(t *testing.T, srv *httptest.Server, pid, idToken string) reply {
	t.Helper()
	return do(t, http.MethodPost, srv.URL+"/auth/"+pid, `{"id_token":"`+idToken+`"}`)
}

// TestExchangeHSSecretSurvivesSecretStoreOutage runs the real server with
// every cache TTL at 1ns, so each request after the outage is past any
// expiry window (in particular the 10 s config TTL that used to re-read the
// HS secret from the store): the exchange-mode HS secret must be served from
// the cache like the signing secret. A project whose HS secret was never
// loaded gets 503 JSON; once the store is back, HS secret changes made
// through the admin API, or by another process, are used.
func TestExchangeHSSecretSurvivesSecretStoreOutage(t *testing.T) {
	t.Parallel()
	const (
		s1 = "site-idp-hs-secret-one-0123456789abcdef"
		s2 = "site-idp-hs-secret-two-0123456789abcdef"
		s3 = "site-idp-hs-secret-three-0123456789abcd"
	)
	a, srv, logs, sw := openSwitchableApp(t, map[string]string{"PINGAUTH_CACHE_TTL": "1ns", "PINGAUTH_SECRET_CACHE_TTL": "1ns"})
	ctx := context.Background()
	if _, err := a.Admin.CreateOperatorWithRole(ctx, admin.Actor{Email: "test"}, "admin@acme.example", "operator-pass-1", rbac.RoleTenantAdmin, "acme"); err != nil {
		t.Fatal(err)
	}
	s := &adminSession{t: t, base: srv.URL}
	if code, _, raw := s.do("POST", "/api/v1/session", map[string]string{"email": "admin@acme.example", "password": "operator-pass-1"}); code != 200 {
		t.Fatalf("login: %d %s", code, raw)
	}
	setIdP := func(pid, hs string, want int) {
		t.Helper()
		code, _, raw := s.do("PUT", "/api/v1/projects/"+pid+"/idp", map[string]any{"issuer": exIss, "audiences": []string{exAud}, "hs_secret": hs})
		if code != want {
			t.Fatalf("PUT %s/idp: %d %s, want %d", pid, code, raw, want)
		}
	}
	for _, pid := range []string{projID, "proj-b"} {
		if code, _, raw := s.do("PUT", "/api/v1/projects/"+pid+"/modes", map[string]any{"modes": []string{"exchange"}}); code != 200 {
			t.Fatalf("PUT %s/modes: %d %s", pid, code, raw)
		}
		setIdP(pid, s1, 200)
	}
	want := func(when string, r reply, status int) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: %d %s, want %d", when, r.Status, r.Raw, status)
		}
		if status == 200 && !strings.HasPrefix(r.Body["jwt"].(string), "JWT ") {
			t.Fatalf("%s: no widget token: %s", when, r.Raw)
		}
	}
	want("store up", exchangeToken(t, srv, projID, siteToken(t, s1)), 200)

	sw.SetDown(true)
	for i := range 3 {
		want(fmt.Sprintf("store down, try %d", i+1), exchangeToken(t, srv, projID, siteToken(t, s1)), 200)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), `"cache":"idp_hs_key"`) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the failed background refresh may log after the response
	}
	if !strings.Contains(logs.String(), `"cache":"idp_hs_key"`) || !strings.Contains(logs.String(), "serving cached secret") {
		t.Error("serving a stale HS secret was not logged")
	}
	if strings.Contains(logs.String(), s1) {
		t.Fatal("the HS secret reached the logs")
	}
	// proj-b's HS secret was configured but never loaded: 503 JSON.
	r := exchangeToken(t, srv, "proj-b", siteToken(t, s1))
	if r.Status != http.StatusServiceUnavailable || errCode(r) != "unavailable" || errMessage(r) != "secret store unavailable; try again later" {
		t.Fatalf("never-cached HS secret, store down: %d %s", r.Status, r.Raw)
	}
	if strings.Contains(r.Raw, "8200") || strings.Contains(r.Raw, "127.0.0.1") || strings.Contains(r.Raw, s1) {
		t.Fatalf("503 leaks internals: %s", r.Raw)
	}
	// Changing the HS secret fails during the outage and changes nothing.
	setIdP(projID, s2, http.StatusServiceUnavailable)
	want("after a failed change", exchangeToken(t, srv, projID, siteToken(t, s1)), 200)

	sw.SetDown(false)
	want("proj-b, store back", exchangeToken(t, srv, "proj-b", siteToken(t, s1)), 200)
	// Changed through the admin API of this process: at once.
	setIdP(projID, s2, 200)
	want("old HS secret after the change", exchangeToken(t, srv, projID, siteToken(t, s1)), 401)
	want("new HS secret", exchangeToken(t, srv, projID, siteToken(t, s2)), 200)
	// Changed by another process (its own caches, same database and store):
	// seen once this process's config cache expires (here: at once).
	other := bridge.NewStack(a.DB, a.Projects, a.Users, a.Audit, bridge.StackOptions{Secrets: sw})
	t.Cleanup(other.Bridge.Close)
	if err := other.Admin.SetIdP(ctx, "cli", &idp.Config{ProjectID: projID, Issuer: exIss, Audiences: []string{exAud}}, []byte(s3)); err != nil {
		t.Fatal(err)
	}
	want("HS secret from another process", exchangeToken(t, srv, projID, siteToken(t, s3)), 200)
	want("replaced by another process", exchangeToken(t, srv, projID, siteToken(t, s2)), 401)
}
