package apikey

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
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
		v := NewVerifier(repo, time.Hour, nil)
		v.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		lastUsed := func() *time.Time {
			v.touches.Wait()
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
		now = now.Add(30 * time.Second)
		mu.Unlock()
		_, _ = v.Verify(ctx, "p1", full)
		if lu := lastUsed(); !lu.Equal(t0) {
			t.Fatalf("touched again within a minute: %v", lu)
		}
		mu.Lock()
		now = now.Add(31 * time.Second)
		mu.Unlock()
		_, _ = v.Verify(ctx, "p1", full)
		if lu := lastUsed(); !lu.Equal(t0.Add(61 * time.Second)) {
			t.Fatalf("not touched after a minute: %v", lu)
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
		v := NewVerifier(repo, 10*time.Second, nil)
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
