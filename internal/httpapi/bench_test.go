package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
)

// benchApp wires the real app (embedded SQLite, sealed backend, secret cache)
// with one project, one end-user and a secret, and counts backend reads.
func benchApp(b *testing.B, params enduser.Params) (http.Handler, string, *secrettest.Counting) {
	b.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{"PINGAUTH_DATA_DIR": b.TempDir(), "PINGAUTH_MASTER_KEY": base64.StdEncoding.EncodeToString(key),
		// One client and one account on purpose: the abuse limits would throttle it.
		"PINGAUTH_RATE_AUTH_IP": "off", "PINGAUTH_RATE_AUTH_LOGIN": "off"}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	a0, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &params})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a0.Close() })
	cnt := &secrettest.Counting{Backend: a0.Backend}
	a0.Backend = cnt
	a0.Secrets = secret.NewCache(secret.NewManager(a0.DB, cnt, a0.Audit, cfg.SecretGrace), cfg.SecretCacheTTL, nil)
	ctx := context.Background()
	p := &project.Project{ID: "bench", TenantID: "acme", Name: "Bench", TokenTTLSeconds: 900}
	if _, err := a0.Projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		b.Fatal(err)
	}
	if err := a0.Projects.Create(ctx, p); err != nil {
		b.Fatal(err)
	}
	if err := a0.Users.Create(ctx, &enduser.User{ProjectID: p.ID, Email: "ann@example.com", Enabled: true}, "correct horse"); err != nil {
		b.Fatal(err)
	}
	if _, _, err := a0.Secrets.Rotate(ctx, p.ID, secret.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	return a0.HTTP(), "/auth/" + p.ID, cnt
}

func benchAuth(b *testing.B, params enduser.Params) {
	h, path, cnt := benchApp(b, params)
	body := `{"email":"ann@example.com","password":"correct horse"}`
	do := func() {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	do() // warm the secret cache
	reads := cnt.Reads.Load()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			do()
		}
	})
	b.StopTimer()
	if got := cnt.Reads.Load(); got != reads {
		b.Fatalf("the hot path read the secret backend %d times", got-reads)
	}
}

// BenchmarkAuthCached is the full POST /auth handler path (JSON decode,
// project and user lookup in SQLite, password check with cheap test argon2id
// parameters, cached secret, HS256 signing, JSON response): everything but
// the password hash cost.
func BenchmarkAuthCached(b *testing.B) { benchAuth(b, enduser.TestParams) }

// BenchmarkAuthCachedOWASP is the same with the production argon2id
// parameters (19 MiB, 2 iterations): what a real login costs.
func BenchmarkAuthCachedOWASP(b *testing.B) { benchAuth(b, enduser.OWASPParams) }

// benchServerApp wires the real app as `pingauth serve` runs it (the logger
// of app.NewLogger at the default level, metrics on, the server-mode per-IP
// limit on but above the load) with one server-mode project, and returns
// the handler, the mint path and the API key.
func benchServerApp(b *testing.B, logTo io.Writer) (http.Handler, string, string) {
	b.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{"PINGAUTH_DATA_DIR": b.TempDir(), "PINGAUTH_MASTER_KEY": base64.StdEncoding.EncodeToString(key),
		"PINGAUTH_METRICS": "on", "PINGAUTH_RATE_AUTH_SERVER_IP": "1000000/s:1000000"}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	log := app.NewLogger(cfg, logTo)
	a, err := app.Open(context.Background(), cfg, log, app.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	ctx := context.Background()
	if _, err := a.Projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		b.Fatal(err)
	}
	if err := a.Projects.Create(ctx, &project.Project{ID: "bench", TenantID: "acme", Name: "Bench", TokenTTLSeconds: 900}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := a.Secrets.Rotate(ctx, "bench", secret.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := a.Modes.Admin.SetModes(ctx, "acme", "bench", []string{"server"}); err != nil {
		b.Fatal(err)
	}
	_, apiKey, err := a.Modes.Admin.CreateAPIKey(ctx, "acme", "bench", "bench")
	if err != nil {
		b.Fatal(err)
	}
	return a.HTTP(), "/auth/bench", apiKey
}

// reusedBody is a request body a benchmark reuses.
type reusedBody struct{ *bytes.Reader }

func (reusedBody) Close() error { return nil }

// reusedWriter is a ResponseWriter a benchmark reuses, so that -benchmem
// counts the server's allocations rather than the harness's.
type reusedWriter struct {
	h    http.Header
	code int
	body []byte
}

func (w *reusedWriter) Header() http.Header { return w.h }
func (w *reusedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *reusedWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// BenchmarkServerModeMint is one server-mode mint through the whole
// middleware chain of a real app (request id, access log through
// app.NewLogger, recovery, metrics, limits, handler), one request at a time,
// with the request and response writer reused so that allocs/op are the
// server's: go test -run '^$' -bench ServerModeMint -benchmem ./internal/httpapi
// For throughput over real HTTP against a bare Gin handler see
// cmd/pingauth-bench-http (make bench-http).
func BenchmarkServerModeMint(b *testing.B) {
	h, path, apiKey := benchServerApp(b, io.Discard)
	body := []byte(`{"user":{"id":"42","email":"ann@example.com","firstname":"Ann","attributes":{"plan":"gold"}}}`)
	rd := &reusedBody{bytes.NewReader(body)}
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.1:1234"
	w := &reusedWriter{h: http.Header{}}
	do := func() {
		rd.Reset(body)
		req.Body, req.ContentLength = rd, int64(len(body))
		clear(w.h)
		w.code, w.body = 0, w.body[:0]
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d: %s", w.code, w.body)
		}
	}
	do() // warm the caches
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}
