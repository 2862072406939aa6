package admin

import (
	"context"
	"errors"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
)

// MemberInput adds an operator to a tenant with a role.
type MemberInput struct {
	Email string `json:"email"`
	Role  string `json:"role"`
	// Password creates the account when the email has none yet.
	Password string `json:"password"`
}

// AddMember gives an operator (created when the email is new and a
// password is given) a tenant role.
func (s *Service) AddMember(ctx context.Context, a Actor, tenant string, in MemberInput) (*operator.Operator, error) {
	if _, err := s.d.Projects.GetTenant(ctx, tenant); err != nil {
		return nil, err
	}
	if err := rbac.ValidateAssignment(tenant, in.Role); err != nil {
		return nil, err
	}
	o, err := s.d.Operators.GetByEmail(ctx, in.Email)
	created := false
	if errors.Is(err, apperr.ErrNotFound) {
		if in.Password == "" {
			return nil, apperr.Invalid("password", "no operator with this email yet: give an initial password to create the account")
		}
		o, err = s.d.Operators.Create(ctx, in.Email, "", in.Password)
		created = true
	}
	if err != nil {
		return nil, err
	}
	if err := s.d.Roles.Assign(ctx, o.ID, tenant, in.Role); err != nil {
		return nil, err
	}
	if created {
		s.record(ctx, a, audit.Event{TenantID: tenant, Action: audit.OperatorCreate, Target: o.Email})
	}
	s.record(ctx, a, audit.Event{TenantID: tenant, Action: audit.OperatorRoleGrant, Target: o.Email, Details: map[string]any{"role": in.Role}})
	return o, nil
}

// RemoveMember takes every role in tenant from an operator.
func (s *Service) RemoveMember(ctx context.Context, a Actor, tenant, operatorID string) error {
	o, err := s.d.Operators.Get(ctx, operatorID)
	if err != nil {
		return err
	}
	has := false
	for _, as := range s.d.Roles.Assignments(o.ID) {
		if as.Tenant == tenant {
			has = true
		}
	}
	if !has {
		return apperr.NotFound("operator has no role in this tenant")
	}
	if err := s.d.Roles.RevokeTenant(ctx, o.ID, tenant); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{TenantID: tenant, Action: audit.OperatorRoleRevoke, Target: o.Email})
	return nil
}

// OperatorInput is a new operator account (platform admins only).
type OperatorInput struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	Password      string `json:"password"`
	PlatformAdmin bool   `json:"platform_admin"`
}

// CreateOperator creates an operator account, optionally platform admin.
func (s *Service) CreateOperator(ctx context.Context, a Actor, in OperatorInput) (*operator.Operator, error) {
	o, err := s.d.Operators.Create(ctx, in.Email, in.Name, in.Password)
	if err != nil {
		return nil, err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorCreate, Target: o.Email})
	if in.PlatformAdmin {
		if err := s.d.Roles.Assign(ctx, o.ID, rbac.AllTenants, rbac.RolePlatformAdmin); err != nil {
			return nil, err
		}
		s.record(ctx, a, audit.Event{Action: audit.OperatorRoleGrant, Target: o.Email, Details: map[string]any{"role": rbac.RolePlatformAdmin}})
	}
	return o, nil
}

// CreateOperatorWithRole creates an operator account holding role in
// tenant (rbac.AllTenants with rbac.RolePlatformAdmin for a platform admin):
// the CLI's `operator add` and the bootstrap admin.
func (s *Service) CreateOperatorWithRole(ctx context.Context, a Actor, email, password, role, tenant string) (*operator.Operator, error) {
	if err := rbac.ValidateAssignment(tenant, role); err != nil {
		return nil, err
	}
	if tenant != rbac.AllTenants {
		if _, err := s.d.Projects.GetTenant(ctx, tenant); err != nil {
			return nil, err
		}
	}
	o, err := s.d.Operators.Create(ctx, email, "", password)
	if err != nil {
		return nil, err
	}
	if err := s.d.Roles.Assign(ctx, o.ID, tenant, role); err != nil {
		return nil, err
	}
	tid := tenant
	if tid == rbac.AllTenants {
		tid = ""
	}
	s.record(ctx, a, audit.Event{TenantID: tid, Action: audit.OperatorCreate, Target: o.Email, Details: map[string]any{"role": role}})
	return o, nil
}

// SetOperatorDisabled disables or enables an operator account (never the
// actor's own).
func (s *Service) SetOperatorDisabled(ctx context.Context, a Actor, id string, disabled bool) error {
	if a.OperatorID != "" && id == a.OperatorID {
		return apperr.Invalid("operator", "you cannot disable your own account")
	}
	o, err := s.d.Operators.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.d.Operators.SetDisabled(ctx, id, disabled); err != nil {
		return err
	}
	action := audit.OperatorEnable
	if disabled {
		action = audit.OperatorDisable
	}
	s.record(ctx, a, audit.Event{Action: action, Target: o.Email})
	return nil
}

// SetOperatorPassword resets an operator's password.
func (s *Service) SetOperatorPassword(ctx context.Context, a Actor, id, password string) error {
	o, err := s.d.Operators.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.d.Operators.SetPassword(ctx, id, password); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorPasswordReset, Target: o.Email})
	return nil
}

// DeleteOperator removes an operator account and its roles (never the
// actor's own).
func (s *Service) DeleteOperator(ctx context.Context, a Actor, id string) error {
	if a.OperatorID != "" && id == a.OperatorID {
		return apperr.Invalid("operator", "you cannot delete your own account")
	}
	o, err := s.d.Operators.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.d.Roles.RevokeAll(ctx, id); err != nil {
		return err
	}
	if err := s.removeTOTPOf(ctx, id); err != nil {
		return err
	}
	if err := s.d.Operators.Delete(ctx, id); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorDelete, Target: o.Email})
	return nil
}

// TokenInput is a new operator API token.
type TokenInput struct {
	Name       string `json:"name"`
	TTLSeconds int    `json:"ttl_seconds"`
}

// CreateToken creates an API token of the actor; the value is returned
// once. Only a session that passed the second factor may (totp.go).
func (s *Service) CreateToken(ctx context.Context, a Actor, in TokenInput) (string, *operator.Token, error) {
	if !a.SecondFactor {
		return "", nil, errTokenNeedsSecondFactor
	}
	raw, t, err := s.d.Operators.NewToken(ctx, a.OperatorID, in.Name, time.Duration(in.TTLSeconds)*time.Second)
	if err != nil {
		return "", nil, err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorTokenCreate, Target: t.ID, Details: map[string]any{"name": t.Name}})
	return raw, t, nil
}

// DeleteToken revokes one of the actor's API tokens.
func (s *Service) DeleteToken(ctx context.Context, a Actor, tokenID string) error {
	if err := s.d.Operators.DeleteToken(ctx, a.OperatorID, tokenID); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorTokenDelete, Target: tokenID})
	return nil
}
