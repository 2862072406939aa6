package web

import (
	"github.com/pingstreams/pingauth/internal/admin"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
	assets "github.com/pingstreams/pingauth/web"
)

// bind decodes a JSON body strictly (unknown fields and trailing data are errors).
func bind(g *gin.Context, v any) error {
	return httpkit.DecodeJSONRequest(g.Request, maxFormBytes, v, "")
}

func (c *Console) ok(g *gin.Context, status int, v any) { g.JSON(status, v) }

func (c *Console) openapi(g *gin.Context) {
	g.Header("Cache-Control", "public, max-age=300")
	g.Data(http.StatusOK, "application/yaml; charset=utf-8", assets.OpenAPI)
}

// --- session ---

func (c *Console) apiLogin(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	o, raw, err := c.login(g, in.Email, in.Password)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"operator": o, "csrf_token": operator.CSRFToken(raw), "roles": c.d.RBAC.Assignments(o.ID)})
}

func (c *Console) apiLogout(g *gin.Context) {
	c.endSession(g)
	g.Status(http.StatusNoContent)
}

func (c *Console) apiMe(g *gin.Context) {
	o := operatorOf(g)
	out := gin.H{"operator": o, "roles": c.d.RBAC.Assignments(o.ID)}
	if raw := g.GetString(ctxSessionRaw); raw != "" {
		out["csrf_token"] = operator.CSRFToken(raw)
	}
	c.ok(g, http.StatusOK, out)
}

func (c *Console) apiTokens(g *gin.Context) {
	ts, err := c.d.Operators.ListTokens(g.Request.Context(), operatorOf(g).ID)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"tokens": ts})
}

func (c *Console) apiTokenCreate(g *gin.Context) {
	var in struct {
		Name       string `json:"name"`
		TTLSeconds int    `json:"ttl_seconds"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	raw, t, err := c.d.Admin.CreateToken(g.Request.Context(), c.actor(g), admin.TokenInput{Name: in.Name, TTLSeconds: in.TTLSeconds})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusCreated, gin.H{"token": t, "value": raw})
}

func (c *Console) apiTokenDelete(g *gin.Context) {
	if err := c.d.Admin.DeleteToken(g.Request.Context(), c.actor(g), g.Param("tokenId")); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// --- tenants ---

func (c *Console) apiTenants(g *gin.Context) {
	ts, err := c.d.Projects.ListTenants(g.Request.Context(), c.scope(g))
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"tenants": ts})
}

func (c *Console) apiTenantCreate(g *gin.Context) {
	var in struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	t, err := c.d.Admin.CreateTenant(g.Request.Context(), c.actor(g), admin.TenantInput{ID: in.ID, Name: in.Name})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusCreated, t)
}

func (c *Console) apiTenant(g *gin.Context) {
	t, err := c.d.Projects.GetTenant(g.Request.Context(), g.Param("tenantId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, t)
}

func (c *Console) apiTenantDenyList(g *gin.Context) {
	var in struct {
		Entries []string `json:"entries"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	norm, err := c.d.Admin.SetTenantEmailDenyList(g.Request.Context(), c.actor(g), g.Param("tenantId"), in.Entries)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"email_denylist": norm})
}

func (c *Console) apiTenantProjects(g *gin.Context) {
	ps, err := c.d.Projects.List(g.Request.Context(), project.ListFilter{TenantIDs: []string{g.Param("tenantId")}})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"projects": ps})
}

// projectInput is the JSON body of project create and update.
type projectInput = admin.ProjectInput

func (c *Console) apiProjectCreate(g *gin.Context) {
	var in projectInput
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	in.TenantID = g.Param("tenantId")
	p, err := c.d.Admin.CreateProject(g.Request.Context(), c.actor(g), in)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusCreated, c.projectView(g, p))
}

// --- tenant members ---

func (c *Console) apiMembers(g *gin.Context) {
	ms, err := c.members(g, g.Param("tenantId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"members": ms})
}

func (c *Console) apiMemberAdd(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	o, err := c.d.Admin.AddMember(g.Request.Context(), c.actor(g), g.Param("tenantId"), admin.MemberInput{Email: in.Email, Password: in.Password, Role: in.Role})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusCreated, gin.H{"operator": o, "roles": c.d.RBAC.Assignments(o.ID)})
}

func (c *Console) apiMemberRemove(g *gin.Context) {
	if err := c.d.Admin.RemoveMember(g.Request.Context(), c.actor(g), g.Param("tenantId"), g.Param("operatorId")); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// --- operators (platform) ---

type operatorView struct {
	*operator.Operator
	Roles []rbac.Assignment `json:"roles"`
}

func (c *Console) apiOperators(g *gin.Context) {
	os, err := c.d.Operators.List(g.Request.Context(), nil)
	if err != nil {
		c.fail(g, err)
		return
	}
	out := make([]operatorView, len(os))
	for i := range os {
		out[i] = operatorView{&os[i], c.d.RBAC.Assignments(os[i].ID)}
	}
	c.ok(g, http.StatusOK, gin.H{"operators": out})
}

func (c *Console) apiOperatorCreate(g *gin.Context) {
	var in struct {
		Email         string `json:"email"`
		Name          string `json:"name"`
		Password      string `json:"password"`
		PlatformAdmin bool   `json:"platform_admin"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	o, err := c.d.Admin.CreateOperator(g.Request.Context(), c.actor(g), admin.OperatorInput{Email: in.Email, Name: in.Name, Password: in.Password, PlatformAdmin: in.PlatformAdmin})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusCreated, operatorView{o, c.d.RBAC.Assignments(o.ID)})
}

func (c *Console) apiOperatorUpdate(g *gin.Context) {
	var in struct {
		Disabled *bool  `json:"disabled"`
		Password string `json:"password"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	id := g.Param("operatorId")
	if in.Disabled != nil {
		if err := c.d.Admin.SetOperatorDisabled(g.Request.Context(), c.actor(g), id, *in.Disabled); err != nil {
			c.fail(g, err)
			return
		}
	}
	if in.Password != "" {
		if err := c.d.Admin.SetOperatorPassword(g.Request.Context(), c.actor(g), id, in.Password); err != nil {
			c.fail(g, err)
			return
		}
	}
	o, err := c.d.Operators.Get(g.Request.Context(), id)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, operatorView{o, c.d.RBAC.Assignments(o.ID)})
}

func (c *Console) apiOperatorDelete(g *gin.Context) {
	if err := c.d.Admin.DeleteOperator(g.Request.Context(), c.actor(g), g.Param("operatorId")); err != nil {
		c.fail(g, err)
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
}

func (c *Console) projectView(g *gin.Context, p *project.Project) projectView {
	s, _ := c.d.Admin.SecretInfo(g.Request.Context(), p.ID)
	if s.Versions == nil {
		s.Versions = nil
	}
	return projectView{Project: p, Audience: p.AudienceText(c.d.AudienceBase), AuthURL: c.d.PublicURL + "/auth/" + p.ID, Secret: s}
}

func (c *Console) apiProjects(g *gin.Context) {
	ps, err := c.d.Projects.List(g.Request.Context(), project.ListFilter{TenantIDs: c.scope(g)})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"projects": ps})
}

func (c *Console) apiProject(g *gin.Context, p *project.Project) {
	c.ok(g, http.StatusOK, c.projectView(g, p))
}

func (c *Console) apiProjectUpdate(g *gin.Context, p *project.Project) {
	refreshTTL := p.RefreshTTLSeconds
	in := projectInput{Name: p.Name, AllowedOrigins: p.AllowedOrigins, TokenTTLSeconds: p.TokenTTLSeconds, RefreshTTLSeconds: &refreshTTL, AudienceBase: p.AudienceBase, Status: p.Status}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	if in.ID != "" && in.ID != p.ID {
		c.fail(g, apperr.Invalid("id", "the project id cannot change"))
		return
	}
	if in.RefreshTTLSeconds == nil { // explicit null: the default
		d := int(project.DefaultRefreshTTL.Seconds())
		in.RefreshTTLSeconds = &d
	}
	p.Name, p.AllowedOrigins, p.TokenTTLSeconds, p.AudienceBase, p.Status = in.Name, in.AllowedOrigins, in.TokenTTLSeconds, in.AudienceBase, in.Status
	p.RefreshTTLSeconds = *in.RefreshTTLSeconds
	if err := c.d.Admin.UpdateProject(g.Request.Context(), c.actor(g), p); err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, c.projectView(g, p))
}

func (c *Console) apiProjectDelete(g *gin.Context, p *project.Project) {
	if err := c.d.Admin.DeleteProject(g.Request.Context(), c.actor(g), p); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// --- secret ---

func (c *Console) apiSecretVersions(g *gin.Context, p *project.Project) {
	s, err := c.d.Admin.SecretInfo(g.Request.Context(), p.ID)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, s)
}

func (c *Console) apiSecretPut(g *gin.Context, p *project.Project) {
	var in struct {
		Secret       string `json:"secret"`
		GraceSeconds *int   `json:"grace_seconds"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	meta, err := c.d.Admin.PutSecret(g.Request.Context(), c.actor(g), p, admin.SecretInput{Value: in.Secret, GraceSeconds: in.GraceSeconds})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, meta)
}

func (c *Console) apiSecretRotate(g *gin.Context, p *project.Project) {
	var in struct {
		GraceSeconds *int `json:"grace_seconds"`
	}
	if g.Request.ContentLength != 0 {
		if err := bind(g, &in); err != nil {
			c.fail(g, err)
			return
		}
	}
	meta, value, err := c.d.Admin.RotateSecret(g.Request.Context(), c.actor(g), p, in.GraceSeconds)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"version": meta, "secret": string(value)})
}

// --- end-user role mapping ---

func (c *Console) apiMapping(g *gin.Context, p *project.Project) {
	c.ok(g, http.StatusOK, gin.H{"project_id": p.ID, "roles": c.d.RBAC.EndUserRoles(p.ID)})
}

func (c *Console) apiMappingPut(g *gin.Context, p *project.Project) {
	var in struct {
		Roles []string `json:"roles"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	roles, err := c.d.Admin.SetRoleRules(g.Request.Context(), c.actor(g), p, in.Roles)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"project_id": p.ID, "roles": roles})
}

// --- end-users ---

func pageParams(g *gin.Context) (limit, offset int, err error) {
	limit, offset = defaultPageSize, 0
	if s := g.Query("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 200 {
			return 0, 0, apperr.Invalid("limit", "limit must be 1-200")
		}
	}
	if s := g.Query("offset"); s != "" {
		if offset, err = strconv.Atoi(s); err != nil || offset < 0 {
			return 0, 0, apperr.Invalid("offset", "offset must be a non-negative integer")
		}
	}
	return limit, offset, nil
}

func (c *Console) apiUsers(g *gin.Context, p *project.Project) {
	limit, offset, err := pageParams(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	us, total, err := c.d.Users.List(g.Request.Context(), p.ID, enduser.ListOptions{Search: g.Query("search"), Limit: limit, Offset: offset})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"users": us, "total": total, "limit": limit, "offset": offset})
}

func (c *Console) apiUserCreate(g *gin.Context, p *project.Project) {
	var in admin.UserInput
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	u, err := c.d.Admin.CreateUser(g.Request.Context(), c.actor(g), p, in)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusCreated, u)
}

func (c *Console) apiUser(g *gin.Context, p *project.Project) {
	u, err := c.d.Users.Get(g.Request.Context(), p.ID, g.Param("userId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, u)
}

func (c *Console) apiUserUpdate(g *gin.Context, p *project.Project) {
	u, err := c.d.Users.Get(g.Request.Context(), p.ID, g.Param("userId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	in := admin.UserInputOf(u)
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	if u, err = c.d.Admin.UpdateUser(g.Request.Context(), c.actor(g), p, u.ID, in); err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, u)
}

func (c *Console) apiUserDelete(g *gin.Context, p *project.Project) {
	if err := c.d.Admin.DeleteUser(g.Request.Context(), c.actor(g), p, g.Param("userId")); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

func (c *Console) apiUserPassword(g *gin.Context, p *project.Project) {
	var in struct {
		Password string `json:"password"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	if err := c.d.Admin.SetUserPassword(g.Request.Context(), c.actor(g), p, g.Param("userId"), in.Password); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// apiUserRefresh lists the end-user's remembered sign-ins (live refresh
// credential families; never a credential).
func (c *Console) apiUserRefresh(g *gin.Context, p *project.Project) {
	u, err := c.d.Users.Get(g.Request.Context(), p.ID, g.Param("userId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	fams := []refresh.Family{}
	if c.d.Refresh != nil {
		if fams, err = c.d.Refresh.Families(g.Request.Context(), p.ID, u.ID); err != nil {
			c.fail(g, err)
			return
		}
	}
	c.ok(g, http.StatusOK, gin.H{"sign_ins": fams})
}

// apiUserRefreshRevoke revokes every refresh credential of the end-user.
func (c *Console) apiUserRefreshRevoke(g *gin.Context, p *project.Project) {
	n, err := c.d.Admin.RevokeUserRefresh(g.Request.Context(), c.actor(g), p, g.Param("userId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"revoked_sign_ins": n})
}

func (c *Console) apiUsersImport(g *gin.Context, p *project.Project) {
	mt, _, _ := mime.ParseMediaType(g.GetHeader("Content-Type"))
	var r io.Reader
	switch mt {
	case "text/csv", "text/plain":
		r = http.MaxBytesReader(g.Writer, g.Request.Body, maxImportBytes)
	case "multipart/form-data":
		g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxImportBytes)
		fh, err := g.FormFile("file")
		if err != nil {
			c.fail(g, apperr.Invalid("file", "upload the CSV as form field \"file\" (at most 4 MiB)"))
			return
		}
		f, err := fh.Open()
		if err != nil {
			c.fail(g, apperr.Invalid("file", "cannot read the upload"))
			return
		}
		defer f.Close()
		r = f
	default:
		c.fail(g, apperr.Invalid("content-type", "send the CSV as text/csv or multipart/form-data (field \"file\")"))
		return
	}
	rep, err := c.importUsers(g, p, r)
	if err != nil {
		if strings.Contains(err.Error(), "http: request body too large") {
			err = &apperr.Error{Kind: apperr.ErrTooLarge, Message: "CSV file too large (at most 4 MiB)"}
		}
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, rep)
}

// --- audit ---

func (c *Console) auditParams(g *gin.Context) (limit int, before int64, err error) {
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

func (c *Console) apiAudit(g *gin.Context) {
	limit, before, err := c.auditParams(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	q, err := c.auditQuery(g, g.Query("project_id"), limit, before)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.writeAudit(g, q)
}

func (c *Console) apiProjectAudit(g *gin.Context, p *project.Project) {
	limit, before, err := c.auditParams(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.writeAudit(g, audit.Query{ProjectID: p.ID, Limit: limit, BeforeID: before})
}

func (c *Console) writeAudit(g *gin.Context, q audit.Query) {
	es, err := c.d.Admin.AuditEvents(g.Request.Context(), q)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"events": es})
}
