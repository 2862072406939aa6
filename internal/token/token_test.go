package token_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/token"
)

func TestSignProducesWidgetContractClaims(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	key := token.Key{Version: 3, Value: []byte("project-a-shared-secret-0123456789")}
	id := token.Identity{ID: "123", Firstname: "Andrea", Lastname: "Leo", Email: "user@example.com",
		Attributes: map[string]any{"customAttr": "gold", "sub": "attacker", "_id": "evil", "aud": "x"}}
	aud := "https://tiledesk.com/projects/5c81593adf767b0017d1aa68"
	iss, err := token.Sign(aud, key, id, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	// Decode with a plain golang-jwt parser, as the chat server would.
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(iss.Raw, claims, func(*jwt.Token) (any, error) { return key.Value, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(aud), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("standard verifier rejected token: %v", err)
	}
	if parsed.Header["alg"] != "HS256" || parsed.Header["kid"] != "v3" {
		t.Errorf("header = %v, want alg HS256 kid v3", parsed.Header)
	}
	want := map[string]any{
		"_id": "123", "sub": "userexternal", "aud": aud, "firstname": "Andrea", "lastname": "Leo",
		"email": "user@example.com",
		"iat":   float64(now.Unix()), "exp": float64(now.Add(10 * time.Minute).Unix()),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	// Custom data is one `attributes` object: names inside it never become claims.
	if attrs, _ := claims["attributes"].(map[string]any); attrs["customAttr"] != "gold" || attrs["sub"] != "attacker" || len(attrs) != 4 {
		t.Errorf("attributes = %v", claims["attributes"])
	}
	if claims["customAttr"] != nil || len(claims) != 10 {
		t.Errorf("top-level claims = %v, want exactly the contract's", claims)
	}
	if jti, _ := claims["jti"].(string); len(jti) != 32 || jti != iss.ID {
		t.Errorf("jti = %v, want 32 hex chars equal to %s", claims["jti"], iss.ID)
	}
	if !iss.ExpiresAt.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("ExpiresAt = %v", iss.ExpiresAt)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	now := time.Now()
	keyA := token.Key{Version: 1, Value: []byte("secret-of-project-A-0123456789")}
	keyB := token.Key{Version: 1, Value: []byte("secret-of-project-B-0123456789")}
	audA := "https://tiledesk.com/projects/A"
	good, err := token.Sign(audA, keyA, token.Identity{ID: "u1"}, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := token.Sign(audA, keyA, token.Identity{ID: "u1"}, time.Minute, now.Add(-2*time.Hour))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"_id": "u1", "sub": "userexternal", "aud": audA, "exp": now.Add(time.Hour).Unix()})
	noneRaw, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512 := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"_id": "u1", "sub": "userexternal", "aud": audA, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
	hs512Raw, _ := hs512.SignedString(keyA.Value)
	cases := []struct {
		name string
		raw  string
		opts token.VerifyOptions
		ok   bool
	}{
		{"valid", good.Raw, token.VerifyOptions{Audience: audA, Keys: []token.Key{keyA}}, true},
		{"project B secret cannot verify project A token", good.Raw, token.VerifyOptions{Audience: audA, Keys: []token.Key{keyB}}, false},
		{"wrong audience", good.Raw, token.VerifyOptions{Audience: "https://tiledesk.com/projects/B", Keys: []token.Key{keyA}}, false},
		{"expired", expired.Raw, token.VerifyOptions{Audience: audA, Keys: []token.Key{keyA}}, false},
		{"alg none", noneRaw, token.VerifyOptions{Audience: audA, Keys: []token.Key{keyA}}, false},
		{"HS512 not accepted", hs512Raw, token.VerifyOptions{Audience: audA, Keys: []token.Key{keyA}}, false},
		{"garbage", "not.a.jwt", token.VerifyOptions{Audience: audA, Keys: []token.Key{keyA}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := token.Verify(tc.raw, tc.opts)
			if tc.ok && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tc.ok && (err == nil || !errors.Is(err, token.ErrInvalid)) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
}
