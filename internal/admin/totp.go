package admin

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
)

// TOTPStore keeps operators' TOTP state, secrets and recovery codes
// (*operator.TOTPStore).
type TOTPStore interface {
	State(ctx context.Context, operatorID string) (*operator.TOTP, error)
	Enrolled(ctx context.Context, operatorID string) (bool, error)
	EnrolledAmong(ctx context.Context, ids []string) (map[string]bool, error)
	Begin(ctx context.Context, operatorID string) ([]byte, error)
	Confirm(ctx context.Context, operatorID, code string) ([]string, error)
	Verify(ctx context.Context, operatorID, code string) (operator.Verification, error)
	Failures(ctx context.Context, operatorID string) int
	RecoveryLeft(ctx context.Context, operatorID string) (int, error)
	Remove(ctx context.Context, operatorID string) error
	EndSessions(ctx context.Context, operatorID string) error
}

// TenantTOTPPolicy stores tenants' TOTP enforcement (*project.Repo).
type TenantTOTPPolicy interface {
	SetTenantRequireTOTP(ctx context.Context, id string, on bool) error
	TenantsRequiringTOTP(ctx context.Context, ids []string) ([]string, error)
}

// errNoTOTP: the deployment was built without a TOTP store.
var errNoTOTP = apperr.Unavailable("TOTP is not configured", nil)

// errTokenNeedsSecondFactor is CreateToken's refusal for actors whose
// session did not pass the second factor.
var errTokenNeedsSecondFactor = apperr.Forbidden("operator API tokens are created only by a console session that passed " +
	"the second factor: enrol TOTP on your account page (/console/account/totp), then sign in with a code")

// TOTPStatus is an operator's second-factor state as shown to them.
type TOTPStatus struct {
	Enrolled     bool       `json:"enrolled"`
	EnrolledAt   *time.Time `json:"enrolled_at,omitempty"`
	RecoveryLeft int        `json:"recovery_codes_left"`
	// Required: the deployment or one of the operator's tenants enforces TOTP.
	Required bool `json:"required"`
}

// TOTPStatus returns the actor's second-factor state.
func (s *Service) TOTPStatus(ctx context.Context, a Actor) (TOTPStatus, error) {
	if s.d.TOTP == nil {
		return TOTPStatus{}, errNoTOTP
	}
	var st TOTPStatus
	req, err := s.SecondFactorRequired(ctx, a.OperatorID, "")
	if err != nil {
		return st, err
	}
	st.Required = req
	t, err := s.d.TOTP.State(ctx, a.OperatorID)
	if errors.Is(err, apperr.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if t.Enrolled() {
		st.Enrolled, st.EnrolledAt = true, t.EnrolledAt
		if st.RecoveryLeft, err = s.d.TOTP.RecoveryLeft(ctx, a.OperatorID); err != nil {
			return st, err
		}
	}
	return st, nil
}

// TOTPEnrolled reports whether operatorID has confirmed TOTP (false when
// TOTP is not configured).
func (s *Service) TOTPEnrolled(ctx context.Context, operatorID string) (bool, error) {
	if s.d.TOTP == nil {
		return false, nil
	}
	return s.d.TOTP.Enrolled(ctx, operatorID)
}

// TOTPEnrolledAmong returns which of the operators ids have TOTP.
func (s *Service) TOTPEnrolledAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	if s.d.TOTP == nil {
		return map[string]bool{}, nil
	}
	return s.d.TOTP.EnrolledAmong(ctx, ids)
}

// TOTPEnrolment is a started enrolment: the secret, shown once, as the
// manual-entry key and as the otpauth:// URI of the QR code.
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"otpauth_uri"`
}

// StartTOTP starts (or restarts) the actor's enrolment with a new secret.
func (s *Service) StartTOTP(ctx context.Context, a Actor) (*TOTPEnrolment, error) {
	if s.d.TOTP == nil {
		return nil, errNoTOTP
	}
	if a.OperatorID == "" {
		return nil, apperr.Invalid("operator", "only a signed-in operator can enrol TOTP")
	}
	key, err := s.d.TOTP.Begin(ctx, a.OperatorID)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Secret: operator.EncodeTOTPSecret(key), URI: operator.TOTPURI(a.Email, key)}, nil
}

// ConfirmTOTP finishes the actor's enrolment with a valid code and returns
// the recovery codes (shown once). The caller marks the session as having
// passed the second factor.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, code string) ([]string, error) {
	if s.d.TOTP == nil {
		return nil, errNoTOTP
	}
	codes, err := s.d.TOTP.Confirm(ctx, a.OperatorID, code)
	if err != nil {
		if errors.Is(err, apperr.ErrUnauthorized) {
			// A wrong code is bad input here (the operator is signed in).
			return nil, apperr.Invalid("code", "the code is not valid: check the authenticator app and the device clock, then try again")
		}
		return nil, err
	}
	s.record(ctx, a, audit.Event{Action: audit.TOTPEnrol, Target: a.Email, Details: map[string]any{"recovery_codes": len(codes)}})
	return codes, nil
}

// VerifySecondFactor checks the sign-in code (TOTP or recovery code) of
// the operator a. A spent recovery code is audited (totp.recovery_used), a
// refused code too (totp.failure; never the code). Refusals are
// apperr.ErrUnauthorized (the caller's guard counts them).
func (s *Service) VerifySecondFactor(ctx context.Context, a Actor, code string) error {
	if s.d.TOTP == nil {
		return errNoTOTP
	}
	v, err := s.d.TOTP.Verify(ctx, a.OperatorID, code)
	if err != nil {
		if errors.Is(err, apperr.ErrUnauthorized) {
			reason := "wrong code"
			if errors.Is(err, operator.ErrCodeReplay) {
				reason = "code already used"
			}
			s.SecondFactorFailed(ctx, a, reason)
		}
		return err
	}
	if v.Recovery {
		s.record(ctx, a, audit.Event{Action: audit.TOTPRecoveryUsed, Target: a.Email, Details: map[string]any{"recovery_codes_left": v.RecoveryLeft}})
	}
	return nil
}

// SecondFactorFailed records a refused second-factor attempt (wrong code,
// replay, rate limit or lockout).
func (s *Service) SecondFactorFailed(ctx context.Context, a Actor, reason string) {
	d := map[string]any{"reason": reason}
	if s.d.TOTP != nil {
		d["consecutive_failures"] = s.d.TOTP.Failures(ctx, a.OperatorID)
	}
	s.record(ctx, a, audit.Event{Action: audit.TOTPFailure, Target: a.Email, Details: d})
}

// DisableTOTP removes the actor's TOTP; it needs a current code (or a
// recovery code), checked like a sign-in code.
func (s *Service) DisableTOTP(ctx context.Context, a Actor, code string) error {
	if s.d.TOTP == nil {
		return errNoTOTP
	}
	if err := s.VerifySecondFactor(ctx, a, code); err != nil {
		if errors.Is(err, apperr.ErrUnauthorized) {
			return apperr.Invalid("code", "the code is not valid (or was already used): TOTP stays enabled")
		}
		return err
	}
	if err := s.d.TOTP.Remove(ctx, a.OperatorID); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.TOTPDisable, Target: a.Email})
	return nil
}

// ResetTOTP removes another operator's TOTP (platform admins: the
// operator lost their device) and ends their sessions; they enrol again.
func (s *Service) ResetTOTP(ctx context.Context, a Actor, operatorID string) error {
	if s.d.TOTP == nil {
		return errNoTOTP
	}
	if a.OperatorID != "" && a.OperatorID == operatorID {
		return apperr.Invalid("operator", "disable your own TOTP on your account page (it needs a current code)")
	}
	o, err := s.d.Operators.Get(ctx, operatorID)
	if err != nil {
		return err
	}
	enrolled, err := s.d.TOTP.Enrolled(ctx, o.ID)
	if err != nil {
		return err
	}
	if !enrolled {
		return apperr.NotFound("operator %s has no TOTP enrolled", o.Email)
	}
	if err := s.d.TOTP.Remove(ctx, o.ID); err != nil {
		return err
	}
	if err := s.d.TOTP.EndSessions(ctx, o.ID); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{Action: audit.TOTPReset, Target: o.Email})
	return nil
}

// SecondFactorRequired reports whether operatorID must have passed the
// second factor: platform-wide (PINGAUTH_REQUIRE_TOTP), or because tenant
// ("" for none) or any tenant the operator is a member of enforces it.
func (s *Service) SecondFactorRequired(ctx context.Context, operatorID, tenant string) (bool, error) {
	if s.d.RequireTOTP {
		return true, nil
	}
	if s.d.TenantTOTP == nil {
		return false, nil
	}
	var ids []string
	if tenant != "" && tenant != rbac.AllTenants {
		ids = append(ids, tenant)
	}
	for _, as := range s.d.Roles.Assignments(operatorID) {
		if as.Tenant != rbac.AllTenants && !slices.Contains(ids, as.Tenant) {
			ids = append(ids, as.Tenant)
		}
	}
	req, err := s.d.TenantTOTP.TenantsRequiringTOTP(ctx, ids)
	if err != nil {
		return false, err
	}
	return len(req) > 0, nil
}

// SetTenantRequireTOTP turns a tenant's TOTP enforcement on or off.
func (s *Service) SetTenantRequireTOTP(ctx context.Context, a Actor, tenantID string, on bool) error {
	if s.d.TenantTOTP == nil {
		return errNoTOTP
	}
	if err := s.d.TenantTOTP.SetTenantRequireTOTP(ctx, tenantID, on); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{TenantID: tenantID, Action: audit.TenantRequireTOTP, Target: tenantID, Details: map[string]any{"require_totp": on}})
	return nil
}

// removeTOTPOf deletes an operator's TOTP secret before the account goes
// (the rows cascade; the secret backend does not).
func (s *Service) removeTOTPOf(ctx context.Context, operatorID string) error {
	if s.d.TOTP == nil {
		return nil
	}
	return s.d.TOTP.Remove(ctx, operatorID)
}
