// Package project holds tenants (agencies) and the Pingstreams projects they
// own: project id, name, allowed widget origins, token TTL, audience and status.
package project

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unique"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audience"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// Status of a project.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Limits on token lifetime.
const (
	MinTTL = 30 * time.Second
	MaxTTL = 24 * time.Hour
)

// Refresh credential lifetime (how long a password sign-in through the
// widget SDK is remembered): 0 turns refresh credentials off, else between
// MinRefreshTTL and MaxRefreshTTL. New projects get DefaultRefreshTTL.
const (
	MinRefreshTTL     = 5 * time.Minute
	MaxRefreshTTL     = 90 * 24 * time.Hour
	DefaultRefreshTTL = 30 * 24 * time.Hour
)

var (
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

// Tenant is an operator organisation (an agency or SaaS team).
type Tenant struct {
	ID   string `gorm:"primaryKey" json:"id"`
	Name string `json:"name"`
	// EmailDenyList: emails and domains that never appear in this tenant's
	// tokens (token.EmailDenyList), on top of the deployment's list.
	EmailDenyList []string `gorm:"column:email_denylist;serializer:json" json:"email_denylist"`
	// RequireTOTP: members must enrol a TOTP second factor before acting in
	// this tenant (tenant_totp.go).
	RequireTOTP bool      `gorm:"column:require_totp" json:"require_totp"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Project is one Pingstreams project served by this service.
type Project struct {
	ID              string   `gorm:"primaryKey" json:"id"`
	TenantID        string   `json:"tenant_id"`
	Name            string   `json:"name"`
	AllowedOrigins  []string `gorm:"serializer:json" json:"allowed_origins"`
	TokenTTLSeconds int      `gorm:"column:token_ttl_seconds" json:"token_ttl_seconds"`
	// RefreshTTLSeconds is how long a password sign-in may be renewed with
	// refresh credentials (POST /auth/<id>/refresh); 0: refresh off.
	RefreshTTLSeconds int       `gorm:"column:refresh_ttl_seconds" json:"refresh_ttl_seconds"`
	AudienceBase      string    `json:"audience_base,omitempty"`
	Status            string    `json:"status"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// CreateDetails are the details of a project.create audit event, the same
// whichever front end (console, API, CLI) created the project.
func (p *Project) CreateDetails() map[string]any {
	return map[string]any{"name": p.Name, "allowed_origins": p.AllowedOrigins, "token_ttl_seconds": p.TokenTTLSeconds,
		"refresh_ttl_seconds": p.RefreshTTLSeconds}
}

// TTL returns the token lifetime of the project.
func (p *Project) TTL() time.Duration { return time.Duration(p.TokenTTLSeconds) * time.Second }

// RefreshTTL returns how long a password sign-in may be renewed (0: off).
func (p *Project) RefreshTTL() time.Duration { return time.Duration(p.RefreshTTLSeconds) * time.Second }

// HotCopy returns the copy of p that caches hold for the hot path: the
// fields minting reads, with the tenant id and status shared with every
// other copy (unique.Make). Name and the timestamps are left out (100k
// cached projects: every byte counts).
func (p *Project) HotCopy() Project {
	return Project{ID: p.ID, TenantID: unique.Make(p.TenantID).Value(), AllowedOrigins: p.AllowedOrigins,
		TokenTTLSeconds: p.TokenTTLSeconds, RefreshTTLSeconds: p.RefreshTTLSeconds, AudienceBase: p.AudienceBase,
		Status: unique.Make(p.Status).Value()}
}

// Active reports whether the project may issue tokens.
func (p *Project) Active() bool { return p.Status == StatusActive }

// Audience returns the `aud` claim "<base>/projects/<id>" for tokens of this
// project (base: its audience_base, else defaultBase). A base or id that would
// not read back as exactly that (audience.Build) is an error naming
// audience_base, never a wrong audience: a project stored before audience
// bases were validated strictly must be fixed before it mints again.
func (p *Project) Audience(defaultBase string) (string, error) {
	base := p.AudienceBase
	if base == "" {
		base = defaultBase
	}
	aud, err := audience.Build(base, p.ID)
	if err != nil {
		return "", &apperr.Error{Kind: apperr.ErrConflict, Field: "audience_base",
			Message: "the project's audience_base does not give a valid audience (<scheme>://<host>[:<port>]/projects/<id>); fix its audience_base", Err: err}
	}
	return aud, nil
}

// AudienceText is Audience for display: the audience, or why there is none.
func (p *Project) AudienceText(defaultBase string) string {
	aud, err := p.Audience(defaultBase)
	if err != nil {
		return "(none: invalid audience_base " + truncate(p.AudienceBase, 80) + " — edit the project)"
	}
	return aud
}

// AllowsOrigin reports whether origin is one of the project's allowed origins.
func (p *Project) AllowsOrigin(origin string) bool {
	if origin == "" {
		return false
	}
	for _, o := range p.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// ValidateID checks a Pingstreams project id.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return apperr.Invalid("id", "project id must be 1-64 characters of letters, digits, '-' or '_'")
	}
	return nil
}

// ValidateTenantID checks a tenant slug.
func ValidateTenantID(id string) error {
	if !tenantPattern.MatchString(id) {
		return apperr.Invalid("tenant_id", "tenant id must be 1-63 lowercase letters, digits or '-'")
	}
	return nil
}

// NormalizeOrigin validates a widget page origin (scheme://host[:port]) and
// returns its canonical form. "*" is accepted as "any origin".
func NormalizeOrigin(o string) (string, error) {
	o = strings.TrimSpace(o)
	if o == "*" {
		return o, nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", apperr.Invalid("allowed_origins", "origin %q must look like https://example.com[:port]", truncate(o, 80))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Validate checks and normalises a project before it is stored.
func (p *Project) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	if err := ValidateID(p.ID); err != nil {
		return err
	}
	if err := ValidateTenantID(p.TenantID); err != nil {
		return err
	}
	if p.Name == "" || len(p.Name) > 200 {
		return apperr.Invalid("name", "name is required (at most 200 characters)")
	}
	if len(p.AllowedOrigins) > 50 {
		return apperr.Invalid("allowed_origins", "at most 50 origins")
	}
	seen := map[string]bool{}
	origins := make([]string, 0, len(p.AllowedOrigins))
	for _, o := range p.AllowedOrigins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return err
		}
		if !seen[n] {
			seen[n] = true
			origins = append(origins, n)
		}
	}
	p.AllowedOrigins = origins
	ttl := p.TTL()
	if ttl < MinTTL || ttl > MaxTTL {
		return apperr.Invalid("token_ttl_seconds", "token_ttl_seconds must be between %d and %d", int(MinTTL.Seconds()), int(MaxTTL.Seconds()))
	}
	if r := p.RefreshTTL(); r != 0 && (r < MinRefreshTTL || r > MaxRefreshTTL) {
		return apperr.Invalid("refresh_ttl_seconds", "refresh_ttl_seconds must be 0 (refresh credentials off) or between %d and %d",
			int(MinRefreshTTL.Seconds()), int(MaxRefreshTTL.Seconds()))
	}
	if p.AudienceBase != "" {
		b, err := audience.NormalizeBase(p.AudienceBase)
		if err == nil {
			_, err = audience.Build(b, p.ID)
		}
		if err != nil {
			return apperr.Invalid("audience_base", "audience_base %q must be an http(s) URL of the form scheme://host[:port] (no path, query, fragment or userinfo)", truncate(p.AudienceBase, 80))
		}
		p.AudienceBase = b
	}
	switch p.Status {
	case "":
		p.Status = StatusActive
	case StatusActive, StatusDisabled:
	default:
		return apperr.Invalid("status", "status must be active or disabled")
	}
	return nil
}

// Repo stores tenants and projects.
type Repo struct{ db *store.DB }

// NewRepo returns a repository over db.
func NewRepo(db *store.DB) *Repo { return &Repo{db: db} }

// CreateTenant stores a new tenant.
func (r *Repo) CreateTenant(ctx context.Context, t *Tenant) error {
	t.Name = strings.TrimSpace(t.Name)
	if err := ValidateTenantID(t.ID); err != nil {
		return err
	}
	if t.Name == "" {
		t.Name = t.ID
	}
	l, err := token.ParseEmailDenyList(t.EmailDenyList)
	if err != nil {
		return apperr.Invalid("email_denylist", "email_denylist: %s", err)
	}
	t.EmailDenyList = l.Entries()
	if t.EmailDenyList == nil {
		t.EmailDenyList = []string{}
	}
	if err := r.db.WithContext(ctx).Create(t).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return apperr.Conflict("tenant %s already exists", t.ID)
		}
		return fmt.Errorf("create tenant: %w", err)
	}
	return nil
}

// EnsureTenant creates the tenant if it does not exist yet.
func (r *Repo) EnsureTenant(ctx context.Context, id, name string) (*Tenant, error) {
	t, err := r.GetTenant(ctx, id)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, apperr.ErrNotFound) {
		return nil, err
	}
	t = &Tenant{ID: id, Name: name}
	if err := r.CreateTenant(ctx, t); err != nil && !errors.Is(err, apperr.ErrConflict) {
		return nil, err
	}
	return r.GetTenant(ctx, id)
}

// GetTenant loads a tenant.
func (r *Repo) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	return store.First[Tenant](ctx, r.db.DB, "get tenant", apperr.NotFound("tenant %s not found", id), "id = ?", id)
}

// SetTenantEmailDenyList replaces the tenant's email deny-list and returns
// the normalised entries.
func (r *Repo) SetTenantEmailDenyList(ctx context.Context, id string, entries []string) ([]string, error) {
	l, err := token.ParseEmailDenyList(entries)
	if err != nil {
		return nil, apperr.Invalid("email_denylist", "email_denylist: %s", err)
	}
	norm := l.Entries()
	if norm == nil {
		norm = []string{}
	}
	err = r.db.Change(ctx, store.KindTenant, id, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Model(&Tenant{}).Where("id = ?", id).
			Updates(map[string]any{"email_denylist": mustJSON(norm), "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("set tenant email deny-list: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("tenant %s not found", id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return norm, nil
}

// LoadTenantEmailDenyList returns the deny-list of the tenant owning
// projectID (empty when the project does not exist), in one query.
func LoadTenantEmailDenyList(ctx context.Context, db *store.DB, projectID string) (token.EmailDenyList, error) {
	var raw []string
	err := db.WithContext(ctx).Raw(`SELECT t.email_denylist FROM tenants t JOIN projects p ON p.tenant_id = t.id WHERE p.id = ?`, projectID).
		Scan(&raw).Error
	if err != nil {
		return token.EmailDenyList{}, fmt.Errorf("load tenant email deny-list: %w", err)
	}
	if len(raw) == 0 { // no such project (the join on its key gives at most one row)
		return token.EmailDenyList{}, nil
	}
	l, err := DecodeEmailDenyList(raw[0])
	if err != nil {
		return token.EmailDenyList{}, fmt.Errorf("load tenant email deny-list: %w", err)
	}
	return l, nil
}

// DecodeEmailDenyList parses a tenant's stored email_denylist column (a JSON
// array of entries), for LoadTenantEmailDenyList and for queries that join
// the column themselves (the settings snapshot).
func DecodeEmailDenyList(stored string) (token.EmailDenyList, error) {
	var entries []string
	if err := json.Unmarshal([]byte(stored), &entries); err != nil {
		return token.EmailDenyList{}, err
	}
	return token.ParseEmailDenyList(entries)
}

// ListTenants lists tenants; ids limits the result when non-nil.
func (r *Repo) ListTenants(ctx context.Context, ids []string) ([]Tenant, error) {
	q := r.db.WithContext(ctx).Order("id")
	if ids != nil {
		if len(ids) == 0 {
			return []Tenant{}, nil
		}
		q = q.Where("id IN ?", ids)
	}
	var out []Tenant
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// PageTenants returns one page of the tenants (ids limits them when
// non-nil), in id order (the primary key), read by keyset after the cursor.
func (r *Repo) PageTenants(ctx context.Context, ids []string, req paging.Request) (paging.Page[Tenant], error) {
	req = req.Bounded()
	keys, err := req.Keys(1)
	if err != nil {
		return paging.Page[Tenant]{}, err
	}
	if ids != nil && len(ids) == 0 {
		return paging.Page[Tenant]{Items: []Tenant{}}, nil
	}
	q := r.db.WithContext(ctx).Model(&Tenant{})
	if ids != nil {
		q = q.Where("id IN ?", ids)
	}
	if keys != nil {
		q = q.Where("id > ?", keys[0])
	}
	var rows []Tenant
	if err := q.Order("id").Limit(req.Limit + 1).Find(&rows).Error; err != nil {
		return paging.Page[Tenant]{}, fmt.Errorf("list tenants: %w", err)
	}
	return paging.Cut(rows, req.Limit, func(t *Tenant) []string { return []string{t.ID} }), nil
}

// Create stores a new project after validation.
func (r *Repo) Create(ctx context.Context, p *Project) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := r.GetTenant(ctx, p.TenantID); err != nil {
		return err
	}
	if err := r.db.WithContext(ctx).Create(p).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return apperr.Conflict("project %s already exists", p.ID)
		}
		return fmt.Errorf("create project: %w", err)
	}
	return nil
}

// Get loads a project by its Pingstreams id.
func (r *Repo) Get(ctx context.Context, id string) (*Project, error) {
	if ValidateID(id) != nil {
		return nil, apperr.NotFound("project not found")
	}
	return store.First[Project](ctx, r.db.DB, "get project", apperr.NotFound("project %s not found", id), "id = ?", id)
}

// ListFilter narrows List and Page.
type ListFilter struct {
	// TenantIDs limits to these tenants when non-nil (empty: no projects).
	TenantIDs []string
	// Search keeps projects whose id or name contains it (case-insensitive;
	// Page only).
	Search string
}

// List returns every project matching f, ordered by tenant then id. It is
// for the few callers that must see them all (a tenant-wide rotation, the
// CLI's export); lists shown to people use Page.
func (r *Repo) List(ctx context.Context, f ListFilter) ([]Project, error) {
	q := r.db.WithContext(ctx).Order("tenant_id, id")
	if f.TenantIDs != nil {
		if len(f.TenantIDs) == 0 {
			return []Project{}, nil
		}
		q = q.Where("tenant_id IN ?", f.TenantIDs)
	}
	var out []Project
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// searchDoc is the text a project search matches, spelled as the
// expression of projects_search_idx (migration 0017), so PostgreSQL serves
// it from the trigram index.
const searchDoc = `lower(id || ' ' || name)`

// MaxSearch bounds a search string (a 400 naming "search" past it).
const MaxSearch = 200

// Page returns one page of the projects matching f in (tenant_id, id)
// order, served by the projects_tenant_id_idx index: a keyset read of
// req.Limit+1 rows after the cursor, never an OFFSET.
func (r *Repo) Page(ctx context.Context, f ListFilter, req paging.Request) (paging.Page[Project], error) {
	req = req.Bounded()
	keys, err := req.Keys(2)
	if err != nil {
		return paging.Page[Project]{}, err
	}
	if f.TenantIDs != nil && len(f.TenantIDs) == 0 {
		return paging.Page[Project]{Items: []Project{}}, nil
	}
	q := r.db.WithContext(ctx).Model(&Project{})
	if f.TenantIDs != nil {
		q = q.Where("tenant_id IN ?", f.TenantIDs)
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		if len(s) > MaxSearch {
			return paging.Page[Project]{}, apperr.Invalid("search", "search must be at most %d characters", MaxSearch)
		}
		q = q.Where(searchDoc+` LIKE ? ESCAPE '\'`, paging.Contains(s))
	}
	if keys != nil {
		q = q.Where(paging.After("tenant_id", "id"), paging.Args(keys)...)
	}
	var rows []Project
	if err := q.Order("tenant_id, id").Limit(req.Limit + 1).Find(&rows).Error; err != nil {
		return paging.Page[Project]{}, fmt.Errorf("list projects: %w", err)
	}
	return paging.Cut(rows, req.Limit, func(p *Project) []string { return []string{p.TenantID, p.ID} }), nil
}

// CountByTenant counts the projects of each of the given tenants in one
// grouped query (tenants without projects are absent: zero).
func (r *Repo) CountByTenant(ctx context.Context, tenantIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(tenantIDs))
	if len(tenantIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		TenantID string
		N        int64
	}
	if err := r.db.WithContext(ctx).Model(&Project{}).Select("tenant_id, COUNT(*) AS n").
		Where("tenant_id IN ?", tenantIDs).Group("tenant_id").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count projects: %w", err)
	}
	for _, row := range rows {
		out[row.TenantID] = row.N
	}
	return out, nil
}

// Update saves changed fields of an existing project (id and tenant are fixed).
func (r *Repo) Update(ctx context.Context, p *Project) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return r.db.Change(ctx, store.KindProject, p.ID, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Model(&Project{}).Where("id = ?", p.ID).Updates(map[string]any{
			"name":                p.Name,
			"allowed_origins":     mustJSON(p.AllowedOrigins),
			"token_ttl_seconds":   p.TokenTTLSeconds,
			"refresh_ttl_seconds": p.RefreshTTLSeconds,
			"audience_base":       p.AudienceBase,
			"status":              p.Status,
			"updated_at":          time.Now().UTC(),
		})
		if res.Error != nil {
			return fmt.Errorf("update project: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("project %s not found", p.ID)
		}
		return nil
	})
}

// Delete removes a project and (by cascade) its end-users and secret metadata.
func (r *Repo) Delete(ctx context.Context, id string) error {
	return r.db.Change(ctx, store.KindProject, id, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Delete(&Project{}, "id = ?", id)
		if res.Error != nil {
			return fmt.Errorf("delete project: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("project %s not found", id)
		}
		// The cascade removed its API keys, settings, end-users and refresh
		// credentials: every instance drops everything it cached for the id.
		return r.db.Publish(ctx, store.KindProjectDelete, id)
	})
}
