package audit

// Actions recorded in Event.Action: one constant per kind of change, used
// by every writer (the admin service, the verification-mode admin, the
// secret manager, sessions) so that console, API and CLI record the same
// action for the same change.
const (
	TenantCreate        = "tenant.create"
	TenantEmailDenyList = "tenant.email_denylist"
	ProjectCreate       = "project.create"
	ProjectUpdate       = "project.update"
	ProjectDelete       = "project.delete"
	SecretCreate        = "secret.create"
	SecretRotate        = "secret.rotate"
	SecretDelete        = "secret.delete"
	// SecretChatRotate: a rotation on the chat server (keys/generate, stored
	// here, probed with /testauth): versions and outcome, never the value.
	SecretChatRotate = "secret.chat_rotate"
	// ChatBanSync: the background sync banned or unbanned a blocked
	// end-user's visitor _id on the chat server (or failed to).
	ChatBanSync = "chat.ban_sync"
	// SecretTenantRotate: a tenant-wide rotation (counts; each project's
	// rotation is its own secret.chat_rotate event).
	SecretTenantRotate = "secret.tenant_rotate"
	// RotationPolicySet / RotationPolicyDelete: a project's scheduled
	// rotation turned on or changed / off.
	RotationPolicySet     = "rotation_policy.set"
	RotationPolicyDelete  = "rotation_policy.delete"
	ChatConnectionSet     = "chat_connection.set"
	ChatConnectionDelete  = "chat_connection.delete"
	EndUserCreate         = "enduser.create"
	EndUserUpdate         = "enduser.update"
	EndUserDelete         = "enduser.delete"
	EndUserEnable         = "enduser.enable"
	EndUserDisable        = "enduser.disable"
	EndUserPasswordReset  = "enduser.password_reset"
	EndUserImport         = "enduser.import"
	EndUserRefreshRevoke  = "enduser.refresh_revoke"
	RefreshRevoke         = "refresh.revoke"
	OperatorCreate        = "operator.create"
	OperatorDelete        = "operator.delete"
	OperatorEnable        = "operator.enable"
	OperatorDisable       = "operator.disable"
	OperatorPasswordReset = "operator.password_reset"
	OperatorRoleGrant     = "operator.role_grant"
	OperatorRoleRevoke    = "operator.role_revoke"
	OperatorTokenCreate   = "operator.token_create"
	OperatorTokenDelete   = "operator.token_delete"
	OperatorLogin         = "operator.login"
	OperatorLogout        = "operator.logout"
	APIKeyCreate          = "apikey.create"
	APIKeyRevoke          = "apikey.revoke"
	ModesSet              = "modes.set"
	MappingSet            = "mapping.set"
	OverrideSet           = "mapping.override.set"
	OverrideDelete        = "mapping.override.delete"
	IdPSet                = "idp.set"
	IdPDelete             = "idp.delete"
	// RoleRulesUpdate: the end-user role rules of a project (which end-user
	// roles may sign in).
	RoleRulesUpdate = "role_rules.update"
)

// Operator invitations (issue 12); never the link's token.
const (
	InvitationCreate = "invitation.create"
	InvitationAccept = "invitation.accept"
	InvitationRevoke = "invitation.revoke"
)
