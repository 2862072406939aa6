package apikey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		id, full, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ParseID(full)
		if !ok || got != id || !strings.HasPrefix(full, Prefix+id+"_") || seen[full] {
			t.Fatalf("key %q: parsed id %q ok=%v", full, got, ok)
		}
		seen[full] = true
		if len(full) != len(Prefix)+idLen+1+secretLen {
			t.Fatalf("key length %d", len(full))
		}
	}
	for _, bad := range []string{"", "pa_live_", "pa_test_abcdefghijkl_" + strings.Repeat("a", 43), "pa_live_ABCDEFGHIJKL_" + strings.Repeat("a", 43),
		"pa_live_abcdefghijkl-" + strings.Repeat("a", 43), "pa_live_abcdefghijkl_" + strings.Repeat("a", 42)} {
		if _, ok := ParseID(bad); ok {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func seedProject(t *testing.T, db *store.DB, ids ...string) {
	t.Helper()
	ctx := context.Background()
	pr := project.NewRepo(db)
	if _, err := pr.EnsureTenant(ctx, "t1", "t1"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := pr.Create(ctx, &project.Project{ID: id, TenantID: "t1", Name: id, TokenTTLSeconds: 600}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifierStoresOnlyHashAndTouchesAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedProject(t, db, "p1", "p2")
		repo := NewRepo(db)
		k, full, err := repo.Create(ctx, "p1", "backend", "test")
		if err != nil {
			t.Fatal(err)
		}
		var stored Key
		if err := db.First(&stored, "id = ?", k.ID).Error; err != nil {
			t.Fatal(err)
		}
		if stored.SecretHash != Hash(full) || strings.Contains(stored.SecretHash, full[len(Prefix)+idLen+1:]) {
			t.Fatal("only the SHA-256 of the key may be stored")
		}
		if _, _, err := repo.Create(ctx, "missing", "x", "test"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("key for a missing project: %v", err)
		}

		var mu sync.Mutex
		now := time.Now().UTC().Truncate(time.Second)
		v := NewVerifier(repo, nil, cache.Options{TTL: time.Hour, MaxEntries: 1000})
		v.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		lastUsed := func() *time.Time {
			v.FlushTouches()
			var k2 Key
			if err := db.First(&k2, "id = ?", k.ID).Error; err != nil {
				t.Fatal(err)
			}
			return k2.LastUsedAt
		}
		t0 := now
		for range 20 {
			if _, err := v.Verify(ctx, "p1", full); err != nil {
				t.Fatal(err)
			}
		}
		if lu := lastUsed(); lu == nil || !lu.Equal(t0) {
			t.Fatalf("last_used_at = %v, want %v", lu, t0)
		}
		mu.Lock()
		now = now.Add(TouchEvery / 2)
		mu.Unlock()
		_, _ = v.Verify(ctx, "p1", full)
		if lu := lastUsed(); !lu.Equal(t0) {
			t.Fatalf("touched again within TouchEvery: %v", lu)
		}
		mu.Lock()
		now = now.Add(TouchEvery/2 + time.Second)
		mu.Unlock()
		_, _ = v.Verify(ctx, "p1", full)
		if lu := lastUsed(); !lu.Equal(t0.Add(TouchEvery + time.Second)) {
			t.Fatalf("not touched after TouchEvery: %v", lu)
		}

		// Wrong project, revoked key: same error; revocation via the Verifier is immediate.
		if _, err := v.Verify(ctx, "p2", full); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("key used on another project: %v", err)
		}
		if _, err := v.Revoke(ctx, "p2", k.ID, "test"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("revoking through another project: %v", err)
		}
		if _, err := v.Revoke(ctx, "p1", k.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, "p1", full); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("revoked key accepted: %v", err)
		}
		v.Close()
	})
}

// TestRevocationSeenByOtherProcessesWithinTTL: a Verifier that did not make
// the change sees a revocation once its cache entry expires.
func TestRevocationSeenByOtherProcessesWithinTTL(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedProject(t, db, "p1")
		repo := NewRepo(db)
		k, full, err := repo.Create(ctx, "p1", "", "test")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		v := NewVerifier(repo, nil, cache.Options{TTL: 10 * time.Second, MaxEntries: 1000})
		v.now = func() time.Time { return now }
		defer v.Close()
		if _, err := v.Verify(ctx, "p1", full); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Revoke(ctx, "p1", k.ID, "other-process"); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, "p1", full); err != nil {
			t.Fatalf("within TTL the cached entry still serves: %v", err)
		}
		now = now.Add(11 * time.Second)
		if _, err := v.Verify(ctx, "p1", full); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("revocation not seen after TTL: %v", err)
		}
	})
}

// The last uses of many keys are written together: one statement per
// second of use and chunk of touchChunk keys, not one UPDATE per key (at
// 100k keys in use, per-key writes were 1,700 UPDATEs a second), and Close
// writes what is pending.
func TestLastUseWritesAreBatched(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = touchChunk + 20 // 50 active keys per project at most: 11 projects
		projects := make([]string, (n+49)/50)
		for i := range projects {
			projects[i] = fmt.Sprint("p", i)
		}
		seedProject(t, db, projects...)
		repo := NewRepo(db)
		fulls := make([]string, n)
		for i := range fulls {
			_, full, err := repo.Create(ctx, projects[i/50], "", "test")
			if err != nil {
				t.Fatal(err)
			}
			fulls[i] = full
		}
		var updates atomic.Int64
		if err := db.Callback().Update().Before("gorm:update").Register("test:count_updates", func(*gorm.DB) { updates.Add(1) }); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		v := NewVerifier(repo, nil, cache.Options{TTL: time.Hour, MaxEntries: 10_000})
		v.now = func() time.Time { return now }
		v.flushEvery = time.Hour // only Close flushes, however slow the machine
		for i, full := range fulls {
			if _, err := v.Verify(ctx, projects[i/50], full); err != nil {
				t.Fatal(err)
			}
		}
		if u := updates.Load(); u != 0 {
			t.Fatalf("%d last-use writes before the flush", u)
		}
		v.Close() // writes the pending uses at once
		if u := updates.Load(); u != 2 {
			t.Fatalf("%d keys used in one second took %d statements, want 2", n, u)
		}
		var written int64
		if err := db.Model(&Key{}).Where("last_used_at = ?", now).Count(&written).Error; err != nil {
			t.Fatal(err)
		}
		if written != n {
			t.Fatalf("%d of %d keys have their last use recorded", written, n)
		}
	})
}

// TestCachedKeySharesTheProjectID: a cached key keeps the caller's copy of
// its project's id (the cached project's), not one more per key; another
// project's id presented with the key is refused and not kept.
func TestCachedKeySharesTheProjectID(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	seedProject(t, db, "p1", "p2")
	repo := NewRepo(db)
	k, full, err := repo.Create(ctx, "p1", "backend", "test")
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(repo, nil, cache.Options{TTL: time.Hour, MaxEntries: 10})
	if _, err := v.Verify(ctx, "p2", full); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("other project's key: %v", err)
	}
	v.Invalidate(k.ID)
	own := strings.Clone("p1")
	if _, err := v.Verify(ctx, own, full); err != nil {
		t.Fatal(err)
	}
	e, ok := v.entries.Peek(k.ID)
	if !ok || unsafe.StringData(e.projectID) != unsafe.StringData(own) {
		t.Fatal("the cached key holds its own copy of the project id")
	}
	if _, err := v.Verify(ctx, "p2", full); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("other project's key, cached: %v", err)
	}
}

// TestEntrySize: one cached key is a 64-byte entry.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 64 {
		t.Fatalf("entry is %d bytes, want <= 64", n)
	}
}

// InvalidateProject drops the cached keys of one project and only those:
// after a project is deleted (its keys cascade away) and re-created under
// the same id, its old keys are refused at once, not after the cache TTL.
func TestInvalidateProjectDropsItsKeys(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedProject(t, db, "p1")
		seedProject(t, db, "p2")
		repo := NewRepo(db)
		_, k1, err := repo.Create(ctx, "p1", "", "test")
		if err != nil {
			t.Fatal(err)
		}
		_, k2, err := repo.Create(ctx, "p2", "", "test")
		if err != nil {
			t.Fatal(err)
		}
		v := NewVerifier(repo, nil, cache.Options{TTL: time.Hour, MaxEntries: 1000})
		defer v.Close()
		for p, k := range map[string]string{"p1": k1, "p2": k2} {
			if _, err := v.Verify(ctx, p, k); err != nil {
				t.Fatal(err)
			}
		}
		// Delete p1's key behind the cache's back (as the cascade does).
		if err := db.Exec("DELETE FROM api_keys WHERE project_id = ?", "p1").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, "p1", k1); err != nil {
			t.Fatalf("the cached key serves until invalidated: %v", err)
		}
		if n := v.InvalidateProject("p1"); n != 1 {
			t.Fatalf("InvalidateProject dropped %d entries, want 1", n)
		}
		if _, err := v.Verify(ctx, "p1", k1); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("p1's deleted key after InvalidateProject: %v", err)
		}
		if _, err := v.Verify(ctx, "p2", k2); err != nil {
			t.Fatalf("p2's key after p1's invalidation: %v", err)
		}
	})
}
