package token_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/token"
)

// TestVerifyPinsAlgorithmAndClaims covers the attacks and mistakes a
// verifier must reject, each with a reason a client can act on.
func TestVerifyPinsAlgorithmAndClaims(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	aud := "https://tiledesk.com/projects/A"
	v1 := token.Key{Version: 1, Value: []byte("old-secret-of-project-A-0123456789")}
	v2 := token.Key{Version: 2, Value: []byte("new-secret-of-project-A-0123456789")}
	other := token.Key{Version: 2, Value: []byte("secret-of-project-B-0123456789xx")}
	leeway := 30 * time.Second
	opts := token.VerifyOptions{Audience: aud, Keys: []token.Key{v2, v1}, Leeway: leeway, Now: clock}
	onlyCurrent := token.VerifyOptions{Audience: aud, Keys: []token.Key{v2}, Leeway: leeway, Now: clock} // v1's grace is over

	sign := func(key token.Key, ttl time.Duration, at time.Time) string {
		iss, err := token.Sign(aud, key, token.Identity{ID: "u1", Email: "u1@example.com"}, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		return iss.Raw
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"_id": "u1", "sub": "userexternal", "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	withMethod := func(m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
		tk := jwt.NewWithClaims(m, c)
		if kid != "" {
			tk.Header["kid"] = kid
		}
		raw, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(v2, 10*time.Minute, now)
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"u1"`, `"admin"`, 1))) + "." + parts[2]
	noneRaw := withMethod(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), "v2")

	cases := []struct {
		name   string
		raw    string
		opts   token.VerifyOptions
		reason string // "" = valid
	}{
		{"valid current key", good, opts, ""},
		{"valid previous key in grace", sign(v1, 10*time.Minute, now), opts, ""},
		{"kid of a version whose grace expired", sign(v1, 10*time.Minute, now), onlyCurrent, "unknown or expired key version"},
		{"alg none", noneRaw, opts, "signing algorithm not allowed"},
		{"alg none without kid", withMethod(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), ""), opts, "signing algorithm not allowed"},
		{"RS256 signed", withMethod(jwt.SigningMethodRS256, rsaKey, claims(nil), "v2"), opts, "signing algorithm not allowed"},
		{"HS384", withMethod(jwt.SigningMethodHS384, v2.Value, claims(nil), "v2"), opts, "signing algorithm not allowed"},
		{"HS512", withMethod(jwt.SigningMethodHS512, v2.Value, claims(nil), "v2"), opts, "signing algorithm not allowed"},
		{"HS256 with another project's key", sign(other, 10*time.Minute, now), opts, "signature invalid"},
		{"HS256 with another project's key, no kid", withMethod(jwt.SigningMethodHS256, other.Value, claims(nil), ""), opts, "signature invalid"},
		{"tampered payload", tampered, opts, "signature invalid"},
		{"expired within leeway", sign(v2, time.Minute, now.Add(-time.Minute-20*time.Second)), opts, ""},
		{"expired beyond leeway", sign(v2, time.Minute, now.Add(-time.Minute-31*time.Second)), opts, "token expired"},
		{"issued in the future beyond leeway", sign(v2, 10*time.Minute, now.Add(time.Minute)), opts, "token not valid yet"},
		{"wrong audience", withMethod(jwt.SigningMethodHS256, v2.Value, claims(func(c jwt.MapClaims) { c["aud"] = "https://tiledesk.com/projects/B" }), "v2"), opts, "token is for another audience"},
		{"wrong sub", withMethod(jwt.SigningMethodHS256, v2.Value, claims(func(c jwt.MapClaims) { c["sub"] = "admin" }), "v2"), opts, "sub must be userexternal"},
		{"missing _id", withMethod(jwt.SigningMethodHS256, v2.Value, claims(func(c jwt.MapClaims) { delete(c, "_id") }), "v2"), opts, "_id claim missing"},
		{"missing exp", withMethod(jwt.SigningMethodHS256, v2.Value, claims(func(c jwt.MapClaims) { delete(c, "exp") }), "v2"), opts, "required claim missing"},
		{"garbage", "a.b.c", opts, "malformed token"},
		{"empty", "", opts, "malformed token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := token.Verify(tc.raw, tc.opts)
			if tc.reason == "" {
				if err != nil || c["_id"] != "u1" {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, token.ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if got := token.Reason(err); got != tc.reason {
				t.Fatalf("Reason = %q, want %q (err %v)", got, tc.reason, err)
			}
		})
	}
}

func TestHeaderKeyID(t *testing.T) {
	t.Parallel()
	iss, err := token.Sign("aud", token.Key{Version: 7, Value: []byte("k-0123456789abcdef")}, token.Identity{ID: "x"}, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]string{iss.Raw: "v7", "": "", "!!!.x.y": "", "e30.x.y": "", strings.Repeat("A", 5000) + ".x.y": ""} {
		if got := token.HeaderKeyID(raw); got != want {
			t.Errorf("HeaderKeyID(%.20q) = %q, want %q", raw, got, want)
		}
	}
}

// FuzzVerify: arbitrary input never panics and never verifies without the key.
func FuzzVerify(f *testing.F) {
	key := token.Key{Version: 1, Value: []byte("fuzz-secret-0123456789abcdef")}
	iss, _ := token.Sign("aud", key, token.Identity{ID: "u"}, time.Hour, time.Now())
	for _, s := range []string{iss.Raw, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", iss.Raw + "x", strings.ToUpper(iss.Raw)} {
		f.Add(s)
	}
	wrong := token.VerifyOptions{Audience: "aud", Keys: []token.Key{{Version: 1, Value: []byte("another-key-0123456789abcdef")}}}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := token.Verify(raw, wrong); err == nil {
			t.Fatalf("verified %q with the wrong key", raw)
		}
		_ = token.HeaderKeyID(raw)
		_, _ = token.Verify(raw, token.VerifyOptions{Audience: "aud", Keys: []token.Key{key}})
	})
}
