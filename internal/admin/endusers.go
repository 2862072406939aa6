package admin

import (
	"context"
	"strings"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/refresh"
)

// UserInput is the editable part of an end-user (create and update).
type UserInput struct {
	Email      string         `json:"email"`
	Username   string         `json:"username"`
	ExternalID string         `json:"external_id"`
	Firstname  string         `json:"firstname"`
	Lastname   string         `json:"lastname"`
	Password   string         `json:"password"`
	Roles      []string       `json:"roles"`
	Attributes map[string]any `json:"attributes"`
	Enabled    *bool          `json:"enabled"`
}

// UserInputOf is the editable part of u (an update starts from it).
func UserInputOf(u *enduser.User) UserInput {
	enabled := u.Enabled
	return UserInput{Email: u.Email, Username: u.Username, ExternalID: u.ExternalID, Firstname: u.Firstname, Lastname: u.Lastname,
		Roles: u.Roles, Attributes: u.Attributes, Enabled: &enabled}
}

func (in UserInput) user(projectID string) *enduser.User {
	u := &enduser.User{ProjectID: projectID, Email: in.Email, Username: in.Username, ExternalID: in.ExternalID,
		Firstname: in.Firstname, Lastname: in.Lastname, Roles: in.Roles, Attributes: in.Attributes, Enabled: true}
	if in.Enabled != nil {
		u.Enabled = *in.Enabled
	}
	return u
}

// CreateUser creates an end-user of the project (the repository validates
// the fields, the password policy and the email deny-lists).
func (s *Service) CreateUser(ctx context.Context, a Actor, p *project.Project, in UserInput) (*enduser.User, error) {
	u := in.user(p.ID)
	if err := s.d.Users.Create(ctx, u, in.Password); err != nil {
		return nil, err
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.EndUserCreate, Target: u.ExternalID})
	return u, nil
}

// UpdateUser replaces the editable fields of end-user id; passwords change
// only through SetUserPassword. Disabling revokes its refresh credentials.
func (s *Service) UpdateUser(ctx context.Context, a Actor, p *project.Project, id string, in UserInput) (*enduser.User, error) {
	if in.Password != "" {
		return nil, apperr.Invalid("password", "set passwords with POST .../password")
	}
	u, err := s.d.Users.Get(ctx, p.ID, id)
	if err != nil {
		return nil, err
	}
	wasEnabled := u.Enabled
	u.Email, u.Username, u.ExternalID, u.Firstname, u.Lastname, u.Roles, u.Attributes = in.Email, in.Username, in.ExternalID, in.Firstname, in.Lastname, in.Roles, in.Attributes
	if in.Enabled != nil {
		u.Enabled = *in.Enabled
	}
	if err := s.d.Users.Update(ctx, u); err != nil {
		return nil, err
	}
	if wasEnabled && !u.Enabled {
		s.endRefresh(ctx, p.ID, u.ID, refresh.ReasonUserDisabled)
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.EndUserUpdate, Target: u.ExternalID})
	return u, nil
}

// DeleteUser removes end-user id.
func (s *Service) DeleteUser(ctx context.Context, a Actor, p *project.Project, id string) error {
	u, err := s.d.Users.Get(ctx, p.ID, id)
	if err != nil {
		return err
	}
	if err := s.d.Users.Delete(ctx, p.ID, u.ID); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.EndUserDelete, Target: u.ExternalID})
	return nil
}

// SetUserEnabled enables or disables end-user id; disabling revokes its
// refresh credentials.
func (s *Service) SetUserEnabled(ctx context.Context, a Actor, p *project.Project, id string, enabled bool) error {
	u, err := s.d.Users.Get(ctx, p.ID, id)
	if err != nil {
		return err
	}
	if err := s.d.Users.SetEnabled(ctx, p.ID, id, enabled); err != nil {
		return err
	}
	action := audit.EndUserDisable
	if enabled {
		action = audit.EndUserEnable
	} else {
		s.endRefresh(ctx, p.ID, u.ID, refresh.ReasonUserDisabled)
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: action, Target: u.ExternalID})
	return nil
}

// SetUserPassword resets end-user id's password and ends its remembered
// sign-ins.
func (s *Service) SetUserPassword(ctx context.Context, a Actor, p *project.Project, id, password string) error {
	u, err := s.d.Users.Get(ctx, p.ID, id)
	if err != nil {
		return err
	}
	if err := s.d.Users.SetPassword(ctx, p.ID, id, password); err != nil {
		return err
	}
	s.endRefresh(ctx, p.ID, u.ID, refresh.ReasonPasswordChanged)
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.EndUserPasswordReset, Target: u.ExternalID})
	return nil
}

// RevokeUserRefresh is "revoke remembered sign-ins": every refresh
// credential of end-user id stops working at once (the visitor's current
// widget token lives until it expires). It returns how many were revoked.
func (s *Service) RevokeUserRefresh(ctx context.Context, a Actor, p *project.Project, id string) (int, error) {
	u, err := s.d.Users.Get(ctx, p.ID, id)
	if err != nil {
		return 0, err
	}
	if s.d.Refresh == nil {
		return 0, apperr.NotFound("refresh credentials are not enabled on this server")
	}
	n, err := s.d.Refresh.RevokeUser(ctx, p.ID, u.ID, refresh.ReasonOperator)
	if err != nil {
		return 0, err
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.EndUserRefreshRevoke, Target: u.ExternalID,
		Details: map[string]any{"sign_ins": n}})
	return n, nil
}

// SplitList splits s at sep, trimming spaces and dropping empty items.
func SplitList(s, sep string) []string {
	out := []string{}
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
