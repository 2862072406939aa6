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

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestRepo(t *testing.T, db *store.DB, l Limits) (*Repo, *clock, *Operator) {
	t.Helper()
	ck := &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	l.Now = ck.now
	r := NewRepo(db, enduser.NewHasher(enduser.TestParams, 1))
	r.Configure(l)
	o, err := r.Create(context.Background(), "ops@example.com", "Ops", "operator-pass-1")
	if err != nil {
		t.Fatal(err)
	}
	return r, ck, o
}

func fieldOf(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Field
	}
	return ""
}

func TestTokenLifetimes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r, ck, o := newTestRepo(t, db, Limits{TokenTTL: 90 * 24 * time.Hour, TokenMaxTTL: 365 * 24 * time.Hour})
		start := ck.t
		for _, tc := range []struct {
			name string
			ttl  time.Duration
			ok   bool
		}{
			{"default", 0, true},
			{"maximum", 365 * 24 * time.Hour, true},
			{"above maximum", 366 * 24 * time.Hour, false},
			{"below minimum", 30 * time.Second, false},
			{"negative", -time.Hour, false},
		} {
			_, tok, err := r.NewToken(ctx, o.ID, TokenSpec{Name: tc.name, TTL: tc.ttl})
			if !tc.ok {
				if !errors.Is(err, apperr.ErrInvalid) || fieldOf(err) != "ttl_seconds" {
					t.Errorf("%s: %v, want invalid ttl_seconds", tc.name, err)
				}
				continue
			}
			if err != nil || tok.ExpiresAt == nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			want := start.Add(tc.ttl)
			if tc.ttl == 0 {
				want = start.Add(90 * 24 * time.Hour)
			}
			if !tok.ExpiresAt.Equal(want) {
				t.Errorf("%s: expires %v, want %v", tc.name, tok.ExpiresAt, want)
			}
		}

		raw, _, err := r.NewToken(ctx, o.ID, TokenSpec{Name: "short", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ck.advance(59 * time.Minute)
		if _, _, err := r.LookupToken(ctx, raw); err != nil {
			t.Fatalf("token before expiry: %v", err)
		}
		ck.advance(time.Minute)
		if _, _, err := r.LookupToken(ctx, raw); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Errorf("expired token: %v, want 401", err)
		}

		// A token stored without an expiry (before lifetimes existed) ends at
		// creation plus the maximum lifetime, and lists with that expiry.
		for _, age := range []time.Duration{24 * time.Hour, 366 * 24 * time.Hour} {
			legacyRaw := TokenPrefix + randomToken(32)
			legacy := &Token{ID: "tok_" + randomToken(9), OperatorID: o.ID, Name: "legacy", TokenHash: Digest(legacyRaw), CreatedAt: ck.t.Add(-age)}
			if err := db.WithContext(ctx).Create(legacy).Error; err != nil {
				t.Fatal(err)
			}
			_, _, err := r.LookupToken(ctx, legacyRaw)
			if fresh := age < 365*24*time.Hour; fresh != (err == nil) {
				t.Errorf("legacy token aged %s: %v", age, err)
			}
		}
		ts, err := r.ListTokens(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range ts {
			if tk.ExpiresAt == nil {
				t.Errorf("token %s listed without an expiry", tk.Name)
			}
		}
	})
}

func TestTokenLastUseWrittenAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r, ck, o := newTestRepo(t, db, Limits{})
		raw, tok, err := r.NewToken(ctx, o.ID, TokenSpec{Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() *time.Time {
			var got Token
			if err := db.WithContext(ctx).First(&got, "id = ?", tok.ID).Error; err != nil {
				t.Fatal(err)
			}
			return got.LastUsedAt
		}
		if lastUsed() != nil {
			t.Fatal("new token has a last use")
		}
		first := ck.t
		steps := []struct {
			after time.Duration
			want  time.Time
		}{
			{0, first},                                 // first use is written
			{30 * time.Second, first},                  // within a minute: no write
			{29 * time.Second, first},                  // still within the minute
			{time.Second, first.Add(time.Minute)},      // a minute after the last write
			{10 * time.Second, first.Add(time.Minute)}, // no write again
			{2 * time.Hour, first.Add(2*time.Hour + 70*time.Second)},
		}
		for i, s := range steps {
			ck.advance(s.after)
			if _, _, err := r.LookupToken(ctx, raw); err != nil {
				t.Fatal(err)
			}
			if got := lastUsed(); got == nil || !got.Equal(s.want) {
				t.Errorf("step %d: last used %v, want %v", i, got, s.want)
			}
		}
	})
}

// TestScenario2Repo: a token stops working on password reset and stays dead
// after disable → enable.
func TestScenario2Repo(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r, _, o := newTestRepo(t, db, Limits{})
		raw, tok, err := r.NewToken(ctx, o.ID, TokenSpec{Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.LookupToken(ctx, raw); err != nil {
			t.Fatal(err)
		}
		revoked, err := r.SetPassword(ctx, o.ID, "a-new-operator-pass", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(revoked) != 1 || revoked[0].ID != tok.ID {
			t.Errorf("revoked on reset = %+v", revoked)
		}
		if _, _, err := r.LookupToken(ctx, raw); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Errorf("token after password reset: %v", err)
		}
		raw2, _, err := r.NewToken(ctx, o.ID, TokenSpec{Name: "ci2"})
		if err != nil {
			t.Fatal(err)
		}
		if revoked, err := r.SetDisabled(ctx, o.ID, true); err != nil || len(revoked) != 1 {
			t.Fatalf("disable: %v %+v", err, revoked)
		}
		if _, err := r.SetDisabled(ctx, o.ID, false); err != nil {
			t.Fatal(err)
		}
		for _, tk := range []string{raw, raw2} {
			if _, _, err := r.LookupToken(ctx, tk); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Errorf("token after disable → enable: %v", err)
			}
		}
	})
}

func TestRevokeTokensByTenant(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r, _, o := newTestRepo(t, db, Limits{})
		rawA, _, _ := r.NewToken(ctx, o.ID, TokenSpec{Name: "a", TenantID: "acme"})
		rawB, _, _ := r.NewToken(ctx, o.ID, TokenSpec{Name: "b", TenantID: "beta", ReadOnly: true})
		rawAll, _, _ := r.NewToken(ctx, o.ID, TokenSpec{Name: "all"})
		_, got, err := r.LookupToken(ctx, rawB)
		if err != nil || got.TenantID != "beta" || !got.ReadOnly {
			t.Fatalf("scoped token lookup: %+v %v", got, err)
		}
		revoked, err := r.RevokeTokens(ctx, o.ID, "acme")
		if err != nil || len(revoked) != 1 || revoked[0].Name != "a" {
			t.Fatalf("revoke acme: %+v %v", revoked, err)
		}
		for raw, live := range map[string]bool{rawA: false, rawB: true, rawAll: true} {
			if _, _, err := r.LookupToken(ctx, raw); (err == nil) != live {
				t.Errorf("after revoking acme tokens: live=%v err=%v", live, err)
			}
		}
	})
}

func TestSessionIdleAndAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r, ck, o := newTestRepo(t, db, Limits{SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour})
		if r.SessionTTL() != 12*time.Hour || r.SessionIdle() != 30*time.Minute {
			t.Fatalf("limits %s %s", r.SessionTTL(), r.SessionIdle())
		}
		// Idle: each use pushes the timeout; 30 minutes without one ends it.
		raw, _, err := r.NewSession(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []struct {
			after time.Duration
			live  bool
		}{
			{29 * time.Minute, true},
			{29 * time.Minute, true}, // 58 min after creation, 29 after the last use
			{30 * time.Minute, false},
			{time.Minute, false}, // an ended session stays ended
		} {
			ck.advance(step.after)
			if _, _, err := r.LookupSession(ctx, raw); (err == nil) != step.live {
				t.Fatalf("idle step %+v: %v", step, err)
			}
		}
		// Absolute: used every 20 minutes, the session still ends after 12 h.
		raw, _, err = r.NewSession(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for elapsed := 20 * time.Minute; elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
			ck.advance(20 * time.Minute)
			if _, _, err := r.LookupSession(ctx, raw); err != nil {
				t.Fatalf("active session refused after %s: %v", elapsed, err)
			}
		}
		ck.advance(20 * time.Minute)
		if _, _, err := r.LookupSession(ctx, raw); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Errorf("session past 12h: %v", err)
		}
		// A shorter absolute lifetime configured later applies to running sessions.
		raw, _, _ = r.NewSession(ctx, o.ID)
		ck.advance(2 * time.Hour)
		r2 := NewRepo(db, enduser.NewHasher(enduser.TestParams, 1))
		r2.Configure(Limits{SessionIdle: 3 * time.Hour, SessionMax: time.Hour, Now: ck.now})
		if _, _, err := r2.LookupSession(ctx, raw); err == nil {
			t.Error("session older than the new PINGAUTH_SESSION_MAX accepted")
		}
	})
}

func TestPasswordChangeKeepsOnlyTheCurrentSession(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r, _, o := newTestRepo(t, db, Limits{})
		current, _, _ := r.NewSession(ctx, o.ID)
		other, _, _ := r.NewSession(ctx, o.ID)
		tok, _, _ := r.NewToken(ctx, o.ID, TokenSpec{Name: "ci"})
		if err := r.CheckPassword(ctx, o.ID, "wrong-password-1"); !errors.Is(err, apperr.ErrInvalid) || fieldOf(err) != "current_password" {
			t.Errorf("wrong current password: %v", err)
		}
		if err := r.CheckPassword(ctx, o.ID, "operator-pass-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.SetPassword(ctx, o.ID, "a-new-operator-pass", current); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.LookupSession(ctx, current); err != nil {
			t.Errorf("current session ended by its own password change: %v", err)
		}
		if _, _, err := r.LookupSession(ctx, other); err == nil {
			t.Error("other session survived the password change")
		}
		if _, _, err := r.LookupToken(ctx, tok); err == nil {
			t.Error("API token survived the password change")
		}
		if _, err := r.Authenticate(ctx, "ops@example.com", "a-new-operator-pass"); err != nil {
			t.Errorf("new password: %v", err)
		}
	})
}
