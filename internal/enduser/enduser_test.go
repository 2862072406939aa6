package enduser_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestHasherRoundTripAndParams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := enduser.NewHasher(enduser.TestParams, 2)
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not argon2id PHC", enc)
	}
	if rehash, err := h.Verify(ctx, enc, "correct horse"); err != nil || rehash {
		t.Fatalf("verify = %v rehash=%v", err, rehash)
	}
	if _, err := h.Verify(ctx, enc, "wrong horse"); !errors.Is(err, enduser.ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	stronger := enduser.NewHasher(enduser.Params{MemoryKiB: 128, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)
	if rehash, err := stronger.Verify(ctx, enc, "correct horse"); err != nil || !rehash {
		t.Fatalf("old params must ask for rehash: %v %v", err, rehash)
	}
	for _, bad := range []string{"$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2i$x", "plain", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43)} {
		if _, err := h.Verify(ctx, bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	if h2 := enduser.NewHasher(enduser.OWASPParams, 1); h2.Params().MemoryKiB != 19456 || h2.Params().Iterations != 2 {
		t.Errorf("OWASP params = %+v", h2.Params())
	}
}

func newRepo(t *testing.T, db *store.DB) *enduser.Repo {
	t.Helper()
	ctx := context.Background()
	pr := project.NewRepo(db)
	if _, err := pr.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2"} {
		if err := pr.Create(ctx, &project.Project{ID: id, TenantID: "acme", Name: id, TokenTTLSeconds: 60}); err != nil {
			t.Fatal(err)
		}
	}
	return enduser.NewRepo(db, enduser.NewHasher(enduser.TestParams, 2), nil)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRepo(t, db)
		u := &enduser.User{ProjectID: "p1", Email: "User@Example.com", Username: "andrea", Firstname: "Andrea", Enabled: true}
		if err := r.Create(ctx, u, "correct horse"); err != nil {
			t.Fatal(err)
		}
		if u.Email != "user@example.com" || u.ExternalID != "user@example.com" || u.PasswordHash == "" {
			t.Fatalf("normalised user = %+v", u)
		}
		off := &enduser.User{ProjectID: "p1", Email: "off@example.com", Enabled: false}
		if err := r.Create(ctx, off, "correct horse"); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, project, login, pw string
			ok                       bool
		}{
			{"email", "p1", "user@example.com", "correct horse", true},
			{"email case-insensitive", "p1", "USER@example.com", "correct horse", true},
			{"username", "p1", "andrea", "correct horse", true},
			{"wrong password", "p1", "user@example.com", "wrong horse", false},
			{"unknown user", "p1", "nobody@example.com", "correct horse", false},
			{"other project", "p2", "user@example.com", "correct horse", false},
			{"disabled", "p1", "off@example.com", "correct horse", false},
		}
		for _, tc := range cases {
			got, err := r.Authenticate(ctx, tc.project, tc.login, tc.pw)
			if tc.ok {
				if err != nil || got.ID != u.ID {
					t.Errorf("%s: got %v, %v", tc.name, got, err)
				}
				continue
			}
			// Every failure is the same error: no user enumeration.
			if err != enduser.ErrBadCredentials {
				t.Errorf("%s: err = %v, want ErrBadCredentials", tc.name, err)
			}
		}
	})
}

func TestRehashOnLoginAndBcryptImport(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRepo(t, db)
		legacy, _ := bcrypt.GenerateFromPassword([]byte("imported pw"), bcrypt.MinCost)
		u := &enduser.User{ProjectID: "p1", Email: "legacy@example.com", Enabled: true, PasswordHash: string(legacy)}
		if err := r.Create(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Authenticate(ctx, "p1", "legacy@example.com", "imported pw"); err != nil {
			t.Fatal(err)
		}
		stored, _ := r.Get(ctx, "p1", u.ID)
		if !strings.HasPrefix(stored.PasswordHash, "$argon2id$") {
			t.Fatalf("bcrypt hash was not upgraded: %s", stored.PasswordHash[:8])
		}
		if _, err := r.Authenticate(ctx, "p1", "legacy@example.com", "imported pw"); err != nil {
			t.Fatalf("login after rehash: %v", err)
		}
	})
}

func TestCreateValidationAndConflicts(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRepo(t, db)
		if err := r.Create(ctx, &enduser.User{ProjectID: "p1", Email: "a@example.com", Enabled: true}, "longenough"); err != nil {
			t.Fatal(err)
		}
		bad := []struct {
			u    enduser.User
			pw   string
			kind error
		}{
			{enduser.User{ProjectID: "p1", Email: "a@example.com"}, "longenough", apperr.ErrConflict},
			{enduser.User{ProjectID: "p1", Email: "not-an-email"}, "longenough", apperr.ErrInvalid},
			{enduser.User{ProjectID: "p1", Email: "b@example.com"}, "short", apperr.ErrInvalid},
			{enduser.User{ProjectID: "p1"}, "longenough", apperr.ErrInvalid},
			{enduser.User{ProjectID: "p1", ExternalID: "has space"}, "", apperr.ErrInvalid},
		}
		for i, tc := range bad {
			u := tc.u
			if err := r.Create(ctx, &u, tc.pw); !errors.Is(err, tc.kind) {
				t.Errorf("case %d: err = %v, want %v", i, err, tc.kind)
			}
		}
		// Same email in another project is fine: projects are isolated.
		if err := r.Create(ctx, &enduser.User{ProjectID: "p2", Email: "a@example.com", Enabled: true}, "longenough"); err != nil {
			t.Fatalf("same email in other project: %v", err)
		}
	})
}

func TestListSearchAndPaging(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRepo(t, db)
		for i := 0; i < 7; i++ {
			u := &enduser.User{ProjectID: "p1", Email: fmt.Sprintf("user%d@example.com", i), Lastname: map[bool]string{true: "Rossi", false: "Bianchi"}[i%2 == 0], Enabled: true}
			if err := r.Create(ctx, u, ""); err != nil {
				t.Fatal(err)
			}
		}
		first, total, err := r.List(ctx, "p1", enduser.ListOptions{Page: paging.Request{Limit: 3}})
		if err != nil || total.Count != 7 || !total.Exact || len(first.Items) != 3 || first.Next == "" {
			t.Fatalf("page = %v total=%v err=%v", first, total, err)
		}
		page, _, err := r.List(ctx, "p1", enduser.ListOptions{Page: paging.Request{Limit: 3, Cursor: first.Next}})
		if err != nil || len(page.Items) != 3 || page.Items[0].Email != "user3@example.com" {
			t.Fatalf("page = %v err=%v", page, err)
		}
		hits, total, _ := r.List(ctx, "p1", enduser.ListOptions{Search: "rossi"})
		if total.Count != 4 || len(hits.Items) != 4 {
			t.Fatalf("search rossi: %v hits", total)
		}
		if _, total, _ := r.List(ctx, "p1", enduser.ListOptions{Search: "%"}); total.Count != 0 {
			t.Fatalf("%% must be literal in search, got %v", total)
		}
	})
}
