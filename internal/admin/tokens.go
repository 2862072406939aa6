package admin

import (
	"context"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
)

// Reasons recorded in the details of an operator.token_delete event.
const (
	RevokedByOwner       = "revoked_by_owner"
	RevokedByAdmin       = "revoked_by_admin"
	RevokedPasswordReset = "password_reset"
	RevokedPasswordOwn   = "password_change"
	RevokedDisabled      = "operator_disabled"
	RevokedDeleted       = "operator_deleted"
	RevokedLastRole      = "last_role_removed"
	RevokedTenantRole    = "tenant_role_removed"
)

// maxTTLSeconds bounds ttl_seconds before it becomes a duration (no
// overflow); the repository enforces the configured maximum.
const maxTTLSeconds = 100 * 365 * 24 * 3600

// tokenSpec validates a new token's lifetime and tenant for actor a.
func (s *Service) tokenSpec(ctx context.Context, a Actor, in TokenInput) (operator.TokenSpec, error) {
	spec := operator.TokenSpec{Name: in.Name, TenantID: in.TenantID, ReadOnly: in.ReadOnly}
	switch {
	case in.TTLSeconds < 0 || in.TTLSeconds > maxTTLSeconds:
		spec.TTL = -1 // refused by the repository with the allowed range
	default:
		spec.TTL = time.Duration(in.TTLSeconds) * time.Second
	}
	if in.TenantID == "" {
		return spec, nil
	}
	if _, err := s.d.Projects.GetTenant(ctx, in.TenantID); err != nil {
		return spec, apperr.Invalid("tenant_id", "no tenant %q", in.TenantID)
	}
	for _, as := range s.d.Roles.Assignments(a.OperatorID) {
		if as.Tenant == in.TenantID || as.Tenant == rbac.AllTenants {
			return spec, nil
		}
	}
	return spec, apperr.Invalid("tenant_id", "you have no role in tenant %q", in.TenantID)
}

// OwnPasswordInput is an operator changing their own password.
type OwnPasswordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// ChangeOwnPassword changes the actor's password after checking the current
// one. Every other session of the operator ends (keepSession, the raw token
// of the session making the change, stays) and every API token is revoked.
// Requests made with an API token cannot change the password.
func (s *Service) ChangeOwnPassword(ctx context.Context, a Actor, keepSession string, in OwnPasswordInput) error {
	if a.OperatorID == "" || a.TokenID != "" || keepSession == "" {
		return apperr.Forbidden("sign in to change your password")
	}
	o, err := s.d.Operators.Get(ctx, a.OperatorID)
	if err != nil {
		return err
	}
	if err := s.d.Operators.CheckPassword(ctx, a.OperatorID, in.CurrentPassword); err != nil {
		return err
	}
	if in.NewPassword == in.CurrentPassword {
		return apperr.Invalid("new_password", "the new password must differ from the current one")
	}
	revoked, err := s.d.Operators.SetPassword(ctx, a.OperatorID, in.NewPassword, keepSession)
	if err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorPasswordReset, Target: o.Email, Details: map[string]any{"own": true}})
	s.recordRevoked(ctx, a, o, revoked, RevokedPasswordOwn)
	return nil
}

// OperatorTokens lists any operator's API tokens (platform admins; never
// their values).
func (s *Service) OperatorTokens(ctx context.Context, operatorID string) ([]operator.Token, error) {
	if _, err := s.d.Operators.Get(ctx, operatorID); err != nil {
		return nil, err
	}
	return s.d.Operators.ListTokens(ctx, operatorID)
}

// RevokeOperatorToken revokes one API token of any operator (platform
// admins).
func (s *Service) RevokeOperatorToken(ctx context.Context, a Actor, operatorID, tokenID string) error {
	o, err := s.d.Operators.Get(ctx, operatorID)
	if err != nil {
		return err
	}
	if err := s.d.Operators.DeleteToken(ctx, operatorID, tokenID); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.OperatorTokenDelete, Target: tokenID, Details: map[string]any{"operator": o.Email, "reason": RevokedByAdmin}})
	return nil
}

// revokeForRoleRemoval revokes, before o loses its roles in tenant, the
// tokens limited to tenant, or every token when those are o's last roles.
func (s *Service) revokeForRoleRemoval(ctx context.Context, a Actor, o *operator.Operator, tenant string) error {
	scope, reason := "", RevokedLastRole
	for _, as := range s.d.Roles.Assignments(o.ID) {
		if as.Tenant != tenant {
			scope, reason = tenant, RevokedTenantRole
		}
	}
	revoked, err := s.d.Operators.RevokeTokens(ctx, o.ID, scope)
	if err != nil {
		return err
	}
	s.recordRevoked(ctx, a, o, revoked, reason)
	return nil
}

// recordRevoked writes one operator.token_delete event per revoked token
// (id, name, tenant, reason; never a value).
func (s *Service) recordRevoked(ctx context.Context, a Actor, o *operator.Operator, revoked []operator.Token, reason string) {
	for _, t := range revoked {
		s.record(ctx, a, audit.Event{TenantID: t.TenantID, Action: audit.OperatorTokenDelete, Target: t.ID,
			Details: map[string]any{"name": t.Name, "operator": o.Email, "reason": reason}})
	}
}
