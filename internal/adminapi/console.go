package adminapi

import (
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
	assets "github.com/pingstreams/pingauth/web"
)

// Access is what the console server (internal/web, which authenticates
// every /api/v1 request and enforces the one route/permission table before
// a handler runs) tells the API about the request.
type Access interface {
	// Actor is the signed-in operator as the admin service's actor.
	Actor(g *gin.Context) admin.Actor
	// Operator is the signed-in operator.
	Operator(g *gin.Context) *operator.Operator
	// SignIn signs an operator in (login guard, session cookie) and returns
	// the session's CSRF token; SignOut ends the request's session.
	// code is the second-factor code of an operator with TOTP enrolled.
	SignIn(g *gin.Context, email, password, code string) (*operator.Operator, string, error)
	SignOut(g *gin.Context)
	// CSRFToken is the session's CSRF token ("" for an API token).
	CSRFToken(g *gin.Context) string
	// SessionToken is the raw token of the request's console session (""
	// for an API token): the session a password change keeps.
	SessionToken(g *gin.Context) string
	// Scope is the operator's tenant filter (nil: every tenant).
	Scope(g *gin.Context) []string
	// AuditQuery is an audit query limited to what the operator may read.
	AuditQuery(g *gin.Context, projectID string, limit int, before int64) (audit.Query, error)
	// ImportUsers runs a CSV import for the request (with the longer read
	// and write deadlines imports need). A refused import returns its
	// report with the error.
	ImportUsers(g *gin.Context, p *project.Project, r io.Reader) (*admin.ImportReport, error)
}

// ConsoleDeps are the console API's collaborators.
type ConsoleDeps struct {
	Admin  *admin.Service
	Access Access
	Log    *slog.Logger
	// PublicURL and AudienceBase show each project's /auth URL and audience.
	PublicURL, AudienceBase string
	// MaxBodyBytes bounds JSON bodies; MaxImportBytes CSV uploads.
	MaxBodyBytes, MaxImportBytes int64
}

// ConsoleAPI is the admin JSON API of tenants, operators, projects,
// secrets, end-users, role rules and the audit log under /api/v1: thin
// handlers over internal/admin. Its routes are entries of the console
// server's route/permission table (internal/web routes.go), which mounts
// them; project-scoped handlers get the project the guard loaded.
type ConsoleAPI struct{ d ConsoleDeps }

// NewConsoleAPI returns the handlers.
func NewConsoleAPI(d ConsoleDeps) *ConsoleAPI {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &ConsoleAPI{d: d}
}

func (h *ConsoleAPI) fail(g *gin.Context, err error) { httpkit.WriteError(g, h.d.Log, err) }

func (h *ConsoleAPI) ok(g *gin.Context, status int, v any) { g.JSON(status, v) }

// bind decodes a JSON body strictly (unknown fields and trailing data are errors).
func (h *ConsoleAPI) bind(g *gin.Context, v any) error {
	return httpkit.DecodeJSONRequest(g.Request, h.d.MaxBodyBytes, v, "")
}

// OpenAPI serves the API description (web/openapi.yaml).
func (h *ConsoleAPI) OpenAPI(g *gin.Context) {
	g.Header("Cache-Control", "public, max-age=300")
	g.Data(http.StatusOK, "application/yaml; charset=utf-8", assets.OpenAPI)
}

// Login serves POST /api/v1/session.
func (h *ConsoleAPI) Login(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		// Code: TOTP or recovery code (operators with TOTP enrolled).
		Code string `json:"code"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	o, csrf, err := h.d.Access.SignIn(g, in.Email, in.Password, in.Code)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"operator": o, "csrf_token": csrf, "roles": h.d.Admin.Roles(o.ID)})
}

// Logout serves DELETE /api/v1/session.
func (h *ConsoleAPI) Logout(g *gin.Context) {
	h.d.Access.SignOut(g)
	g.Status(http.StatusNoContent)
}

// Me serves GET /api/v1/me.
func (h *ConsoleAPI) Me(g *gin.Context) {
	o := h.d.Access.Operator(g)
	out := gin.H{"operator": o, "roles": h.d.Admin.Roles(o.ID)}
	if t := h.d.Access.CSRFToken(g); t != "" {
		out["csrf_token"] = t
	}
	h.ok(g, http.StatusOK, out)
}

// Tokens serves GET /api/v1/me/tokens.
func (h *ConsoleAPI) Tokens(g *gin.Context) {
	ts, err := h.d.Admin.Tokens(g.Request.Context(), h.d.Access.Actor(g))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"tokens": ts})
}

// TokenCreate serves POST /api/v1/me/tokens.
func (h *ConsoleAPI) TokenCreate(g *gin.Context) {
	var in admin.TokenInput
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	raw, t, err := h.d.Admin.CreateToken(g.Request.Context(), h.d.Access.Actor(g), in)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusCreated, gin.H{"token": t, "value": raw})
}

// TokenDelete serves DELETE /api/v1/me/tokens/:tokenId.
func (h *ConsoleAPI) TokenDelete(g *gin.Context) {
	if err := h.d.Admin.DeleteToken(g.Request.Context(), h.d.Access.Actor(g), g.Param("tokenId")); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// --- tenants ---

// Tenants serves GET /api/v1/tenants: one page (?limit=, ?cursor=) of the
// tenants in scope, with their project counts.
func (h *ConsoleAPI) Tenants(g *gin.Context) {
	req, err := pageRequest(g)
	if err != nil {
		h.fail(g, err)
		return
	}
	pg, err := h.d.Admin.TenantPage(g.Request.Context(), h.d.Access.Scope(g), req)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, listBody("tenants", pg.Items, pg.Next))
}

// TenantCreate serves POST /api/v1/tenants.
func (h *ConsoleAPI) TenantCreate(g *gin.Context) {
	var in struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	t, err := h.d.Admin.CreateTenant(g.Request.Context(), h.d.Access.Actor(g), admin.TenantInput{ID: in.ID, Name: in.Name})
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusCreated, t)
}

// Tenant serves GET /api/v1/tenants/:tenantId.
func (h *ConsoleAPI) Tenant(g *gin.Context) {
	t, err := h.d.Admin.Tenant(g.Request.Context(), g.Param("tenantId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, t)
}

// TenantDenyList serves PUT /api/v1/tenants/:tenantId/email-denylist.
func (h *ConsoleAPI) TenantDenyList(g *gin.Context) {
	var in struct {
		Entries []string `json:"entries"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	norm, err := h.d.Admin.SetTenantEmailDenyList(g.Request.Context(), h.d.Access.Actor(g), g.Param("tenantId"), in.Entries)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"email_denylist": norm})
}

// TenantProjects serves GET /api/v1/tenants/:tenantId/projects: one page
// (?limit=, ?cursor=, ?search=) of the tenant's projects.
func (h *ConsoleAPI) TenantProjects(g *gin.Context) {
	h.projectPage(g, []string{g.Param("tenantId")})
}

// projectPage answers one page of the projects of tenants (nil: every
// tenant) whose id or name contains ?search=.
func (h *ConsoleAPI) projectPage(g *gin.Context, tenants []string) {
	req, err := pageRequest(g)
	if err != nil {
		h.fail(g, err)
		return
	}
	pg, err := h.d.Admin.Projects(g.Request.Context(), project.ListFilter{TenantIDs: tenants, Search: g.Query("search")}, req)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, listBody("projects", pg.Items, pg.Next))
}

// listBody is a page of a list: {key: items, "next_cursor": next} (no
// next_cursor on the last page).
func listBody(key string, items any, next string) gin.H {
	b := gin.H{key: items}
	if next != "" {
		b["next_cursor"] = next
	}
	return b
}

// projectInput is the JSON body of project create and update.
type projectInput = admin.ProjectInput

// ProjectCreate serves POST /api/v1/tenants/:tenantId/projects.
func (h *ConsoleAPI) ProjectCreate(g *gin.Context) {
	var in projectInput
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	in.TenantID = g.Param("tenantId")
	p, err := h.d.Admin.CreateProject(g.Request.Context(), h.d.Access.Actor(g), in)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusCreated, h.projectView(g, p))
}

// --- tenant members ---

// Members serves GET /api/v1/tenants/:tenantId/operators.
func (h *ConsoleAPI) Members(g *gin.Context) {
	ms, err := h.d.Admin.Members(g.Request.Context(), g.Param("tenantId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"members": ms})
}

// MemberAdd serves POST /api/v1/tenants/:tenantId/operators: an
// invitation (201 {invitation, link, emailed}, the same shape whatever the
// email; the link is shown once). A password is refused below platform
// admin; a platform admin's creates a new account directly (201 {operator,
// roles}).
func (h *ConsoleAPI) MemberAdd(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	res, err := h.d.Admin.AddMember(g.Request.Context(), h.d.Access.Actor(g), g.Param("tenantId"), admin.MemberInput{Email: in.Email, Password: in.Password, Role: in.Role})
	if err != nil {
		h.fail(g, err)
		return
	}
	if res.Invited == nil {
		h.ok(g, http.StatusCreated, gin.H{"operator": res.Operator, "roles": h.d.Admin.Roles(res.Operator.ID)})
		return
	}
	h.ok(g, http.StatusCreated, res.Invited)
}

// Invitations serves GET /api/v1/tenants/:tenantId/invitations (pending
// ones, never their links).
func (h *ConsoleAPI) Invitations(g *gin.Context) {
	out, err := h.d.Admin.Invitations(g.Request.Context(), g.Param("tenantId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"invitations": out})
}

// InvitationRevoke serves DELETE /api/v1/tenants/:tenantId/invitations/:invitationId.
func (h *ConsoleAPI) InvitationRevoke(g *gin.Context) {
	if err := h.d.Admin.RevokeInvitation(g.Request.Context(), h.d.Access.Actor(g), g.Param("tenantId"), g.Param("invitationId")); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// MemberRemove serves DELETE /api/v1/tenants/:tenantId/operators/:operatorId.
func (h *ConsoleAPI) MemberRemove(g *gin.Context) {
	if err := h.d.Admin.RemoveMember(g.Request.Context(), h.d.Access.Actor(g), g.Param("tenantId"), g.Param("operatorId")); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// --- operators (platform) ---

// Operators serves GET /api/v1/operators.
func (h *ConsoleAPI) Operators(g *gin.Context) {
	out, err := h.d.Admin.Operators(g.Request.Context())
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"operators": out})
}

// OperatorCreate serves POST /api/v1/operators.
func (h *ConsoleAPI) OperatorCreate(g *gin.Context) {
	var in struct {
		Email         string `json:"email"`
		Name          string `json:"name"`
		Password      string `json:"password"`
		PlatformAdmin bool   `json:"platform_admin"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	o, err := h.d.Admin.CreateOperator(g.Request.Context(), h.d.Access.Actor(g), admin.OperatorInput{Email: in.Email, Name: in.Name, Password: in.Password, PlatformAdmin: in.PlatformAdmin})
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusCreated, admin.OperatorView{Operator: o, Roles: h.d.Admin.Roles(o.ID)})
}

// OperatorUpdate serves PATCH /api/v1/operators/:operatorId.
func (h *ConsoleAPI) OperatorUpdate(g *gin.Context) {
	var in struct {
		Disabled *bool  `json:"disabled"`
		Password string `json:"password"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	id := g.Param("operatorId")
	if in.Disabled != nil {
		if err := h.d.Admin.SetOperatorDisabled(g.Request.Context(), h.d.Access.Actor(g), id, *in.Disabled); err != nil {
			h.fail(g, err)
			return
		}
	}
	if in.Password != "" {
		if err := h.d.Admin.SetOperatorPassword(g.Request.Context(), h.d.Access.Actor(g), id, in.Password); err != nil {
			h.fail(g, err)
			return
		}
	}
	o, err := h.d.Admin.Operator(g.Request.Context(), id)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, o)
}

// OperatorDelete serves DELETE /api/v1/operators/:operatorId.
func (h *ConsoleAPI) OperatorDelete(g *gin.Context) {
	if err := h.d.Admin.DeleteOperator(g.Request.Context(), h.d.Access.Actor(g), g.Param("operatorId")); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// --- projects ---

type projectView struct {
	*project.Project
	Audience string              `json:"audience"`
	AuthURL  string              `json:"auth_url"`
	Secret   admin.SecretSummary `json:"secret"`
	// Rotation: schedule, last rotation, next due, overdue.
	Rotation admin.RotationStatus `json:"rotation"`
}

func (h *ConsoleAPI) projectView(g *gin.Context, p *project.Project) projectView {
	s, _ := h.d.Admin.SecretInfo(g.Request.Context(), p.ID)
	if s.Versions == nil {
		s.Versions = nil
	}
	rot, _ := h.d.Admin.RotationStatus(g.Request.Context(), p)
	return projectView{Project: p, Audience: p.AudienceText(h.d.AudienceBase), AuthURL: h.d.PublicURL + "/auth/" + p.ID, Secret: s, Rotation: rot}
}

// Projects serves GET /api/v1/projects: one page (?limit=, ?cursor=,
// ?search=, ?tenant_id=) of the projects in scope.
func (h *ConsoleAPI) Projects(g *gin.Context) {
	scope := h.d.Access.Scope(g)
	if t := g.Query("tenant_id"); t != "" {
		if scope != nil && !slices.Contains(scope, t) {
			scope = []string{}
		} else {
			scope = []string{t}
		}
	}
	h.projectPage(g, scope)
}

// Project serves GET /api/v1/projects/:projectId.
func (h *ConsoleAPI) Project(g *gin.Context, p *project.Project) {
	h.ok(g, http.StatusOK, h.projectView(g, p))
}

// ProjectUpdate serves PUT /api/v1/projects/:projectId.
func (h *ConsoleAPI) ProjectUpdate(g *gin.Context, p *project.Project) {
	refreshTTL := p.RefreshTTLSeconds
	in := projectInput{Name: p.Name, AllowedOrigins: p.AllowedOrigins, TokenTTLSeconds: p.TokenTTLSeconds, RefreshTTLSeconds: &refreshTTL, AudienceBase: p.AudienceBase, Status: p.Status}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	if in.ID != "" && in.ID != p.ID {
		h.fail(g, apperr.Invalid("id", "the project id cannot change"))
		return
	}
	if in.RefreshTTLSeconds == nil { // explicit null: the default
		d := int(project.DefaultRefreshTTL.Seconds())
		in.RefreshTTLSeconds = &d
	}
	p.Name, p.AllowedOrigins, p.TokenTTLSeconds, p.AudienceBase, p.Status = in.Name, in.AllowedOrigins, in.TokenTTLSeconds, in.AudienceBase, in.Status
	p.RefreshTTLSeconds = *in.RefreshTTLSeconds
	if err := h.d.Admin.UpdateProject(g.Request.Context(), h.d.Access.Actor(g), p); err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, h.projectView(g, p))
}

// ProjectDelete serves DELETE /api/v1/projects/:projectId.
func (h *ConsoleAPI) ProjectDelete(g *gin.Context, p *project.Project) {
	if err := h.d.Admin.DeleteProject(g.Request.Context(), h.d.Access.Actor(g), p); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// --- secret ---

// SecretVersions serves GET /api/v1/projects/:projectId/secret.
func (h *ConsoleAPI) SecretVersions(g *gin.Context, p *project.Project) {
	s, err := h.d.Admin.SecretInfo(g.Request.Context(), p.ID)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, s)
}

// SecretPut serves PUT /api/v1/projects/:projectId/secret.
func (h *ConsoleAPI) SecretPut(g *gin.Context, p *project.Project) {
	var in struct {
		Secret       string `json:"secret"`
		GraceSeconds *int   `json:"grace_seconds"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	meta, err := h.d.Admin.PutSecret(g.Request.Context(), h.d.Access.Actor(g), p, admin.SecretInput{Value: in.Secret, GraceSeconds: in.GraceSeconds})
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, meta)
}

// SecretRotate serves POST /api/v1/projects/:projectId/secret/rotate.
func (h *ConsoleAPI) SecretRotate(g *gin.Context, p *project.Project) {
	var in admin.RotateInput
	if g.Request.ContentLength != 0 {
		if err := h.bind(g, &in); err != nil {
			h.fail(g, err)
			return
		}
	}
	rot, err := h.d.Admin.RotateSecret(g.Request.Context(), h.d.Access.Actor(g), p, in)
	if err != nil {
		h.fail(g, err)
		return
	}
	out := gin.H{"version": rot.Version, "chat_server": rot.ChatServer, "probe_ok": rot.ProbeOK, "window_ms": rot.WindowMillis}
	if rot.Value != nil { // a local rotation: shown once
		out["secret"] = string(rot.Value)
		out["warning"] = rot.Warning
	}
	h.ok(g, http.StatusOK, out)
}

// --- end-user role mapping ---

// Mapping serves GET /api/v1/projects/:projectId/enduser-roles.
func (h *ConsoleAPI) Mapping(g *gin.Context, p *project.Project) {
	h.ok(g, http.StatusOK, gin.H{"project_id": p.ID, "roles": h.d.Admin.RoleRules(p)})
}

// MappingPut serves PUT /api/v1/projects/:projectId/enduser-roles.
func (h *ConsoleAPI) MappingPut(g *gin.Context, p *project.Project) {
	var in struct {
		Roles []string `json:"roles"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	roles, err := h.d.Admin.SetRoleRules(g.Request.Context(), h.d.Access.Actor(g), p, in.Roles)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"project_id": p.ID, "roles": roles})
}

// --- end-users ---

// Users serves GET /api/v1/projects/:projectId/users: one keyset page of
// the project's end-users in (email, id) order (?limit=, ?cursor=,
// ?search=), with next_cursor (omitted on the last page) and a total
// bounded at paging.CountBound.
func (h *ConsoleAPI) Users(g *gin.Context, p *project.Project) {
	req, err := pageRequest(g)
	if err != nil {
		h.fail(g, err)
		return
	}
	page, total, err := h.d.Admin.ListUsers(g.Request.Context(), p, enduser.ListOptions{Search: g.Query("search"), Page: req})
	if err != nil {
		h.fail(g, err)
		return
	}
	body := listBody("users", page.Items, page.Next)
	body["total"], body["limit"] = total, req.Limit
	h.ok(g, http.StatusOK, body)
}

// UserCreate serves POST /api/v1/projects/:projectId/users.
func (h *ConsoleAPI) UserCreate(g *gin.Context, p *project.Project) {
	var in admin.UserInput
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	u, err := h.d.Admin.CreateUser(g.Request.Context(), h.d.Access.Actor(g), p, in)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusCreated, u)
}

// User serves GET /api/v1/projects/:projectId/users/:userId.
func (h *ConsoleAPI) User(g *gin.Context, p *project.Project) {
	u, err := h.d.Admin.User(g.Request.Context(), p, g.Param("userId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, u)
}

// UserUpdate serves PATCH /api/v1/projects/:projectId/users/:userId.
func (h *ConsoleAPI) UserUpdate(g *gin.Context, p *project.Project) {
	u, err := h.d.Admin.User(g.Request.Context(), p, g.Param("userId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	in := admin.UserInputOf(u)
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	if u, err = h.d.Admin.UpdateUser(g.Request.Context(), h.d.Access.Actor(g), p, u.ID, in); err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, u)
}

// UserDelete serves DELETE /api/v1/projects/:projectId/users/:userId.
func (h *ConsoleAPI) UserDelete(g *gin.Context, p *project.Project) {
	if err := h.d.Admin.DeleteUser(g.Request.Context(), h.d.Access.Actor(g), p, g.Param("userId")); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// UserPassword serves POST /api/v1/projects/:projectId/users/:userId/password.
func (h *ConsoleAPI) UserPassword(g *gin.Context, p *project.Project) {
	var in struct {
		Password string `json:"password"`
	}
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	if err := h.d.Admin.SetUserPassword(g.Request.Context(), h.d.Access.Actor(g), p, g.Param("userId"), in.Password); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// UserRefresh lists the end-user's remembered sign-ins (live refresh
// credential families; never a credential).
func (h *ConsoleAPI) UserRefresh(g *gin.Context, p *project.Project) {
	fams, err := h.d.Admin.SignIns(g.Request.Context(), p, g.Param("userId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"sign_ins": fams})
}

// UserRefreshRevoke revokes every refresh credential of the end-user.
func (h *ConsoleAPI) UserRefreshRevoke(g *gin.Context, p *project.Project) {
	n, err := h.d.Admin.RevokeUserRefresh(g.Request.Context(), h.d.Access.Actor(g), p, g.Param("userId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"revoked_sign_ins": n})
}

// UsersImport serves POST /api/v1/projects/:projectId/users/import.
func (h *ConsoleAPI) UsersImport(g *gin.Context, p *project.Project) {
	mt, _, _ := mime.ParseMediaType(g.GetHeader("Content-Type"))
	var r io.Reader
	switch mt {
	case "text/csv", "text/plain":
		r = http.MaxBytesReader(g.Writer, g.Request.Body, h.d.MaxImportBytes)
	case "multipart/form-data":
		g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, h.d.MaxImportBytes)
		fh, err := g.FormFile("file")
		if err != nil {
			h.fail(g, apperr.Invalid("file", "upload the CSV as form field \"file\" (at most 4 MiB)"))
			return
		}
		f, err := fh.Open()
		if err != nil {
			h.fail(g, apperr.Invalid("file", "cannot read the upload"))
			return
		}
		defer f.Close()
		r = f
	default:
		h.fail(g, apperr.Invalid("content-type", "send the CSV as text/csv or multipart/form-data (field \"file\")"))
		return
	}
	rep, err := h.d.Access.ImportUsers(g, p, r)
	if err != nil {
		if httpkit.IsMaxBytes(err) || strings.Contains(err.Error(), "http: request body too large") {
			err = &apperr.Error{Kind: apperr.ErrTooLarge, Message: "CSV file too large (at most 4 MiB)", Field: "file"}
		}
		if rep == nil {
			h.fail(g, err)
			return
		}
		// Refused (nothing was imported): the error, and the report naming
		// every row with an error and its line.
		status, code := httpkit.Status(err)
		g.Set(httpkit.ErrorReasonKey, code)
		g.Header("Cache-Control", "no-store")
		g.AbortWithStatusJSON(status, importRefused{Error: httpkit.ErrorDetail{Code: code, Message: apperr.Message(err),
			Field: "file", RequestID: httpkit.RequestID(g)}, Report: rep})
		return
	}
	h.ok(g, http.StatusOK, rep)
}

// importRefused is the body of a refused import: the usual error and the
// report.
type importRefused struct {
	Error  httpkit.ErrorDetail `json:"error"`
	Report *admin.ImportReport `json:"report"`
}

// --- audit ---

// AuditParams reads ?limit= (1-500, default 100) and ?before= (an event id)
// of an audit list (console pages and the API alike).
func AuditParams(g *gin.Context) (limit int, before int64, err error) {
	limit = 100
	if s := g.Query("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 500 {
			return 0, 0, apperr.Invalid("limit", "limit must be 1-500")
		}
	}
	if s := g.Query("before"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil || before < 0 {
			return 0, 0, apperr.Invalid("before", "before must be an event id")
		}
	}
	return limit, before, nil
}

// Audit serves GET /api/v1/audit.
func (h *ConsoleAPI) Audit(g *gin.Context) {
	limit, before, err := AuditParams(g)
	if err != nil {
		h.fail(g, err)
		return
	}
	q, err := h.d.Access.AuditQuery(g, g.Query("project_id"), limit, before)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.writeAudit(g, q)
}

// ProjectAudit serves GET /api/v1/projects/:projectId/audit.
func (h *ConsoleAPI) ProjectAudit(g *gin.Context, p *project.Project) {
	limit, before, err := AuditParams(g)
	if err != nil {
		h.fail(g, err)
		return
	}
	// The project's tenant too: a project id re-created in another tenant
	// shows none of the earlier project's events.
	h.writeAudit(g, audit.Query{TenantIDs: []string{p.TenantID}, ProjectID: p.ID, Limit: limit, BeforeID: before})
}

func (h *ConsoleAPI) writeAudit(g *gin.Context, q audit.Query) {
	es, err := h.d.Admin.AuditEvents(g.Request.Context(), q)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"events": es})
}

// --- chat-server connections ---

func connView(c *chatserver.Connection) gin.H {
	return gin.H{"scope": c.Scope, "scope_id": c.ScopeID, "base_url": c.BaseURL, "auth": c.Auth, "email": c.Email,
		"updated_by": c.UpdatedBy, "updated_at": c.UpdatedAt}
}

// TenantChatConnection serves GET /api/v1/tenants/:tenantId/chat-connection.
func (h *ConsoleAPI) TenantChatConnection(g *gin.Context) {
	h.getConn(g, chatserver.ScopeTenant, g.Param("tenantId"))
}

// TenantChatConnectionPut serves PUT /api/v1/tenants/:tenantId/chat-connection.
func (h *ConsoleAPI) TenantChatConnectionPut(g *gin.Context) {
	t, err := h.d.Admin.Tenant(g.Request.Context(), g.Param("tenantId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.putConn(g, chatserver.ScopeTenant, t.ID, t.ID)
}

// TenantChatConnectionDelete serves DELETE /api/v1/tenants/:tenantId/chat-connection.
func (h *ConsoleAPI) TenantChatConnectionDelete(g *gin.Context) {
	h.deleteConn(g, chatserver.ScopeTenant, g.Param("tenantId"), g.Param("tenantId"))
}

// ProjectChatConnection serves GET /api/v1/projects/:projectId/chat-connection
// (the project's own connection; 404 when it uses its tenant's).
func (h *ConsoleAPI) ProjectChatConnection(g *gin.Context, p *project.Project) {
	h.getConn(g, chatserver.ScopeProject, p.ID)
}

// ProjectChatConnectionPut serves PUT /api/v1/projects/:projectId/chat-connection.
func (h *ConsoleAPI) ProjectChatConnectionPut(g *gin.Context, p *project.Project) {
	h.putConn(g, chatserver.ScopeProject, p.ID, p.TenantID)
}

// ProjectChatConnectionDelete serves DELETE /api/v1/projects/:projectId/chat-connection.
func (h *ConsoleAPI) ProjectChatConnectionDelete(g *gin.Context, p *project.Project) {
	h.deleteConn(g, chatserver.ScopeProject, p.ID, p.TenantID)
}

// ProjectChatConnectionTest serves POST /api/v1/projects/:projectId/chat-connection/test.
func (h *ConsoleAPI) ProjectChatConnectionTest(g *gin.Context, p *project.Project) {
	res, err := h.d.Admin.TestChatConnection(g.Request.Context(), p)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, res)
}

func (h *ConsoleAPI) getConn(g *gin.Context, scope, id string) {
	c, err := h.d.Admin.ChatConnection(g.Request.Context(), scope, id)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, connView(c))
}

func (h *ConsoleAPI) putConn(g *gin.Context, scope, id, tenantID string) {
	var in admin.ChatConnectionInput
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	c, err := h.d.Admin.SetChatConnection(g.Request.Context(), h.d.Access.Actor(g), scope, id, tenantID, in)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, connView(c))
}

func (h *ConsoleAPI) deleteConn(g *gin.Context, scope, id, tenantID string) {
	if err := h.d.Admin.DeleteChatConnection(g.Request.Context(), h.d.Access.Actor(g), scope, id, tenantID); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}
