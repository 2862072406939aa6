package enduser

import (
	"context"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestPasswordChangedAt: SetPassword records when the password changed
// (refresh credentials issued before are refused); a transparent rehash at
// login, which keeps the same password, does not.
func TestPasswordChangedAt(t *testing.T) {
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
		stronger := TestParams
		stronger.Iterations = 2
		repo := NewRepo(db, NewHasher(stronger, 0), nil)
		if _, err := repo.Authenticate(ctx, "p1", "ann@example.com", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		if got, _ := repo.Get(ctx, "p1", u.ID); got.PasswordHash == u.PasswordHash || got.PasswordChangedAt != nil {
			t.Fatalf("after a rehash: changed hash %v, password_changed_at %v (want rehashed, unset)", got.PasswordHash != u.PasswordHash, got.PasswordChangedAt)
		}
		before := time.Now().Add(-time.Second)
		if err := repo.SetPassword(ctx, "p1", u.ID, "another long password"); err != nil {
			t.Fatal(err)
		}
		got, _ := repo.Get(ctx, "p1", u.ID)
		if got.PasswordChangedAt == nil || got.PasswordChangedAt.Before(before) {
			t.Fatalf("after SetPassword: password_changed_at %v", got.PasswordChangedAt)
		}
	})
}
