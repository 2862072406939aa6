package admin

import (
	"context"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
)

// MemberInput adds an operator to a tenant with a role (AddMember).
type MemberInput struct {
	Email string `json:"email"`
	Role  string `json:"role"`
	// Password is refused (ErrPasswordNotYours) unless the actor is a
	// platform admin, for whom it creates a new account directly.
	Password string `json:"password"`
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
	// Tokens go first: a failure then leaves the roles, never live tokens
	// of an operator without them.
	if err := s.revokeForRoleRemoval(ctx, a, o, tenant); err != nil {
		return err
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
	if !s.IsPlatformAdmin(a) {
		return nil, apperr.Forbidden("only platform admins create accounts directly; invite the person to a tenant instead")
	}
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
	if !s.IsPlatformAdmin(a) {
		return nil, apperr.Forbidden("only platform admins create accounts directly; invite the person to a tenant instead")
	}
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
	revoked, err := s.d.Operators.SetDisabled(ctx, id, disabled)
	if err != nil {
		return err
	}
	action := audit.OperatorEnable
	if disabled {
		action = audit.OperatorDisable
	}
	s.record(ctx, a, audit.Event{Action: action, Target: o.Email})
	s.recordRevoked(ctx, a, o, revoked, RevokedDisabled)
	return nil
}

// SetOperatorPassword resets an operator's password: only the account
// itself or a platform admin (never a tenant admin: accounts belong to their
// owner). Every session of the operator ends and every API token is revoked.
func (s *Service) SetOperatorPassword(ctx context.Context, a Actor, id, password string) error {
	if a.OperatorID != id && !s.IsPlatformAdmin(a) {
		return apperr.Forbidden("only the account itself or a platform admin can set its password")
	}
	o, err := s.d.Operators.Get(ctx, id)
	if err != nil {
		return err
	}
	revoked, err := s.d.Operators.SetPassword(ctx, id, password, "")
	if err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorPasswordReset, Target: o.Email})
	s.recordRevoked(ctx, a, o, revoked, RevokedPasswordReset)
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
	revoked, err := s.d.Operators.RevokeTokens(ctx, id, "")
	if err != nil {
		return err
	}
	s.recordRevoked(ctx, a, o, revoked, RevokedDeleted)
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
	Name string `json:"name"`
	// TTLSeconds is the lifetime (0: PINGAUTH_OPERATOR_TOKEN_TTL; at most
	// PINGAUTH_OPERATOR_TOKEN_MAX_TTL).
	TTLSeconds int64 `json:"ttl_seconds"`
	// TenantID limits the token to one tenant the actor has a role in.
	TenantID string `json:"tenant_id"`
	// ReadOnly tokens may only read (GET).
	ReadOnly bool `json:"read_only"`
}

// CreateToken creates an API token of the actor; the value is returned
// once. Only an operator's own sign-in creates tokens: a request made with
// an API token cannot (a tenant-limited or read-only token could otherwise
// mint a broader one), and only a session that passed the second factor
// (totp.go).
func (s *Service) CreateToken(ctx context.Context, a Actor, in TokenInput) (string, *operator.Token, error) {
	if a.OperatorID == "" {
		return "", nil, apperr.Invalid("operator", "API tokens belong to an operator; create them signed in")
	}
	if a.TokenID != "" {
		return "", nil, apperr.Forbidden("an API token cannot create API tokens; sign in to create one")
	}
	if !a.SecondFactor {
		return "", nil, errTokenNeedsSecondFactor
	}
	spec, err := s.tokenSpec(ctx, a, in)
	if err != nil {
		return "", nil, err
	}
	raw, t, err := s.d.Operators.NewToken(ctx, a.OperatorID, spec)
	if err != nil {
		return "", nil, err
	}
	s.record(ctx, a, audit.Event{TenantID: t.TenantID, Action: audit.OperatorTokenCreate, Target: t.ID,
		Details: map[string]any{"name": t.Name, "tenant_id": t.TenantID, "read_only": t.ReadOnly, "expires_at": t.ExpiresAt}})
	return raw, t, nil
}

// DeleteToken revokes one of the actor's API tokens.
func (s *Service) DeleteToken(ctx context.Context, a Actor, tokenID string) error {
	if err := s.d.Operators.DeleteToken(ctx, a.OperatorID, tokenID); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorTokenDelete, Target: tokenID, Details: map[string]any{"operator": a.Email, "reason": RevokedByOwner}})
	return nil
}
