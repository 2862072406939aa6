package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/secret"
)

// MaxTokenLen bounds upstream tokens.
const MaxTokenLen = 16 << 10

// DefaultHSSecretTTL is how long a cached HS secret is served before one
// background refresh (the default of PINGAUTH_SECRET_CACHE_TTL).
const DefaultHSSecretTTL = 5 * time.Minute

// Verifier checks upstream tokens against the project's issuer. Configs are
// cached in memory for ttl; HS secrets are cached like the projects' signing
// secrets (a secret.KeyringCache): refreshed in the background, and served
// from the cache while the secret store is unavailable. Both are dropped at
// once on Put/Delete through this Verifier; a change made by another process
// is seen when the cached config expires (within ttl): its HS secret version
// no longer matches the cached secret, which is then reloaded.
type Verifier struct {
	repo   *Repo
	jwks   *JWKSCache
	now    func() time.Time
	hsKeys *secret.KeyringCache
	// configs is an internal/cache.Cache named "idp_configs".
	configs *cache.Cache[*cfgEntry]
}

type cfgEntry struct {
	cfg *Config // nil: none configured
}

// VerifierOption tunes NewVerifier.
type VerifierOption func(*verifierOptions)

type verifierOptions struct {
	hsTTL time.Duration
	log   *slog.Logger
}

// WithHSSecretCache sets how long a cached HS secret is served before one
// background refresh (PINGAUTH_SECRET_CACHE_TTL; zero or less keeps
// DefaultHSSecretTTL).
func WithHSSecretCache(ttl time.Duration) VerifierOption {
	return func(o *verifierOptions) {
		if ttl > 0 {
			o.hsTTL = ttl
		}
	}
}

// WithLogger sets the logger (stale-serving warnings of the HS secret cache);
// nil keeps the default, which discards.
func WithLogger(log *slog.Logger) VerifierOption {
	return func(o *verifierOptions) {
		if log != nil {
			o.log = log
		}
	}
}

// NewVerifier returns a verifier; co sizes its config cache. now (nil:
// time.Now) is the clock of token validation and of both caches.
func NewVerifier(repo *Repo, jwks *JWKSCache, co cache.Options, now func() time.Time, opts ...VerifierOption) *Verifier {
	if now == nil {
		now = time.Now
	}
	o := verifierOptions{hsTTL: DefaultHSSecretTTL, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	hs := secret.NewKeyringCache(hsKeys{repo}, o.hsTTL, o.log.With("cache", "idp_hs_key"), secret.WithCacheClock(now))
	co.Name, co.Now = "idp_configs", now
	return &Verifier{repo: repo, jwks: jwks, now: now, hsKeys: hs, configs: cache.New[*cfgEntry](co)}
}

// Cache is the config cache (metrics).
func (v *Verifier) Cache() *cache.Cache[*cfgEntry] { return v.configs }

// Repo returns the config repository.
func (v *Verifier) Repo() *Repo { return v.repo }

func (v *Verifier) config(ctx context.Context, projectID string) (*cfgEntry, error) {
	return v.configs.Get(ctx, projectID, func(ctx context.Context) (*cfgEntry, error) {
		c, err := v.repo.Get(ctx, projectID)
		switch {
		case errors.Is(err, apperr.ErrNotFound):
			return &cfgEntry{}, nil
		case err != nil:
			return nil, err
		}
		return &cfgEntry{cfg: c}, nil
	})
}

// issuer returns the project's cached config and, for an HS-signed issuer,
// its secret. The secret comes from the HS secret cache, which keeps serving
// the last known value while the secret store is down. When the cached
// secret is not the version the config names (changed by another process,
// and one of the two caches has not seen it yet), both are reloaded once:
// a replaced secret is never used to verify.
func (v *Verifier) issuer(ctx context.Context, projectID string) (*Config, []byte, error) {
	for try := 0; ; try++ {
		e, err := v.config(ctx, projectID)
		if err != nil {
			return nil, nil, err
		}
		if e.cfg == nil {
			return nil, nil, apperr.Unavailable("project has no identity provider configured for token exchange", errors.New("idp: no config"))
		}
		if !e.cfg.Symmetric() {
			return e.cfg, nil, nil
		}
		kr, err := v.hsKeys.Get(ctx, projectID)
		switch {
		case err == nil && kr.Current.Version == e.cfg.HSSecretVersion:
			return e.cfg, kr.Current.Value, nil
		case err != nil && !errors.Is(err, apperr.ErrNotFound):
			return nil, nil, err // unavailable with nothing cached: 503
		case try > 0 && err != nil:
			return nil, nil, apperr.Unavailable("the identity provider's HS secret is missing", err)
		case try > 0:
			return nil, nil, apperr.Unavailable("the identity provider's settings are being changed; try again",
				fmt.Errorf("idp: hs secret version %d, config names %d", kr.Current.Version, e.cfg.HSSecretVersion))
		}
		v.Invalidate(projectID)
	}
}

// Invalidate drops the cached config and HS secret of projectID.
func (v *Verifier) Invalidate(projectID string) {
	if e, ok := v.configs.Peek(projectID); ok && e.cfg != nil && e.cfg.JWKSURL != "" {
		v.jwks.Forget(e.cfg.JWKSURL)
	}
	v.configs.Invalidate(projectID)
	v.hsKeys.Invalidate(projectID)
}

// InvalidateAll drops every cached config and HS secret.
func (v *Verifier) InvalidateAll() {
	var urls []string
	v.configs.Range(func(_ string, e *cfgEntry) bool {
		if e.cfg != nil && e.cfg.JWKSURL != "" {
			urls = append(urls, e.cfg.JWKSURL)
		}
		return true
	})
	for _, u := range urls {
		v.jwks.Forget(u)
	}
	v.configs.InvalidateAll()
	v.hsKeys.InvalidateAll()
}

// invalidateAfter drops the project's cached config and secret after a
// write, unless the write failed as unavailable: then nothing changed and
// the cached HS secret must keep serving (as secret.Cache does).
func (v *Verifier) invalidateAfter(projectID string, err error) {
	if err == nil || !errors.Is(err, apperr.ErrUnavailable) {
		v.Invalidate(projectID)
	}
}

// Put stores a config and refreshes the cache.
func (v *Verifier) Put(ctx context.Context, c *Config, hsSecret []byte, actor string) error {
	err := v.repo.Put(ctx, c, hsSecret, actor)
	v.invalidateAfter(c.ProjectID, err)
	return err
}

// Delete removes a config and refreshes the cache.
func (v *Verifier) Delete(ctx context.Context, projectID string) error {
	err := v.repo.Delete(ctx, projectID)
	v.invalidateAfter(projectID, err)
	return err
}

// Close waits for background HS secret refreshes.
func (v *Verifier) Close() error { return v.hsKeys.Close() }

// rejected builds the 401 for a refused upstream token. The reason helps the
// site's developers; it never includes token contents.
func rejected(reason string) error {
	return apperr.Unauthorized("identity token rejected: " + reason)
}

// Verify checks raw against projectID's issuer (signature with a pinned
// algorithm, iss, aud, exp, nbf, iat with leeway) and returns its claims.
func (v *Verifier) Verify(ctx context.Context, projectID, raw string) (jwt.MapClaims, error) {
	r, err := v.VerifyToken(ctx, projectID, raw)
	return r.Claims, err
}

// Verified is a verified IdP token.
type Verified struct {
	Claims jwt.MapClaims
	// EmailVerified: the token's email may be trusted (the issuer is marked
	// as verifying emails, or the token says email_verified: true).
	EmailVerified bool
}

// VerifyToken is Verify, also telling whether the token's email is verified.
func (v *Verifier) VerifyToken(ctx context.Context, projectID, raw string) (Verified, error) {
	if raw == "" || len(raw) > MaxTokenLen {
		return Verified{}, apperr.Invalid("id_token", "id_token must be 1 to %d bytes", MaxTokenLen)
	}
	cfg, hsKey, err := v.issuer(ctx, projectID)
	if err != nil {
		return Verified{}, err
	}
	claims, err := v.verify(ctx, cfg, hsKey, raw)
	if err != nil {
		return Verified{}, err
	}
	return Verified{Claims: claims, EmailVerified: cfg.EmailsVerified || claimTrue(claims["email_verified"])}, nil
}

// claimTrue reads a boolean claim; some IdPs send "true" as a string.
func claimTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

func (v *Verifier) verify(ctx context.Context, cfg *Config, hsKey []byte, raw string) (jwt.MapClaims, error) {
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
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if !slices.Contains(cfg.Algorithms, alg) { // belt and braces: WithValidMethods checks first
			return nil, fmt.Errorf("algorithm %s not allowed", alg)
		}
		if cfg.Symmetric() {
			return hsKey, nil
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
