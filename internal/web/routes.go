package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/rbac"
)

// Scope says how guard resolves the Casbin domain (tenant) of a route.
type Scope int

// Route scopes.
const (
	// ScopePublic routes need no sign-in (login, static assets).
	ScopePublic Scope = iota
	// ScopeSignedIn routes need a signed-in operator; the handler filters
	// results to the operator's tenants (dashboards, lists).
	ScopeSignedIn
	// ScopeGlobal routes are platform-wide (domain "*").
	ScopeGlobal
	// ScopeTenant routes take the tenant from :tenantId.
	ScopeTenant
	// ScopeProject routes take the tenant of the project in :projectId.
	ScopeProject
)

// Route is one entry of the access table.
type Route struct {
	Method, Path string
	Scope        Scope
	Obj, Act     string
	handler      gin.HandlerFunc
}

// Routes returns the access table (for tests and documentation).
func (c *Console) Routes() []Route { return c.routes() }

// RouteBodyLimits are the body size limits of console routes that take more
// than the server-wide PINGAUTH_MAX_BODY_BYTES: the CSV imports (4 MiB, as
// documented). A fresh map on every call.
func RouteBodyLimits() map[string]int64 {
	return map[string]int64{
		"/console/projects/:projectId/users/import": maxImportBytes,
		"/api/v1/projects/:projectId/users/import":  maxImportBytes,
	}
}

func (c *Console) routes() []Route {
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		R, W, Rot, Cr              = rbac.ActRead, rbac.ActWrite, rbac.ActRotate, rbac.ActCreate
		ten, prj, sec, eu, op, aud = rbac.ObjTenant, rbac.ObjProject, rbac.ObjSecret, rbac.ObjEndUser, rbac.ObjOperator, rbac.ObjAudit
		mp                         = rbac.ObjMapping
	)
	pub := func(m, p string, h gin.HandlerFunc) Route {
		return Route{Method: m, Path: p, Scope: ScopePublic, handler: h}
	}
	in := func(m, p string, h gin.HandlerFunc) Route {
		return Route{Method: m, Path: p, Scope: ScopeSignedIn, handler: h}
	}
	gl := func(m, p, o, a string, h gin.HandlerFunc) Route {
		return Route{Method: m, Path: p, Scope: ScopeGlobal, Obj: o, Act: a, handler: h}
	}
	tn := func(m, p, o, a string, h gin.HandlerFunc) Route {
		return Route{Method: m, Path: p, Scope: ScopeTenant, Obj: o, Act: a, handler: h}
	}
	pj := func(m, p, o, a string, h projectHandler) Route {
		return Route{Method: m, Path: p, Scope: ScopeProject, Obj: o, Act: a, handler: c.withProject(h)}
	}
	routes := []Route{
		// Console pages.
		pub(get, "/", func(g *gin.Context) { g.Redirect(http.StatusFound, "/console/") }),
		pub(get, "/console", func(g *gin.Context) { g.Redirect(http.StatusFound, "/console/") }),
		pub(get, "/console/static/*file", c.static),
		pub(get, "/console/login", c.loginPage),
		pub(post, "/console/login", c.loginSubmit),
		pub(get, consoleTOTPLogin, c.totpLoginPage),
		pub(post, consoleTOTPLogin, c.totpLoginSubmit),
		in(get, accountTOTPPath, c.accountTOTPPage),
		in(post, accountTOTPPath+"/start", c.accountTOTPStart),
		in(post, accountTOTPPath+"/confirm", c.accountTOTPConfirm),
		in(post, accountTOTPPath+"/disable", c.accountTOTPDisable),
		gl(post, "/console/operators/:operatorId/totp/reset", op, W, c.operatorResetTOTP),
		tn(post, "/console/tenants/:tenantId/require-totp", op, W, c.tenantRequireTOTPUpdate),
		in(post, "/console/logout", c.logout),
		in(get, "/console/", c.dashboard),
		in(get, "/console/audit", c.auditPage),
		gl(post, "/console/tenants", ten, Cr, c.tenantCreate),
		tn(get, "/console/tenants/:tenantId/projects/new", prj, W, c.projectNewPage),
		tn(post, "/console/tenants/:tenantId/projects", prj, W, c.projectCreate),
		tn(get, "/console/tenants/:tenantId/operators", op, R, c.membersPage),
		tn(get, "/console/tenants/:tenantId/settings", ten, R, c.tenantSettingsPage),
		tn(post, "/console/tenants/:tenantId/email-denylist", mp, W, c.tenantDenyListUpdate),
		tn(post, "/console/tenants/:tenantId/chat-connection", sec, Rot, c.tenantChatConnectionUpdate),
		tn(post, "/console/tenants/:tenantId/chat-connection/remove", sec, Rot, c.tenantChatConnectionRemove),
		tn(post, "/console/tenants/:tenantId/secrets/rotate", sec, Rot, c.tenantSecretsRotate),
		tn(post, "/console/tenants/:tenantId/operators", op, W, c.memberAdd),
		tn(post, "/console/tenants/:tenantId/operators/:operatorId/remove", op, W, c.memberRemove),
		tn(post, "/console/tenants/:tenantId/invitations/:invitationId/revoke", op, W, c.invitationRevoke),
		// The invitation link: public (the token is the capability); an
		// existing account accepts with its own session (checked by the
		// handler, CSRF included).
		pub(get, "/console/invite/:token", c.invitePage),
		pub(post, "/console/invite/:token", c.inviteAccept),
		gl(get, "/console/operators", op, R, c.operatorsPage),
		gl(post, "/console/operators", op, W, c.operatorCreate),
		gl(post, "/console/operators/:operatorId/disabled", op, W, c.operatorSetDisabled),
		gl(post, "/console/operators/:operatorId/password", op, W, c.operatorResetPassword),
		gl(get, "/console/operators/:operatorId/tokens", op, R, c.operatorTokens),
		gl(post, "/console/operators/:operatorId/tokens/:tokenId/revoke", op, W, c.operatorTokenRevoke),
		in(get, "/console/account", c.accountPage),
		in(post, "/console/account/password", c.accountPassword),
		in(post, "/console/account/tokens", c.accountTokenCreate),
		in(post, "/console/account/tokens/:tokenId/revoke", c.accountTokenRevoke),
		pj(get, "/console/projects/:projectId", prj, R, c.projectPage),
		pj(get, "/console/projects/:projectId/edit", prj, W, c.projectEditPage),
		pj(post, "/console/projects/:projectId", prj, W, c.projectUpdate),
		pj(post, "/console/projects/:projectId/delete", prj, W, c.projectDelete),
		pj(post, "/console/projects/:projectId/secret", sec, Rot, c.secretPaste),
		pj(post, "/console/projects/:projectId/secret/rotate", sec, Rot, c.secretRotate),
		pj(post, "/console/projects/:projectId/chat-connection/test", sec, R, c.chatConnectionTest),
		pj(post, "/console/projects/:projectId/rotation-policy", sec, Rot, c.rotationPolicyUpdate),
		pj(post, "/console/projects/:projectId/role-rules", mp, W, c.roleRulesUpdate),
		pj(get, "/console/projects/:projectId/users", eu, R, c.usersPage),
		pj(post, "/console/projects/:projectId/users", eu, W, c.userCreate),
		pj(post, "/console/projects/:projectId/users/import", eu, W, c.usersImport),
		pj(post, "/console/projects/:projectId/users/:userId/enabled", eu, W, c.userSetEnabled),
		pj(post, "/console/projects/:projectId/users/:userId/password", eu, W, c.userResetPassword),
		pj(post, "/console/projects/:projectId/users/:userId/refresh/revoke", eu, W, c.userRevokeRefresh),
		pj(get, "/console/projects/:projectId/audit", aud, R, c.projectAuditPage),

		// JSON admin API (internal/adminapi).
		pub(get, "/api/v1/openapi.yaml", c.api.OpenAPI),
		pub(post, "/api/v1/session", c.api.Login),
		in(del, "/api/v1/session", c.api.Logout),
		in(get, "/api/v1/me", c.api.Me),
		in(get, "/api/v1/me/tokens", c.api.Tokens),
		in(post, "/api/v1/me/tokens", c.api.TokenCreate),
		in(del, "/api/v1/me/tokens/:tokenId", c.api.TokenDelete),
		in(post, "/api/v1/me/password", c.api.PasswordChange),
		in(get, "/api/v1/tenants", c.api.Tenants),
		gl(post, "/api/v1/tenants", ten, Cr, c.api.TenantCreate),
		tn(get, "/api/v1/tenants/:tenantId", ten, R, c.api.Tenant),
		tn(put, "/api/v1/tenants/:tenantId/email-denylist", mp, W, c.api.TenantDenyList),
		tn(get, "/api/v1/tenants/:tenantId/projects", prj, R, c.api.TenantProjects),
		// The chat-server connection holds a credential: managed with the
		// secrets (rotate right), readable with secret read.
		tn(get, "/api/v1/tenants/:tenantId/chat-connection", sec, R, c.api.TenantChatConnection),
		tn(put, "/api/v1/tenants/:tenantId/chat-connection", sec, Rot, c.api.TenantChatConnectionPut),
		tn(del, "/api/v1/tenants/:tenantId/chat-connection", sec, Rot, c.api.TenantChatConnectionDelete),
		tn(post, "/api/v1/tenants/:tenantId/secrets/rotate", sec, Rot, c.api.TenantSecretsRotate),
		tn(post, "/api/v1/tenants/:tenantId/projects", prj, W, c.api.ProjectCreate),
		tn(get, "/api/v1/tenants/:tenantId/operators", op, R, c.api.Members),
		tn(post, "/api/v1/tenants/:tenantId/operators", op, W, c.api.MemberAdd),
		tn(del, "/api/v1/tenants/:tenantId/operators/:operatorId", op, W, c.api.MemberRemove),
		tn(get, "/api/v1/tenants/:tenantId/invitations", op, R, c.api.Invitations),
		tn(del, "/api/v1/tenants/:tenantId/invitations/:invitationId", op, W, c.api.InvitationRevoke),
		gl(get, "/api/v1/operators", op, R, c.api.Operators),
		gl(post, "/api/v1/operators", op, W, c.api.OperatorCreate),
		gl(patch, "/api/v1/operators/:operatorId", op, W, c.api.OperatorUpdate),
		gl(del, "/api/v1/operators/:operatorId", op, W, c.api.OperatorDelete),
		gl(get, "/api/v1/operators/:operatorId/tokens", op, R, c.api.OperatorTokens),
		gl(del, "/api/v1/operators/:operatorId/tokens/:tokenId", op, W, c.api.OperatorTokenDelete),
		in(get, "/api/v1/projects", c.api.Projects),
		in(get, "/api/v1/audit", c.api.Audit),
		pj(get, "/api/v1/projects/:projectId", prj, R, c.api.Project),
		pj(put, "/api/v1/projects/:projectId", prj, W, c.api.ProjectUpdate),
		pj(del, "/api/v1/projects/:projectId", prj, W, c.api.ProjectDelete),
		pj(get, "/api/v1/projects/:projectId/secret", sec, R, c.api.SecretVersions),
		pj(put, "/api/v1/projects/:projectId/secret", sec, Rot, c.api.SecretPut),
		pj(post, "/api/v1/projects/:projectId/secret/rotate", sec, Rot, c.api.SecretRotate),
		pj(get, "/api/v1/projects/:projectId/rotation-policy", sec, R, c.api.RotationPolicy),
		pj(put, "/api/v1/projects/:projectId/rotation-policy", sec, Rot, c.api.RotationPolicyPut),
		pj(del, "/api/v1/projects/:projectId/rotation-policy", sec, Rot, c.api.RotationPolicyDelete),
		pj(get, "/api/v1/projects/:projectId/chat-connection", sec, R, c.api.ProjectChatConnection),
		pj(put, "/api/v1/projects/:projectId/chat-connection", sec, Rot, c.api.ProjectChatConnectionPut),
		pj(del, "/api/v1/projects/:projectId/chat-connection", sec, Rot, c.api.ProjectChatConnectionDelete),
		pj(post, "/api/v1/projects/:projectId/chat-connection/test", sec, R, c.api.ProjectChatConnectionTest),
		pj(get, "/api/v1/projects/:projectId/chat-sync", mp, R, c.api.ProjectChatSync),
		pj(get, "/api/v1/projects/:projectId/enduser-roles", mp, R, c.api.Mapping),
		pj(put, "/api/v1/projects/:projectId/enduser-roles", mp, W, c.api.MappingPut),
		pj(get, "/api/v1/projects/:projectId/users", eu, R, c.api.Users),
		pj(post, "/api/v1/projects/:projectId/users", eu, W, c.api.UserCreate),
		pj(post, "/api/v1/projects/:projectId/users/import", eu, W, c.api.UsersImport),
		pj(get, "/api/v1/projects/:projectId/users/:userId", eu, R, c.api.User),
		pj(patch, "/api/v1/projects/:projectId/users/:userId", eu, W, c.api.UserUpdate),
		pj(del, "/api/v1/projects/:projectId/users/:userId", eu, W, c.api.UserDelete),
		pj(post, "/api/v1/projects/:projectId/users/:userId/password", eu, W, c.api.UserPassword),
		pj(get, "/api/v1/projects/:projectId/users/:userId/refresh-tokens", eu, R, c.api.UserRefresh),
		pj(del, "/api/v1/projects/:projectId/users/:userId/refresh-tokens", eu, W, c.api.UserRefreshRevoke),
		pj(get, "/api/v1/projects/:projectId/audit", aud, R, c.api.ProjectAudit),
	}
	if c.d.Modes != nil {
		// Sign-in methods page: API keys are credentials (like the shared
		// secret), modes, mapping, overrides and IdP project settings — as in
		// the API below.
		routes = append(routes,
			pj(get, "/console/projects/:projectId/methods", mp, R, c.methodsPage),
			pj(post, "/console/projects/:projectId/methods/modes", mp, W, c.modesUpdate),
			pj(post, "/console/projects/:projectId/methods/mapping", mp, W, c.claimsUpdate),
			pj(post, "/console/projects/:projectId/methods/idp", mp, W, c.idpUpdate),
			pj(post, "/console/projects/:projectId/methods/idp/delete", mp, W, c.idpDelete),
			// The external id travels in the form body: ids may hold "/", "|" or "%".
			pj(post, "/console/projects/:projectId/methods/overrides", mp, W, c.overridePut),
			pj(post, "/console/projects/:projectId/methods/overrides/remove", mp, W, c.overrideRemove),
			pj(post, "/console/projects/:projectId/methods/apikeys", sec, Rot, c.apiKeyCreate),
			pj(post, "/console/projects/:projectId/methods/apikeys/:keyId/revoke", sec, Rot, c.apiKeyRevoke),
		)
	}
	for _, r := range c.d.ExtraAPI {
		// API keys are credentials: managed like the shared secret (rotate
		// right); modes, mapping, IdP and role rules are project settings.
		obj, act := mp, R
		switch {
		case r.Credential && r.Write:
			obj, act = sec, Rot
		case r.Credential:
			obj = sec
		case r.Write:
			act = W
		}
		// These handlers read :projectId themselves; the guard still resolves
		// the project's tenant and enforces the policy.
		routes = append(routes, Route{Method: r.Method, Path: r.Path, Scope: ScopeProject, Obj: obj, Act: act, handler: r.Handler})
	}
	return routes
}
