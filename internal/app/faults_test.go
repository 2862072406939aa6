package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestPostgresRestartMidRun runs the real HTTP server on a private
// PostgreSQL, stops the database (503 JSON, promptly), starts it again and
// checks the service recovers without a restart and without data loss.
func TestPostgresRestartMidRun(t *testing.T) {
	t.Parallel()
	pg := storetest.StartPrivatePostgres(t)
	// Keep the secret cache short so that the outage is seen by /auth's
	// project lookup and the keyring refresh alike.
	a, srv, _ := openApp(t, map[string]string{"PINGAUTH_DATABASE_URL": pg.DSN, "PINGAUTH_SECRET_CACHE_TTL": "1ms"}, appOptions())
	seed(t, a)
	if r := login(t, srv); r.Status != 200 {
		t.Fatalf("before outage: %d %s", r.Status, r.Raw)
	}
	if r := do(t, http.MethodGet, srv.URL+"/readyz", ""); r.Status != 200 {
		t.Fatalf("readyz before outage: %d %s", r.Status, r.Raw)
	}

	pg.Stop(t)
	for i := 0; i < 3; i++ { // several times: dead pooled connections, then refused dials
		start := time.Now()
		r := login(t, srv)
		if r.Status != http.StatusServiceUnavailable || errCode(r) != "unavailable" {
			t.Fatalf("/auth during outage (try %d): %d %s", i, r.Status, r.Raw)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("/auth during outage took %v", took)
		}
		if strings.Contains(r.Raw, "127.0.0.1") || strings.Contains(r.Raw, "SQLSTATE") {
			t.Fatalf("outage response leaks internals: %s", r.Raw)
		}
		t.Logf("/auth with PostgreSQL stopped (try %d): %d in %v: %s", i, r.Status, time.Since(start).Round(time.Millisecond), r.Raw)
	}
	r := do(t, http.MethodGet, srv.URL+"/readyz", "")
	checks, _ := r.Body["checks"].(map[string]any)
	if r.Status != http.StatusServiceUnavailable || r.Body["ready"] != false || checks["database"] != "unavailable" {
		t.Fatalf("/readyz during outage: %d %s", r.Status, r.Raw)
	}
	// Writes fail as 503-kind errors too, not 500.
	err := a.Users.Create(context.Background(), &enduser.User{ProjectID: projID, Email: "new@example.com", Enabled: true}, "another password")
	if st, _ := httpkit.Status(err); st != http.StatusServiceUnavailable {
		t.Fatalf("write during outage: %v -> %d", err, st)
	}

	pg.Start(t)
	var last reply
	for i := 0; i < 50; i++ {
		if last = login(t, srv); last.Status == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after PostgreSQL restart: /auth %d", last.Status)
	if last.Status != 200 {
		t.Fatalf("service did not recover after PostgreSQL restart: %d %s", last.Status, last.Raw)
	}
	if r := do(t, http.MethodGet, srv.URL+"/readyz", ""); r.Status != 200 {
		t.Fatalf("readyz after recovery: %d %s", r.Status, r.Raw)
	}
	// Nothing stored before the outage was lost.
	ctx := context.Background()
	if _, err := a.Projects.Get(ctx, projID); err != nil {
		t.Fatalf("project lost: %v", err)
	}
	if vs, err := a.Secrets.Versions(ctx, projID); err != nil || len(vs) != 1 {
		t.Fatalf("secret versions after restart: %v %v", vs, err)
	}
	if _, n, err := a.Users.List(ctx, projID, enduser.ListOptions{}); err != nil || n.Count != 1 {
		t.Fatalf("end-users after restart: %v %v", n, err)
	}
}

// flakyBackend simulates a secret store outage (e.g. Vault unreachable).
// openSwitchableApp opens the app (with seed) over a sealed backend that the
// returned Switchable can take down; project proj-b (tenant acme) exists with
// its own shared secret but nothing has loaded it yet.
func openSwitchableApp(t *testing.T, env map[string]string) (*app.App, *httptest.Server, *syncBuffer, *secrettest.Switchable) {
	t.Helper()
	sw := &secrettest.Switchable{}
	opts := appOptions()
	opts.Backend = sw
	a, srv, logs := openApp(t, env, opts)
	sealed, err := secret.NewSealed(a.DB, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	sw.Backend = sealed
	seed(t, a)
	ctx := context.Background()
	if err := a.Projects.Create(ctx, &project.Project{ID: "proj-b", TenantID: "acme", Name: "B", TokenTTLSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Secrets.Put(ctx, "proj-b", []byte(sharedSK+"-b"), secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return a, srv, logs, sw
}

// TestSecretStoreDown: cached secrets keep serving /auth, /readyz reports
// the secret store, writes and never-cached projects get 503 JSON.
func TestSecretStoreDown(t *testing.T) {
	t.Parallel()
	a, srv, logs, fb := openSwitchableApp(t, map[string]string{"PINGAUTH_SECRET_CACHE_TTL": "1ms"})
	ctx := context.Background()
	if err := a.Users.Create(ctx, &enduser.User{ProjectID: "proj-b", Email: email, Enabled: true}, password); err != nil {
		t.Fatal(err)
	}
	if r := login(t, srv); r.Status != 200 { // caches proj-a's keyring
		t.Fatalf("before outage: %d %s", r.Status, r.Raw)
	}

	fb.SetDown(true)
	time.Sleep(5 * time.Millisecond) // let the 1ms cache entry go stale: the refresh must fail over to it
	if r := login(t, srv); r.Status != 200 {
		t.Fatalf("cached secret did not keep serving: %d %s", r.Status, r.Raw)
	}
	// The refresh runs in the background; a slow one may log after the response.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "serving cached secret") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "serving cached secret") {
		t.Error("stale-serving was not logged")
	}
	r := do(t, http.MethodGet, srv.URL+"/readyz", "")
	checks, _ := r.Body["checks"].(map[string]any)
	// Degraded, not unready: cached secrets keep /auth serving.
	if r.Status != 200 || r.Body["degraded"] != true || checks["secrets"] != "unavailable" || checks["database"] != "ok" {
		t.Fatalf("/readyz with secret store down: %d %s", r.Status, r.Raw)
	}
	// A project whose secret was never cached cannot be served: 503 JSON.
	r = do(t, http.MethodPost, srv.URL+"/auth/proj-b", `{"email":"`+email+`","password":"`+password+`"}`)
	if r.Status != 503 || errCode(r) != "unavailable" || strings.Contains(r.Raw, "127.0.0.1:8200") {
		t.Fatalf("uncached project during outage: %d %s", r.Status, r.Raw)
	}
	// Rotation fails cleanly (503 kind) and leaves the current version in place.
	_, _, err := a.Secrets.Rotate(ctx, projID, secret.WriteOptions{})
	if !errors.Is(err, apperr.ErrUnavailable) {
		t.Fatalf("rotate during outage: %v", err)
	}
	fb.SetDown(false)
	if vs, _ := a.Secrets.Versions(ctx, projID); len(vs) != 1 || vs[0].SupersededAt != nil {
		t.Fatalf("failed rotation changed versions: %+v", vs)
	}
	if r := do(t, http.MethodGet, srv.URL+"/readyz", ""); r.Status != 200 {
		t.Fatalf("/readyz after recovery: %d %s", r.Status, r.Raw)
	}
	if r := do(t, http.MethodPost, srv.URL+"/auth/proj-b", `{"email":"`+email+`","password":"`+password+`"}`); r.Status != 200 {
		t.Fatalf("proj-b after recovery: %d %s", r.Status, r.Raw)
	}
}

// TestEmbeddedStoreDiskFull emulates a full disk under the SQLite store
// (PRAGMA max_page_count): /auth keeps issuing tokens (reads), writes fail
// with a clear 503-kind error, nothing is lost, and writes resume when
// space is freed.
func TestEmbeddedStoreDiskFull(t *testing.T) {
	t.Parallel()
	a, srv, _ := openApp(t, nil, appOptions())
	seed(t, a)
	if a.DB.Dialect != store.SQLite {
		t.Fatalf("dialect %s", a.DB.Dialect)
	}
	sqlDB, _ := a.DB.DB.DB()
	sqlDB.SetMaxOpenConns(1) // max_page_count is per connection
	ctx := context.Background()
	var pages int
	if err := a.DB.Raw(`PRAGMA page_count`).Scan(&pages).Error; err != nil {
		t.Fatal(err)
	}
	if err := a.DB.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)).Error; err != nil {
		t.Fatal(err)
	}
	var werr error
	added := 0
	for i := 0; i < 500 && werr == nil; i++ {
		u := &enduser.User{ProjectID: projID, Email: fmt.Sprintf("filler-%d@example.com", i), Firstname: strings.Repeat("f", 100), Lastname: strings.Repeat("l", 100), Enabled: true}
		if werr = a.Users.Create(ctx, u, ""); werr == nil {
			added++
		}
	}
	if werr == nil {
		t.Fatal("database never filled up")
	}
	st, code := httpkit.Status(werr)
	var ae *apperr.Error
	if st != http.StatusServiceUnavailable || code != "unavailable" || !errors.As(werr, &ae) || !strings.Contains(ae.Message, "storage is full") {
		t.Fatalf("write on full disk: %v -> %d %s", werr, st, code)
	}
	// Reads continue: tokens are still issued.
	if r := login(t, srv); r.Status != 200 {
		t.Fatalf("/auth with full disk: %d %s", r.Status, r.Raw)
	}
	if _, n, err := a.Users.List(ctx, projID, enduser.ListOptions{}); err != nil || int(n.Count) != 1+added {
		t.Fatalf("users with full disk: %d %v, want %d", n.Count, err, 1+added)
	}
	if err := a.DB.Exec(`PRAGMA max_page_count = 1073741823`).Error; err != nil {
		t.Fatal(err)
	}
	if err := a.Users.Create(ctx, &enduser.User{ProjectID: projID, Email: "after@example.com", Enabled: true}, ""); err != nil {
		t.Fatalf("write after space freed: %v", err)
	}
	if _, n, _ := a.Users.List(ctx, projID, enduser.ListOptions{}); int(n.Count) != 2+added {
		t.Fatalf("users after recovery: %d, want %d", n.Count, 2+added)
	}
}

// TestEmbeddedStoreRealDiskFull puts the data dir on a 2 MiB tmpfs (needs
// root and mount; skipped otherwise), fills the disk with a junk file and
// checks: writes fail with the "storage is full" 503 error, /auth keeps
// issuing tokens, nothing is lost, and writes resume once the junk is gone.
func TestEmbeddedStoreRealDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	a, srv, _ := openApp(t, map[string]string{"PINGAUTH_DATA_DIR": dir}, appOptions())
	seed(t, a)
	ctx := context.Background()

	junk := filepath.Join(dir, "junk")
	f, err := os.Create(junk)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	_ = f.Close()

	var werr error
	added := 0
	for i := 0; i < 200 && werr == nil; i++ {
		u := &enduser.User{ProjectID: projID, Email: fmt.Sprintf("filler-%d@example.com", i), Firstname: strings.Repeat("f", 100), Enabled: true}
		if werr = a.Users.Create(ctx, u, ""); werr == nil {
			added++
		}
	}
	if werr == nil {
		t.Fatal("writes kept succeeding on a full disk")
	}
	st, _ := httpkit.Status(werr)
	var ae *apperr.Error
	if st != http.StatusServiceUnavailable || !errors.As(werr, &ae) || !strings.Contains(ae.Message, "storage is full") {
		t.Fatalf("write on full disk: %v -> %d", werr, st)
	}
	t.Logf("disk full after %d extra rows: %v -> %d %q", added, werr, st, ae.Message)
	if r := login(t, srv); r.Status != 200 {
		t.Fatalf("/auth with a full disk: %d %s", r.Status, r.Raw)
	}
	if err := os.Remove(junk); err != nil {
		t.Fatal(err)
	}
	if err := a.Users.Create(ctx, &enduser.User{ProjectID: projID, Email: "after@example.com", Enabled: true}, ""); err != nil {
		t.Fatalf("write after space freed: %v", err)
	}
	if _, n, err := a.Users.List(ctx, projID, enduser.ListOptions{}); err != nil || int(n.Count) != 2+added {
		t.Fatalf("users after recovery: %d %v, want %d", n.Count, err, 2+added)
	}
	if r := login(t, srv); r.Status != 200 {
		t.Fatalf("/auth after recovery: %d %s", r.Status, r.Raw)
	}
}
