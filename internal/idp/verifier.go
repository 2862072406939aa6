package idp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// MaxTokenLen bounds upstream tokens.
const MaxTokenLen = 16 << 10

// Verifier checks upstream tokens against the project's issuer. Configs (and
// HS secrets) are cached in memory for ttl and dropped at once on Put/Delete
// through this Verifier.
type Verifier struct {
	repo *Repo
	jwks *JWKSCache
	ttl  time.Duration
	now  func() time.Time

	mu      sync.RWMutex
	configs map[string]*cfgEntry
	group   singleflight.Group
}

type cfgEntry struct {
	cfg     *Config // nil: none configured
	hsKey   []byte
	fetched time.Time
}

// NewVerifier returns a verifier.
func NewVerifier(repo *Repo, jwks *JWKSCache, ttl time.Duration, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{repo: repo, jwks: jwks, ttl: ttl, now: now, configs: map[string]*cfgEntry{}}
}

// Repo returns the config repository.
func (v *Verifier) Repo() *Repo { return v.repo }

func (v *Verifier) config(ctx context.Context, projectID string) (*cfgEntry, error) {
	v.mu.RLock()
	e, ok := v.configs[projectID]
	v.mu.RUnlock()
	if ok && v.now().Sub(e.fetched) < v.ttl {
		return e, nil
	}
	res, err, _ := v.group.Do(projectID, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		ne := &cfgEntry{fetched: v.now()}
		c, err := v.repo.Get(ctx, projectID)
		switch {
		case errors.Is(err, apperr.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			ne.cfg = c
			if c.Symmetric() {
				k, err := v.repo.hsSecret(ctx, c)
				if err != nil {
					return nil, err
				}
				ne.hsKey = k
			}
		}
		v.mu.Lock()
		v.configs[projectID] = ne
		v.mu.Unlock()
		return ne, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*cfgEntry), nil
}

// Invalidate drops the cached config of projectID.
func (v *Verifier) Invalidate(projectID string) {
	v.mu.Lock()
	if e, ok := v.configs[projectID]; ok && e.cfg != nil && e.cfg.JWKSURL != "" {
		v.jwks.Forget(e.cfg.JWKSURL)
	}
	delete(v.configs, projectID)
	v.mu.Unlock()
	v.group.Forget(projectID)
}

// Put stores a config and refreshes the cache.
func (v *Verifier) Put(ctx context.Context, c *Config, hsSecret []byte, actor string) error {
	defer v.Invalidate(c.ProjectID)
	return v.repo.Put(ctx, c, hsSecret, actor)
}

// Delete removes a config and refreshes the cache.
func (v *Verifier) Delete(ctx context.Context, projectID string) error {
	defer v.Invalidate(projectID)
	return v.repo.Delete(ctx, projectID)
}

// rejected builds the 401 for a refused upstream token. The reason helps the
// site's developers; it never includes token contents.
func rejected(reason string) error {
	return apperr.Unauthorized("identity token rejected: " + reason)
}

// Verify checks raw against projectID's issuer (signature with a pinned
// algorithm, iss, aud, exp, nbf, iat with leeway) and returns its claims.
func (v *Verifier) Verify(ctx context.Context, projectID, raw string) (jwt.MapClaims, error) {
	if raw == "" || len(raw) > MaxTokenLen {
		return nil, apperr.Invalid("id_token", "id_token must be 1 to %d bytes", MaxTokenLen)
	}
	e, err := v.config(ctx, projectID)
	if err != nil {
		return nil, err
	}
	if e.cfg == nil {
		return nil, apperr.Unavailable("project has no identity provider configured for token exchange", errors.New("idp: no config"))
	}
	cfg := e.cfg
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audiences...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway()),
		jwt.WithTimeFunc(v.now),
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if !slices.Contains(cfg.Algorithms, alg) { // belt and braces: WithValidMethods checks first
			return nil, fmt.Errorf("algorithm %s not allowed", alg)
		}
		if cfg.Symmetric() {
			return e.hsKey, nil
		}
		kid, _ := t.Header["kid"].(string)
		keys, err := v.jwks.Keys(ctx, cfg.JWKSURL, kid, alg)
		if err != nil {
			return nil, errUpstream{err}
		}
		switch len(keys) {
		case 0:
			if kid != "" {
				return nil, fmt.Errorf("unknown key id %q", truncate(kid, 40))
			}
			return nil, errors.New("no key fits the token's algorithm")
		case 1:
			return keys[0].key, nil
		}
		set := jwt.VerificationKeySet{}
		for _, k := range keys {
			set.Keys = append(set.Keys, k.key)
		}
		return set, nil
	}, opts...)
	if err != nil {
		var up errUpstream
		if errors.As(err, &up) {
			return nil, apperr.Unavailable("could not fetch the identity provider's keys; try again later", up.err)
		}
		return nil, rejected(reason(err))
	}
	return claims, nil
}

type errUpstream struct{ err error }

func (e errUpstream) Error() string { return e.err.Error() }

func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token is expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		msg := err.Error()
		if strings.Contains(msg, "signing method") && strings.Contains(msg, "invalid") {
			return "algorithm not allowed"
		}
		if strings.Contains(msg, "unknown key id") {
			return "unknown key id"
		}
		return "bad signature"
	}
	return "invalid token"
}
