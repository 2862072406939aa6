// Package idp holds each project's trusted identity provider (the site's own
// IdP) for the `exchange` verification mode, and verifies the tokens it
// issues: RS/PS/ES-signed tokens against the issuer's JWKS (cached, refetched
// on an unknown kid, rate-limited), or HS-signed tokens against a shared
// secret kept in the secret backend under "<projectId>:idp", never in SQL.
package idp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/outbound"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
)

// Algorithms allowed per kind of issuer. "none" and cross-kind algorithms
// can never be configured, which rules out algorithm confusion.
var (
	AsymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"}
	SymmetricAlgs  = []string{"HS256", "HS384", "HS512"}
)

// Leeway bounds (clock skew tolerated on exp/nbf/iat).
const (
	DefaultLeeway = 60 * time.Second
	MaxLeeway     = 5 * time.Minute
	// MinHSSecretLen is the shortest accepted HS secret (RFC 7518 §3.2: >= hash size).
	MinHSSecretLen = 32
	MaxHSSecretLen = 512
)

// SecretID is the id under which a project's IdP HS secret is stored in the
// secret backend (distinct from the project's Pingstreams secret).
func SecretID(projectID string) string { return projectID + ":idp" }

// Config is a project's trusted issuer.
type Config struct {
	ProjectID     string   `gorm:"primaryKey" json:"project_id"`
	Issuer        string   `json:"issuer"`
	JWKSURL       string   `gorm:"column:jwks_url" json:"jwks_url,omitempty"`
	Audiences     []string `gorm:"serializer:json" json:"audiences"`
	Algorithms    []string `gorm:"serializer:json" json:"algorithms"`
	LeewaySeconds int      `json:"leeway_seconds"`
	// EmailsVerified: the operator vouches that this issuer only issues
	// verified emails. Off (the default), exchange mode passes `email` on
	// only when the token says `email_verified: true`.
	EmailsVerified  bool      `gorm:"column:emails_verified" json:"emails_verified"`
	HSSecretVersion int       `gorm:"column:hs_secret_version" json:"-"`
	HasHSSecret     bool      `gorm:"-" json:"has_hs_secret"`
	UpdatedBy       string    `json:"updated_by"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// TableName binds Config to idp_configs.
func (Config) TableName() string { return "idp_configs" }

// Leeway returns the tolerated clock skew.
func (c *Config) Leeway() time.Duration { return time.Duration(c.LeewaySeconds) * time.Second }

// Symmetric reports whether the issuer signs with a shared HS secret.
func (c *Config) Symmetric() bool { return c.JWKSURL == "" }

// validate normalises c; hasSecret tells whether an HS secret is (or will
// be) stored; urls is the outbound policy the JWKS will be fetched under.
func (c *Config) validate(hasSecret bool, urls outbound.Policy) error {
	c.Issuer = strings.TrimSpace(c.Issuer)
	c.JWKSURL = strings.TrimSpace(c.JWKSURL)
	if c.Issuer == "" || len(c.Issuer) > 512 {
		return apperr.Invalid("issuer", "issuer is required (the exact `iss` of the site's tokens, at most 512 characters)")
	}
	if c.JWKSURL != "" && hasSecret {
		return apperr.Invalid("jwks_url", "configure either a JWKS URL or an HS secret, not both")
	}
	if c.JWKSURL == "" && !hasSecret {
		return apperr.Invalid("jwks_url", "a JWKS URL or an HS secret is required")
	}
	if c.JWKSURL != "" {
		if err := ValidateJWKSURL(c.JWKSURL, urls); err != nil {
			return err
		}
	}
	var auds []string
	for _, a := range c.Audiences {
		a = strings.TrimSpace(a)
		if a == "" || len(a) > 512 {
			return apperr.Invalid("audiences", "audiences must be 1-512 characters")
		}
		if !slices.Contains(auds, a) {
			auds = append(auds, a)
		}
	}
	if len(auds) == 0 || len(auds) > 10 {
		return apperr.Invalid("audiences", "1 to 10 audiences are required (the `aud` your IdP puts in tokens for this site)")
	}
	c.Audiences = auds
	allowed, def := AsymmetricAlgs, "RS256"
	if c.JWKSURL == "" {
		allowed, def = SymmetricAlgs, "HS256"
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{def}
	}
	var algs []string
	for _, a := range c.Algorithms {
		a = strings.ToUpper(strings.TrimSpace(a))
		if !slices.Contains(allowed, a) {
			return apperr.Invalid("algorithms", "algorithm %q is not allowed for this issuer (allowed: %s)", truncate(a, 20), strings.Join(allowed, ", "))
		}
		if !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	c.Algorithms = algs
	if c.LeewaySeconds < 0 || time.Duration(c.LeewaySeconds)*time.Second > MaxLeeway {
		return apperr.Invalid("leeway_seconds", "leeway_seconds must be between 0 and %d", int(MaxLeeway.Seconds()))
	}
	return nil
}

// ValidateJWKSURL checks a JWKS URL when it is configured, under the
// outbound policy it will be fetched with (outbound.Policy.CheckURL): an
// absolute https URL without user info or fragment; http only to a
// loopback host when the policy allows it (tests); an IP literal must be an
// admissible address. A host name is checked again on every fetch, on the
// addresses it resolves to.
func ValidateJWKSURL(raw string, p outbound.Policy) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return apperr.Invalid("jwks_url", "jwks_url must be an absolute https URL")
	}
	err = p.CheckURL(u)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, outbound.ErrScheme) && p.AllowHTTPLoopback:
		return apperr.Invalid("jwks_url", "jwks_url must use https (http is accepted only for loopback addresses)")
	case errors.Is(err, outbound.ErrScheme):
		return apperr.Invalid("jwks_url", "jwks_url must use https")
	case errors.Is(err, outbound.ErrBlockedAddress):
		return apperr.Invalid("jwks_url", "jwks_url must not point to a loopback, private, link-local or reserved address")
	}
	return apperr.Invalid("jwks_url", "jwks_url must be an absolute https URL")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// SecretBackend is the part of secret.Backend the IdP store needs.
type SecretBackend interface {
	Write(ctx context.Context, id string, value []byte) (int, error)
	Read(ctx context.Context, id string, version int) ([]byte, error)
	Delete(ctx context.Context, id string) error
}

// Repo stores issuer configs, and HS secrets in the secret backend.
type Repo struct {
	db      *store.DB
	secrets SecretBackend
	urls    outbound.Policy // JWKS URLs are validated under it
}

// RepoOption tunes NewRepo.
type RepoOption func(*Repo)

// WithURLPolicy sets the outbound policy a JWKS URL must satisfy when it is
// saved: the policy of the client that fetches it (JWKSCache.Policy). The
// default is the strict zero Policy (https, public addresses).
func WithURLPolicy(p outbound.Policy) RepoOption { return func(r *Repo) { r.urls = p } }

// NewRepo returns an IdP config repository.
func NewRepo(db *store.DB, secrets SecretBackend, opts ...RepoOption) *Repo {
	r := &Repo{db: db, secrets: secrets}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Get loads the project's issuer config.
func (r *Repo) Get(ctx context.Context, projectID string) (*Config, error) {
	c, err := store.First[Config](ctx, r.db.DB, "idp: get", apperr.NotFound("project %s has no identity provider configured", projectID), "project_id = ?", projectID)
	if err != nil {
		return nil, err
	}
	c.HasHSSecret = c.HSSecretVersion > 0
	return c, nil
}

// Put validates and stores c. hsSecret, when non-nil, replaces the HS secret
// (written to the secret backend first); nil keeps an existing one. Setting a
// JWKS URL drops any HS secret.
func (r *Repo) Put(ctx context.Context, c *Config, hsSecret []byte, actor string) error {
	var prev *Config
	if p, err := r.Get(ctx, c.ProjectID); err == nil {
		prev = p
	} else if !errors.Is(err, apperr.ErrNotFound) {
		return err
	}
	if hsSecret != nil && (len(hsSecret) < MinHSSecretLen || len(hsSecret) > MaxHSSecretLen) {
		return apperr.Invalid("hs_secret", "the HS secret must be %d to %d bytes", MinHSSecretLen, MaxHSSecretLen)
	}
	keepSecret := hsSecret == nil && c.JWKSURL == "" && prev != nil && prev.HSSecretVersion > 0
	if err := c.validate(hsSecret != nil || keepSecret, r.urls); err != nil {
		return err
	}
	switch {
	case hsSecret != nil:
		if r.secrets == nil {
			return apperr.Unavailable("no secret backend configured", errors.New("idp: nil secret backend"))
		}
		v, err := r.secrets.Write(ctx, SecretID(c.ProjectID), hsSecret)
		if err != nil {
			var ae *apperr.Error
			if errors.As(err, &ae) {
				return err
			}
			return apperr.Unavailable("secret store unavailable; try again later", err)
		}
		c.HSSecretVersion = v
	case keepSecret:
		c.HSSecretVersion = prev.HSSecretVersion
	default:
		c.HSSecretVersion = 0
	}
	c.UpdatedBy = actor
	c.UpdatedAt = time.Now().UTC()
	err := r.db.Change(ctx, store.KindIdP, c.ProjectID, func(ctx context.Context) error {
		return r.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "project_id"}}, UpdateAll: true}).Create(c).Error
	})
	if err != nil {
		if strings.Contains(err.Error(), "FOREIGN KEY") || strings.Contains(err.Error(), "23503") || errors.Is(err, gorm.ErrForeignKeyViolated) {
			return apperr.NotFound("project %s not found", c.ProjectID)
		}
		return fmt.Errorf("idp: put: %w", err)
	}
	c.HasHSSecret = c.HSSecretVersion > 0
	if c.HSSecretVersion == 0 && prev != nil && prev.HSSecretVersion > 0 && r.secrets != nil {
		_ = r.secrets.Delete(ctx, SecretID(c.ProjectID)) // switched to JWKS: drop the old secret
	}
	return nil
}

// Delete removes the project's issuer config and its HS secret.
func (r *Repo) Delete(ctx context.Context, projectID string) error {
	err := r.db.Change(ctx, store.KindIdP, projectID, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Delete(&Config{}, "project_id = ?", projectID)
		if res.Error != nil {
			return fmt.Errorf("idp: delete: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("project %s has no identity provider configured", projectID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r.secrets != nil {
		_ = r.secrets.Delete(ctx, SecretID(projectID))
	}
	return nil
}

// hsSecret reads the HS secret of c. Domain errors of the backend (not
// found) pass through; any other failure means the store is unavailable.
func (r *Repo) hsSecret(ctx context.Context, c *Config) ([]byte, error) {
	if c.HSSecretVersion == 0 || r.secrets == nil {
		return nil, apperr.NotFound("project %s has no identity provider HS secret", c.ProjectID)
	}
	b, err := r.secrets.Read(ctx, SecretID(c.ProjectID), c.HSSecretVersion)
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, apperr.Unavailable("secret store unavailable; try again later", fmt.Errorf("idp: read hs secret: %w", err))
	}
	return b, nil
}

// hsKeys loads a project's HS secret as a one-version secret.Keyring for a
// secret.KeyringCache, the way secret.Manager loads a project's shared
// secret: the version from SQL (idp_configs), the value from the secret
// backend. "Not found" means the project has no HS-signed issuer (any more).
type hsKeys struct{ repo *Repo }

// Get implements secret.KeyringLoader.
func (l hsKeys) Get(ctx context.Context, projectID string) (*secret.Keyring, error) {
	c, err := l.repo.Get(ctx, projectID)
	if err != nil {
		return nil, err
	}
	if !c.Symmetric() {
		return nil, apperr.NotFound("project %s has no identity provider HS secret", projectID)
	}
	b, err := l.repo.hsSecret(ctx, c)
	if err != nil {
		return nil, err
	}
	return &secret.Keyring{ProjectID: projectID, Current: secret.Version{Version: c.HSSecretVersion, Value: b}}, nil
}
