package store_test

import (
	"context"
	"testing"

	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestMigrationsApplyOnceAndAreIdempotent(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ms, err := store.Migrations(db.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatal("no migrations embedded")
		}
		// Re-running must be a no-op, not an error (service restarts).
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		var n int64
		if err := db.WithContext(ctx).Table("schema_migrations").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if int(n) != len(ms) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
		}
		for _, table := range []string{"tenants", "projects", "end_users", "secret_versions", "sealed_secrets", "audit_events"} {
			if !db.Migrator().HasTable(table) {
				t.Errorf("table %s missing after migrate", table)
			}
		}
	})
}

func TestBothDialectsHaveTheSameMigrationVersions(t *testing.T) {
	t.Parallel()
	pg, err := store.Migrations(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) != len(lite) {
		t.Fatalf("postgres has %d migrations, sqlite %d", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].Name != lite[i].Name {
			t.Errorf("migration %d: postgres %s vs sqlite %s", i, pg[i].Name, lite[i].Name)
		}
	}
}
