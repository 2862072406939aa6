package idp_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

const (
	hsIss = "https://login.shop.example"
	hsAud = "shop-web"
	// cfgTTL is PINGAUTH_CACHE_TTL's default: before the HS secret had its
	// own cache, it was re-read from the store whenever the config expired.
	cfgTTL = 10 * time.Second
)

// fakeClock is a manually advanced clock shared by the verifiers and the
// tokens, so no test waits for a cache to expire.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type hsEnv struct {
	clock   *fakeClock
	backend *secrettest.Switchable
	db      *store.DB
}

func newHSEnv(t *testing.T, db *store.DB, projects ...string) *hsEnv {
	t.Helper()
	ctx := context.Background()
	sealed, err := secret.NewSealed(db, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pr := project.NewRepo(db)
	if _, err := pr.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	for _, id := range projects {
		if err := pr.Create(ctx, &project.Project{ID: id, TenantID: "acme", Name: id, TokenTTLSeconds: 600}); err != nil {
			t.Fatal(err)
		}
	}
	return &hsEnv{clock: &fakeClock{t: time.Now()}, backend: &secrettest.Switchable{Backend: sealed}, db: db}
}

// verifier is one process's view: its own config and HS secret caches over
// the shared database and secret backend.
func (e *hsEnv) verifier(t *testing.T) *idp.Verifier {
	t.Helper()
	v := idp.NewVerifier(idp.NewRepo(e.db, e.backend), idp.NewJWKSCache(idp.JWKSOptions{}), cache.Options{TTL: cfgTTL, MaxEntries: 1000}, e.clock.Now)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func (e *hsEnv) token(t *testing.T, key string) string {
	t.Helper()
	now := e.clock.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": hsIss, "aud": hsAud, "sub": "u-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hsConfig(pid string) *idp.Config {
	return &idp.Config{ProjectID: pid, Issuer: hsIss, Audiences: []string{hsAud}}
}

func put(t *testing.T, v *idp.Verifier, pid, key string) {
	t.Helper()
	if err := v.Put(context.Background(), hsConfig(pid), []byte(key), "test"); err != nil {
		t.Fatalf("put HS secret of %s: %v", pid, err)
	}
}

func mustVerify(t *testing.T, v *idp.Verifier, pid, tok, when string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), pid, tok); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}

func mustReject(t *testing.T, v *idp.Verifier, pid, tok string, kind error, when string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), pid, tok); !errors.Is(err, kind) {
		t.Fatalf("%s: got %v, want %v", when, err, kind)
	}
}

// An HS secret that was loaded once keeps verifying while the secret store
// is down — past the config TTL (the old 10 s window) and past the HS secret
// cache's own TTL — like the projects' signing secrets.
func TestHSSecretServedFromCacheDuringStoreOutage(t *testing.T) {
	t.Parallel()
	const s1 = "hs-secret-one-0123456789abcdef-0123456789"
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newHSEnv(t, db, "shop", "fresh")
		v := e.verifier(t)
		put(t, v, "shop", s1)
		put(t, v, "fresh", s1) // configured, never used by this process
		mustVerify(t, v, "shop", e.token(t, s1), "store up")

		e.backend.SetDown(true)
		e.clock.Advance(cfgTTL + time.Second)
		mustVerify(t, v, "shop", e.token(t, s1), "store down, config expired")
		e.clock.Advance(idp.DefaultHSSecretTTL)
		mustVerify(t, v, "shop", e.token(t, s1), "store down, cached HS secret expired (refresh fails)")
		mustVerify(t, v, "shop", e.token(t, s1), "store down, refresh backing off")

		// Never cached: a clear 503-kind error, nothing about the backend.
		_, err := v.Verify(context.Background(), "fresh", e.token(t, s1))
		var ae *apperr.Error
		if !errors.Is(err, apperr.ErrUnavailable) || !errors.As(err, &ae) || ae.Message != "secret store unavailable; try again later" {
			t.Fatalf("never-cached project, store down: got %v, want %v with a clear message", err, apperr.ErrUnavailable)
		}

		// A change attempted during the outage fails as unavailable and
		// changes nothing: the cached secret keeps serving.
		if err := v.Put(context.Background(), hsConfig("shop"), []byte("hs-secret-two-0123456789abcdef-0123456789"), "test"); !errors.Is(err, apperr.ErrUnavailable) {
			t.Fatalf("put during outage: %v", err)
		}
		mustVerify(t, v, "shop", e.token(t, s1), "after a failed change during the outage")

		e.backend.SetDown(false)
		mustVerify(t, v, "fresh", e.token(t, s1), "never-cached project, store back")
	})
}

// Changes through this Verifier apply at once; changes by another process
// (its own Verifier over the same database and store) within the config TTL.
func TestHSSecretChangesAreSeen(t *testing.T) {
	t.Parallel()
	const (
		s1 = "hs-secret-one-0123456789abcdef-0123456789"
		s2 = "hs-secret-two-0123456789abcdef-0123456789"
		s3 = "hs-secret-three-0123456789abcdef-01234567"
	)
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newHSEnv(t, db, "shop")
		v, other := e.verifier(t), e.verifier(t)
		put(t, v, "shop", s1)
		mustVerify(t, v, "shop", e.token(t, s1), "s1")

		// The store goes down and comes back: nothing is stuck on the old value.
		e.backend.SetDown(true)
		e.clock.Advance(idp.DefaultHSSecretTTL + time.Second)
		mustVerify(t, v, "shop", e.token(t, s1), "store down")
		e.backend.SetDown(false)

		// In this process: at once.
		put(t, v, "shop", s2)
		mustReject(t, v, "shop", e.token(t, s1), apperr.ErrUnauthorized, "replaced s1, same process")
		mustVerify(t, v, "shop", e.token(t, s2), "s2, same process")

		// In another process: within the config TTL.
		put(t, other, "shop", s3)
		e.clock.Advance(cfgTTL)
		mustVerify(t, v, "shop", e.token(t, s3), "s3 from another process")
		mustReject(t, v, "shop", e.token(t, s2), apperr.ErrUnauthorized, "replaced s2, other process")

		// Switching to a JWKS in another process: the HS secret stops verifying.
		if err := other.Put(context.Background(), &idp.Config{ProjectID: "shop", Issuer: hsIss, Audiences: []string{hsAud},
			JWKSURL: "https://login.shop.example/jwks"}, nil, "test"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(cfgTTL)
		if _, err := v.Verify(context.Background(), "shop", e.token(t, s3)); !errors.Is(err, apperr.ErrUnauthorized) ||
			!strings.Contains(err.Error(), "algorithm not allowed") {
			t.Fatalf("HS token after the switch to JWKS: got %v, want %v (algorithm not allowed)", err, apperr.ErrUnauthorized)
		}

		// Deleted in this process: at once.
		put(t, v, "shop", s1)
		mustVerify(t, v, "shop", e.token(t, s1), "s1 again")
		if err := v.Delete(context.Background(), "shop"); err != nil {
			t.Fatal(err)
		}
		mustReject(t, v, "shop", e.token(t, s1), apperr.ErrUnavailable, "after delete")
	})
}
