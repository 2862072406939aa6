package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
)

const password = "correct horse battery"

// hardEnv is newEnv with extra environment (limits, proxies, metrics...).
type hardEnv struct {
	*env
	cfg config.Config
}

func newHardEnv(t testing.TB, db *store.DB, extra map[string]string) *hardEnv {
	t.Helper()
	ctx := context.Background()
	vars := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir(), "PINGAUTH_PUBLIC_URL": "http://pingauth.test"}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := secret.NewSealed(db, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a := &app.App{Config: cfg, DB: db, Projects: project.NewRepo(db), Backend: sealed, Refresh: refresh.New(db), Audit: audit.New(db)}
	a.Users = enduser.NewRepo(db, enduser.NewHasher(enduser.TestParams, 0), nil)
	a.Secrets = secret.NewCache(secret.NewManager(db, sealed, auditNop{}, time.Hour), time.Minute, nil)
	// The production wiring: /auth goes through the verification-mode bridge.
	a.Modes = bridge.NewStack(db, a.Projects, a.Users, auditNop{}, bridge.StackOptions{CacheTTL: time.Minute, Secrets: sealed})
	t.Cleanup(a.Modes.Bridge.Close)
	if _, err := a.Projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	for id, sec := range map[string]string{projA: secretA, projB: secretB} {
		p := &project.Project{ID: id, TenantID: "acme", Name: id, TokenTTLSeconds: 600, AllowedOrigins: []string{"https://shop.example.com"}}
		if err := a.Projects.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Secrets.Put(ctx, id, []byte(sec), secret.WriteOptions{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(a.HTTP())
	t.Cleanup(srv.Close)
	return &hardEnv{env: &env{srv: srv, app: a}, cfg: cfg}
}

// addUsers creates end-users user0..user<n-1>@example.com in project pid.
func (e *hardEnv) addUsers(t testing.TB, pid string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		u := &enduser.User{ProjectID: pid, Email: userEmail(i), Enabled: true}
		if err := e.app.Users.Create(context.Background(), u, password); err != nil {
			t.Fatal(err)
		}
	}
}

func userEmail(i int) string { return "user" + itoa(i) + "@example.com" }

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r result) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

var testClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends a request; hdr may set X-Forwarded-For, Origin, Content-Type...
func (e *hardEnv) call(t testing.TB, method, path, body string, hdr map[string]string) result {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("%s %s: bad JSON %q", method, path, b)
		}
	}
	return r
}

func loginBody(email, pw string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return string(b)
}
