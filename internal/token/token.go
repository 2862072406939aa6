// Package token issues and verifies the HS256 JWTs that the Pingstreams
// widget accepts (see shared/PROTOCOL.md): claims _id, sub "userexternal",
// aud "<base>/projects/<projectId>", optional firstname/lastname/email and
// phone, one `attributes` object, plus iat, exp and jti (claims.go: the
// claims policy). The algorithm is pinned to HS256.
package token

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Subject is the fixed `sub` claim for externally authenticated users.
const Subject = "userexternal"

// Algorithm is the only signing algorithm issued or accepted.
const Algorithm = "HS256"

// reserved are the names of standard and chat-server claims. Attributes
// live inside the `attributes` object, so none of them can reach the top
// level (claims.go); an allow-list entry or override named like one is
// still refused, because it reads as an attempt to set that claim.
var reserved = map[string]bool{
	"_id": true, "sub": true, "aud": true, "iss": true, "iat": true, "exp": true, "nbf": true, "jti": true,
	"firstname": true, "lastname": true, "email": true, "phone": true, "attributes": true,
}

// A site's own role data may live in attributes under "role": it is inert
// there on the chat server (only a top-level `role` is privileged, and Sign
// never emits one); the chat-server contract tests check this.

// IsReserved reports whether name is a claim name that an attribute may not take.
func IsReserved(name string) bool { return reserved[name] }

// Key is one version of a project's shared secret.
type Key struct {
	Version int
	Value   []byte
}

// KeyID is the `kid` header carrying the secret version.
func (k Key) KeyID() string { return "v" + strconv.Itoa(k.Version) }

// Identity is the end-user the token speaks for.
type Identity struct {
	ID        string `json:"_id"`
	Firstname string `json:"firstname,omitempty"`
	Lastname  string `json:"lastname,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	// Attributes become the token's `attributes` object (never top-level claims).
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Issued is a signed token.
type Issued struct {
	Raw       string
	ID        string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Sign returns an HS256 token for id, valid for ttl, for the given audience.
func Sign(audience string, key Key, id Identity, ttl time.Duration, now time.Time) (Issued, error) {
	return sign(audience, key, id, ttl, now) // encode.go
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Audience string
	// Keys are the secret versions allowed to verify (current + in grace).
	Keys   []Key
	Leeway time.Duration
	Now    func() time.Time
}

// ErrInvalid wraps every verification failure.
var ErrInvalid = errors.New("token invalid")

// Verify checks signature (HS256 only), audience, sub, exp/iat and returns the claims.
// When the token's kid names a version, only that version's key is tried.
func Verify(raw string, o VerifyOptions) (jwt.MapClaims, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{Algorithm}),
		jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(o.Leeway),
	}
	if o.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(o.Now))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, ok := t.Header["kid"].(string); ok && kid != "" {
			for _, k := range o.Keys {
				if k.KeyID() == kid {
					return k.Value, nil
				}
			}
			return nil, fmt.Errorf("unknown or expired key version %q", kid)
		}
		set := jwt.VerificationKeySet{}
		for _, k := range o.Keys {
			set.Keys = append(set.Keys, k.Value)
		}
		if len(set.Keys) == 0 {
			return nil, errors.New("no verification keys")
		}
		return set, nil
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if sub, _ := claims["sub"].(string); sub != Subject {
		return nil, fmt.Errorf("%w: sub must be %q", ErrInvalid, Subject)
	}
	if id, _ := claims["_id"].(string); strings.TrimSpace(id) == "" {
		return nil, fmt.Errorf("%w: missing _id", ErrInvalid)
	}
	return claims, nil
}
