package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// Repo stores modes, mappings, overrides and role rules.
type Repo struct{ db *store.DB }

// NewRepo returns a repository.
func NewRepo(db *store.DB) *Repo { return &Repo{db: db} }

func notFoundOnFK(err error, projectID string) error {
	if err != nil && (errors.Is(err, gorm.ErrForeignKeyViolated) || strings.Contains(err.Error(), "FOREIGN KEY") || strings.Contains(err.Error(), "23503")) {
		return apperr.NotFound("project %s not found", projectID)
	}
	return err
}

func upsert(ctx context.Context, db *store.DB, cols []string, v any) error {
	cc := make([]clause.Column, len(cols))
	for i, c := range cols {
		cc[i] = clause.Column{Name: c}
	}
	return db.WithContext(ctx).Clauses(clause.OnConflict{Columns: cc, UpdateAll: true}).Create(v).Error
}

// Modes returns the project's enabled modes (DefaultModes when never set).
func (r *Repo) Modes(ctx context.Context, projectID string) ([]string, error) {
	var ms []ModeSet
	if err := r.db.WithContext(ctx).Where("project_id = ?", projectID).Limit(1).Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("mapping: modes: %w", err)
	}
	if len(ms) == 0 {
		return append([]string(nil), DefaultModes...), nil
	}
	return ms[0].Modes, nil
}

// SetModes replaces the project's enabled modes.
func (r *Repo) SetModes(ctx context.Context, projectID string, modes []string, actor string) ([]string, error) {
	modes, err := ValidateModes(modes)
	if err != nil {
		return nil, err
	}
	ms := &ModeSet{ProjectID: projectID, Modes: modes, UpdatedBy: actor, UpdatedAt: time.Now().UTC()}
	if err := r.db.Change(ctx, store.KindSettings, projectID, func(ctx context.Context) error {
		return upsert(ctx, r.db, []string{"project_id"}, ms)
	}); err != nil {
		if e := notFoundOnFK(err, projectID); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("mapping: set modes: %w", err)
	}
	return modes, nil
}

// Mapping returns the project's mapping (Default when never set).
func (r *Repo) Mapping(ctx context.Context, projectID string) (*Mapping, error) {
	var ms []Mapping
	if err := r.db.WithContext(ctx).Where("project_id = ?", projectID).Limit(1).Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("mapping: get: %w", err)
	}
	if len(ms) == 0 {
		d := Default(projectID)
		return &d, nil
	}
	return &ms[0], nil
}

// lockTenant makes the rest of transaction tx the only writer of mappings of
// tenantID, so that SetMapping's prefix check and write are atomic per tenant.
//
// PostgreSQL runs READ COMMITTED: without a lock two transactions for two
// projects of one tenant could each check before the other wrote, and both
// store overlapping prefixes. The tenant row is locked FOR NO KEY UPDATE: it
// conflicts with itself (concurrent SetMapping calls of the tenant wait here,
// and their check, a new statement, then sees the committed winner) but not
// with the FOR KEY SHARE taken by foreign-key checks, so creating projects in
// the tenant is not blocked. The tenant id of a project never changes, so
// reading it before the lock is safe.
//
// SQLite has no row locks and needs none: store.Open begins every transaction
// with BEGIN IMMEDIATE (_txlock=immediate), so write transactions already run
// one at a time from their start.
func lockTenant(tx *gorm.DB, d store.Dialect, tenantID string) error {
	if d != store.Postgres {
		return nil
	}
	var locked []string
	if err := tx.Table("tenants").Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).
		Where("id = ?", tenantID).Pluck("id", &locked).Error; err != nil {
		return fmt.Errorf("mapping: lock tenant: %w", err)
	}
	if len(locked) == 0 { // projects.tenant_id references tenants: cannot happen
		return fmt.Errorf("mapping: lock tenant: tenant %s of the project vanished", tenantID)
	}
	return nil
}

// SetMapping validates and stores m. A non-empty prefix must not overlap the
// prefix of another project of the same tenant (ids could collide); the check
// and the write are serialised per tenant (see lockTenant).
func (r *Repo) SetMapping(ctx context.Context, m *Mapping, actor string) error {
	if err := m.Validate(); err != nil {
		return err
	}
	m.UpdatedBy, m.UpdatedAt = actor, time.Now().UTC()
	return r.db.InTx(ctx, func(ctx context.Context) error {
		tx := store.Tx(ctx)
		if err := r.db.Publish(ctx, store.KindSettings, m.ProjectID); err != nil {
			return err
		}
		var tenant []string
		if err := tx.Table("projects").Where("id = ?", m.ProjectID).Limit(1).Pluck("tenant_id", &tenant).Error; err != nil {
			return fmt.Errorf("mapping: project: %w", err)
		}
		if len(tenant) == 0 {
			return apperr.NotFound("project %s not found", m.ProjectID)
		}
		if err := lockTenant(tx, r.db.Dialect, tenant[0]); err != nil {
			return err
		}
		if m.Prefix != "" {
			var others []struct {
				ProjectID string
				Prefix    string
			}
			if err := tx.Table("identity_mappings AS m").Select("m.project_id, m.prefix").
				Joins("JOIN projects p ON p.id = m.project_id").
				Where("p.tenant_id = ? AND m.project_id <> ? AND m.prefix <> ''", tenant[0], m.ProjectID).
				Scan(&others).Error; err != nil {
				return fmt.Errorf("mapping: prefixes: %w", err)
			}
			for _, o := range others {
				if PrefixesOverlap(m.Prefix, o.Prefix) {
					return apperr.Conflict("prefix %q overlaps prefix %q of project %s in the same tenant; user ids could collide", m.Prefix, o.Prefix, o.ProjectID)
				}
			}
		}
		cc := []clause.Column{{Name: "project_id"}}
		if err := tx.Clauses(clause.OnConflict{Columns: cc, UpdateAll: true}).Create(m).Error; err != nil {
			if e := notFoundOnFK(err, m.ProjectID); e != err { // project deleted meanwhile
				return e
			}
			return fmt.Errorf("mapping: set: %w", err)
		}
		return nil
	})
}

// Overrides lists the project's overrides.
func (r *Repo) Overrides(ctx context.Context, projectID string) ([]Override, error) {
	var out []Override
	if err := r.db.WithContext(ctx).Where("project_id = ?", projectID).Order("external_id").Limit(MaxOverrides).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("mapping: overrides: %w", err)
	}
	return out, nil
}

// PutOverride creates or replaces an override.
func (r *Repo) PutOverride(ctx context.Context, o *Override, actor string) error {
	if err := o.Validate(); err != nil {
		return err
	}
	var n int64
	if err := r.db.WithContext(ctx).Model(&Override{}).Where("project_id = ?", o.ProjectID).Count(&n).Error; err != nil {
		return fmt.Errorf("mapping: count overrides: %w", err)
	}
	if n >= MaxOverrides {
		// At the cap only replacing an existing override is allowed. (The cap
		// bounds storage and the console page; concurrent writers may pass it
		// by a few rows, which is harmless.)
		var exists int64
		if err := r.db.WithContext(ctx).Model(&Override{}).Where("project_id = ? AND external_id = ?", o.ProjectID, o.ExternalID).Count(&exists).Error; err != nil {
			return fmt.Errorf("mapping: find override: %w", err)
		}
		if exists == 0 {
			return apperr.Conflict("project %s already has %d overrides", o.ProjectID, n)
		}
	}
	now := time.Now().UTC()
	o.UpdatedBy, o.UpdatedAt = actor, now
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now
	}
	err := r.db.Change(ctx, store.KindSettings, o.ProjectID, func(ctx context.Context) error {
		return r.db.WithContext(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "project_id"}, {Name: "external_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"force_id", "attributes", "blocked", "note", "updated_by", "updated_at"}),
		}).Create(o).Error
	})
	if err != nil {
		if e := notFoundOnFK(err, o.ProjectID); e != err {
			return e
		}
		return fmt.Errorf("mapping: put override: %w", err)
	}
	return nil
}

// DeleteOverride removes an override.
func (r *Repo) DeleteOverride(ctx context.Context, projectID, externalID string) error {
	return r.db.Change(ctx, store.KindSettings, projectID, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Delete(&Override{}, "project_id = ? AND external_id = ?", projectID, externalID)
		if res.Error != nil {
			return fmt.Errorf("mapping: delete override: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("no override for this external id")
		}
		return nil
	})
}

// Settings is the cached per-project snapshot the hot path reads.
type Settings struct {
	Modes     []string
	Mapping   *Mapping
	Overrides map[string]*Override
	// DenyEmails is the project's tenant's email deny-list.
	DenyEmails token.EmailDenyList
	fetched    time.Time
}

// Allows reports whether mode is enabled.
func (s *Settings) Allows(mode string) bool {
	for _, m := range s.Modes {
		if m == mode {
			return true
		}
	}
	return false
}

// Cache serves Settings from memory for ttl; changes made through the Cache
// invalidate at once (other processes' changes are seen within ttl).
type Cache struct {
	repo *Repo
	ttl  time.Duration
	now  func() time.Time

	mu    sync.RWMutex
	byID  map[string]*Settings
	gen   uint64 // bumped by every invalidation: a load started before one does not store
	group singleflight.Group
}

// NewCache returns a settings cache.
func NewCache(repo *Repo, ttl time.Duration) *Cache {
	return &Cache{repo: repo, ttl: ttl, now: time.Now, byID: map[string]*Settings{}}
}

// Repo returns the repository.
func (c *Cache) Repo() *Repo { return c.repo }

// Get returns the project's settings.
func (c *Cache) Get(ctx context.Context, projectID string) (*Settings, error) {
	c.mu.RLock()
	s, ok := c.byID[projectID]
	c.mu.RUnlock()
	if ok && c.now().Sub(s.fetched) < c.ttl {
		return s, nil
	}
	v, err, _ := c.group.Do(projectID, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		modes, err := c.repo.Modes(ctx, projectID)
		if err != nil {
			return nil, err
		}
		m, err := c.repo.Mapping(ctx, projectID)
		if err != nil {
			return nil, err
		}
		ovs, err := c.repo.Overrides(ctx, projectID)
		if err != nil {
			return nil, err
		}
		deny, err := project.LoadTenantEmailDenyList(ctx, c.repo.db, projectID)
		if err != nil {
			return nil, err
		}
		s := &Settings{Modes: modes, Mapping: m, Overrides: make(map[string]*Override, len(ovs)), DenyEmails: deny, fetched: c.now()}
		for i := range ovs {
			s.Overrides[ovs[i].ExternalID] = &ovs[i]
		}
		c.mu.Lock()
		if c.gen == gen {
			c.byID[projectID] = s
		}
		c.mu.Unlock()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Settings), nil
}

// InvalidateAll drops every snapshot (a tenant-wide change).
func (c *Cache) InvalidateAll() {
	c.mu.Lock()
	for id := range c.byID {
		c.group.Forget(id)
	}
	c.byID = map[string]*Settings{}
	c.gen++
	c.mu.Unlock()
}

// Invalidate drops the project's snapshot.
func (c *Cache) Invalidate(projectID string) {
	c.mu.Lock()
	delete(c.byID, projectID)
	c.gen++
	c.mu.Unlock()
	c.group.Forget(projectID)
}
