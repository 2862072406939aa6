// Package bridge is the end-user identity bridge behind POST /auth/<projectId>:
// it takes whatever the site uses to prove its visitor's identity (a password,
// the site backend's API key plus an asserted user, or a token from the site's
// own IdP), checks that the mode is enabled for the project, verifies it,
// maps the identity with the project's mapping rules, applies per-user
// overrides and blocks, asks the role gate, and returns the token identity.
package bridge

import (
	"context"
	"errors"
	"log/slog"

	"github.com/pingstreams/pingauth/internal/apikey"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// RoleRules is the Casbin policy deciding which end-user roles may
// authenticate to which project (internal/rbac.Authorizer: stored in
// casbin_rule with the operators' policies). No rule: everyone may.
type RoleRules interface {
	EndUserMayAuthenticate(ctx context.Context, projectID string, roles []string) bool
	EndUserRoles(projectID string) []string
	SetEndUserRoles(ctx context.Context, tenant, projectID string, roles []string) error
}

// Passwords verifies password logins (enduser.Repo).
type Passwords interface {
	Authenticate(ctx context.Context, projectID, login, password string) (*enduser.User, error)
}

// Projects loads projects (project.Repo).
type Projects interface {
	Get(ctx context.Context, id string) (*project.Project, error)
}

// SettingsLoader loads a project's verification settings in one query
// (mapping.Repo).
type SettingsLoader interface {
	LoadSettings(ctx context.Context, projectID string) (*mapping.Settings, error)
}

// ServerUser is the identity a site backend asserts in server mode.
type ServerUser struct {
	ID         string         `json:"id"`
	Email      string         `json:"email,omitempty"`
	Username   string         `json:"username,omitempty"`
	Firstname  string         `json:"firstname,omitempty"`
	Lastname   string         `json:"lastname,omitempty"`
	Phone      string         `json:"phone,omitempty"`
	Roles      []string       `json:"roles,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Request is one decoded authentication request.
type Request struct {
	Mode string // mapping.ModePassword | ModeServer | ModeExchange
	// password
	Login, Password string
	// Verified, when not nil, receives a copy of the end-user a password
	// login verified (POST /auth binds a refresh credential to it).
	Verified *enduser.User
	// server
	APIKey string
	User   *ServerUser
	// exchange
	Token string
}

// Bridge verifies identities. Create it with New.
type Bridge struct {
	projects Projects
	users    Passwords
	keys     *apikey.Verifier
	idp      *idp.Verifier
	settings SettingsLoader
	gate     RoleRules
	log      *slog.Logger
	audBase  string
	// denyEmails is the deployment's email deny-list (tenants add theirs).
	denyEmails token.EmailDenyList
	drops      *claimDrops

	// hot is the hot path's one entry per project ("projects"): the project
	// row and its verification settings, loaded together on a miss (one
	// query each) and dropped together by any change to either.
	hot *cache.Cache[*hotProject]
}

// hotProject is a cached project: the row as the hot path reads it (by
// value: one allocation per cached project) and its settings snapshot
// (read-only; often shared with other projects).
type hotProject struct {
	p project.Project
	s *mapping.Settings
	// aud is the project's `aud` built from the bridge's audience base at
	// load (empty when its audience_base gives none: the caller builds it
	// and reports why), so a mint at 100k projects does not rebuild it per
	// request.
	aud string
}

// CacheKey lends the row's id to the cache as the entry's key (cache.Keyed).
func (h *hotProject) CacheKey() string { return h.p.ID }

// DefaultCacheEntries bounds each cache when Deps.Cache.MaxEntries is 0.
const DefaultCacheEntries = 100_000

// Deps are a Bridge's collaborators.
type Deps struct {
	Projects Projects
	Users    Passwords
	Keys     *apikey.Verifier
	IdP      *idp.Verifier
	Settings SettingsLoader
	Gate     RoleRules
	Log      *slog.Logger
	// Cache sizes the hot project cache (MaxEntries 0: DefaultCacheEntries).
	Cache cache.Options
	// DenyEmails: emails and domains that never appear in any token.
	DenyEmails token.EmailDenyList
	// ProjectLabel maps a project id to its metric label (nil: the id).
	ProjectLabel func(projectID string) string
	// AudienceBase is the deployment's default audience base: HotProject
	// returns each project's `aud` built from it, kept in the hot entry.
	AudienceBase string
}

// New returns a Bridge.
func New(d Deps) *Bridge {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	co := d.Cache
	if co.MaxEntries <= 0 {
		co.MaxEntries = DefaultCacheEntries
	}
	co.Name = "projects"
	return &Bridge{projects: d.Projects, users: d.Users, keys: d.Keys, idp: d.IdP, settings: d.Settings, gate: d.Gate,
		log: d.Log, hot: cache.New[*hotProject](co), audBase: d.AudienceBase,
		denyEmails: d.DenyEmails, drops: newClaimDrops(d.Log, d.ProjectLabel)}
}

// CachedProject returns the project from the hot cache. The server-mode
// fast path uses it (a project disabled elsewhere takes effect when its
// change event arrives, or within the cache TTL without events); other modes
// read the project from the database. A missing project is not cached.
//
// The cached row keeps what minting reads: Name and the timestamps are not
// kept (read the project from its repository for those).
func (b *Bridge) CachedProject(ctx context.Context, id string) (*project.Project, error) {
	h, err := b.hotEntry(ctx, id)
	if err != nil {
		return nil, err
	}
	return &h.p, nil
}

// HotProject is CachedProject with the project's `aud` for the
// deployment audience base base, as kept in the hot entry: aud is "" when
// the entry was built for another base or the project's audience_base gives
// no valid audience (project.Project.Audience then says why).
func (b *Bridge) HotProject(ctx context.Context, id, base string) (p *project.Project, aud string, err error) {
	h, err := b.hotEntry(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if base != b.audBase {
		return &h.p, "", nil
	}
	return &h.p, h.aud, nil
}

// settingsOf returns the project's cached verification settings.
func (b *Bridge) settingsOf(ctx context.Context, id string) (*mapping.Settings, error) {
	h, err := b.hotEntry(ctx, id)
	if err != nil {
		return nil, err
	}
	return h.s, nil
}

func (b *Bridge) hotEntry(ctx context.Context, id string) (*hotProject, error) {
	return b.hot.Get(ctx, id, func(ctx context.Context) (*hotProject, error) {
		p, err := b.projects.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		s, err := b.settings.LoadSettings(ctx, id)
		if err != nil {
			return nil, err
		}
		h := &hotProject{p: p.HotCopy(), s: s}
		if aud, err := h.p.Audience(b.audBase); err == nil {
			h.aud = aud
		}
		return h, nil
	})
}

// InvalidateProject drops a cached project (row and settings).
func (b *Bridge) InvalidateProject(id string) { b.hot.Invalidate(id) }

func (b *Bridge) invalidateHot(id string) { b.hot.Invalidate(id) }

// invalidateAllHot drops every cached project (a tenant-wide change).
func (b *Bridge) invalidateAllHot() { b.hot.InvalidateAll() }

// Changed applies a committed change (an internal/events event: kind is a
// store.Kind* constant) to the bridge's caches.
func (b *Bridge) Changed(kind, id string) {
	switch kind {
	case store.KindProject:
		b.invalidateHot(id)
		b.idp.Invalidate(id)
	case store.KindProjectDelete: // every cache entry for the id, its API keys too
		b.invalidateHot(id)
		b.idp.Invalidate(id)
		b.keys.InvalidateProject(id)
	case store.KindAPIKey:
		b.keys.Invalidate(id)
	case store.KindSettings:
		b.invalidateHot(id)
	case store.KindIdP:
		b.idp.Invalidate(id)
	case store.KindTenant: // the tenant's deny-list is in each project's settings
		b.invalidateAllHot()
	}
}

// DropCaches empties every cache of the bridge (the invalidation listener
// reconnected: changes may have been missed).
func (b *Bridge) DropCaches() {
	b.invalidateAllHot()
	b.keys.InvalidateAll()
	b.idp.InvalidateAll()
}

// Authenticate verifies req for project p and returns the token identity.
//
// An API key is checked before the mode: a wrong, unknown, revoked or other
// project's key gets the same 401 whether server mode is enabled or not, so
// only a holder of a valid key of p learns that the mode is off (403). The
// key check is the cached one of the fast path (no extra SQL).
func (b *Bridge) Authenticate(ctx context.Context, p *project.Project, req Request) (token.Identity, error) {
	if req.Mode == mapping.ModeServer {
		if _, err := b.keys.Verify(ctx, p.ID, req.APIKey); err != nil {
			return token.Identity{}, err
		}
	}
	s, err := b.settingsOf(ctx, p.ID)
	if err != nil {
		return token.Identity{}, err
	}
	if !s.Allows(req.Mode) {
		return token.Identity{}, apperr.Forbidden("verification mode " + req.Mode + " is not enabled for this project")
	}
	var (
		res           mapping.Result
		mapErr        error  // the mapping's
		emailVerified = true // the site's own assertion or record; exchange mode decides below
	)
	switch req.Mode {
	case mapping.ModeServer: // the key was verified above
		if req.User == nil {
			return token.Identity{}, apperr.Invalid("user", "server mode needs a user object: {\"user\":{\"id\":\"...\"}}")
		}
		u := req.User
		if err := token.CheckAttributesIn("user.attributes", u.Attributes); err != nil {
			return token.Identity{}, err
		}
		if u.Phone != "" && !mapping.ValidPhone(u.Phone) {
			return token.Identity{}, apperr.Invalid("user.phone", "user.phone must be 3-32 characters of digits, spaces and +-.()")
		}
		// The body's attribute map is this request's alone: the mapping
		// may hand it on instead of copying it.
		res, mapErr = s.Mapping.ApplyUser(&mapping.User{ID: u.ID, Email: u.Email, Username: u.Username, Firstname: u.Firstname,
			Lastname: u.Lastname, Phone: u.Phone, Roles: u.Roles, Attributes: u.Attributes, OwnAttributes: true})
	case mapping.ModeExchange:
		v, err := b.idp.VerifyToken(ctx, p.ID, req.Token)
		if err != nil {
			return token.Identity{}, err
		}
		doc := mapping.Doc(v.Claims)
		emailVerified = v.EmailVerified
		if !claimIsTrue(doc["phone_number_verified"]) {
			delete(doc, "phone_number") // an IdP's unverified phone is not the visitor's
			delete(doc, "phone")
		}
		res, mapErr = s.Mapping.Apply(doc)
	case mapping.ModePassword:
		u, err := b.users.Authenticate(ctx, p.ID, req.Login, req.Password)
		if err != nil {
			return token.Identity{}, err
		}
		if req.Verified != nil {
			*req.Verified = *u
		}
		res, mapErr = s.Mapping.ApplyUser(endUser(u))
	default:
		return token.Identity{}, apperr.Invalid("mode", "unknown verification mode")
	}
	id, _, err := b.finish(ctx, p, s, req.Mode, res, mapErr, emailVerified)
	return id, err
}

// endUser is the mapping's view of a stored end-user (= mapping.EndUserDoc;
// its attributes may be shared with a cache: never handed on).
func endUser(u *enduser.User) *mapping.User {
	return &mapping.User{ID: u.ExternalID, Email: u.Email, Username: u.Username, Firstname: u.Firstname,
		Lastname: u.Lastname, Roles: u.Roles, Attributes: u.Attributes}
}

// finish turns a verified identity, as the project's mapping mapped it
// (res, or the mapping's error mapErr), into the token identity: the per-user
// override or block, the claims firewall and the role gate. On refusal,
// reason names the step (for refresh revocation).
func (b *Bridge) finish(ctx context.Context, p *project.Project, s *mapping.Settings, mode string, res mapping.Result, mapErr error, emailVerified bool) (id token.Identity, reason string, err error) {
	if mapErr != nil {
		var ae *apperr.Error
		if mode == mapping.ModeServer && errors.As(mapErr, &ae) {
			// The site backend's own assertion lacks the id: a request error.
			return token.Identity{}, "", apperr.Invalid("user", "%s", ae.Message)
		}
		return token.Identity{}, RefusedUnmapped, mapErr
	}
	if err := mapping.ApplyOverride(&res, s.Overrides[res.ExternalID]); err != nil {
		return token.Identity{}, RefusedBlocked, err
	}
	if err := b.firewall(p.ID, mode, s, &res.Identity, emailVerified); err != nil {
		return token.Identity{}, RefusedClaims, err
	}
	if b.gate != nil && !b.gate.EndUserMayAuthenticate(ctx, p.ID, res.Roles) {
		return token.Identity{}, RefusedRole, apperr.Forbidden("this user's role may not sign in to this project")
	}
	return res.Identity, "", nil
}

// Reasons AuthenticateEndUser gives for refusing an end-user.
const (
	RefusedModeOff  = "password_mode_off"
	RefusedDisabled = "user_disabled"
	RefusedUnmapped = "unmapped"
	RefusedBlocked  = "blocked"
	RefusedClaims   = "claims_refused"
	RefusedRole     = "role_denied"
)

// RefusedError is AuthenticateEndUser's refusal of an end-user: Err is the
// client-safe error a password login would have got, Reason names why.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string { return e.Err.Error() }

// Unwrap exposes the apperr kind (status mapping) and message.
func (e *RefusedError) Unwrap() error { return e.Err }

// AuthenticateEndUser mints the identity of an end-user verified earlier
// (a refresh credential issued by a password login): the same checks as a
// password login after the password — password mode enabled, user enabled,
// mapping, per-user override or block, claims firewall and role gate — from
// the current settings and the stored user as it is now. A refusal is a
// *RefusedError; other errors (outages) are returned as they are.
func (b *Bridge) AuthenticateEndUser(ctx context.Context, p *project.Project, u *enduser.User) (token.Identity, error) {
	s, err := b.settingsOf(ctx, p.ID)
	if err != nil {
		return token.Identity{}, err
	}
	if !s.Allows(mapping.ModePassword) {
		return token.Identity{}, &RefusedError{Reason: RefusedModeOff, Err: apperr.Forbidden("verification mode password is not enabled for this project")}
	}
	if !u.Enabled {
		return token.Identity{}, &RefusedError{Reason: RefusedDisabled, Err: apperr.Forbidden("this end-user is disabled")}
	}
	res, err := s.Mapping.ApplyUser(endUser(u))
	id, reason, err := b.finish(ctx, p, s, mapping.ModePassword, res, err, true)
	if err != nil && reason != "" && !errors.Is(err, apperr.ErrUnavailable) {
		return token.Identity{}, &RefusedError{Reason: reason, Err: err}
	}
	return id, err
}

func claimIsTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true"
	}
	return false
}

// Close waits for background work: API key last-used writes and IdP HS
// secret refreshes.
func (b *Bridge) Close() {
	if b.keys != nil {
		b.keys.Close()
	}
	if b.idp != nil {
		_ = b.idp.Close()
	}
}
