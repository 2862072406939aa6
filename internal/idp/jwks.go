package idp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pingstreams/pingauth/internal/outbound"
)

// maxJWKSBytes bounds a JWKS document.
const maxJWKSBytes = 1 << 20

// PublicKey is one usable verification key from a JWKS (what ParseJWKS
// and JWKSCache.Keys return).
type PublicKey struct {
	kid string
	alg string // the JWK's "alg", "" when absent
	key crypto.PublicKey
}

// fitsAlg reports whether k may verify a token signed with alg.
func (k PublicKey) fitsAlg(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := k.key.(*rsa.PublicKey)
		return ok
	case "ES256":
		ek, ok := k.key.(*ecdsa.PublicKey)
		return ok && ek.Curve == elliptic.P256()
	case "ES384":
		ek, ok := k.key.(*ecdsa.PublicKey)
		return ok && ek.Curve == elliptic.P384()
	}
	return false
}

type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS returns the usable signature keys of a JWKS document. Symmetric
// ("oct") keys, encryption keys, weak RSA keys and points off the curve are
// skipped, never trusted.
func ParseJWKS(data []byte) ([]PublicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks: not a JSON key set: %w", err)
	}
	var out []PublicKey
	for _, raw := range doc.Keys {
		var j rawJWK
		if json.Unmarshal(raw, &j) != nil || (j.Use != "" && j.Use != "sig") {
			continue
		}
		k, err := j.publicKey()
		if err != nil {
			continue
		}
		out = append(out, PublicKey{kid: j.Kid, alg: j.Alg, key: k})
	}
	return out, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func (j rawJWK) publicKey() (crypto.PublicKey, error) {
	switch j.Kty {
	case "RSA":
		nb, err := b64(j.N)
		if err != nil {
			return nil, err
		}
		eb, err := b64(j.E)
		if err != nil || len(eb) == 0 || len(eb) > 4 {
			return nil, errors.New("bad exponent")
		}
		n := new(big.Int).SetBytes(nb)
		if n.BitLen() < 2048 || n.BitLen() > 8192 {
			return nil, errors.New("RSA key size out of range")
		}
		e := int(new(big.Int).SetBytes(eb).Int64())
		if e < 3 || e%2 == 0 {
			return nil, errors.New("bad exponent")
		}
		return &rsa.PublicKey{N: n, E: e}, nil
	case "EC":
		var curve elliptic.Curve
		size := 0
		switch j.Crv {
		case "P-256":
			curve, size = elliptic.P256(), 32
		case "P-384":
			curve, size = elliptic.P384(), 48
		default:
			return nil, errors.New("unsupported curve")
		}
		xb, err1 := b64(j.X)
		yb, err2 := b64(j.Y)
		if err1 != nil || err2 != nil || len(xb) != size || len(yb) != size {
			return nil, errors.New("bad EC point")
		}
		// ParseUncompressedPublicKey rejects points off the curve (and the
		// point at infinity); it replaces setting the deprecated X/Y fields.
		uncompressed := append(append([]byte{4}, xb...), yb...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, uncompressed)
		if err != nil {
			return nil, errors.New("EC point not on curve")
		}
		return pub, nil
	}
	return nil, errors.New("unsupported key type")
}

// jwksSet is the cached key set of one JWKS URL.
type jwksSet struct {
	mu          sync.Mutex
	keys        []PublicKey
	fetched     time.Time // last successful fetch
	lastAttempt time.Time
}

// JWKSCache fetches and caches key sets by URL. A set is refreshed when
// older than maxAge; an unknown kid triggers a refetch, at most once per
// minRefetch per URL, so forged kids cannot make us hammer the IdP.
type JWKSCache struct {
	client     *outbound.Client
	maxAge     time.Duration
	minRefetch time.Duration
	log        *slog.Logger
	now        func() time.Time

	mu    sync.Mutex
	sets  map[string]*jwksSet
	group singleflight.Group
}

// JWKSOptions configure a JWKSCache; zero values pick defaults.
type JWKSOptions struct {
	// Client fetches key sets. Default: the strict outbound policy (https,
	// public addresses only, no redirects). Tests serving a JWKS from
	// httptest pass one with Policy.AllowHTTPLoopback.
	Client     *outbound.Client
	MaxAge     time.Duration // default 1h
	MinRefetch time.Duration // default 30s
	Log        *slog.Logger
	Now        func() time.Time
}

// NewJWKSCache returns a cache.
func NewJWKSCache(o JWKSOptions) *JWKSCache {
	if o.MaxAge <= 0 {
		o.MaxAge = time.Hour
	}
	if o.MinRefetch <= 0 {
		o.MinRefetch = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = outbound.New(outbound.Options{MaxBodyBytes: maxJWKSBytes, Log: o.Log})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &JWKSCache{client: o.Client, maxAge: o.MaxAge, minRefetch: o.MinRefetch, log: o.Log, now: o.Now, sets: map[string]*jwksSet{}}
}

func (c *JWKSCache) set(url string) *jwksSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sets[url]
	if !ok {
		s = &jwksSet{}
		c.sets[url] = s
	}
	return s
}

// Keys returns the keys of url fitting alg (and kid when non-empty).
// It fetches when the set is absent or stale, and refetches (rate-limited)
// when kid is unknown.
func (c *JWKSCache) Keys(ctx context.Context, url, kid, alg string) ([]PublicKey, error) {
	s := c.set(url)
	s.mu.Lock()
	keys, fetched, lastAttempt := s.keys, s.fetched, s.lastAttempt
	s.mu.Unlock()
	now := c.now()
	need := fetched.IsZero() || now.Sub(fetched) > c.maxAge
	if !need && kid != "" && len(match(keys, kid, alg)) == 0 {
		need = true // key rollover: the IdP may have published a new key
	}
	if need && (lastAttempt.IsZero() || now.Sub(lastAttempt) >= c.minRefetch) {
		if err := c.refresh(ctx, url, s); err != nil {
			if len(keys) == 0 {
				return nil, err
			}
			c.log.Warn("JWKS refresh failed; using cached keys", "jwks_url", url, "error", err.Error())
		}
		s.mu.Lock()
		keys = s.keys
		s.mu.Unlock()
	}
	return match(keys, kid, alg), nil
}

func match(keys []PublicKey, kid, alg string) []PublicKey {
	var out []PublicKey
	for _, k := range keys {
		if (kid == "" || k.kid == kid) && k.fitsAlg(alg) {
			out = append(out, k)
		}
	}
	return out
}

func (c *JWKSCache) refresh(ctx context.Context, url string, s *jwksSet) error {
	_, err, _ := c.group.Do(url, func() (any, error) {
		s.mu.Lock()
		if !s.lastAttempt.IsZero() && c.now().Sub(s.lastAttempt) < c.minRefetch {
			s.mu.Unlock()
			return nil, nil // someone just fetched
		}
		s.lastAttempt = c.now()
		s.mu.Unlock()
		keys, err := c.fetch(context.WithoutCancel(ctx), url)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.keys, s.fetched = keys, c.now()
		s.mu.Unlock()
		return nil, nil
	})
	return err
}

func (c *JWKSCache) fetch(ctx context.Context, url string) ([]PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	// The outbound client refuses redirects, internal addresses and plain
	// http, bounds the body and logs the reason of a failure; its error
	// says only "outbound request failed".
	resp, err := c.client.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("jwks: fetch %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: fetch %s: HTTP %d", url, resp.StatusCode)
	}
	data := resp.Body
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks: %s is larger than %d bytes", url, maxJWKSBytes)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks: %s has no usable signature keys", url)
	}
	return keys, nil
}

// Policy is the outbound policy the key sets are fetched under; a JWKS URL
// is validated against it when it is configured.
func (c *JWKSCache) Policy() outbound.Policy { return c.client.Policy() }

// Forget drops the cached set of url (the config changed).
func (c *JWKSCache) Forget(url string) {
	c.mu.Lock()
	delete(c.sets, url)
	c.mu.Unlock()
}
