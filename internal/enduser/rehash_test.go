package enduser

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestLoginRehashesWhenParamsChange: after the operator raises the argon2
// parameters, a successful login transparently upgrades the stored hash.
func TestLoginRehashesWhenParamsChange(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pr := project.NewRepo(db)
		if _, err := pr.EnsureTenant(ctx, "t1", "t1"); err != nil {
			t.Fatal(err)
		}
		if err := pr.Create(ctx, &project.Project{ID: "p1", TenantID: "t1", Name: "p1", TokenTTLSeconds: 600}); err != nil {
			t.Fatal(err)
		}
		old := NewRepo(db, NewHasher(TestParams, 0), nil)
		u := &User{ProjectID: "p1", Email: "ann@example.com", Enabled: true}
		if err := old.Create(ctx, u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(u.PasswordHash, "m=64,t=1,p=1") {
			t.Fatalf("hash %q not made with TestParams", u.PasswordHash)
		}
		stronger := TestParams
		stronger.MemoryKiB, stronger.Iterations = 128, 2
		repo := NewRepo(db, NewHasher(stronger, 0), nil)
		if _, err := repo.Authenticate(ctx, "p1", "ann@example.com", "wrong password"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if got, _ := repo.Get(ctx, "p1", u.ID); got.PasswordHash != u.PasswordHash {
			t.Fatal("a failed login must not rehash")
		}
		if _, err := repo.Authenticate(ctx, "p1", "ann@example.com", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		got, err := repo.Get(ctx, "p1", u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got.PasswordHash, "m=128,t=2,p=1") {
			t.Fatalf("stored hash not upgraded: %q", got.PasswordHash)
		}
		// The upgraded hash still verifies, and needs no further rehash.
		if needs, err := repo.Hasher().Verify(ctx, got.PasswordHash, "correct horse battery"); err != nil || needs {
			t.Fatalf("upgraded hash: needsRehash=%v err=%v", needs, err)
		}
	})
}

// TestHasherPoolBoundsConcurrency: with every slot taken, hashing waits (and
// honours the context) instead of running more argon2 work than the pool allows.
func TestHasherPoolBoundsConcurrency(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams, 2)
	if cap(h.slots) != 2 {
		t.Fatalf("pool size %d", cap(h.slots))
	}
	h.slots <- struct{}{}
	h.slots <- struct{}{} // pool saturated (as during a password flood)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Verify(ctx, "", "password123"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("verify with a full pool: %v, want deadline exceeded", err)
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "password123"); err != nil {
		t.Fatalf("hash with a free slot: %v", err)
	}
}

// TestHasherCooldownHoldsTheSlot: with a cooldown the slot stays taken after
// the hash returns, bounding the CPU share of a password flood.
func TestHasherCooldownHoldsTheSlot(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams, 1, WithCooldown(10))
	// A slow hash (relative to the check below) so the cooldown is long.
	h.params.MemoryKiB, h.params.Iterations = 8*1024, 3
	start := time.Now()
	if _, err := h.Hash(context.Background(), "password123"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), took) // far shorter than 10x took
	defer cancel()
	if _, err := h.Verify(ctx, "", "password123"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slot free right after the hash despite the cooldown: %v", err)
	}
	if _, err := NewHasher(TestParams, 1).Hash(context.Background(), "password123"); err != nil {
		t.Fatal(err)
	}
}
