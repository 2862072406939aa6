package bridge

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/apikey"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/outbound"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// Auditor records audit events (*audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Admin changes verification settings: API keys, modes, mapping, overrides,
// IdP and role rules. Every change is audited (never with secret values);
// the repositories publish a change event in the write's transaction
// (internal/events), which invalidates this process's caches right after the
// commit and, on PostgreSQL, every other instance's. Both the CLI and the
// JSON admin API go through it.
type Admin struct {
	projects Projects
	keys     *apikey.Verifier
	idp      *idp.Verifier
	settings *mapping.Repo
	gate     RoleRules
	bridge   *Bridge
	audit    Auditor
	tenants  *project.Repo
	db       *store.DB
	sync     OverrideSync // override_sync.go
}

// Stack is everything the verification modes need, wired together.
type Stack struct {
	Bridge *Bridge
	Admin  *Admin
}

// StackOptions tune NewStack.
type StackOptions struct {
	// CacheTTL bounds how stale a cached setting, API key or project may be
	// when a change event is missed (SQLite with a second process such as
	// the CLI); on PostgreSQL change events apply changes at once.
	CacheTTL time.Duration
	// CacheSafetyTTL replaces CacheTTL while Informed reports true (the
	// instance's change listener is connected, so every committed change
	// arrives as an event): the TTL is then only a safety net (0: CacheTTL
	// always applies).
	CacheSafetyTTL time.Duration
	Informed       func() bool
	// JWKS tunes the IdP key cache (tests shorten MinRefetch).
	JWKS idp.JWKSOptions
	// Outbound is the client for server-side fetches (JWKS; JWKS.Client,
	// when set, takes precedence). nil: the strict policy (https, public
	// addresses only). JWKS URLs are validated on save under the policy of
	// the client that fetches them.
	Outbound *outbound.Client
	Log      *slog.Logger
	Secrets  idp.SecretBackend
	// SecretCacheTTL is how long an exchange-mode HS secret is served from
	// memory before one background refresh (PINGAUTH_SECRET_CACHE_TTL; zero:
	// idp.DefaultHSSecretTTL). While the secret store is down the cached
	// secret keeps serving, as the projects' signing secrets do.
	SecretCacheTTL time.Duration
	// Roles is the end-user role policy (internal/rbac); nil disables role rules.
	Roles RoleRules
	// DenyEmails: the deployment's email deny-list (PINGAUTH_EMAIL_DENYLIST).
	DenyEmails token.EmailDenyList
	// ProjectLabel maps project ids to metric labels (nil: the id).
	ProjectLabel func(string) string
	// CacheEntries bounds each of the hot path's caches (projects, settings,
	// API keys, IdP configs; 0: DefaultCacheEntries).
	CacheEntries int
	// AudienceBase is the deployment's audience base (PINGAUTH_AUDIENCE_BASE):
	// the hot cache keeps each project's `aud` built from it (HotProject).
	AudienceBase string
}

// NewStack wires the bridge and its admin service over db.
func NewStack(db *store.DB, projects Projects, users Passwords, auditor Auditor, o StackOptions) *Stack {
	if o.CacheTTL <= 0 {
		o.CacheTTL = 10 * time.Second
	}
	if o.JWKS.Log == nil {
		o.JWKS.Log = o.Log
	}
	if o.JWKS.Client == nil {
		if o.Outbound == nil {
			o.Outbound = outbound.New(outbound.Options{Log: o.Log})
		}
		o.JWKS.Client = o.Outbound
	}
	repo := mapping.NewRepo(db)
	if o.CacheEntries <= 0 {
		o.CacheEntries = DefaultCacheEntries
	}
	co := cache.Options{MaxEntries: o.CacheEntries, TTL: o.CacheTTL, LongTTL: o.CacheSafetyTTL, Informed: o.Informed}
	keys := apikey.NewVerifier(apikey.NewRepo(db), o.Log, co)
	jwks := idp.NewJWKSCache(o.JWKS)
	iv := idp.NewVerifier(idp.NewRepo(db, o.Secrets, idp.WithURLPolicy(jwks.Policy())), jwks, co, nil,
		idp.WithHSSecretCache(o.SecretCacheTTL), idp.WithLogger(o.Log))
	b := New(Deps{AudienceBase: o.AudienceBase, Projects: projects, Users: users, Keys: keys, IdP: iv, Settings: repo, Gate: o.Roles, Log: o.Log, Cache: co,
		DenyEmails: o.DenyEmails, ProjectLabel: o.ProjectLabel})
	return &Stack{Bridge: b, Admin: &Admin{projects: projects, keys: keys, idp: iv, settings: repo, gate: o.Roles, bridge: b, audit: auditor, tenants: project.NewRepo(db), db: db}}
}

func (a *Admin) project(ctx context.Context, projectID string) (*project.Project, error) {
	return a.projects.Get(ctx, projectID)
}

func (a *Admin) record(ctx context.Context, actor string, p *project.Project, action, target string, details map[string]any) error {
	if a.audit == nil {
		return nil
	}
	return a.audit.Record(ctx, audit.Event{Actor: actor, TenantID: p.TenantID, ProjectID: p.ID, Action: action, Target: target, Details: details})
}

// SetTenantEmailDenyList replaces a tenant's email deny-list (emails and
// domains that never appear in its tokens) and applies it at once here.
func (a *Admin) SetTenantEmailDenyList(ctx context.Context, actor, tenantID string, entries []string) ([]string, error) {
	norm, err := a.tenants.SetTenantEmailDenyList(ctx, tenantID, entries)
	if err != nil {
		return nil, err
	}
	a.bridge.invalidateAllHot() // the list is part of every project's cached settings
	if a.audit != nil {
		if err := a.audit.Record(ctx, audit.Event{Actor: actor, TenantID: tenantID, Action: audit.TenantEmailDenyList, Target: tenantID,
			Details: map[string]any{"entries": norm}}); err != nil {
			return nil, err
		}
	}
	return norm, nil
}

// CreateAPIKey makes a key; the returned value is shown once and never stored.
func (a *Admin) CreateAPIKey(ctx context.Context, actor, projectID, name string) (*apikey.Key, string, error) {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return nil, "", err
	}
	k, full, err := a.keys.Repo().Create(ctx, p.ID, name, actor)
	if err != nil {
		return nil, "", err
	}
	if err := a.record(ctx, actor, p, audit.APIKeyCreate, k.ID, map[string]any{"name": k.Name}); err != nil {
		return nil, "", err
	}
	return k, full, nil
}

// ListAPIKeys lists a project's keys (never their values).
func (a *Admin) ListAPIKeys(ctx context.Context, projectID string) ([]apikey.Key, error) {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	return a.keys.Repo().List(ctx, p.ID)
}

// RevokeAPIKey revokes a key at once in this process and, through the change
// event, in every instance listening on the same PostgreSQL database.
func (a *Admin) RevokeAPIKey(ctx context.Context, actor, projectID, keyID string) (*apikey.Key, error) {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	k, err := a.keys.Revoke(ctx, p.ID, keyID, actor)
	if err != nil {
		return nil, err
	}
	return k, a.record(ctx, actor, p, audit.APIKeyRevoke, k.ID, map[string]any{"name": k.Name})
}

// Modes returns a project's enabled verification modes.
func (a *Admin) Modes(ctx context.Context, projectID string) ([]string, error) {
	if _, err := a.project(ctx, projectID); err != nil {
		return nil, err
	}
	return a.settings.Modes(ctx, projectID)
}

// SetModes replaces a project's enabled verification modes.
func (a *Admin) SetModes(ctx context.Context, actor, projectID string, modes []string) ([]string, error) {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	before, _ := a.settings.Modes(ctx, p.ID)
	out, err := a.settings.SetModes(ctx, p.ID, modes, actor)
	if err != nil {
		return nil, err
	}
	a.bridge.invalidateHot(p.ID)
	return out, a.record(ctx, actor, p, audit.ModesSet, p.ID, map[string]any{"from": before, "to": out})
}

// Mapping returns a project's mapping (the default when never set).
func (a *Admin) Mapping(ctx context.Context, projectID string) (*mapping.Mapping, error) {
	if _, err := a.project(ctx, projectID); err != nil {
		return nil, err
	}
	return a.settings.Mapping(ctx, projectID)
}

// SetMapping replaces a project's mapping.
func (a *Admin) SetMapping(ctx context.Context, actor string, m *mapping.Mapping) error {
	p, err := a.project(ctx, m.ProjectID)
	if err != nil {
		return err
	}
	if err := a.settings.SetMapping(ctx, m, actor); err != nil {
		return err
	}
	a.bridge.invalidateHot(p.ID)
	return a.record(ctx, actor, p, audit.MappingSet, p.ID, map[string]any{
		"id_claim": m.IDClaim, "prefix": m.Prefix, "attributes": m.Attributes,
		"firstname_claim": m.FirstnameClaim, "lastname_claim": m.LastnameClaim, "email_claim": m.EmailClaim, "roles_claim": m.RolesClaim,
	})
}

// Overrides lists a project's per-user overrides and blocks.
func (a *Admin) Overrides(ctx context.Context, projectID string) ([]mapping.Override, error) {
	if _, err := a.project(ctx, projectID); err != nil {
		return nil, err
	}
	os, err := a.settings.Overrides(ctx, projectID)
	return a.withSyncs(ctx, projectID, os), err
}

// PutOverride creates or replaces an override (or block).
func (a *Admin) PutOverride(ctx context.Context, actor string, o *mapping.Override) error {
	p, err := a.project(ctx, o.ProjectID)
	if err != nil {
		return err
	}
	if err := a.changeOverride(ctx, actor, p, o.ExternalID, o, func(ctx context.Context) error { return a.settings.PutOverride(ctx, o, actor) }); err != nil {
		return err
	}
	a.bridge.invalidateHot(p.ID)
	keys := make([]string, 0, len(o.Attributes))
	for k := range o.Attributes {
		keys = append(keys, k)
	}
	return a.record(ctx, actor, p, audit.OverrideSet, o.ExternalID, map[string]any{"blocked": o.Blocked, "force_id": o.ForceID, "attribute_names": keys})
}

// DeleteOverride removes an override (unblocks).
func (a *Admin) DeleteOverride(ctx context.Context, actor, projectID, externalID string) error {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return err
	}
	if err := a.changeOverride(ctx, actor, p, externalID, nil, func(ctx context.Context) error { return a.settings.DeleteOverride(ctx, p.ID, externalID) }); err != nil {
		return err
	}
	a.bridge.invalidateHot(p.ID)
	return a.record(ctx, actor, p, audit.OverrideDelete, externalID, nil)
}

// IdP returns a project's issuer config.
func (a *Admin) IdP(ctx context.Context, projectID string) (*idp.Config, error) {
	if _, err := a.project(ctx, projectID); err != nil {
		return nil, err
	}
	return a.idp.Repo().Get(ctx, projectID)
}

// SetIdP stores a project's issuer config; hsSecret (nil: keep) goes to the secret backend.
func (a *Admin) SetIdP(ctx context.Context, actor string, c *idp.Config, hsSecret []byte) error {
	p, err := a.project(ctx, c.ProjectID)
	if err != nil {
		return err
	}
	if err := a.idp.Put(ctx, c, hsSecret, actor); err != nil {
		return err
	}
	return a.record(ctx, actor, p, audit.IdPSet, c.Issuer, map[string]any{
		"issuer": c.Issuer, "jwks_url": c.JWKSURL, "audiences": c.Audiences, "algorithms": c.Algorithms,
		"leeway_seconds": c.LeewaySeconds, "emails_verified": c.EmailsVerified, "hs_secret_changed": hsSecret != nil, "hs_secret_version": c.HSSecretVersion,
	})
}

// DeleteIdP removes a project's issuer config and HS secret.
func (a *Admin) DeleteIdP(ctx context.Context, actor, projectID string) error {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return err
	}
	if err := a.idp.Delete(ctx, p.ID); err != nil {
		return err
	}
	return a.record(ctx, actor, p, audit.IdPDelete, p.ID, nil)
}

// roleRules returns the policy or a clear error when none is configured.
func (a *Admin) roleRules() (RoleRules, error) {
	if a.gate == nil {
		return nil, apperr.Unavailable("end-user role rules are not configured", nil)
	}
	return a.gate, nil
}

// RoleRules lists the roles allowed to authenticate (empty: everyone).
func (a *Admin) RoleRules(ctx context.Context, projectID string) ([]mapping.RoleRule, error) {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	rr, err := a.roleRules()
	if err != nil {
		return nil, err
	}
	out := []mapping.RoleRule{}
	for _, r := range rr.EndUserRoles(p.ID) {
		out = append(out, mapping.RoleRule{ProjectID: p.ID, Role: r})
	}
	return out, nil
}

// SetRoleRules replaces the end-user roles that may authenticate to the
// project (empty: everyone) and returns the stored list. It is the one
// implementation of every role-rule change (console form, PUT
// .../role-rules and its alias .../enduser-roles, AllowRole, RemoveRole):
// one validator (rbac), one audit action with the lists before and after.
func (a *Admin) SetRoleRules(ctx context.Context, actor, projectID string, roles []string) ([]string, error) {
	p, err := a.project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	rr, err := a.roleRules()
	if err != nil {
		return nil, err
	}
	before := slices.Clone(rr.EndUserRoles(p.ID))
	if err := rr.SetEndUserRoles(ctx, p.TenantID, p.ID, roles); err != nil {
		return nil, err
	}
	after := slices.Clone(rr.EndUserRoles(p.ID))
	if before == nil {
		before = []string{}
	}
	if after == nil {
		after = []string{}
	}
	return after, a.record(ctx, actor, p, audit.RoleRulesUpdate, p.ID, map[string]any{"from": before, "to": after})
}

// AllowRole lets end-users with role authenticate to the project (idempotent).
func (a *Admin) AllowRole(ctx context.Context, actor, projectID, role string) (*mapping.RoleRule, error) {
	role = strings.TrimSpace(role)
	if err := mapping.ValidateRole(role); err != nil {
		return nil, err
	}
	rr, err := a.roleRules()
	if err != nil {
		return nil, err
	}
	roles := rr.EndUserRoles(projectID)
	if !slices.Contains(roles, role) {
		if _, err := a.SetRoleRules(ctx, actor, projectID, append(slices.Clone(roles), role)); err != nil {
			return nil, err
		}
	} else if _, err := a.project(ctx, projectID); err != nil {
		return nil, err
	}
	return &mapping.RoleRule{ProjectID: projectID, Role: role}, nil
}

// RemoveRole deletes a role rule.
func (a *Admin) RemoveRole(ctx context.Context, actor, projectID, role string) error {
	rr, err := a.roleRules()
	if err != nil {
		return err
	}
	if _, err := a.project(ctx, projectID); err != nil {
		return err
	}
	roles := rr.EndUserRoles(projectID)
	if !slices.Contains(roles, role) {
		return apperr.NotFound("no rule for role %q", role)
	}
	_, err = a.SetRoleRules(ctx, actor, projectID, slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return r == role }))
	return err
}
