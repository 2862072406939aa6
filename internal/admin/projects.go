package admin

import (
	"context"
	"errors"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/refresh"
)

// ProjectInput is a new project.
type ProjectInput struct {
	ID              string   `json:"id"`
	TenantID        string   `json:"-"`
	Name            string   `json:"name"`
	AllowedOrigins  []string `json:"allowed_origins"`
	TokenTTLSeconds int      `json:"token_ttl_seconds"`
	// RefreshTTLSeconds: nil gives the default (project.DefaultRefreshTTL);
	// 0 turns refresh credentials off.
	RefreshTTLSeconds *int   `json:"refresh_ttl_seconds"`
	AudienceBase      string `json:"audience_base"`
	Status            string `json:"status"`
}

// CreateProject stores a new project in an existing tenant (the repository
// validates every field).
func (s *Service) CreateProject(ctx context.Context, a Actor, in ProjectInput) (*project.Project, error) {
	p := &project.Project{ID: in.ID, TenantID: in.TenantID, Name: in.Name, AllowedOrigins: in.AllowedOrigins,
		TokenTTLSeconds: in.TokenTTLSeconds, AudienceBase: in.AudienceBase, Status: in.Status}
	if p.TokenTTLSeconds == 0 {
		p.TokenTTLSeconds = int(s.d.DefaultTTL.Seconds())
	}
	p.RefreshTTLSeconds = int(project.DefaultRefreshTTL.Seconds())
	if in.RefreshTTLSeconds != nil {
		p.RefreshTTLSeconds = *in.RefreshTTLSeconds
	}
	if err := s.d.Projects.Create(ctx, p); err != nil {
		return nil, err
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.ProjectCreate, Target: p.ID, Details: p.CreateDetails()})
	return p, nil
}

// UpdateProject saves p (its editable fields changed by the caller);
// disabling the project revokes its refresh credentials (they would be
// refused at their next use anyway).
func (s *Service) UpdateProject(ctx context.Context, a Actor, p *project.Project) error {
	if err := s.d.Projects.Update(ctx, p); err != nil {
		return err
	}
	s.d.ProjectChanged(p.ID)
	if !p.Active() && s.d.Refresh != nil {
		if _, err := s.d.Refresh.RevokeProject(ctx, p.ID, refresh.ReasonProjectDisabled); err != nil {
			s.d.Log.ErrorContext(ctx, "revoking refresh credentials of a disabled project failed", "project_id", p.ID, "error", err.Error())
		}
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.ProjectUpdate, Target: p.ID,
		Details: map[string]any{"name": p.Name, "allowed_origins": p.AllowedOrigins, "token_ttl_seconds": p.TokenTTLSeconds,
			"refresh_ttl_seconds": p.RefreshTTLSeconds, "status": p.Status}})
	return nil
}

// DeleteProject removes the project with its secret, its exchange-mode
// secret, its own chat-server connection and its role rules.
func (s *Service) DeleteProject(ctx context.Context, a Actor, p *project.Project) error {
	if vs, err := s.d.Secrets.Versions(ctx, p.ID); err == nil && len(vs) > 0 {
		if err := s.d.Secrets.Delete(ctx, p.ID, a.Email); err != nil {
			return err
		}
	}
	if s.d.Modes != nil {
		// The exchange mode's HS secret lives in the secret backend under its
		// own id; remove it with the project.
		if err := s.d.Modes.DeleteIdP(ctx, a.Email, p.ID); err != nil && !errors.Is(err, apperr.ErrNotFound) {
			return err
		}
	}
	if s.d.ChatConns != nil {
		// The project's own chat-server connection (its credential is in the
		// secret backend) must not outlive it: a project re-created under the
		// same id, maybe in another tenant, would rotate with it.
		if err := s.d.ChatConns.Delete(ctx, chatserver.ScopeProject, p.ID); err != nil && !errors.Is(err, apperr.ErrNotFound) {
			return err
		}
	}
	if err := s.d.Projects.Delete(ctx, p.ID); err != nil {
		return err
	}
	s.d.ProjectChanged(p.ID)
	if err := s.d.Roles.SetEndUserRoles(ctx, p.TenantID, p.ID, nil); err != nil {
		s.d.Log.ErrorContext(ctx, "removing the role rules of a deleted project failed", "project_id", p.ID, "error", err.Error())
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.ProjectDelete, Target: p.ID})
	return nil
}

// SetRoleRules replaces the end-user roles that may sign in to the project
// (empty: everyone). It is the one implementation behind the console's
// "Who may sign in" form, PUT .../role-rules (and its alias
// .../enduser-roles) and the role-rules POST/DELETE of one role.
func (s *Service) SetRoleRules(ctx context.Context, a Actor, p *project.Project, roles []string) ([]string, error) {
	if s.d.Modes == nil {
		return nil, apperr.Unavailable("end-user role rules are not configured", nil)
	}
	return s.d.Modes.SetRoleRules(ctx, a.Email, p.ID, roles)
}
