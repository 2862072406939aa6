package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/adminapi"
	"github.com/pingstreams/pingauth/internal/chatserver"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	assets "github.com/pingstreams/pingauth/web"
)

var statusOf = httpkit.Status

type pages struct {
	t      map[string]*template.Template
	static map[string][]byte // web/static files by name
}

var pageNames = []string{"login", "error", "dashboard", "project_form", "project", "secret_once", "users", "import_report", "members", "operators", "audit", "methods", "apikey_once", "tenant_settings", "account", "operator_tokens", "invite", "rotation_report", "login_totp", "account_totp"}

func loadPages() (*pages, error) {
	funcs := template.FuncMap{
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04 UTC")
			case *time.Time:
				if v == nil {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04 UTC")
			}
			return ""
		},
		"join":    strings.Join,
		"ttl":     humanDuration,
		"refresh": humanRefresh,
		"advice":  ttlAdvice,
		"json":    func(e audit.Event) string { return e.MarshalDetails() },
		"add":     func(a, b int) int { return a + b },
		"isSel":   func(a, b string) bool { return a == b },
	}
	p := &pages{t: map[string]*template.Template{}}
	for _, n := range pageNames {
		t, err := template.New("").Funcs(funcs).ParseFS(assets.Console, "templates/layout.html", "templates/partials.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		p.t[n] = t
	}
	p.static = map[string][]byte{}
	files, err := fs.Glob(assets.Console, "static/*")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := fs.ReadFile(assets.Console, f)
		if err != nil {
			return nil, fmt.Errorf("console asset %s: %w", f, err)
		}
		p.static[path.Base(f)] = b
	}
	return p, nil
}

// static serves GET /console/static/<name>: exactly the embedded web/static
// files, by name. Anything else — a directory, "..", a NUL, a name that is
// not valid UTF-8 (%ff, which http.FileServer answered with a 500) — is a
// 404 JSON error, never a listing, a 5xx or a file elsewhere.
func (c *Console) static(g *gin.Context) {
	name := strings.TrimPrefix(g.Param("file"), "/")
	b, ok := c.pages.static[name]
	if !ok {
		httpkit.WriteError(g, c.d.Log, apperr.NotFound("no such static file"))
		return
	}
	g.Header("Cache-Control", "public, max-age=3600")
	http.ServeContent(g.Writer, g.Request, name, time.Time{}, bytes.NewReader(b))
}

// humanRefresh renders a refresh credential lifetime: 30d, 12h, or off.
func humanRefresh(s int) string {
	switch {
	case s <= 0:
		return "off"
	case s%86400 == 0:
		return strconv.Itoa(s/86400) + "d"
	}
	return humanDuration(s)
}

// ttlAdvice is the console's guidance on a token lifetime: the widget uses
// the token as its REST credential until it expires (PROTOCOL.md), so it is
// what a copied token is worth; the SDK renews it before expiry.
func ttlAdvice(s int) string {
	d := time.Duration(s) * time.Second
	switch {
	case d > time.Hour:
		return "Long: the widget uses this token as its REST credential, so a copied token works for " + humanDuration(s) +
			". With the widget session kit renewing tokens before they expire, 15m costs visitors nothing."
	case d < 2*time.Minute:
		return "Very short: every signed-in visitor's page re-mints a token every minute or so. 5m–60m suits most sites."
	}
	return "The widget uses this token as its REST credential until it expires; the widget session kit renews it before then. 5m–60m suits most sites (default 15m)."
}

// humanDuration renders seconds as 15m, 1h30m, 45s.
func humanDuration(s int) string {
	d := (time.Duration(s) * time.Second).String()
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return d
}

// pageData is what every template receives.
type pageData struct {
	Title      string
	Op         *operator.Operator
	CSRF       string
	Flash      string
	Error      string
	IsPlatform bool
	Nav        string
	D          any
}

type pageOpts struct {
	csrf string
	err  string
}

type errorPage struct {
	Status  int
	Message string
}

var flashes = map[string]string{
	"tenant":              "Tenant created.",
	"created":             "Project created. Next: set its shared secret below.",
	"saved":               "Project saved.",
	"deleted":             "Project deleted.",
	"pasted":              "Shared secret stored as a new version.",
	"user":                "End-user added.",
	"enabled":             "End-user enabled.",
	"disabled":            "End-user disabled.",
	"password":            "Password reset.",
	"role_rules":          "End-user role rules saved.",
	"rotated":             "The chat server generated a new shared secret; it is stored here and a probe token passed the chat server's check.",
	"rotated_unverified":  "The chat server generated a new shared secret and it is stored here, but the probe token did not pass the chat server's check: test the connection.",
	"member":              "Operator role granted.",
	"invite_revoked":      "Invitation revoked: its link no longer works.",
	"invite_accepted":     "Invitation accepted.",
	"removed":             "Operator removed from the tenant.",
	"operator":            "Operator saved.",
	"modes":               "Verification modes saved.",
	"claims":              "Identity mapping saved.",
	"idp":                 "Identity provider saved.",
	"idp_deleted":         "Identity provider removed.",
	"key_revoked":         "API key revoked.",
	"override":            "Per-user override saved.",
	"override_removed":    "Per-user override removed.",
	"email_denylist":      "Email deny-list saved.",
	"refresh_revoked":     "Remembered sign-ins revoked: the visitor must sign in with the password again.",
	"own_password":        "Password changed. Your other sessions are signed out and your API tokens revoked.",
	"token_revoked":       "API token revoked.",
	"rotation_policy":     "Rotation schedule saved.",
	"rotation_policy_off": "Scheduled rotation turned off.",
	"totp_disabled":       "Two-factor authentication disabled.",
	"totp_reset":          "TOTP reset: the operator enrols again at their next sign-in.",
	"require_totp":        "Two-factor policy saved.",
}

func (c *Console) render(g *gin.Context, status int, name, title string, d any) {
	c.renderWith(g, status, name, title, d, pageOpts{})
}

func (c *Console) renderWith(g *gin.Context, status int, name, title string, d any, o pageOpts) {
	pd := pageData{Title: title, D: d, Flash: flashes[g.Query("done")], Error: o.err, CSRF: o.csrf, Nav: name}
	if v, ok := g.Get(ctxOperator); ok {
		pd.Op = v.(*operator.Operator)
		pd.IsPlatform, _ = c.d.RBAC.Allowed(pd.Op.ID, rbac.AllTenants, rbac.ObjOperator, rbac.ActRead)
		if raw := g.GetString(ctxSessionRaw); raw != "" && pd.CSRF == "" {
			pd.CSRF = operator.CSRFToken(raw)
		}
	}
	var buf bytes.Buffer
	if err := c.pages.t[name].ExecuteTemplate(&buf, "layout", pd); err != nil {
		c.d.Log.ErrorContext(g.Request.Context(), "render failed", "page", name, "error", err.Error())
		g.String(http.StatusInternalServerError, "internal error")
		return
	}
	g.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func redirect(g *gin.Context, path, done string) {
	if done != "" {
		path += "?done=" + url.QueryEscape(done)
	}
	g.Redirect(http.StatusSeeOther, path)
}

// formError re-renders on validation errors (4xx) and fails otherwise.
func (c *Console) formError(g *gin.Context, err error, rerender func(msg string, status int)) {
	status, _ := statusOf(err)
	if status >= 400 && status < 500 {
		rerender(apperr.Message(err), status)
		return
	}
	c.fail(g, err)
}

// --- dashboard ---

type tenantRow struct {
	admin.TenantSummary
	CanCreate    bool
	CanOperators bool
}

type dashboardData struct {
	// Tenants: one page of the tenants in scope with their project counts.
	Tenants []tenantRow
	// TenantsNext / TenantsFirst: links to the next and the first page of
	// tenants ("" when there is none).
	TenantsNext, TenantsFirst string
	// Projects: one page of the projects matching Search (and Tenant).
	Projects []admin.ProjectRow
	// Search, Tenant: the project filter of the page.
	Search, Tenant string
	// Next / First: links to the next and the first page of projects.
	Next, First     string
	CanCreateTenant bool
	// Degraded: projects whose chat server switched to a secret not
	// stored here yet (chatsync.go).
	Degraded []admin.RotationDegraded
}

// dashboard is the console's home: one page of tenant summaries and one
// page of projects, searchable by id or name and narrowed to a tenant with
// ?tenant=. A fixed number of queries whatever the number of projects:
// tenants and their counts (2), projects, their secret versions and
// rotation policies (3).
func (c *Console) dashboard(g *gin.Context) {
	ctx := g.Request.Context()
	scope := c.scope(g)
	treq, err := paging.Parse("", g.Query("tenants_cursor"))
	if err != nil {
		c.fail(g, err)
		return
	}
	preq, err := consolePage(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	ts, err := c.d.Admin.TenantPage(ctx, scope, treq)
	if err != nil {
		c.fail(g, err)
		return
	}
	d := dashboardData{CanCreateTenant: c.can(g, rbac.AllTenants, rbac.ObjTenant, rbac.ActCreate), Degraded: c.degradedRotations(g, scope),
		Search: strings.TrimSpace(g.Query("q")), Tenant: g.Query("tenant")}
	for _, t := range ts.Items {
		d.Tenants = append(d.Tenants, tenantRow{TenantSummary: t, CanCreate: c.can(g, t.ID, rbac.ObjProject, rbac.ActWrite), CanOperators: c.can(g, t.ID, rbac.ObjOperator, rbac.ActRead)})
	}
	pscope := scope
	if d.Tenant != "" {
		if scope != nil && !slices.Contains(scope, d.Tenant) {
			pscope = []string{}
		} else {
			pscope = []string{d.Tenant}
		}
	}
	ps, err := c.d.Admin.ProjectPage(ctx, project.ListFilter{TenantIDs: pscope, Search: d.Search}, preq)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.Projects = ps.Items
	keep := url.Values{}
	if d.Search != "" {
		keep.Set("q", d.Search)
	}
	if d.Tenant != "" {
		keep.Set("tenant", d.Tenant)
	}
	d.Next, d.First = pageLinks("/console/", keep, "cursor", ps.Next, preq.Cursor != "")
	tkeep := url.Values{}
	for k, v := range keep {
		tkeep[k] = v
	}
	d.TenantsNext, d.TenantsFirst = pageLinks("/console/", tkeep, "tenants_cursor", ts.Next, treq.Cursor != "")
	c.render(g, http.StatusOK, "dashboard", "Projects", d)
}

func (c *Console) tenantCreate(g *gin.Context) {
	if _, err := c.d.Admin.CreateTenant(g.Request.Context(), c.actor(g), admin.TenantInput{ID: g.PostForm("id"), Name: g.PostForm("name")}); err != nil {
		c.formError(g, err, func(msg string, _ int) {
			c.fail(g, &apperr.Error{Kind: apperr.ErrInvalid, Message: "Could not create the tenant: " + msg})
		})
		return
	}
	redirect(g, "/console/", "tenant")
}

// --- project create / edit ---

type projectForm struct {
	Tenant  string
	New     bool
	ID      string
	Name    string
	Origins string
	TTL     string
	Refresh string
	Status  string
	Aud     string
}

func (c *Console) projectNewPage(g *gin.Context) {
	if _, err := c.d.Projects.GetTenant(g.Request.Context(), g.Param("tenantId")); err != nil {
		c.fail(g, err)
		return
	}
	f := projectForm{Tenant: g.Param("tenantId"), New: true, TTL: humanDuration(int(c.d.DefaultTTL.Seconds())),
		Refresh: humanRefresh(int(project.DefaultRefreshTTL.Seconds())), Status: project.StatusActive}
	c.render(g, http.StatusOK, "project_form", "New project", f)
}

// readProjectForm reads the project form; refreshTTL is nil when the form
// has no (or an empty) refresh lifetime field.
func readProjectForm(g *gin.Context) (projectForm, *project.Project, *int, error) {
	f := projectForm{ID: strings.TrimSpace(g.PostForm("id")), Name: g.PostForm("name"), Origins: g.PostForm("origins"),
		TTL: strings.TrimSpace(g.PostForm("ttl")), Refresh: strings.TrimSpace(g.PostForm("refresh_ttl")),
		Status: g.PostForm("status"), Aud: strings.TrimSpace(g.PostForm("audience_base"))}
	p := &project.Project{ID: f.ID, Name: f.Name, Status: f.Status, AudienceBase: f.Aud}
	p.AllowedOrigins = admin.SplitList(strings.NewReplacer(",", "\n", " ", "\n", "\r", "").Replace(f.Origins), "\n")
	ttl, err := parseSeconds("ttl", f.TTL, "token lifetime")
	p.TokenTTLSeconds = ttl
	var refreshTTL *int
	if f.Refresh != "" && err == nil {
		r := 0 // "off" or "0": refresh credentials off
		if !strings.EqualFold(f.Refresh, "off") {
			r, err = parseSeconds("refresh_ttl_seconds", f.Refresh, "refresh credential lifetime")
		}
		refreshTTL = &r
	}
	return f, p, refreshTTL, err
}

func (c *Console) projectCreate(g *gin.Context) {
	f, p, refreshTTL, err := readProjectForm(g)
	f.Tenant, f.New = g.Param("tenantId"), true
	if err == nil {
		_, err = c.d.Admin.CreateProject(g.Request.Context(), c.actor(g), admin.ProjectInput{ID: p.ID, TenantID: g.Param("tenantId"), Name: p.Name,
			AllowedOrigins: p.AllowedOrigins, TokenTTLSeconds: p.TokenTTLSeconds, RefreshTTLSeconds: refreshTTL, AudienceBase: p.AudienceBase, Status: p.Status})
	}
	if err != nil {
		c.formError(g, err, func(msg string, status int) {
			c.renderWith(g, status, "project_form", "New project", f, pageOpts{err: msg})
		})
		return
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID), "created")
}

func (c *Console) projectEditPage(g *gin.Context, p *project.Project) {
	f := projectForm{Tenant: p.TenantID, ID: p.ID, Name: p.Name, Origins: strings.Join(p.AllowedOrigins, "\n"), TTL: humanDuration(p.TokenTTLSeconds),
		Refresh: humanRefresh(p.RefreshTTLSeconds), Status: p.Status, Aud: p.AudienceBase}
	c.render(g, http.StatusOK, "project_form", "Edit "+p.Name, f)
}

func (c *Console) projectUpdate(g *gin.Context, p *project.Project) {
	f, in, refreshTTL, err := readProjectForm(g)
	f.Tenant, f.ID = p.TenantID, p.ID
	if err == nil {
		in.ID, in.TenantID = p.ID, p.TenantID
		in.RefreshTTLSeconds = p.RefreshTTLSeconds // a form without the field keeps it
		if refreshTTL != nil {
			in.RefreshTTLSeconds = *refreshTTL
		}
		err = c.d.Admin.UpdateProject(g.Request.Context(), c.actor(g), in)
	}
	if err != nil {
		c.formError(g, err, func(msg string, status int) {
			c.renderWith(g, status, "project_form", "Edit "+p.Name, f, pageOpts{err: msg})
		})
		return
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID), "saved")
}

func (c *Console) projectDelete(g *gin.Context, p *project.Project) {
	if g.PostForm("confirm_id") != p.ID {
		c.fail(g, apperr.Invalid("confirm_id", "type the project id to confirm deletion"))
		return
	}
	if err := c.d.Admin.DeleteProject(g.Request.Context(), c.actor(g), p); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/", "deleted")
}

// --- project detail ---

type projectPage struct {
	P          *project.Project
	Audience   string
	AuthURL    string
	ExampleURL string
	Secret     admin.SecretSummary
	Snippet    string
	Snippets   []snippet
	Modes      []string
	Mapping    string
	CanEdit    bool
	CanMethods bool
	CanRotate  bool
	CanUsers   bool
	CanMapping bool
	CanAudit   bool
	NewSecret  string
	NewVersion int
	// ChatConn is the chat-server connection the project uses (nil: none;
	// rotation then means pasting a secret from the Pingstreams dashboard).
	ChatConn *chatserver.Connection
	// LocalWarning is shown with a secret pingauth generated itself.
	LocalWarning string
	// ChatTest is the outcome of "Test connection" (nil: not asked).
	ChatTest     *admin.ChatTest
	PasteError   string
	MappingError string
	// ChatSync is the project's chat-server sync state (ban jobs, a
	// rotation not stored); zero when it cannot be read.
	ChatSync admin.ChatSyncState
	// Rotation is the schedule and its state; RotationError a schedule
	// form's client error.
	Rotation      admin.RotationStatus
	RotationError string
}

// projectFormError re-renders the project page with a form's client error
// placed by set (server errors go to the error page, as formError does).
func (c *Console) projectFormError(g *gin.Context, p *project.Project, err error, set func(d *projectPage, msg string)) {
	c.formError(g, err, func(msg string, status int) {
		d, err := c.projectData(g, p)
		if err != nil {
			c.fail(g, err)
			return
		}
		set(d, msg)
		c.render(g, status, "project", p.Name, d)
	})
}

func (c *Console) projectData(g *gin.Context, p *project.Project) (*projectPage, error) {
	s, err := c.d.Admin.SecretInfo(g.Request.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	authURL := c.d.PublicURL + "/auth/" + p.ID
	modes := []string{mapping.ModePassword}
	if c.d.Modes != nil {
		if modes, err = c.d.Modes.Modes(g.Request.Context(), p.ID); err != nil {
			return nil, err
		}
	}
	conn, err := c.d.Admin.ChatConnectionFor(g.Request.Context(), p)
	if err != nil {
		return nil, err
	}
	rot, err := c.d.Admin.RotationStatus(g.Request.Context(), p)
	if err != nil {
		return nil, err
	}
	return &projectPage{
		Rotation: rot,
		ChatConn: conn,
		ChatSync: c.chatSyncState(g, p),
		P:        p, Audience: p.AudienceText(c.d.AudienceBase), AuthURL: authURL, ExampleURL: "/example/" + url.PathEscape(p.ID), Secret: s,
		Snippet:    pageSnippet(p.ID, c.d.PublicURL, c.d.WidgetScript, mapping.ModePassword),
		Snippets:   c.modeSnippets(p, authURL, modes, ""),
		Modes:      modes,
		CanMethods: c.d.Modes != nil && c.can(g, p.TenantID, rbac.ObjMapping, rbac.ActRead),
		Mapping:    strings.Join(c.d.RBAC.EndUserRoles(p.ID), ", "),
		CanEdit:    c.can(g, p.TenantID, rbac.ObjProject, rbac.ActWrite),
		CanRotate:  c.can(g, p.TenantID, rbac.ObjSecret, rbac.ActRotate),
		CanUsers:   c.can(g, p.TenantID, rbac.ObjEndUser, rbac.ActRead),
		CanMapping: c.can(g, p.TenantID, rbac.ObjMapping, rbac.ActWrite),
		CanAudit:   c.can(g, p.TenantID, rbac.ObjAudit, rbac.ActRead),
	}, nil
}

func (c *Console) projectPage(g *gin.Context, p *project.Project) {
	d, err := c.projectData(g, p)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, http.StatusOK, "project", p.Name, d)
}

func (c *Console) secretRotate(g *gin.Context, p *project.Project) {
	var grace *int
	if g.PostForm("revoke_now") == "1" {
		zero := 0
		grace = &zero
	}
	rot, err := c.d.Admin.RotateSecret(g.Request.Context(), c.actor(g), p, admin.RotateInput{GraceSeconds: grace, Local: g.PostForm("local") == "1"})
	if err != nil {
		// No connection (409) and the like: show why on the project page,
		// with the paste form open.
		c.projectFormError(g, p, err, func(d *projectPage, msg string) { d.PasteError = msg })
		return
	}
	if rot.ChatServer {
		done := "rotated"
		if !rot.ProbeOK {
			done = "rotated_unverified"
		}
		redirect(g, "/console/projects/"+url.PathEscape(p.ID), done)
		return
	}
	d, err := c.projectData(g, p)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.NewSecret, d.NewVersion, d.LocalWarning = string(rot.Value), rot.Version.Version, rot.Warning
	// Rendered directly (no redirect), never stored: the secret is shown once.
	c.render(g, http.StatusOK, "secret_once", "New shared secret", d)
}

func (c *Console) secretPaste(g *gin.Context, p *project.Project) {
	var grace *int
	if g.PostForm("revoke_now") == "1" {
		zero := 0
		grace = &zero
	}
	if _, err := c.d.Admin.PutSecret(g.Request.Context(), c.actor(g), p, admin.SecretInput{Value: g.PostForm("secret"), GraceSeconds: grace}); err != nil {
		c.projectFormError(g, p, err, func(d *projectPage, msg string) { d.PasteError = msg })
		return
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID), "pasted")
}

// roleRulesUpdate saves the "Who may sign in" form (end-user role rules).
func (c *Console) roleRulesUpdate(g *gin.Context, p *project.Project) {
	roles := admin.SplitList(strings.NewReplacer(";", ",", "\n", ",", " ", ",").Replace(g.PostForm("roles")), ",")
	if _, err := c.d.Admin.SetRoleRules(g.Request.Context(), c.actor(g), p, roles); err != nil {
		c.projectFormError(g, p, err, func(d *projectPage, msg string) { d.MappingError = msg })
		return
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID), "role_rules")
}

// --- end-users ---

type usersPage struct {
	P     *project.Project
	Users []enduser.User
	// SignIns counts each listed user's remembered sign-ins (live refresh
	// credential families); ShowSignIns is false when none are issued here.
	SignIns     map[string]int
	ShowSignIns bool
	// Total counts the matching end-users up to paging.CountBound ("1000+").
	Total  paging.Total
	Search string
	Limit  int
	// First links the first page (set on a later page); Next the following
	// page (empty on the last one). Both keep the search and the limit.
	First    string
	Next     string
	CanWrite bool
	Form     admin.UserInput
	FormErr  string
	RowErr   string
}

func (c *Console) usersData(g *gin.Context, p *project.Project) (*usersPage, error) {
	req, err := adminapi.PageRequest(g)
	if err != nil {
		return nil, err
	}
	search := strings.TrimSpace(g.Query("search"))
	if _, ok := g.GetQuery("limit"); !ok {
		req.Limit = defaultPageSize
	}
	page, total, err := c.d.Admin.ListUsers(g.Request.Context(), p, enduser.ListOptions{Search: search, Page: req})
	if err != nil {
		return nil, err
	}
	us := page.Items
	d := &usersPage{P: p, Users: us, Total: total, Search: search, Limit: req.Limit,
		CanWrite: c.can(g, p.TenantID, rbac.ObjEndUser, rbac.ActWrite), SignIns: map[string]int{}, ShowSignIns: c.d.Refresh != nil}
	if c.d.Refresh != nil {
		ids := make([]string, len(us))
		for i := range us {
			ids[i] = us[i].ID
		}
		if d.SignIns, err = c.d.Refresh.LiveCounts(g.Request.Context(), p.ID, ids); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	if search != "" {
		q.Set("search", search)
	}
	if _, ok := g.GetQuery("limit"); ok {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	d.Next, d.First = pageLinks("/console/projects/"+url.PathEscape(p.ID)+"/users", q, "cursor", page.Next, req.Cursor != "")
	return d, nil
}

func (c *Console) usersPage(g *gin.Context, p *project.Project) {
	d, err := c.usersData(g, p)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, http.StatusOK, "users", "End-users · "+p.Name, d)
}

func (c *Console) userCreate(g *gin.Context, p *project.Project) {
	in := admin.UserInput{Email: g.PostForm("email"), Username: g.PostForm("username"), ExternalID: strings.TrimSpace(g.PostForm("external_id")),
		Firstname: g.PostForm("firstname"), Lastname: g.PostForm("lastname"), Password: g.PostForm("password"),
		Roles: admin.SplitList(strings.NewReplacer(";", ",", " ", ",").Replace(g.PostForm("roles")), ",")}
	if _, err := c.d.Admin.CreateUser(g.Request.Context(), c.actor(g), p, in); err != nil {
		c.formError(g, err, func(msg string, status int) {
			d, err := c.usersData(g, p)
			if err != nil {
				c.fail(g, err)
				return
			}
			in.Password = ""
			d.Form, d.FormErr = in, msg
			c.render(g, status, "users", "End-users · "+p.Name, d)
		})
		return
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID)+"/users", "user")
}

func (c *Console) userSetEnabled(g *gin.Context, p *project.Project) {
	enabled := g.PostForm("enabled") == "true"
	if err := c.d.Admin.SetUserEnabled(g.Request.Context(), c.actor(g), p, g.Param("userId"), enabled); err != nil {
		c.fail(g, err)
		return
	}
	done := "disabled"
	if enabled {
		done = "enabled"
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID)+"/users", done)
}

func (c *Console) userResetPassword(g *gin.Context, p *project.Project) {
	if err := c.d.Admin.SetUserPassword(g.Request.Context(), c.actor(g), p, g.Param("userId"), g.PostForm("password")); err != nil {
		c.formError(g, err, func(msg string, status int) {
			d, err := c.usersData(g, p)
			if err != nil {
				c.fail(g, err)
				return
			}
			d.RowErr = msg
			c.render(g, status, "users", "End-users · "+p.Name, d)
		})
		return
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID)+"/users", "password")
}

// userRevokeRefresh is the users page's "Revoke remembered sign-ins".
func (c *Console) userRevokeRefresh(g *gin.Context, p *project.Project) {
	if _, err := c.d.Admin.RevokeUserRefresh(g.Request.Context(), c.actor(g), p, g.Param("userId")); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/projects/"+url.PathEscape(p.ID)+"/users", "refresh_revoked")
}

type importPage struct {
	P      *project.Project
	Report *admin.ImportReport
	Error  string
}

func (c *Console) usersImport(g *gin.Context, p *project.Project) {
	d := importPage{P: p}
	fh, err := g.FormFile("file")
	if err != nil {
		d.Error = "Choose a CSV file to import (at most 4 MiB)."
		c.render(g, http.StatusBadRequest, "import_report", "Import end-users", d)
		return
	}
	f, err := fh.Open()
	if err != nil {
		c.fail(g, err)
		return
	}
	defer f.Close()
	rep, err := c.importUsers(g, p, f)
	if err != nil {
		d.Report = rep // refused: the rows with errors (nil when there is no report)
		c.formError(g, err, func(msg string, status int) {
			d.Error = msg
			c.render(g, status, "import_report", "Import end-users", d)
		})
		return
	}
	d.Report = rep
	c.render(g, http.StatusOK, "import_report", "Import end-users", d)
}

// --- operators ---

type membersPage struct {
	Tenant      string
	Members     []admin.Member
	Invitations []operator.Invitation
	Roles       []string
	CanWrite    bool
	// CanSetPassword: a platform admin may create an account directly.
	CanSetPassword bool
	Email          string
	// Invited is the invitation just created (its link is shown once).
	Invited *admin.Invited
}

func (c *Console) membersData(g *gin.Context) (*membersPage, error) {
	t := g.Param("tenantId")
	ms, err := c.d.Admin.Members(g.Request.Context(), t)
	if err != nil {
		return nil, err
	}
	invs, err := c.d.Admin.Invitations(g.Request.Context(), t)
	if err != nil {
		return nil, err
	}
	return &membersPage{Tenant: t, Members: ms, Invitations: invs, Roles: rbac.TenantRoles, CanWrite: c.can(g, t, rbac.ObjOperator, rbac.ActWrite),
		CanSetPassword: c.d.Admin.IsPlatformAdmin(c.actor(g))}, nil
}

func (c *Console) membersPage(g *gin.Context) {
	d, err := c.membersData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, http.StatusOK, "members", "Operators of "+d.Tenant, d)
}

// memberAdd invites (the page then shows the link once) or, for a platform
// admin who gave a password, creates the account directly.
func (c *Console) memberAdd(g *gin.Context) {
	t := g.Param("tenantId")
	res, err := c.d.Admin.AddMember(g.Request.Context(), c.actor(g), t, admin.MemberInput{Email: g.PostForm("email"), Password: g.PostForm("password"), Role: g.PostForm("role")})
	if err != nil {
		c.formError(g, err, func(msg string, status int) {
			d, err := c.membersData(g)
			if err != nil {
				c.fail(g, err)
				return
			}
			d.Email = g.PostForm("email")
			c.renderWith(g, status, "members", "Operators of "+t, d, pageOpts{err: msg})
		})
		return
	}
	if res.Invited == nil {
		redirect(g, "/console/tenants/"+url.PathEscape(t)+"/operators", "member")
		return
	}
	d, err := c.membersData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.Invited = res.Invited
	c.render(g, http.StatusCreated, "members", "Operators of "+t, d)
}

func (c *Console) memberRemove(g *gin.Context) {
	t := g.Param("tenantId")
	if err := c.d.Admin.RemoveMember(g.Request.Context(), c.actor(g), t, g.Param("operatorId")); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/tenants/"+url.PathEscape(t)+"/operators", "removed")
}

type operatorsPage struct {
	Ops   []admin.OperatorView
	Me    string
	Email string
}

func (c *Console) operatorsData(g *gin.Context) (*operatorsPage, error) {
	ops, err := c.d.Admin.Operators(g.Request.Context())
	if err != nil {
		return nil, err
	}
	return &operatorsPage{Ops: ops, Me: operatorOf(g).ID}, nil
}

func (c *Console) operatorsPage(g *gin.Context) {
	d, err := c.operatorsData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, http.StatusOK, "operators", "Operators", d)
}

func (c *Console) operatorCreate(g *gin.Context) {
	_, err := c.d.Admin.CreateOperator(g.Request.Context(), c.actor(g), admin.OperatorInput{Email: g.PostForm("email"), Name: g.PostForm("name"), Password: g.PostForm("password"), PlatformAdmin: g.PostForm("platform_admin") == "1"})
	if err != nil {
		c.formError(g, err, func(msg string, status int) {
			d, err := c.operatorsData(g)
			if err != nil {
				c.fail(g, err)
				return
			}
			d.Email = g.PostForm("email")
			c.renderWith(g, status, "operators", "Operators", d, pageOpts{err: msg})
		})
		return
	}
	redirect(g, "/console/operators", "operator")
}

func (c *Console) operatorSetDisabled(g *gin.Context) {
	if err := c.d.Admin.SetOperatorDisabled(g.Request.Context(), c.actor(g), g.Param("operatorId"), g.PostForm("disabled") == "true"); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/operators", "operator")
}

func (c *Console) operatorResetPassword(g *gin.Context) {
	if err := c.d.Admin.SetOperatorPassword(g.Request.Context(), c.actor(g), g.Param("operatorId"), g.PostForm("password")); err != nil {
		c.formError(g, err, func(msg string, status int) {
			d, err := c.operatorsData(g)
			if err != nil {
				c.fail(g, err)
				return
			}
			c.renderWith(g, status, "operators", "Operators", d, pageOpts{err: msg})
		})
		return
	}
	redirect(g, "/console/operators", "password")
}

// --- audit ---

type auditPage struct {
	Events    []audit.Event
	ProjectID string
	// Miss: the project id of the filter names no project the operator may
	// read; Suggestions are readable projects whose id or name contains it.
	Miss        bool
	Suggestions []project.Project
	Next        string
	Fixed       bool
}

// auditSuggestions bounds the projects suggested for a filter that names
// no readable project.
const auditSuggestions = 10

func (c *Console) renderAudit(g *gin.Context, projectID string, fixed bool) {
	limit, before, err := adminapi.AuditParams(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	if len(projectID) > project.MaxSearch {
		c.fail(g, apperr.Invalid("project_id", "project_id must be at most %d characters", project.MaxSearch))
		return
	}
	d := auditPage{ProjectID: projectID, Fixed: fixed}
	q, err := c.auditQuery(g, projectID, limit, before)
	if err != nil && !fixed && errors.Is(err, apperr.ErrForbidden) {
		// The filter is a search field: an id that names no project the
		// operator may read (unknown or another tenant's: the same answer,
		// no probing) lists readable projects containing the text.
		ps, perr := c.d.Admin.Projects(g.Request.Context(), project.ListFilter{TenantIDs: c.scope(g), Search: projectID}, paging.Request{Limit: auditSuggestions})
		if perr != nil {
			c.fail(g, perr)
			return
		}
		d.Miss, d.Suggestions = true, ps.Items
		c.render(g, http.StatusForbidden, "audit", "Audit log", d)
		return
	}
	if err != nil {
		c.fail(g, err)
		return
	}
	es, err := c.d.Admin.AuditEvents(g.Request.Context(), q)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.Events = es
	if len(es) == limit {
		d.Next = g.Request.URL.Path + "?project_id=" + url.QueryEscape(projectID) + "&before=" + strconv.FormatInt(es[len(es)-1].ID, 10)
	}
	c.render(g, http.StatusOK, "audit", "Audit log", d)
}

func (c *Console) auditPage(g *gin.Context) {
	c.renderAudit(g, strings.TrimSpace(g.Query("project_id")), false)
}

func (c *Console) projectAuditPage(g *gin.Context, p *project.Project) {
	c.renderAudit(g, p.ID, true)
}

type tenantSettingsPage struct {
	Tenant     *project.Tenant
	Entries    string
	Deployment []string
	CanWrite   bool
	// ChatConn is the tenant's chat-server connection (nil: none); CanChat
	// whether the operator may set it (secret rotation right).
	ChatConn  *chatserver.Connection
	CanChat   bool
	ChatError string
	ChatForm  admin.ChatConnectionInput
	// CanTOTP: the operator may change the tenant's TOTP enforcement.
	CanTOTP bool
}

func (c *Console) tenantSettingsData(g *gin.Context) (*tenantSettingsPage, error) {
	t, err := c.d.Projects.GetTenant(g.Request.Context(), g.Param("tenantId"))
	if err != nil {
		return nil, err
	}
	d := &tenantSettingsPage{Tenant: t, Entries: strings.Join(t.EmailDenyList, "\n"), Deployment: c.d.DenyEmails.Entries(),
		CanWrite: c.d.Modes != nil && c.can(g, t.ID, rbac.ObjMapping, rbac.ActWrite),
		CanChat:  c.can(g, t.ID, rbac.ObjSecret, rbac.ActRotate), CanTOTP: c.can(g, t.ID, rbac.ObjOperator, rbac.ActWrite), ChatForm: admin.ChatConnectionInput{BaseURL: chatserver.DefaultBaseURL}}
	if c.can(g, t.ID, rbac.ObjSecret, rbac.ActRead) {
		conn, err := c.d.Admin.ChatConnection(g.Request.Context(), chatserver.ScopeTenant, t.ID)
		switch {
		case err == nil:
			d.ChatConn, d.ChatForm.BaseURL, d.ChatForm.Email = conn, conn.BaseURL, conn.Email
		case !errors.Is(err, apperr.ErrNotFound) && !errors.Is(err, apperr.ErrUnavailable):
			return nil, err
		}
	}
	return d, nil
}

func (c *Console) tenantSettingsPage(g *gin.Context) {
	d, err := c.tenantSettingsData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, http.StatusOK, "tenant_settings", "Settings of "+d.Tenant.Name, d)
}

func (c *Console) tenantDenyListUpdate(g *gin.Context) {
	t := g.Param("tenantId")
	entries := strings.FieldsFunc(g.PostForm("entries"), func(r rune) bool { return r == '\n' || r == '\r' || r == ',' })
	if _, err := c.d.Admin.SetTenantEmailDenyList(g.Request.Context(), c.actor(g), t, entries); err != nil {
		c.formError(g, err, func(msg string, status int) {
			d, err := c.tenantSettingsData(g)
			if err != nil {
				c.fail(g, err)
				return
			}
			d.Entries = g.PostForm("entries")
			c.renderWith(g, status, "tenant_settings", "Settings of "+d.Tenant.Name, d, pageOpts{err: msg})
		})
		return
	}
	redirect(g, "/console/tenants/"+url.PathEscape(t)+"/settings", "email_denylist")
}

// tenantChatConnectionUpdate saves the tenant's chat-server connection
// (the password or token is write-only: the form never shows it).
func (c *Console) tenantChatConnectionUpdate(g *gin.Context) {
	t := g.Param("tenantId")
	in := admin.ChatConnectionInput{BaseURL: g.PostForm("base_url"), Email: strings.TrimSpace(g.PostForm("email"))}
	if g.PostForm("auth") == "token" {
		in.Token, in.Email = strings.TrimSpace(g.PostForm("credential")), ""
	} else {
		in.Password = g.PostForm("credential")
	}
	if _, err := c.d.Admin.SetChatConnection(g.Request.Context(), c.actor(g), chatserver.ScopeTenant, t, t, in); err != nil {
		c.formError(g, err, func(msg string, status int) {
			d, err := c.tenantSettingsData(g)
			if err != nil {
				c.fail(g, err)
				return
			}
			d.ChatError, d.ChatForm = msg, admin.ChatConnectionInput{BaseURL: in.BaseURL, Email: in.Email}
			c.render(g, status, "tenant_settings", "Settings of "+d.Tenant.Name, d)
		})
		return
	}
	redirect(g, "/console/tenants/"+url.PathEscape(t)+"/settings", "chat_connection")
}

func (c *Console) tenantChatConnectionRemove(g *gin.Context) {
	t := g.Param("tenantId")
	if err := c.d.Admin.DeleteChatConnection(g.Request.Context(), c.actor(g), chatserver.ScopeTenant, t, t); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/tenants/"+url.PathEscape(t)+"/settings", "chat_connection_removed")
}

// chatConnectionTest is the project page's "Test connection" button.
func (c *Console) chatConnectionTest(g *gin.Context, p *project.Project) {
	res, err := c.d.Admin.TestChatConnection(g.Request.Context(), p)
	if err != nil {
		c.projectFormError(g, p, err, func(d *projectPage, msg string) { d.PasteError = msg })
		return
	}
	d, err := c.projectData(g, p)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.ChatTest = &res
	c.render(g, http.StatusOK, "project", p.Name, d)
}
