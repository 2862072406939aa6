package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// Repo stores modes, mappings, overrides and role rules.
type Repo struct {
	db *store.DB
	// Snapshots share what most projects have alike (read-only): the
	// default mapping and the distinct mode sets (at most 2^3 of them once
	// normalised), so a cached project costs bytes, not a mapping.
	defaultMapping *Mapping
	modeSets       sync.Map // stored JSON -> []string
	// shared holds the snapshots of projects without a mapping or
	// overrides of their own, by modes and tenant deny-list (bounded).
	shared *cache.Cache[*Settings]
}

// NewRepo returns a repository.
func NewRepo(db *store.DB) *Repo {
	d := Default("")
	return &Repo{db: db, defaultMapping: &d, shared: cache.New[*Settings](cache.Options{Name: "settings_shared", MaxEntries: 1024})}
}

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

// Settings is the cached per-project snapshot the hot path reads. It is
// read-only: Modes and Mapping may be shared with other projects' snapshots,
// and Overrides is nil when the project has none.
type Settings struct {
	Modes     []string
	Mapping   *Mapping
	Overrides map[string]*Override
	// DenyEmails is the project's tenant's email deny-list.
	DenyEmails token.EmailDenyList
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

// settingsRow is LoadSettings' one row: the project's modes, mapping and
// tenant deny-list, and whether it has overrides.
type settingsRow struct {
	Modes        *string
	HasMapping   bool
	IDClaim      *string
	Prefix       *string
	FirstClaim   *string
	LastClaim    *string
	EmailClaim   *string
	RolesClaim   *string
	Attributes   *string
	DenyList     *string
	HasOverrides bool
}

// LoadSettings reads the project's settings snapshot in one query (modes,
// mapping and tenant deny-list joined), plus one for its overrides when it
// has any. A project without stored modes or mapping gets the defaults, as
// Modes and Mapping return them.
func (r *Repo) LoadSettings(ctx context.Context, projectID string) (*Settings, error) {
	var rows []settingsRow
	err := r.db.WithContext(ctx).Raw(`SELECT am.modes AS modes, im.project_id IS NOT NULL AS has_mapping,
       im.id_claim, im.prefix, im.firstname_claim AS first_claim, im.lastname_claim AS last_claim,
       im.email_claim, im.roles_claim, im.attributes, t.email_denylist AS deny_list,
       EXISTS (SELECT 1 FROM identity_overrides o WHERE o.project_id = p.id) AS has_overrides
  FROM projects p
  JOIN tenants t ON t.id = p.tenant_id
  LEFT JOIN project_auth_modes am ON am.project_id = p.id
  LEFT JOIN identity_mappings im ON im.project_id = p.id
 WHERE p.id = ?`, projectID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("mapping: load settings: %w", err)
	}
	s := &Settings{Modes: DefaultModes, Mapping: r.defaultMapping}
	if len(rows) == 0 {
		return s, nil // no such project: what the hot path's callers never ask for
	}
	row := rows[0]
	if !row.HasMapping && !row.HasOverrides {
		// Most projects differ only by modes and tenant: one snapshot each.
		key := deref(row.Modes) + "\x00" + deref(row.DenyList)
		return r.shared.Get(ctx, key, func(ctx context.Context) (*Settings, error) { return r.decodeSettings(ctx, row, projectID) })
	}
	return r.decodeSettings(ctx, row, projectID)
}

// decodeSettings builds a snapshot from LoadSettings' row (and, when the
// project has any, its overrides).
func (r *Repo) decodeSettings(ctx context.Context, row settingsRow, projectID string) (*Settings, error) {
	s := &Settings{Modes: DefaultModes, Mapping: r.defaultMapping}
	if row.Modes != nil {
		if v, ok := r.modeSets.Load(*row.Modes); ok {
			s.Modes = v.([]string)
		} else {
			var modes []string
			if err := json.Unmarshal([]byte(*row.Modes), &modes); err != nil {
				return nil, fmt.Errorf("mapping: load settings: modes: %w", err)
			}
			if norm, err := ValidateModes(modes); err == nil && slices.Equal(norm, modes) { // only normalised sets are shared: a bounded set
				r.modeSets.Store(*row.Modes, modes)
			}
			s.Modes = modes
		}
	}
	if row.HasMapping {
		m := &Mapping{ProjectID: projectID, IDClaim: deref(row.IDClaim), Prefix: deref(row.Prefix),
			FirstnameClaim: deref(row.FirstClaim), LastnameClaim: deref(row.LastClaim),
			EmailClaim: deref(row.EmailClaim), RolesClaim: deref(row.RolesClaim)}
		if row.Attributes != nil {
			if err := json.Unmarshal([]byte(*row.Attributes), &m.Attributes); err != nil {
				return nil, fmt.Errorf("mapping: load settings: attributes: %w", err)
			}
		}
		s.Mapping = m
	}
	if row.DenyList != nil {
		var err error
		if s.DenyEmails, err = project.DecodeEmailDenyList(*row.DenyList); err != nil {
			return nil, fmt.Errorf("mapping: load settings: email deny-list: %w", err)
		}
	}
	if row.HasOverrides {
		ovs, err := r.Overrides(ctx, projectID)
		if err != nil {
			return nil, err
		}
		s.Overrides = make(map[string]*Override, len(ovs))
		for i := range ovs {
			s.Overrides[ovs[i].ExternalID] = &ovs[i]
		}
	}
	return s, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
