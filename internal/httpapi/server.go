// Package httpapi is pingauth's HTTP surface: the public widget endpoint
// POST /auth/<projectId>, health checks, and the JSON admin API. Errors from
// every handler are mapped to HTTP statuses in one place (errors.go).
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/ratelimit"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/token"
)

// Projects is what the HTTP layer needs of project storage.
type Projects interface {
	Get(ctx context.Context, id string) (*project.Project, error)
}

// EndUsers is what the HTTP layer needs of end-user storage.
type EndUsers interface {
	Authenticate(ctx context.Context, projectID, login, password string) (*enduser.User, error)
}

// Keyrings returns a project's signing keys (the cached SecretStore).
type Keyrings interface {
	Get(ctx context.Context, projectID string) (*secret.Keyring, error)
}

// Pinger is a dependency checked by /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ProjectReporter is a Degradable dependency that names the projects it
// degrades (project id → reason); /readyz lists them under "projects".
type ProjectReporter interface {
	DegradedProjects(ctx context.Context) map[string]string
}

// maxReadyProjects bounds the projects /readyz names.
const maxReadyProjects = 100

// Deps are the server's collaborators.
type Deps struct {
	Log          *slog.Logger
	Projects     Projects
	EndUsers     EndUsers
	Keyrings     Keyrings
	AudienceBase string
	// PublicURL is how browsers reach this service (scheme://host[:port]);
	// its origin is always allowed to call /auth (the example page). The
	// request's Host header never is: empty PublicURL, only the project's
	// allowed origins count.
	PublicURL string
	// WidgetScript is the widget loader URL used by the example page ("" omits it).
	WidgetScript string
	// Ready lists named dependencies checked by /readyz; any failure makes
	// the instance not ready (503).
	Ready map[string]Pinger
	// Degradable lists dependencies whose outage /readyz reports without
	// failing: the secret store, whose cached keyrings keep /auth serving, so
	// a load balancer must not pull every instance during a Vault outage.
	Degradable map[string]Pinger
	// SharedLimits, when set (PINGAUTH_REDIS_URL), holds the /auth and
	// /verify buckets and lockouts of every instance; each limiter falls
	// back to its in-process table while it is unreachable.
	SharedLimits ratelimit.Shared
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
	// RouteBodyLimits raise (or lower) MaxBodyBytes for the route patterns
	// they name, e.g. the CSV imports' 4 MiB; the route's handler still
	// applies its own bound.
	RouteBodyLimits map[string]int64
	Now             func() time.Time
	// Security configures limits, trusted proxies, JWT leeway and metrics
	// (limits.go, metrics.go, verify.go). The zero value disables limits and metrics.
	Security config.Security
	// Bridge enables the verification modes (password, server, exchange) on
	// /auth; nil keeps the password-only behaviour.
	Bridge Bridge
	// Refresh enables refresh credentials (refresh.go) with RefreshUsers to
	// load their end-users; nil: no refresh routes, and "refresh": true in a
	// password login is ignored.
	Refresh      Refresher
	RefreshUsers UserByID
	// Audit records automatic refresh revocations (nil: not recorded).
	Audit Auditor
}

// Server holds the routes.
type Server struct {
	d          Deps
	selfOrigin string
	engine     *gin.Engine
	hard       *hardening // limits.go
	aud        *audienceMemo
	signer     *token.Signer // reuses keyed HMAC states
}

// New builds the router.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 64 << 10
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(httpkit.RequestIDs(), accessLog(d.Log), recovery(d.Log))
	e.NoRoute(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, httpkit.ErrorBody{Error: httpkit.ErrorDetail{Code: "not_found", Message: "no such route", RequestID: httpkit.RequestID(c)}})
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, httpkit.ErrorBody{Error: httpkit.ErrorDetail{Code: "method_not_allowed", Message: "method not allowed", RequestID: httpkit.RequestID(c)}})
	})
	s := &Server{d: d, engine: e, selfOrigin: originOf(d.PublicURL), aud: newAudienceMemo(), signer: token.NewSigner()}
	s.harden() // limits.go: trusted proxies, body/rate limits, metrics; before any route
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	auth := e.Group("/auth/:projectId")
	auth.OPTIONS("", s.authPreflight)
	auth.POST("", s.authenticate)
	auth.POST("/verify", s.verify) // verify.go
	if d.Refresh != nil && d.RefreshUsers != nil {
		auth.OPTIONS("/refresh", s.authPreflight)
		auth.POST("/refresh", s.refresh) // refresh.go
		auth.OPTIONS("/refresh/revoke", s.authPreflight)
		auth.POST("/refresh/revoke", s.refreshRevoke)
	}
	e.GET("/example/:projectId", s.exampleHeaders(), s.example)
	e.GET(sdkRoute, s.sdk)  // sdk.go
	e.HEAD(sdkRoute, s.sdk) //

	return s
}

// Engine exposes the gin engine so other packages (console, admin API) can add routes.
func (s *Server) Engine() *gin.Engine { return s.engine }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{}
	ping := func(deps map[string]Pinger) bool {
		all := true
		for name, p := range deps {
			if err := p.Ping(ctx); err != nil {
				all = false
				checks[name] = "unavailable"
				s.d.Log.WarnContext(ctx, "readiness check failed", "check", name, "error", err.Error())
				continue
			}
			checks[name] = "ok"
		}
		return all
	}
	ok := ping(s.d.Ready)
	degraded := !ping(s.d.Degradable)
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	body := gin.H{"ready": ok, "degraded": degraded, "checks": checks}
	projects := map[string]string{}
	for _, p := range s.d.Degradable {
		if r, isReporter := p.(ProjectReporter); isReporter {
			for id, why := range r.DegradedProjects(ctx) {
				if len(projects) < maxReadyProjects {
					projects[id] = why
				}
			}
		}
	}
	if len(projects) > 0 {
		body["degraded"], body["projects"] = true, projects
	}
	c.JSON(status, body)
}
