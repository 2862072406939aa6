package idp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/outbound"
)

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestParseJWKSKeepsOnlySafeSignatureKeys(t *testing.T) {
	t.Parallel()
	big2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	x, y := make([]byte, 32), make([]byte, 32)
	ec.X.FillBytes(x)
	ec.Y.FillBytes(y)
	badY := append([]byte(nil), y...)
	badY[31] ^= 1
	e := b64u(big.NewInt(65537).Bytes())
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "good-rsa", "n": b64u(big2048.N.Bytes()), "e": e},
		{"kty": "RSA", "kid": "weak-rsa", "n": b64u(small.N.Bytes()), "e": e},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64u(big2048.N.Bytes()), "e": e},
		{"kty": "oct", "kid": "hmac", "k": b64u([]byte("symmetric-secret-must-never-be-used"))},
		{"kty": "EC", "kid": "good-ec", "crv": "P-256", "x": b64u(x), "y": b64u(y)},
		{"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": b64u(x), "y": b64u(badY)},
		{"kty": "EC", "kid": "bad-crv", "crv": "P-521", "x": b64u(x), "y": b64u(y)},
	}})
	keys, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, k := range keys {
		got[k.kid] = true
	}
	if len(got) != 2 || !got["good-rsa"] || !got["good-ec"] {
		t.Fatalf("usable keys = %v, want good-rsa and good-ec only", got)
	}
	for _, tc := range []struct {
		kid, alg string
		want     bool
	}{{"good-rsa", "RS256", true}, {"good-rsa", "ES256", false}, {"good-ec", "ES256", true}, {"good-ec", "ES384", false}, {"good-ec", "HS256", false}} {
		if n := len(match(keys, tc.kid, tc.alg)); (n == 1) != tc.want {
			t.Errorf("match(%s, %s) = %d keys, want fit=%v", tc.kid, tc.alg, n, tc.want)
		}
	}
	if _, err := ParseJWKS([]byte("nope")); err == nil {
		t.Fatal("garbage JWKS accepted")
	}
}

// TestUnknownKidRefetchIsRateLimited: a flood of forged kids causes at most
// one JWKS fetch per MinRefetch window.
func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "k1", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}}})
	}))
	defer srv.Close()
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	loopback := outbound.New(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}})
	c := NewJWKSCache(JWKSOptions{Client: loopback, MinRefetch: 30 * time.Second, MaxAge: time.Hour, Now: clock})
	ctx := context.Background()
	if ks, err := c.Keys(ctx, srv.URL, "k1", "RS256"); err != nil || len(ks) != 1 {
		t.Fatalf("first fetch: %v %d", err, len(ks))
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ks, _ := c.Keys(ctx, srv.URL, "forged-"+string(rune('a'+i%26)), "RS256"); len(ks) != 0 {
				t.Error("forged kid matched a key")
			}
		}()
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within the rate-limit window, want 1", n)
	}
	advance(31 * time.Second)
	_, _ = c.Keys(ctx, srv.URL, "forged", "RS256")
	_, _ = c.Keys(ctx, srv.URL, "forged2", "RS256")
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the window, want 2", n)
	}
	// Known kids never refetch until MaxAge.
	advance(59 * time.Minute)
	_, _ = c.Keys(ctx, srv.URL, "k1", "RS256")
	if n := fetches.Load(); n != 2 {
		t.Fatalf("known kid refetched: %d", n)
	}
	advance(2 * time.Minute)
	_, _ = c.Keys(ctx, srv.URL, "k1", "RS256")
	if n := fetches.Load(); n != 3 {
		t.Fatalf("stale set not refreshed after MaxAge: %d fetches", n)
	}
}

func TestValidateJWKSURL(t *testing.T) {
	t.Parallel()
	strict := outbound.Policy{}
	loop := outbound.Policy{AllowHTTPLoopback: true}
	for _, tc := range []struct {
		p    outbound.Policy
		url  string
		want string // "" accepted, else a piece of the message
	}{
		{strict, "https://idp.example.com/.well-known/jwks.json", ""},
		{loop, "https://idp.example.com/.well-known/jwks.json", ""},
		{strict, "http://127.0.0.1:8080/jwks", "must use https"},
		{strict, "http://localhost/jwks", "must use https"},
		{loop, "http://127.0.0.1:8080/jwks", ""},
		{loop, "http://localhost/jwks", ""},
		{strict, "http://idp.example.com/jwks", "must use https"},
		{loop, "http://idp.example.com/jwks", "http is accepted only for loopback"},
		{strict, "https://127.0.0.1/jwks", "must not point to a loopback"},
		{strict, "https://169.254.169.254/latest/meta-data/", "must not point to a loopback"},
		{strict, "https://[::ffff:10.0.0.1]/jwks", "must not point to a loopback"},
		{outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "https://10.1.2.3/jwks", ""},
		{strict, "ftp://idp.example.com/jwks", "must use https"},
		{strict, "https://user:pw@idp.example.com/jwks", "absolute https URL"},
		{strict, "https://idp.example.com/jwks#frag", "absolute https URL"},
		{strict, "/jwks", "absolute https URL"},
	} {
		err := ValidateJWKSURL(tc.url, tc.p)
		if tc.want == "" {
			if err != nil {
				t.Errorf("ValidateJWKSURL(%q, %+v) = %v, want ok", tc.url, tc.p, err)
			}
			continue
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || !errors.Is(err, apperr.ErrInvalid) || ae.Field != "jwks_url" || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("ValidateJWKSURL(%q, %+v) = %v, want a jwks_url 4xx saying %q", tc.url, tc.p, err, tc.want)
		}
	}
}
