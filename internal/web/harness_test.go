package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// env is a whole pingauth server (real app wiring) on a real listener.
type env struct {
	t   *testing.T
	a   *app.App
	srv *httptest.Server
	url string
	log *requestLog
	// twoFA: the TOTP keys of operators enrolled by login2FA (login then
	// signs them in with a code); shared by copies of the env.
	twoFA *twoFAKeys
}

// twoFAKeys are the TOTP keys login2FA enrolled, stepped by clock.
type twoFAKeys struct {
	mu    sync.Mutex
	keys  map[string][]byte
	clock *testClock
}

// requestLog records what the server answered (for browser tests that must
// know what reached the server, not only what the page saw).
type requestLog struct {
	mu   sync.Mutex
	seen []seenRequest
}

// seenRequest is one request the server answered.
type seenRequest struct {
	Method, Path, Origin, Referer string
	Cookie                        bool // carried the session cookie
	Status                        int
}

// newEnv starts the real server on 127.0.0.1 over a fresh database of dialect d.
// The example page loads no widget script (tests talk only to loopback).
func newEnv(t *testing.T, d store.Dialect) *env {
	return newEnvVars(t, d, nil)
}

// newEnvVars is newEnv with extra PINGAUTH_* variables.
func newEnvVars(t *testing.T, d store.Dialect, extra map[string]string) *env {
	t.Helper()
	return newEnvOpts(t, d, extra, app.Options{})
}

// newEnvOpts is newEnvVars with app options (a clock); HashParams are the
// test parameters.
func newEnvOpts(t *testing.T, d store.Dialect, extra map[string]string, opts app.Options) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	vars := map[string]string{
		"PINGAUTH_DATA_DIR":      t.TempDir(),
		"PINGAUTH_PUBLIC_URL":    base,
		"PINGAUTH_WIDGET_SCRIPT": "none",
	}
	for k, v := range extra {
		vars[k] = v
	}
	if d == store.Postgres {
		vars["PINGAUTH_DATABASE_URL"] = storetest.PostgresDSN(t)
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts.HashParams = &enduser.TestParams
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, a: a, url: base, log: &requestLog{}, twoFA: &twoFAKeys{keys: map[string][]byte{}}}
	h := a.HTTP()
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		_, cerr := r.Cookie("pingauth_session")
		e.log.mu.Lock()
		e.log.seen = append(e.log.seen, seenRequest{Method: r.Method, Path: r.URL.Path, Origin: r.Header.Get("Origin"), Referer: r.Referer(), Cookie: cerr == nil, Status: sw.status})
		e.log.mu.Unlock()
	}))
	_ = e.srv.Listener.Close()
	e.srv.Listener = ln
	e.srv.Start()
	t.Cleanup(func() { e.srv.Close(); _ = a.Close() })
	return e
}

// requests returns the requests answered so far for path.
func (e *env) requests(path string) []seenRequest {
	e.log.mu.Lock()
	defer e.log.mu.Unlock()
	var out []seenRequest
	for _, r := range e.log.seen {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (write deadlines of imports).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (e *env) tenant(id string) {
	e.t.Helper()
	if err := e.a.Projects.CreateTenant(context.Background(), &project.Tenant{ID: id, Name: strings.ToUpper(id[:1]) + id[1:]}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) project(tenant, id string) *project.Project {
	e.t.Helper()
	p := &project.Project{ID: id, TenantID: tenant, Name: "Project " + id, TokenTTLSeconds: 900}
	if err := e.a.Projects.Create(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) user(projectID, email string) *enduser.User {
	e.t.Helper()
	u := &enduser.User{ProjectID: projectID, Email: email, Enabled: true}
	if err := e.a.Users.Create(context.Background(), u, "password-123"); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// operator creates an operator with a role; tenant "*" for platform-admin.
func (e *env) operator(email, role, tenant string) *operator.Operator {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.a.Admin.CreateOperatorWithRole(ctx, admin.Actor{Email: "test"}, email, "operator-pass-1", role, tenant); err != nil {
		e.t.Fatal(err)
	}
	o, err := e.a.Operators.GetByEmail(ctx, email)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// client is a signed-in operator session.
type client struct {
	e      *env
	cookie *http.Cookie
	csrf   string
	hc     *http.Client
}

func (e *env) login(email string) *client {
	e.t.Helper()
	code := ""
	if f := e.twoFA; f != nil {
		f.mu.Lock()
		if key := f.keys[email]; key != nil {
			code = operator.TOTPCode(key, f.clock.next())
		}
		f.mu.Unlock()
	}
	c, res, body := e.signIn(email, code) // totp_test.go
	if res.StatusCode != 200 {
		e.t.Fatalf("login %s: %d %s", email, res.StatusCode, body)
	}
	if c.cookie == nil || c.csrf == "" {
		e.t.Fatalf("login %s: no cookie or csrf token", email)
	}
	return c
}

// login2FA is login with a TOTP second factor, enrolled first when the
// operator has none: only such a session creates API tokens. Later logins
// of the operator sign in with a code too.
func (e *env) login2FA(email string) *client {
	e.t.Helper()
	f := e.twoFA
	f.mu.Lock()
	if f.keys[email] == nil {
		if f.clock == nil {
			f.clock = e.totpClock()
		}
		o, err := e.a.Operators.GetByEmail(context.Background(), email)
		if err != nil {
			f.mu.Unlock()
			e.t.Fatalf("login2FA %s: %v", email, err)
		}
		key, _ := e.enrolTOTP(o, f.clock)
		f.keys[email] = key
	}
	f.mu.Unlock()
	return e.login(email)
}

// anon is a client without a session.
func (e *env) anon() *client {
	return &client{e: e, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request; body is JSON-encoded unless it is a string (sent as is).
func (c *client) do(method, path string, body any, hdr ...string) (*http.Response, []byte) {
	c.e.t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		r, ct = strings.NewReader(b), "text/csv"
	default:
		j, _ := json.Marshal(b)
		r, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.e.url+path, r)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

var _ = rbac.AllTenants
