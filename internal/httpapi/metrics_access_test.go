package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

const metricsToken = "metrics-token-0123456789"

func metricsServer(t *testing.T, env map[string]string) *httpapi.Server {
	t.Helper()
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.New(httpapi.Deps{
		Projects: memProjects{&project.Project{ID: projA, TenantID: "acme", Name: "A", TokenTTLSeconds: 600, Status: project.StatusActive}},
		EndUsers: memUsers{&enduser.User{ExternalID: "u1", Email: "u1@example.com"}},
		Keyrings: memKeys{&secret.Keyring{ProjectID: projA, Current: secret.Version{Version: 1, Value: []byte(secretA)}}},
		Security: cfg.Security, AudienceBase: cfg.AudienceBase, MaxBodyBytes: cfg.Security.MaxBodyBytes,
	})
}

func getMetrics(srv http.Handler, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	return w
}

// TestMetricsAccess: /metrics without PINGAUTH_METRICS_TOKEN is served only
// when PINGAUTH_ADDR is loopback-only; beyond loopback it is a 401 JSON
// error; with a token only the right bearer gets 200.
func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, addr, token, authorization string
		want                             int
	}{
		{"all interfaces, no token", "0.0.0.0:8080", "", "", 401},
		{"all interfaces, no token, some bearer", "0.0.0.0:8080", "", "Bearer " + metricsToken, 401},
		{"empty host, no token", ":8080", "", "", 401},
		{"lan address, no token", "192.0.2.10:8080", "", "", 401},
		{"ipv6 any, no token", "[::]:8080", "", "", 401},
		{"all interfaces, token, none sent", "0.0.0.0:8080", metricsToken, "", 401},
		{"all interfaces, token, wrong bearer", "0.0.0.0:8080", metricsToken, "Bearer wrong-token-0123456789", 401},
		{"all interfaces, token, prefix of it", "0.0.0.0:8080", metricsToken, "Bearer " + metricsToken[:10], 401},
		{"all interfaces, token, not bearer", "0.0.0.0:8080", metricsToken, "Basic " + metricsToken, 401},
		{"all interfaces, token, right bearer", "0.0.0.0:8080", metricsToken, "Bearer " + metricsToken, 200},
		{"all interfaces, token, lower-case scheme", "0.0.0.0:8080", metricsToken, "bearer " + metricsToken, 200},
		{"loopback, token, none sent", "127.0.0.1:8080", metricsToken, "", 401},
		{"loopback, token, right bearer", "127.0.0.1:8080", metricsToken, "Bearer " + metricsToken, 200},
		{"loopback v4, no token", "127.0.0.1:8080", "", "", 200},
		{"loopback v6, no token", "[::1]:8080", "", "", 200},
		{"localhost, no token", "localhost:8080", "", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := metricsServer(t, map[string]string{"PINGAUTH_ADDR": tc.addr, "PINGAUTH_METRICS_TOKEN": tc.token})
			w := getMetrics(srv, tc.authorization)
			if w.Code != tc.want {
				t.Fatalf("addr %s token %q Authorization %q: %d %s, want %d", tc.addr, tc.token, tc.authorization, w.Code, w.Body, tc.want)
			}
			if tc.want == 200 {
				if !strings.Contains(w.Body.String(), "go_goroutines") {
					t.Fatalf("200 without metrics: %s", w.Body)
				}
				return
			}
			var eb httpkit.ErrorBody
			if json.Unmarshal(w.Body.Bytes(), &eb) != nil || eb.Error.Code != "unauthorized" || w.Header().Get("WWW-Authenticate") == "" || strings.Contains(w.Body.String(), "go_goroutines") {
				t.Fatalf("401 body %s headers %v", w.Body, w.Header())
			}
		})
	}
}

// TestMetricsProjectLabels: with PINGAUTH_METRICS_PROJECT_LABELS off no
// project id appears in /metrics; the project label is NoProjectLabel.
func TestMetricsProjectLabels(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, setting string
		wantLabel     string
	}{
		{"default", "", projA},
		{"on", "on", projA},
		{"off", "off", httpapi.NoProjectLabel},
		{"false", "false", httpapi.NoProjectLabel},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := metricsServer(t, map[string]string{"PINGAUTH_METRICS_PROJECT_LABELS": tc.setting})
			for _, body := range []string{`{"email":"u1@example.com","password":"correct horse battery"}`, `{"email":"u1@example.com"}`} {
				req := httptest.NewRequest(http.MethodPost, "/auth/"+projA, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				srv.ServeHTTP(httptest.NewRecorder(), req)
			}
			req := httptest.NewRequest(http.MethodPost, "/auth/"+projA+"/verify", strings.NewReader(`{"token":"a.b.c"}`))
			req.Header.Set("Content-Type", "application/json")
			srv.ServeHTTP(httptest.NewRecorder(), req)
			if got := srv.Metrics().ProjectLabel(projA); got != tc.wantLabel {
				t.Fatalf("ProjectLabel(%s) = %q, want %q", projA, got, tc.wantLabel)
			}
			w := getMetrics(srv, "")
			out := w.Body.String()
			for _, want := range []string{
				`pingauth_tokens_issued_total{project="` + tc.wantLabel + `"} 1`,
				`pingauth_auth_failures_total{project="` + tc.wantLabel + `",reason="invalid_request"} 1`,
				`pingauth_token_verifications_total{project="` + tc.wantLabel + `",result="inactive"} 1`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			if tc.wantLabel != projA && strings.Contains(out, projA) {
				t.Errorf("project id in /metrics with labels off:\n%s", out)
			}
		})
	}
}
