// Package web serves the operator console (server-rendered pages under
// /console) and the JSON admin API (/api/v1). Every route of both is listed in
// one table (routes.go) with the Casbin (object, action) it needs and how its
// tenant is resolved; a single middleware (guard) authenticates the operator,
// checks CSRF on state changes and enforces the policy before any handler runs.
package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/adminapi"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/token"
)

// Deps are the console's collaborators.
type Deps struct {
	// Admin performs every operator action (internal/admin); the console
	// pages and the JSON API only translate to and from it.
	Admin        *admin.Service
	Log          *slog.Logger
	Projects     *project.Repo
	Users        *enduser.Repo
	Secrets      secret.SecretStore
	Audit        *audit.Log
	Operators    *operator.Repo
	RBAC         *rbac.Authorizer
	PublicURL    string
	AudienceBase string
	DefaultTTL   time.Duration
	// WidgetScript is the widget loader URL shown in snippets ("" shows a placeholder).
	WidgetScript string
	// ExtraAPI are project-scoped admin API routes served by other packages
	// (verification modes: API keys, modes, mapping, IdP, role rules); they go
	// through the same access table and guard as every other route.
	ExtraAPI []httpkit.AdminRoute
	// Modes backs the console's "Sign-in methods" page (nil: the page and its
	// routes are absent and projects show only the password snippet).
	Modes ModesAdmin
	// ProjectChanged is told of every project update or deletion so caches of
	// project rows (the server-mode fast path) drop them at once.
	ProjectChanged func(projectID string)
	// LoginGuard rate-limits operator logins and locks out repeated failures.
	LoginGuard LoginGuard
	// TOTPGuard rate-limits second-factor codes and locks out repeated
	// wrong ones (totp.go).
	TOTPGuard LoginGuard
	// PageSecurity sets the security headers of console pages (not the JSON API).
	PageSecurity gin.HandlerFunc
	// DenyEmails is the deployment's email deny-list (shown on tenant settings).
	DenyEmails token.EmailDenyList
	// Refresh manages end-users' refresh credentials (nil: none are issued;
	// the users page and routes then show no remembered sign-ins).
	Refresh RefreshStore
}

// RefreshStore lists and revokes refresh credentials (*refresh.Store).
type RefreshStore interface {
	Families(ctx context.Context, projectID, endUserID string) ([]refresh.Family, error)
	LiveCounts(ctx context.Context, projectID string, endUserIDs []string) (map[string]int, error)
	RevokeUser(ctx context.Context, projectID, endUserID, reason string) (int, error)
	RevokeProject(ctx context.Context, projectID, reason string) (int64, error)
}

// LoginGuard is the abuse protection applied to operator logins
// (implemented by *ratelimit.Guard).
type LoginGuard interface {
	Attempt(ip, scope, login string, check func() error) error
}

type noGuard struct{}

func (noGuard) Attempt(_, _, _ string, check func() error) error { return check() }

// Console holds the handlers.
type Console struct {
	d      Deps
	api    *adminapi.ConsoleAPI
	secure bool
	cookie string
	pages  *pages
	table  map[string]Route
}

// Cookie names.
const (
	sessionCookie   = "pingauth_session"
	loginCSRFCookie = "pingauth_login"
	csrfHeader      = "X-CSRF-Token"
	csrfFormField   = "_csrf"
	ctxOperator     = "web.operator"
	ctxSessionRaw   = "web.session"
	ctxToken        = "web.token"
	ctxProject      = "web.project"
	maxFormBytes    = 1 << 20
	maxImportBytes  = 4 << 20
	maxImportRows   = 1000
	// importTimeout replaces the server's read and write timeouts for an
	// import (extendImportDeadlines): every password goes through the
	// bounded hash pool (about 30/s with the default OWASP parameters), so
	// 1,000 rows outlast the usual 15 s / 30 s, and a 4 MiB upload over a
	// slow link can outlast the read timeout.
	importTimeout    = 5 * time.Minute
	defaultPageSize  = 25
	apiPrefix        = "/api/v1"
	consolePrefix    = "/console"
	consoleLoginPath = "/console/login"
)

// New builds the console.
func New(d Deps) (*Console, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.DefaultTTL <= 0 {
		d.DefaultTTL = 15 * time.Minute
	}
	if d.LoginGuard == nil {
		d.LoginGuard = noGuard{}
	}
	if d.TOTPGuard == nil {
		d.TOTPGuard = noGuard{}
	}
	if d.ProjectChanged == nil {
		d.ProjectChanged = func(string) {}
	}
	c := &Console{d: d}
	c.api = adminapi.NewConsoleAPI(adminapi.ConsoleDeps{Admin: d.Admin, Access: c, Log: d.Log, PublicURL: d.PublicURL,
		AudienceBase: d.AudienceBase, MaxBodyBytes: maxFormBytes, MaxImportBytes: maxImportBytes})
	if u, err := url.Parse(d.PublicURL); err == nil && u.Scheme == "https" {
		c.secure = true
	}
	c.cookie = sessionCookie
	if c.secure {
		// __Host- cookies must be Secure, Path=/ and host-only: no subdomain can set or read them.
		c.cookie = "__Host-" + sessionCookie
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	c.pages = p
	return c, nil
}

// Register adds every console and admin API route to e, each behind guard.
func (c *Console) Register(e *gin.Engine) {
	c.table = map[string]Route{}
	for _, r := range c.routes() {
		c.table[r.Method+" "+r.Path] = r
		if c.d.PageSecurity != nil && !strings.HasPrefix(r.Path, apiPrefix+"/") {
			e.Handle(r.Method, r.Path, c.d.PageSecurity, c.guard, r.handler)
			continue
		}
		e.Handle(r.Method, r.Path, c.guard, r.handler)
	}
}

// ActorOf names the signed-in operator of a guarded request for audit events.
func ActorOf(g *gin.Context) string {
	if o, ok := g.Get(ctxOperator); ok {
		if op, ok := o.(*operator.Operator); ok && op != nil {
			return op.Email
		}
	}
	return "api"
}

// operatorOf returns the signed-in operator of a guarded request.
func operatorOf(c *gin.Context) *operator.Operator {
	o, _ := c.MustGet(ctxOperator).(*operator.Operator)
	return o
}

func isAPI(c *gin.Context) bool { return strings.HasPrefix(c.Request.URL.Path, apiPrefix+"/") }

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// guard is THE access-control middleware: route lookup (unknown routes are
// denied), authentication (session cookie or API token), CSRF on state
// changes, tenant resolution, Casbin enforcement.
func (c *Console) guard(g *gin.Context) {
	g.Header("Cache-Control", "no-store")
	g.Header("X-Content-Type-Options", "nosniff")
	g.Header("Referrer-Policy", "same-origin")
	g.Header("X-Frame-Options", "DENY")
	if isAPI(g) {
		// JSON is never a document to render or frame.
		g.Header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	} else {
		g.Header("Content-Security-Policy", httpkit.ConsoleCSP) // the one console policy (it used to lose object-src 'none' here)
	}
	r, ok := c.table[g.Request.Method+" "+g.FullPath()]
	if !ok {
		c.fail(g, apperr.Forbidden("route not covered by the access policy"))
		return
	}
	if r.Scope == ScopePublic {
		g.Next()
		return
	}
	ctx := g.Request.Context()
	var (
		op      *operator.Operator
		tok     *operator.Token
		raw     string
		viaAuth bool
	)
	if h := g.GetHeader("Authorization"); h != "" && isAPI(g) {
		bearer, found := strings.CutPrefix(h, "Bearer ")
		if !found {
			c.fail(g, apperr.Unauthorized("Authorization must be Bearer <API token>"))
			return
		}
		o, t, err := c.d.Operators.LookupToken(ctx, strings.TrimSpace(bearer))
		if err != nil {
			c.fail(g, err)
			return
		}
		if err := tokenMethodAllowed(t, g.Request.Method); err != nil {
			c.fail(g, err)
			return
		}
		op, tok, viaAuth = o, t, true
		g.Set(ctxToken, t)
	} else {
		raw, _ = g.Cookie(c.cookie)
		s, o, err := c.d.Operators.LookupSession(ctx, raw)
		if err != nil {
			if errors.Is(err, apperr.ErrUnauthorized) && !isAPI(g) && safeMethod(g.Request.Method) {
				g.Redirect(http.StatusSeeOther, consoleLoginPath+"?next="+url.QueryEscape(g.Request.URL.RequestURI()))
				g.Abort()
				return
			}
			c.fail(g, err)
			return
		}
		op = o
		g.Set(ctxSecondFactor, s.SecondFactor)
	}
	g.Set(ctxOperator, op)
	g.Set(ctxSessionRaw, raw)
	if isImportRoute(r.Method, r.Path) {
		// Before anything reads the upload (the CSRF field of a console form
		// is in it): a signed-in operator's import may take its time.
		if err := extendImportDeadlines(g); err != nil {
			c.fail(g, err)
			return
		}
	}
	if !viaAuth && !safeMethod(g.Request.Method) {
		want := operator.CSRFToken(raw)
		got := g.GetHeader(csrfHeader)
		if got == "" && !isAPI(g) {
			g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxImportBytes)
			got = g.PostForm(csrfFormField)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			c.fail(g, apperr.Forbidden("missing or invalid CSRF token; reload the page and try again"))
			return
		}
	}
	domain := ""
	switch r.Scope {
	case ScopeSignedIn:
		if c.secondFactorOK(g, r, op, viaAuth, "") {
			g.Next()
		}
		return
	case ScopeGlobal:
		domain = rbac.AllTenants
	case ScopeTenant:
		domain = g.Param("tenantId")
	case ScopeProject:
		p, err := c.d.Projects.Get(ctx, g.Param("projectId"))
		switch {
		case err == nil:
			domain = p.TenantID
			g.Set(ctxProject, p)
		case errors.Is(err, apperr.ErrNotFound):
			// Unknown project: only platform-wide roles pass (and then get 404),
			// so tenant operators cannot probe which project ids exist.
			domain = ""
		default:
			c.fail(g, err)
			return
		}
	}
	if err := tokenDomainAllowed(tok, r.Scope, domain); err != nil {
		c.fail(g, err)
		return
	}
	if tenant := domain; !c.secondFactorOK(g, r, op, viaAuth, tenant) {
		return
	}
	allowed, err := c.d.RBAC.Allowed(op.ID, domain, r.Obj, r.Act)
	if err != nil {
		c.fail(g, err)
		return
	}
	if !allowed {
		c.fail(g, apperr.Forbidden("you do not have permission for this"))
		return
	}
	g.Next()
}

// projectOf returns the project resolved by guard (404 when it does not exist).
// projectHandler serves a project-scoped route with the project the guard
// resolved.
type projectHandler func(g *gin.Context, p *project.Project)

// withProject adapts h to gin: the project comes from the guard; a project
// that does not exist (only platform-wide roles get this far) answers 404.
func (c *Console) withProject(h projectHandler) gin.HandlerFunc {
	return func(g *gin.Context) {
		p, err := projectOf(g)
		if err != nil {
			c.fail(g, err)
			return
		}
		h(g, p)
	}
}

func projectOf(g *gin.Context) (*project.Project, error) {
	if v, ok := g.Get(ctxProject); ok {
		return v.(*project.Project), nil
	}
	return nil, apperr.NotFound("project not found")
}

// fail writes err as JSON (API) or as an HTML error page (console).
func (c *Console) fail(g *gin.Context, err error) {
	if isAPI(g) {
		httpkit.WriteError(g, c.d.Log, err)
		return
	}
	status, _ := httpkit.Status(err)
	msg := "Something went wrong."
	var ae *apperr.Error
	if errors.As(err, &ae) {
		msg = ae.Message
	} else if status >= 500 {
		c.d.Log.ErrorContext(g.Request.Context(), "console request failed", "request_id", httpkit.RequestID(g), "status", status, "error", err.Error())
	}
	c.render(g, status, "error", "Error", errorPage{Status: status, Message: msg})
	g.Abort()
}

// can reports whether the current operator may act on obj in tenant (for showing buttons).
func (c *Console) can(g *gin.Context, tenant, obj, act string) bool {
	if tok := tokenOf(g); tok != nil && ((tok.ReadOnly && act != rbac.ActRead) || (tok.TenantID != "" && tok.TenantID != tenant)) {
		return false
	}
	ok, _ := c.d.RBAC.Allowed(operatorOf(g).ID, tenant, obj, act)
	return ok
}

// scope returns the tenant filter of the operator: nil = all tenants.
func (c *Console) scope(g *gin.Context) []string {
	all, ts := c.d.RBAC.Scope(operatorOf(g).ID)
	if tok := tokenOf(g); tok != nil && tok.TenantID != "" {
		return limitScope(all, ts, tok.TenantID)
	}
	if all {
		return nil
	}
	return ts
}

// Actor implements adminapi.Access.
func (c *Console) Actor(g *gin.Context) admin.Actor { return c.actor(g) }

// Operator implements adminapi.Access.
func (c *Console) Operator(g *gin.Context) *operator.Operator { return operatorOf(g) }

// CSRFToken implements adminapi.Access.
func (c *Console) CSRFToken(g *gin.Context) string {
	if raw := g.GetString(ctxSessionRaw); raw != "" {
		return operator.CSRFToken(raw)
	}
	return ""
}

// SessionToken implements adminapi.Access.
func (c *Console) SessionToken(g *gin.Context) string { return g.GetString(ctxSessionRaw) }

// SignIn implements adminapi.Access: the console's sign-in (login guard,
// session cookie) for POST /api/v1/session.
// An operator with TOTP enrolled must send code (a TOTP or recovery code).
func (c *Console) SignIn(g *gin.Context, email, password, code string) (*operator.Operator, string, error) {
	o, raw, due, err := c.login(g, email, password)
	if err != nil {
		return nil, "", err
	}
	if due {
		pending := raw
		if code == "" {
			err = apperr.Unauthorized("this account has a TOTP second factor: send its current code (or a recovery code) in \"code\"")
		} else {
			raw, err = c.completeSignIn(g, o, pending, code)
		}
		if err != nil {
			_ = c.d.Operators.RevokeSession(g.Request.Context(), pending)
			return nil, "", err
		}
	}
	return o, operator.CSRFToken(raw), nil
}

// SignOut implements adminapi.Access.
func (c *Console) SignOut(g *gin.Context) { c.endSession(g) }

// Scope implements adminapi.Access.
func (c *Console) Scope(g *gin.Context) []string { return c.scope(g) }

// AuditQuery implements adminapi.Access.
func (c *Console) AuditQuery(g *gin.Context, projectID string, limit int, before int64) (audit.Query, error) {
	return c.auditQuery(g, projectID, limit, before)
}

// ImportUsers implements adminapi.Access.
func (c *Console) ImportUsers(g *gin.Context, p *project.Project, r io.Reader) (*admin.ImportReport, error) {
	return c.importUsers(g, p, r)
}

// actor is the signed-in operator as the admin service's actor.
func (c *Console) actor(g *gin.Context) admin.Actor {
	o := operatorOf(g)
	a := admin.Actor{OperatorID: o.ID, Email: o.Email, SecondFactor: g.GetBool(ctxSecondFactor)}
	if tok := tokenOf(g); tok != nil {
		a.TokenID = tok.ID
	}
	return a
}

func (c *Console) setSessionCookie(g *gin.Context, raw string, maxAge int) {
	http.SetCookie(g.Writer, &http.Cookie{
		Name: c.cookie, Value: raw, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// CookieName is the session cookie's name ("__Host-" prefixed on https).
func (c *Console) CookieName() string { return c.cookie }

// SecureCookies reports whether cookies carry the Secure attribute.
func (c *Console) SecureCookies() bool { return c.secure }
