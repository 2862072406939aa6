package project_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestRefreshTTLValidation: 0 turns refresh credentials off; otherwise the
// lifetime is 5m-90d, and anything else is a 400 naming refresh_ttl_seconds.
func TestRefreshTTLValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		seconds int
		ok      bool
	}{{0, true}, {300, true}, {2592000, true}, {7776000, true}, {299, false}, {7776001, false}, {-1, false}} {
		p := project.Project{ID: "p1", TenantID: "acme", Name: "Shop", TokenTTLSeconds: 900, RefreshTTLSeconds: tc.seconds}
		err := p.Validate()
		var ae *apperr.Error
		switch {
		case tc.ok && err != nil:
			t.Errorf("refresh_ttl_seconds %d: %v", tc.seconds, err)
		case !tc.ok && (!errors.As(err, &ae) || !errors.Is(err, apperr.ErrInvalid) || ae.Field != "refresh_ttl_seconds"):
			t.Errorf("refresh_ttl_seconds %d: %v, want a 400 naming refresh_ttl_seconds", tc.seconds, err)
		}
	}
}

// TestRefreshTTLStored: the lifetime round-trips through Create and Update.
func TestRefreshTTLStored(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := project.NewRepo(db)
		if _, err := r.EnsureTenant(ctx, "acme", "Acme"); err != nil {
			t.Fatal(err)
		}
		p := &project.Project{ID: "p1", TenantID: "acme", Name: "Shop", TokenTTLSeconds: 900, RefreshTTLSeconds: int(project.DefaultRefreshTTL.Seconds())}
		if err := r.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, _ := r.Get(ctx, "p1")
		if got.RefreshTTL() != project.DefaultRefreshTTL {
			t.Fatalf("stored refresh TTL %v", got.RefreshTTL())
		}
		got.RefreshTTLSeconds = 0
		if err := r.Update(ctx, got); err != nil {
			t.Fatal(err)
		}
		if again, _ := r.Get(ctx, "p1"); again.RefreshTTLSeconds != 0 {
			t.Fatalf("after turning refresh off: %d", again.RefreshTTLSeconds)
		}
	})
}
