package app_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// propagationBound is the generous bound on how long a change made through
// one instance may take to be applied by another (the issue asks for 1 s).
const propagationBound = time.Second

// twoInstances opens two apps on one fresh PostgreSQL schema, as two
// replicas would run, with every cache TTL long (10 min) so only the
// change events can explain a change seen in time. The second listens.
func twoInstances(t testing.TB) (writer, reader *app.App) {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{
		"PINGAUTH_DATABASE_URL":          dsn,
		"PINGAUTH_MASTER_KEY":            base64.StdEncoding.EncodeToString(key),
		"PINGAUTH_CACHE_TTL":             "10m",
		"PINGAUTH_SECRET_CACHE_TTL":      "10m",
		"PINGAUTH_SECRET_CHECK_INTERVAL": "10m",
	}
	writer = openAppFromEnv(t, env)
	reader = openAppFromEnv(t, env)
	reader.StartListener()
	waitReady(t, reader)
	return writer, reader
}

func waitReady(t testing.TB, a *app.App) {
	t.Helper()
	select {
	case <-a.Listener().Ready():
	case <-time.After(15 * time.Second):
		t.Fatal("listener did not connect")
	}
}

// within polls cond until it holds or d passes.
func within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not seen by the other instance within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%s: seen after %s", what, time.Since(start).Round(time.Millisecond))
}

type fixture struct {
	p      *project.Project
	keyID  string
	apiKey string
}

func seedServerMode(t testing.TB, a *app.App, pid string) fixture {
	t.Helper()
	ctx := context.Background()
	if err := a.Projects.CreateTenant(ctx, &project.Tenant{ID: "acme-" + pid, Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	p := &project.Project{ID: pid, TenantID: "acme-" + pid, Name: "P", TokenTTLSeconds: 600, Status: project.StatusActive}
	if err := a.Projects.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Secrets.Rotate(ctx, pid, secret.WriteOptions{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Modes.Admin.SetModes(ctx, "t", pid, []string{mapping.ModeServer}); err != nil {
		t.Fatal(err)
	}
	k, full, err := a.Modes.Admin.CreateAPIKey(ctx, "t", pid, "k")
	if err != nil {
		t.Fatal(err)
	}
	return fixture{p: p, keyID: k.ID, apiKey: full}
}

// serverAuth runs the server-mode path of the reader (cached project, key,
// settings) for user id uid; nil means the login was accepted.
func serverAuth(a *app.App, f fixture, uid string) error {
	ctx := context.Background()
	p, err := a.Modes.Bridge.CachedProject(ctx, f.p.ID)
	if err != nil {
		return err
	}
	if !p.Active() {
		return errInactive
	}
	_, err = a.Modes.Bridge.Authenticate(ctx, p, bridge.Request{Mode: mapping.ModeServer, APIKey: f.apiKey, User: &bridge.ServerUser{ID: uid}})
	return err
}

type inactiveErr struct{}

func (inactiveErr) Error() string { return "project inactive" }

var errInactive error = inactiveErr{}

// TestChangesReachOtherInstances: revoke, block, disable and rotate through
// one instance are applied by another within the bound although every
// cache TTL is 10 minutes.
func TestChangesReachOtherInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, r := twoInstances(t)
	cases := []struct {
		name   string
		change func(t *testing.T, f fixture)
		seen   func(f fixture) bool
	}{
		{"revoke API key", func(t *testing.T, f fixture) {
			if _, err := w.Modes.Admin.RevokeAPIKey(ctx, "t", f.p.ID, f.keyID); err != nil {
				t.Fatal(err)
			}
		}, func(f fixture) bool { return serverAuth(r, f, "u1") != nil }},
		{"block user", func(t *testing.T, f fixture) {
			if err := w.Modes.Admin.PutOverride(ctx, "t", &mapping.Override{ProjectID: f.p.ID, ExternalID: "u1", Blocked: true}); err != nil {
				t.Fatal(err)
			}
		}, func(f fixture) bool { return serverAuth(r, f, "u1") != nil && serverAuth(r, f, "u2") == nil }},
		{"disable project", func(t *testing.T, f fixture) {
			p := *f.p
			p.Status = project.StatusDisabled
			if err := w.Projects.Update(ctx, &p); err != nil {
				t.Fatal(err)
			}
		}, func(f fixture) bool { return serverAuth(r, f, "u1") == errInactive }},
		{"disable server mode", func(t *testing.T, f fixture) {
			if _, err := w.Modes.Admin.SetModes(ctx, "t", f.p.ID, []string{mapping.ModePassword}); err != nil {
				t.Fatal(err)
			}
		}, func(f fixture) bool { return serverAuth(r, f, "u1") != nil }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := seedServerMode(t, w, "proj-ev"+string(rune('a'+i)))
			if err := serverAuth(r, f, "u1"); err != nil { // warm the reader's caches
				t.Fatalf("before the change: %v", err)
			}
			c.change(t, f)
			within(t, propagationBound, c.name, func() bool { return c.seen(f) })
		})
	}
	t.Run("rotate secret", func(t *testing.T) {
		f := seedServerMode(t, w, "proj-evrot")
		before, err := r.Secrets.Get(ctx, f.p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.Secrets.Rotate(ctx, f.p.ID, secret.WriteOptions{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		within(t, propagationBound, "rotate secret", func() bool {
			kr, err := r.Secrets.Get(ctx, f.p.ID)
			return err == nil && kr.Current.Version > before.Current.Version
		})
	})
}

// TestListenerReconnectDropsCaches: a listener whose backend is terminated
// reconnects and drops every cache, so a change it could not have been told
// about (written behind pingauth's back) is seen after the reconnect.
func TestListenerReconnectDropsCaches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, r := twoInstances(t)
	f := seedServerMode(t, w, "proj-reconn")
	// Warm the reader's caches once the seeding's own events have arrived: a
	// load that races an invalidation is not stored (it may be stale).
	time.Sleep(200 * time.Millisecond)
	if err := serverAuth(r, f, "u1"); err != nil {
		t.Fatal(err)
	}
	// Revoke without an event: only a cache drop can make r notice.
	if err := w.DB.DB.WithContext(ctx).Exec("UPDATE api_keys SET revoked_at = ? WHERE id = ?", time.Now().UTC(), f.keyID).Error; err != nil {
		t.Fatal(err)
	}
	if err := serverAuth(r, f, "u1"); err != nil {
		t.Fatalf("the reader should still serve its cached key (TTL 10m): %v", err)
	}
	admin, err := sql.Open("pgx", storetest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRowContext(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", r.Listener().AppName()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d listener backends, want 1", n)
	}
	within(t, 10*time.Second, "listener reconnect", func() bool { return r.Listener().Connects() >= 2 })
	if err := serverAuth(r, f, "u1"); err == nil {
		t.Fatal("after the reconnect the reader still accepts the revoked key: caches were not dropped")
	}
	// And events flow again after the reconnect.
	f2 := seedServerMode(t, w, "proj-reconn2")
	if err := serverAuth(r, f2, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Modes.Admin.RevokeAPIKey(ctx, "t", f2.p.ID, f2.keyID); err != nil {
		t.Fatal(err)
	}
	within(t, propagationBound, "revoke after reconnect", func() bool { return serverAuth(r, f2, "u1") != nil })
}
