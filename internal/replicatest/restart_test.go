package replicatest

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pingstreams/pingauth/internal/apikey"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestPostgresRestartResyncs: three replicas on a PostgreSQL cluster of the
// test's own. A key revoked behind pingauth's back (plain SQL, no event) is
// still accepted from the replicas' caches; PostgreSQL is restarted; every
// listener reconnects and drops its caches, so the replicas refuse the key,
// and a revocation through the CLI afterwards reaches all three within the
// bound again.
func TestPostgresRestartResyncs(t *testing.T) {
	pg := storetest.StartPrivatePostgres(t)
	c := newCluster(t)
	for i, e := range c.env {
		if strings.HasPrefix(e, "PINGAUTH_DATABASE_URL=") {
			c.env[i] = "PINGAUTH_DATABASE_URL=" + pg.DSN
		}
	}
	c.cli(t, "migrate")
	c.cli(t, "tenant", "add", "-id", "acme", "-name", "Acme")
	c.cli(t, "project", "add", "-id", "proj-pgr", "-name", "Restart", "-tenant", "acme")
	c.cli(t, "secret", "rotate", "-project", "proj-pgr", "-local")
	c.cli(t, "mode", "set", "-project", "proj-pgr", "-modes", "server")
	key1 := strings.TrimSpace(c.cli(t, "apikey", "create", "-project", "proj-pgr", "-name", "one"))
	key2 := strings.TrimSpace(c.cli(t, "apikey", "create", "-project", "proj-pgr", "-name", "two"))
	id1, _ := apikey.ParseID(key1)
	id2, _ := apikey.ParseID(key2)
	rs := []*replica{c.start(t), c.start(t), c.start(t)}
	for i, r := range rs {
		for _, k := range []string{key1, key2} {
			if code := r.auth(t, "proj-pgr", k); code != http.StatusOK {
				t.Fatalf("replica %d: status %d before the restart\n%s", i, code, r.logs.String())
			}
		}
	}
	db, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "UPDATE api_keys SET revoked_at = now() WHERE id = $1", id1); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	for i, r := range rs {
		if code := r.auth(t, "proj-pgr", key1); code != http.StatusOK {
			t.Fatalf("replica %d refuses key 1 before the restart (%d): it should serve from its cache", i, code)
		}
	}
	pg.Stop(t)
	pg.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for i, r := range rs {
		for code := r.auth(t, "proj-pgr", key1); code != http.StatusUnauthorized; code = r.auth(t, "proj-pgr", key1) {
			if time.Now().After(deadline) {
				t.Fatalf("replica %d still answers %d for the key revoked before the restart\n%s", i, code, r.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		for !strings.Contains(r.logs.String(), "invalidation listener reconnected") { // logged just after the cache drop
			if time.Now().After(deadline) {
				t.Fatalf("replica %d did not log its listener's reconnect", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c.cli(t, "apikey", "revoke", "-project", "proj-pgr", "-id", id2)
	start := time.Now()
	for i, r := range rs {
		for code := r.auth(t, "proj-pgr", key2); code != http.StatusUnauthorized; code = r.auth(t, "proj-pgr", key2) {
			if time.Since(start) > propagationBound {
				t.Fatalf("replica %d still answers %d %s after the revocation that followed the restart", i, code, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
