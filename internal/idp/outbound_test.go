package idp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/outbound"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// syncBuf collects log output written from several goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const unavailableMsg = "could not fetch the identity provider's keys; try again later"

// The scenario: a tenant admin's JWKS URL on 127.0.0.1 redirects
// to another host, which serves a key the attacker holds. The redirect is
// not followed and the attacker's token is not trusted; the reason is in
// the log, while the caller (the HTTP layer) gets a message that names no
// host, address or redirect.
func TestJWKSRedirectToAnotherHostIsNotTrusted(t *testing.T) {
	t.Parallel()
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	var attackerHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attackerHits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "k1", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(attacker.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(attacker.E)).Bytes())}}})
	}))
	defer evil.Close()
	_, evilPort, _ := net.SplitHostPort(evil.Listener.Addr().String())
	evilURL := "http://localhost:" + evilPort + "/jwks"
	redirector := httptest.NewServer(http.RedirectHandler(evilURL, http.StatusFound))
	defer redirector.Close()

	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newHSEnv(t, db, "shop")
		logs := &syncBuf{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		client := outbound.New(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}, Log: log})
		jwks := idp.NewJWKSCache(idp.JWKSOptions{Client: client, Log: log})
		v := idp.NewVerifier(idp.NewRepo(e.db, e.backend, idp.WithURLPolicy(jwks.Policy())), jwks, cache.Options{TTL: cfgTTL, MaxEntries: 1000}, e.clock.Now)
		t.Cleanup(func() { _ = v.Close() })
		cfg := &idp.Config{ProjectID: "shop", Issuer: hsIss, Audiences: []string{hsAud}, JWKSURL: redirector.URL + "/jwks", Algorithms: []string{"RS256"}}
		if err := v.Put(context.Background(), cfg, nil, "tenant-admin"); err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": hsIss, "aud": hsAud, "sub": "admin", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		tok.Header["kid"] = "k1"
		raw, err := tok.SignedString(attacker)
		if err != nil {
			t.Fatal(err)
		}

		claims, err := v.Verify(context.Background(), "shop", raw)
		if err == nil {
			t.Fatalf("the attacker's token verified (claims %v): the redirect was followed", claims)
		}
		if n := attackerHits.Load(); n != 0 {
			t.Fatalf("the redirect target was fetched %d times", n)
		}
		// For code: the reason is there.
		if !errors.Is(err, outbound.ErrRedirect) || !errors.Is(err, apperr.ErrUnavailable) {
			t.Fatalf("err = %v, want an unavailable error caused by a refused redirect", err)
		}
		// For the HTTP caller: the client-safe message, nothing else.
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Message != unavailableMsg {
			t.Fatalf("caller-facing message = %v, want %q", err, unavailableMsg)
		}
		// For the operator: the log says what happened and where.
		l := logs.String()
		if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "redirect refused") || !strings.Contains(l, "localhost:"+evilPort) {
			t.Fatalf("the refused redirect is not logged: %s", l)
		}
	})
}

// Under the production policy (the default), a JWKS URL on loopback cannot
// be saved, and one stored before — by an older version, or another
// process with a looser policy — is refused at fetch time.
func TestJWKSOnLoopbackRefusedByDefault(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer plain.Close()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newHSEnv(t, db, "shop", "legacy-http", "legacy-https")
		logs := &syncBuf{}
		v := idp.NewVerifier(idp.NewRepo(e.db, e.backend), idp.NewJWKSCache(idp.JWKSOptions{Log: slog.New(slog.NewTextHandler(logs, nil))}), cache.Options{TTL: cfgTTL, MaxEntries: 1000}, e.clock.Now)
		t.Cleanup(func() { _ = v.Close() })
		for _, u := range []string{plain.URL + "/jwks", srv.URL + "/jwks", "https://169.254.169.254/jwks"} {
			err := v.Put(context.Background(), &idp.Config{ProjectID: "shop", Issuer: hsIss, Audiences: []string{hsAud}, JWKSURL: u}, nil, "tenant-admin")
			var ae *apperr.Error
			if !errors.Is(err, apperr.ErrInvalid) || !errors.As(err, &ae) || ae.Field != "jwks_url" {
				t.Fatalf("saving jwks_url %s: %v, want a 4xx naming jwks_url", u, err)
			}
		}
		for pid, u := range map[string]string{"legacy-http": plain.URL + "/jwks", "legacy-https": srv.URL + "/jwks"} {
			if err := db.Create(&idp.Config{ProjectID: pid, Issuer: hsIss, Audiences: []string{hsAud}, JWKSURL: u, Algorithms: []string{"RS256"}}).Error; err != nil {
				t.Fatal(err)
			}
			k, _ := rsa.GenerateKey(rand.Reader, 2048)
			now := e.clock.Now()
			raw, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": hsIss, "aud": hsAud, "sub": "x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString(k)
			_, err := v.Verify(context.Background(), pid, raw)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Message != unavailableMsg || !errors.Is(err, outbound.ErrFailed) {
				t.Fatalf("%s: %v", pid, err)
			}
		}
		if hits.Load() != 0 {
			t.Fatal("a loopback JWKS was fetched")
		}
		if l := logs.String(); !strings.Contains(l, "scheme not allowed") || !strings.Contains(l, "destination address not allowed") {
			t.Fatalf("the reasons are not logged: %s", l)
		}
	})
}
