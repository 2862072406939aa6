package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

const (
	projID   = "proj-a"
	email    = "user@example.com"
	password = "correct horse battery"
	sharedSK = "shared-secret-of-project-A-0123456789"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// openApp opens the real app with env on top of test defaults and serves it.
func openApp(t testing.TB, env map[string]string, opts app.Options) (*app.App, *httptest.Server, *syncBuffer) {
	t.Helper()
	base := map[string]string{
		"PINGAUTH_DATA_DIR":   t.TempDir(),
		"PINGAUTH_MASTER_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"PINGAUTH_LOG_LEVEL":  "debug",
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return base[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	if opts.HashParams == nil {
		opts.HashParams = &enduser.TestParams
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Open(ctx, cfg, app.NewLogger(cfg, logs), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.HTTP())
	t.Cleanup(srv.Close)
	return a, srv, logs
}

// seed creates a project with a secret and one end-user.
func seed(t *testing.T, a *app.App) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if err := a.Projects.Create(ctx, &project.Project{ID: projID, TenantID: "acme", Name: "A", TokenTTLSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Secrets.Put(ctx, projID, []byte(sharedSK), secret.WriteOptions{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Users.Create(ctx, &enduser.User{ProjectID: projID, Email: email, ExternalID: "u-1", Enabled: true}, password); err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

var client = &http.Client{Timeout: 15 * time.Second}

func do(t *testing.T, method, url, body string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(b)}
	if err := json.Unmarshal(b, &r.Body); err != nil {
		t.Fatalf("%s %s: status %d, non-JSON body %q", method, url, resp.StatusCode, b)
	}
	return r
}

func login(t *testing.T, srv *httptest.Server) reply {
	t.Helper()
	return do(t, http.MethodPost, srv.URL+"/auth/"+projID, `{"email":"`+email+`","password":"`+password+`"}`)
}

func errCode(r reply) string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func errMessage(r reply) string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func appOptions() app.Options { return app.Options{HashParams: &enduser.TestParams} }
