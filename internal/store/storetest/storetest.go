// Package storetest gives tests a fresh, migrated database: an SQLite file in
// a temp dir, and a PostgreSQL schema of its own on the real server
// (PINGAUTH_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
// When PINGAUTH_TEST_REQUIRE_POSTGRES=1 (as in .ci/run) an unreachable
// PostgreSQL fails the test instead of skipping it.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for schema setup

	"github.com/pingstreams/pingauth/internal/store"
)

// DefaultPostgresURL is the machine-local test server.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the admin DSN used for tests.
func PostgresURL() string {
	if v := os.Getenv("PINGAUTH_TEST_DATABASE_URL"); v != "" {
		return v
	}
	return DefaultPostgresURL
}

// Dialects lists the dialects every storage test runs against.
var dialects = []store.Dialect{store.SQLite, store.Postgres}

// ForEach runs fn as a subtest once per dialect, each with its own fresh database.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh migrated database of dialect d, removed at cleanup.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch d {
	case store.SQLite:
		db, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(t.TempDir(), "pingauth.db")})
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	case store.Postgres:
		dsn, drop := freshSchema(t)
		db, err := store.Open(ctx, store.Options{DatabaseURL: dsn})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { _ = db.Close(); drop() })
		return db
	}
	t.Fatalf("unknown dialect %q", d)
	return nil
}

// PostgresDSN returns a DSN for a fresh, empty schema (not migrated) and
// registers its removal at cleanup. It skips or fails like Open.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn, drop := freshSchema(t)
	t.Cleanup(drop)
	return dsn
}

func freshSchema(t testing.TB) (string, func()) {
	t.Helper()
	admin := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := sql.Open("pgx", admin)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("PINGAUTH_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL required but unreachable at %s: %v", admin, err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set PINGAUTH_TEST_REQUIRE_POSTGRES=1 to fail instead", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "t_" + hex.EncodeToString(rnd[:])
	if _, err := conn.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		conn.Close()
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		conn.Close()
		t.Fatalf("parse %s: %v", admin, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, `DROP SCHEMA "`+schema+`" CASCADE`)
		conn.Close()
	}
}
