package audit

// Second-factor (TOTP) actions of operators. Events never carry a code or
// a secret.
const (
	// TOTPEnrol: an operator confirmed a TOTP enrolment.
	TOTPEnrol = "totp.enrol"
	// TOTPDisable: an operator disabled their TOTP (with a current code).
	TOTPDisable = "totp.disable"
	// TOTPReset: a platform admin removed another operator's TOTP.
	TOTPReset = "totp.reset"
	// TOTPRecoveryUsed: a recovery code was spent (details: codes left).
	TOTPRecoveryUsed = "totp.recovery_used"
	// TOTPFailure: a wrong, replayed or rate-limited second-factor code.
	TOTPFailure = "totp.failure"
	// TenantRequireTOTP: a tenant's TOTP enforcement turned on or off.
	TenantRequireTOTP = "tenant.require_totp"
)
