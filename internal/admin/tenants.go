package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/project"
)

// TenantInput is a new tenant.
type TenantInput struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// CreateTenant creates a tenant (the id is validated by the repository).
func (s *Service) CreateTenant(ctx context.Context, a Actor, in TenantInput) (*project.Tenant, error) {
	t := &project.Tenant{ID: strings.TrimSpace(in.ID), Name: in.Name}
	if err := s.d.Projects.CreateTenant(ctx, t); err != nil {
		return nil, err
	}
	s.record(ctx, a, audit.Event{TenantID: t.ID, Action: audit.TenantCreate, Target: t.ID})
	return t, nil
}

// EnsureTenant returns the tenant, creating it (audited) when missing: the
// CLI's `project add -tenant X`.
func (s *Service) EnsureTenant(ctx context.Context, a Actor, id string) (*project.Tenant, error) {
	t, err := s.d.Projects.GetTenant(ctx, id)
	if err == nil || !errors.Is(err, apperr.ErrNotFound) {
		return t, err
	}
	return s.CreateTenant(ctx, a, TenantInput{ID: id, Name: id})
}

// SetTenantEmailDenyList replaces a tenant's email deny-list (emails and
// domains that never appear in its tokens).
func (s *Service) SetTenantEmailDenyList(ctx context.Context, a Actor, tenantID string, entries []string) ([]string, error) {
	if s.d.Modes == nil {
		return nil, apperr.Unavailable("verification modes are not configured", nil)
	}
	return s.d.Modes.SetTenantEmailDenyList(ctx, a.Email, tenantID, entries)
}
