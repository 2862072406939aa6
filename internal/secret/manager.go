package secret

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/store"
)

// Auditor records audit events (implemented by *audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Manager implements SecretStore over a Backend plus metadata in SQL.
type Manager struct {
	db      *store.DB
	backend Backend
	audit   Auditor
	grace   time.Duration
	now     func() time.Time
}

// ManagerOption configures a Manager.
type ManagerOption func(*Manager)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) ManagerOption { return func(m *Manager) { m.now = now } }

// NewManager returns a SecretStore. grace is how long a replaced version keeps verifying.
func NewManager(db *store.DB, backend Backend, auditor Auditor, grace time.Duration, opts ...ManagerOption) *Manager {
	m := &Manager{db: db, backend: backend, audit: auditor, grace: grace, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Backend returns the value backend (for readiness checks).
func (m *Manager) Backend() Backend { return m.backend }

func (m *Manager) tenantOf(ctx context.Context, projectID string) (string, error) {
	var tenant []string
	if err := m.db.WithContext(ctx).Table("projects").Where("id = ?", projectID).Limit(1).Pluck("tenant_id", &tenant).Error; err != nil {
		return "", fmt.Errorf("secret: look up project: %w", err)
	}
	if len(tenant) == 0 {
		return "", apperr.NotFound("project %s not found", projectID)
	}
	return tenant[0], nil
}

// backendErr classifies a backend failure: domain errors pass through,
// anything else means the backend is unavailable (503).
func backendErr(op string, err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Unavailable("secret store unavailable; try again later", fmt.Errorf("%s: %w", op, err))
}

// Put implements SecretStore.
func (m *Manager) Put(ctx context.Context, projectID string, value []byte, opts WriteOptions) (Meta, error) {
	if len(value) < MinValueLen || len(value) > MaxValueLen {
		return Meta{}, apperr.Invalid("secret", "secret must be %d to %d bytes long", MinValueLen, MaxValueLen)
	}
	if !utf8.Valid(value) {
		// JWT libraries (and the Pingstreams dashboard) use the secret as text.
		return Meta{}, apperr.Invalid("secret", "secret must be valid UTF-8 text")
	}
	src := SourcePasted
	if opts.Source == SourceChatServer {
		src = SourceChatServer
	}
	return m.write(ctx, projectID, value, src, opts)
}

// Rotate implements SecretStore.
func (m *Manager) Rotate(ctx context.Context, projectID string, opts WriteOptions) (Meta, []byte, error) {
	value, err := Generate()
	if err != nil {
		return Meta{}, nil, fmt.Errorf("secret: generate: %w", err)
	}
	meta, err := m.write(ctx, projectID, value, SourceGenerated, opts)
	if err != nil {
		return Meta{}, nil, err
	}
	return meta, value, nil
}

func (m *Manager) write(ctx context.Context, projectID string, value []byte, source string, opts WriteOptions) (Meta, error) {
	tenantID, err := m.tenantOf(ctx, projectID)
	if err != nil {
		return Meta{}, err
	}
	grace := m.grace
	if opts.Grace != nil {
		grace = *opts.Grace
	}
	if grace < 0 {
		return Meta{}, apperr.Invalid("grace", "grace must not be negative")
	}
	actor := opts.Actor
	if actor == "" {
		actor = "system"
	}
	version, err := m.backend.Write(ctx, projectID, value)
	if err != nil {
		return Meta{}, backendErr("write secret", err)
	}
	now := m.now()
	graceUntil := now.Add(grace)
	meta := Meta{ProjectID: projectID, Version: version, Backend: m.backend.Name(), Source: source, CreatedBy: actor, CreatedAt: now}
	var from []int
	// The metadata and the change event (other instances reload the
	// keyring) commit together.
	err = m.db.InTx(ctx, func(ctx context.Context) error {
		tx := store.Tx(ctx)
		if err := m.db.Publish(ctx, store.KindSecret, projectID); err != nil {
			return err
		}
		// Serialise writers of one project (SQLite transactions are already
		// exclusive), so concurrent rotations leave exactly one current version.
		if m.db.Dialect == store.Postgres {
			if err := tx.Exec("SELECT 1 FROM projects WHERE id = ? FOR UPDATE", projectID).Error; err != nil {
				return err
			}
		}
		// A version may already have metadata if a backend was reset; replace it.
		if err := tx.Delete(&Meta{}, "project_id = ? AND version = ?", projectID, version).Error; err != nil {
			return err
		}
		var newer int64
		if err := tx.Model(&Meta{}).Where("project_id = ? AND superseded_at IS NULL AND version > ?", projectID, version).Count(&newer).Error; err != nil {
			return err
		}
		if newer > 0 {
			// A concurrent write already stored a newer version: this one
			// arrives superseded (backends number versions in write order).
			meta.SupersededAt, meta.GraceUntil = &now, &graceUntil
			return tx.Create(&meta).Error
		}
		if err := tx.Model(&Meta{}).Where("project_id = ? AND superseded_at IS NULL", projectID).Pluck("version", &from).Error; err != nil {
			return err
		}
		if err := tx.Model(&Meta{}).Where("project_id = ? AND superseded_at IS NULL", projectID).
			Updates(map[string]any{"superseded_at": now, "grace_until": graceUntil}).Error; err != nil {
			return err
		}
		return tx.Create(&meta).Error
	})
	if err != nil {
		return Meta{}, fmt.Errorf("secret: record version metadata: %w", err)
	}
	details := map[string]any{"to_version": version, "source": source, "backend": m.backend.Name(), "grace_seconds": int(grace.Seconds())}
	if len(from) > 0 {
		details["from_version"] = from[0]
	}
	action := audit.SecretRotate
	if len(from) == 0 {
		action = audit.SecretCreate
	}
	if err := m.audit.Record(ctx, audit.Event{Actor: actor, TenantID: tenantID, ProjectID: projectID, Action: action, Target: fmt.Sprintf("v%d", version), Details: details}); err != nil {
		return Meta{}, err
	}
	return meta, nil
}

// CurrentVersion returns the project's current secret version from metadata
// (one SQL query; the backend is not touched). It implements VersionChecker.
func (m *Manager) CurrentVersion(ctx context.Context, projectID string) (int, error) {
	var v []int
	if err := m.db.WithContext(ctx).Model(&Meta{}).Where("project_id = ? AND superseded_at IS NULL", projectID).
		Order("version DESC").Limit(1).Pluck("version", &v).Error; err != nil {
		return 0, fmt.Errorf("secret: current version: %w", err)
	}
	if len(v) == 0 {
		return 0, apperr.NotFound("project %s has no shared secret yet", projectID)
	}
	return v[0], nil
}

// Versions implements SecretStore.
func (m *Manager) Versions(ctx context.Context, projectID string) ([]Meta, error) {
	var out []Meta
	if err := m.db.WithContext(ctx).Where("project_id = ?", projectID).Order("version DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("secret: list versions: %w", err)
	}
	return out, nil
}

// Get implements SecretStore.
func (m *Manager) Get(ctx context.Context, projectID string) (*Keyring, error) {
	now := m.now()
	var metas []Meta
	if err := m.db.WithContext(ctx).
		Where("project_id = ? AND (superseded_at IS NULL OR grace_until > ?)", projectID, now).
		Order("version DESC").Find(&metas).Error; err != nil {
		return nil, fmt.Errorf("secret: load versions: %w", err)
	}
	if len(metas) == 0 || metas[0].SupersededAt != nil {
		return nil, apperr.NotFound("project %s has no shared secret yet", projectID)
	}
	kr := &Keyring{ProjectID: projectID}
	var values map[int][]byte
	if vr, ok := m.backend.(VersionsReader); ok {
		vs := make([]int, len(metas))
		for i := range metas {
			vs[i] = metas[i].Version
		}
		var err error
		if values, err = vr.ReadVersions(ctx, projectID, vs); err != nil {
			return nil, backendErr("read secret", err)
		}
	}
	for i, meta := range metas {
		value, ok := values[meta.Version]
		if !ok {
			var err error
			if value, err = m.backend.Read(ctx, projectID, meta.Version); err != nil {
				return nil, backendErr("read secret", err)
			}
		}
		v := Version{Version: meta.Version, Value: value}
		if i == 0 {
			kr.Current = v
			continue
		}
		if meta.GraceUntil != nil {
			gu := meta.GraceUntil.UTC()
			v.ValidUntil = &gu
			kr.Previous = append(kr.Previous, v)
		}
	}
	return kr, nil
}

// Delete implements SecretStore.
func (m *Manager) Delete(ctx context.Context, projectID string, actor string) error {
	tenantID, _ := m.tenantOf(ctx, projectID)
	if err := m.backend.Delete(ctx, projectID); err != nil {
		return backendErr("delete secret", err)
	}
	if err := m.db.Change(ctx, store.KindSecret, projectID, func(ctx context.Context) error {
		return m.db.WithContext(ctx).Delete(&Meta{}, "project_id = ?", projectID).Error
	}); err != nil {
		return fmt.Errorf("secret: delete metadata: %w", err)
	}
	return m.audit.Record(ctx, audit.Event{Actor: actor, TenantID: tenantID, ProjectID: projectID, Action: audit.SecretDelete})
}
