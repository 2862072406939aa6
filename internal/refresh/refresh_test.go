package refresh_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// fixture creates project "p1" with two end-users and returns their ids.
func fixture(t *testing.T, db *store.DB) (string, string) {
	t.Helper()
	ctx := context.Background()
	projects := project.NewRepo(db)
	if _, err := projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2"} {
		if err := projects.Create(ctx, &project.Project{ID: id, TenantID: "acme", Name: id, TokenTTLSeconds: 900, RefreshTTLSeconds: 3600}); err != nil {
			t.Fatal(err)
		}
	}
	users := enduser.NewRepo(db, enduser.NewHasher(enduser.TestParams, 1), nil)
	var ids []string
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		u := &enduser.User{ProjectID: "p1", Email: email, Enabled: true}
		if err := users.Create(ctx, u, "password-123"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	return ids[0], ids[1]
}

func rows(t *testing.T, db *store.DB, familyID string) []refresh.Token {
	t.Helper()
	var out []refresh.Token
	if err := db.Where("family_id = ?", familyID).Order("created_at").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRotationAndReuse: a credential rotates into a successor of the same
// family and expiry; presenting a spent one is reuse, and revoking the
// family ends its live successor too. Only the SHA-256 of the secret is
// stored.
func TestRotationAndReuse(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ann, _ := fixture(t, db)
		s := refresh.New(db)
		first, err := s.Issue(ctx, "p1", ann, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(first.Credential, refresh.Prefix) || len(first.Credential) != refresh.MaxLen {
			t.Fatalf("credential %q: want prt_<26>_<43>", first.Credential)
		}
		_, secret, _ := refresh.Parse(first.Credential)
		stored := rows(t, db, first.FamilyID)
		if len(stored) != 1 || strings.Contains(stored[0].Hash, secret) || len(stored[0].Hash) != 64 || stored[0].ID != first.ID {
			t.Fatalf("stored row %+v: want the id and a SHA-256 hex of the secret, never the secret", stored)
		}

		tok, err := s.Lookup(ctx, "p1", first.Credential)
		if err != nil || s.Check(tok) != nil {
			t.Fatalf("lookup fresh credential: %v %v", err, s.Check(tok))
		}
		second, err := s.Rotate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if second.FamilyID != first.FamilyID || !second.ExpiresAt.Equal(first.ExpiresAt) || second.Credential == first.Credential {
			t.Fatalf("successor %+v of %+v: same family and expiry, new value", second, first)
		}

		// The spent credential: found, but Check reports reuse and a second
		// Rotate with a stale row is refused.
		spent, err := s.Lookup(ctx, "p1", first.Credential)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(spent); !errors.Is(err, refresh.ErrReused) {
			t.Fatalf("check spent credential: %v, want ErrReused", err)
		}
		if _, err := s.Rotate(ctx, tok); !errors.Is(err, refresh.ErrReused) {
			t.Fatalf("rotate a stale row again: %v, want ErrReused", err)
		}
		if n, err := s.RevokeFamily(ctx, first.FamilyID, refresh.ReasonReuse); err != nil || n != 2 {
			t.Fatalf("revoke family: %d %v, want both rows", n, err)
		}
		live, err := s.Lookup(ctx, "p1", second.Credential)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(live); !errors.Is(err, refresh.ErrRevoked) {
			t.Fatalf("successor after the family was revoked: %v, want ErrRevoked", err)
		}
		for _, r := range rows(t, db, first.FamilyID) {
			if r.RevokedAt == nil || r.Reason != refresh.ReasonReuse {
				t.Errorf("row %s: revoked %v reason %q", r.ID, r.RevokedAt, r.Reason)
			}
		}
	})
}

// TestConcurrentRotation: of several requests presenting one credential at
// once, at most one gets a successor; the others see reuse.
func TestConcurrentRotation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ann, _ := fixture(t, db)
		s := refresh.New(db)
		iss, err := s.Issue(ctx, "p1", ann, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Lookup(ctx, "p1", iss.Credential)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, reused := 0, 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func(t0 refresh.Token) {
				defer wg.Done()
				_, err := s.Rotate(ctx, &t0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, refresh.ErrReused):
					reused++
				default:
					t.Errorf("rotate: %v", err)
				}
			}(*tok)
		}
		wg.Wait()
		if won != 1 || reused != 3 {
			t.Fatalf("4 concurrent rotations: %d won, %d reused; want 1 and 3", won, reused)
		}
	})
}

// TestLookupRefusals: malformed, unknown, other project's and tampered
// credentials are all the same ErrInvalid; an expired family is ErrExpired.
func TestLookupRefusals(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ann, _ := fixture(t, db)
		s := refresh.New(db)
		iss, err := s.Issue(ctx, "p1", ann, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tampered := iss.Credential[:len(iss.Credential)-1] + map[bool]string{true: "A", false: "B"}[!strings.HasSuffix(iss.Credential, "A")]
		for name, cred := range map[string]string{
			"empty": "", "no prefix": strings.TrimPrefix(iss.Credential, refresh.Prefix), "short": iss.Credential[:20],
			"bad chars": refresh.Prefix + strings.Repeat("!", 26) + "_" + strings.Repeat("a", 43),
			"unknown":   refresh.Prefix + strings.Repeat("a", 26) + "_" + strings.Repeat("a", 43), "tampered secret": tampered,
		} {
			if _, err := s.Lookup(ctx, "p1", cred); !errors.Is(err, refresh.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		if _, err := s.Lookup(ctx, "p2", iss.Credential); !errors.Is(err, refresh.ErrInvalid) {
			t.Errorf("other project: %v, want ErrInvalid", err)
		}
		later := refresh.New(db)
		later.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
		tok, err := later.Lookup(ctx, "p1", iss.Credential)
		if err != nil {
			t.Fatal(err)
		}
		if err := later.Check(tok); !errors.Is(err, refresh.ErrExpired) {
			t.Fatalf("after the family's lifetime: %v, want ErrExpired", err)
		}
		if _, err := s.Issue(ctx, "p1", ann, 0); err == nil {
			t.Fatal("issue with refresh off succeeded")
		}
	})
}

// TestRevokeUserAndFamilies: an operator's revocation ends every live
// family of one user and no other user's; Families and LiveCounts see only
// live ones; Purge removes long-expired rows.
func TestRevokeUserAndFamilies(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ann, bob := fixture(t, db)
		s := refresh.New(db)
		a1, _ := s.Issue(ctx, "p1", ann, time.Hour)
		if _, err := s.Issue(ctx, "p1", ann, time.Hour); err != nil {
			t.Fatal(err)
		}
		b1, _ := s.Issue(ctx, "p1", bob, time.Hour)
		tok, _ := s.Lookup(ctx, "p1", a1.Credential)
		if _, err := s.Rotate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		fams, err := s.Families(ctx, "p1", ann)
		if err != nil || len(fams) != 2 {
			t.Fatalf("ann's families: %+v %v, want 2", fams, err)
		}
		if fams[0].FamilyID != a1.FamilyID || fams[0].Uses != 1 || fams[0].LastUsedAt == nil {
			t.Errorf("first family %+v: want one use", fams[0])
		}
		counts, err := s.LiveCounts(ctx, "p1", []string{ann, bob, "nobody"})
		if err != nil || counts[ann] != 2 || counts[bob] != 1 || counts["nobody"] != 0 {
			t.Fatalf("live counts %v %v", counts, err)
		}
		n, err := s.RevokeUser(ctx, "p1", ann, refresh.ReasonOperator)
		if err != nil || n != 2 {
			t.Fatalf("revoke ann: %d %v, want 2 sign-ins", n, err)
		}
		if counts, _ := s.LiveCounts(ctx, "p1", []string{ann, bob}); counts[ann] != 0 || counts[bob] != 1 {
			t.Fatalf("after revoking ann: %v", counts)
		}
		if tok, _ := s.Lookup(ctx, "p1", b1.Credential); s.Check(tok) != nil {
			t.Fatal("bob's credential was revoked with ann's")
		}
		if n, err := s.RevokeProject(ctx, "p1", refresh.ReasonProjectDisabled); err != nil || n != 1 {
			t.Fatalf("revoke project: %d %v, want bob's row", n, err)
		}
		if n, err := s.Purge(ctx, time.Now()); err != nil || n != 0 {
			t.Fatalf("purge before expiry: %d %v", n, err)
		}
		if n, err := s.Purge(ctx, time.Now().Add(2*time.Hour)); err != nil || n != 4 {
			t.Fatalf("purge after expiry: %d %v, want all 4 rows", n, err)
		}
	})
}
