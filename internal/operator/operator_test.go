package operator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestSessionsAndTokens(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := NewRepo(db, enduser.NewHasher(enduser.TestParams, 1))
		now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
		r.now = func() time.Time { return now }
		o, err := r.Create(ctx, "Ops@Example.com", "Ops", "operator-pass-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Create(ctx, "ops@example.com", "", "operator-pass-1"); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("duplicate email: %v", err)
		}
		for _, bad := range []struct{ email, pw string }{{"ops@example.com", "wrong-pass-1"}, {"nobody@example.com", "operator-pass-1"}, {"", ""}} {
			if _, err := r.Authenticate(ctx, bad.email, bad.pw); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Errorf("Authenticate(%q): %v", bad.email, err)
			}
		}
		if _, err := r.Authenticate(ctx, "OPS@example.com", "operator-pass-1"); err != nil {
			t.Fatal(err)
		}
		raw, s, err := r.NewSession(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.TokenHash == raw || s.TokenHash != Digest(raw) || CSRFToken(raw) == s.TokenHash || CSRFToken(raw) == raw {
			t.Error("stored digest / CSRF token derivation wrong")
		}
		if _, got, err := r.LookupSession(ctx, raw); err != nil || got.ID != o.ID {
			t.Fatalf("lookup: %v", err)
		}
		if _, _, err := r.LookupSession(ctx, raw+"x"); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Error("forged token accepted")
		}
		now = now.Add(DefaultSessionTTL + time.Second)
		if _, _, err := r.LookupSession(ctx, raw); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Error("expired session accepted")
		}
		raw2, _, _ := r.NewSession(ctx, o.ID)
		raw3, _, _ := r.NewSession(ctx, o.ID)
		if err := r.RevokeSession(ctx, raw2); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.LookupSession(ctx, raw2); err == nil {
			t.Error("revoked session accepted")
		}
		if _, _, err := r.LookupSession(ctx, raw3); err != nil {
			t.Error("other session should survive a single logout")
		}
		tok, _, err := r.NewToken(ctx, o.ID, TokenSpec{Name: "ci", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := r.LookupToken(ctx, tok); err != nil || got.ID != o.ID {
			t.Fatalf("token lookup: %v", err)
		}
		if _, err := r.SetDisabled(ctx, o.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.LookupSession(ctx, raw3); err == nil {
			t.Error("session of a disabled operator accepted")
		}
		if _, _, err := r.LookupToken(ctx, tok); err == nil {
			t.Error("token of a disabled operator accepted")
		}
		if _, err := r.Authenticate(ctx, "ops@example.com", "operator-pass-1"); err == nil {
			t.Error("disabled operator signed in")
		}
		_, _ = r.SetDisabled(ctx, o.ID, false)
		if _, _, err := r.LookupToken(ctx, tok); err == nil {
			t.Error("token of a disabled operator works again after enable")
		}
	})
}
