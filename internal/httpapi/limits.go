package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/ratelimit"
	"github.com/pingstreams/pingauth/internal/token"
)

// Route patterns the hardening middleware dispatches on.
const (
	authRoutePrefix = "/auth/:projectId"
	verifyRoute     = "/auth/:projectId/verify"
)

// hardening holds the abuse protection and observability state of one Server.
type hardening struct {
	authGuard *ratelimit.Guard   // /auth: per IP, per project+login, lockout
	verifyIP  *ratelimit.Limiter // /auth/<id>/verify: per IP
	serverIP  *ratelimit.Limiter // /auth with an API key (server mode): per IP
	metrics   *Metrics           // nil when PINGAUTH_METRICS=off
	nosniff   []string           // shared header value (never mutated)
}

// harden installs trusted proxies, body limits, rate limits, security
// headers and metrics. New calls it before registering routes so that every
// route, including those added later through Engine(), passes through it.
func (s *Server) harden() {
	sec := s.d.Security
	h := &hardening{nosniff: []string{"nosniff"}}
	s.hard = h
	// Trust no proxy unless configured: c.ClientIP() is then the TCP peer and
	// X-Forwarded-For cannot be spoofed to dodge per-IP limits.
	if err := s.engine.SetTrustedProxies(sec.TrustedProxies); err != nil {
		s.d.Log.Error("invalid trusted proxies; trusting none", "error", err.Error())
		_ = s.engine.SetTrustedProxies(nil)
	}
	h.authGuard = ratelimit.NewGuard(ratelimit.GuardConfig{PerIP: sec.AuthPerIP, PerLogin: sec.AuthPerLogin, Lockout: sec.Lockout, MaxKeys: sec.RateMaxKeys})
	h.verifyIP = ratelimit.NewLimiter(sec.VerifyPerIP, sec.RateMaxKeys)
	h.serverIP = ratelimit.NewLimiter(sec.AuthServerPerIP, sec.RateMaxKeys)
	if sh := s.d.SharedLimits; sh != nil {
		h.authGuard.Share(sh, "auth")
		h.verifyIP.Share(sh, "verify:ip")
		h.serverIP.Share(sh, "server:ip")
	}
	if s.d.EndUsers != nil {
		s.d.EndUsers = guardedUsers{EndUsers: s.d.EndUsers, guard: h.authGuard}
	}
	if s.d.Bridge != nil {
		s.d.Bridge = guardedBridge{Bridge: s.d.Bridge, guard: h.authGuard}
	}
	if sec.Metrics {
		h.metrics = newMetrics(h, sec.MetricsProjectLabels)
		if sec.MetricsProjectLabels { // else ProjectLabel is constant: no need to track ids
			if s.d.Projects != nil {
				s.d.Projects = knownProjects{Projects: s.d.Projects, known: h.metrics.known}
			}
			if s.d.Bridge != nil {
				s.d.Bridge = knownBridge{Bridge: s.d.Bridge, known: h.metrics.known}
			}
		}
		s.engine.Use(h.metrics.observe)
		s.engine.GET("/metrics", h.metrics.serve(sec.MetricsToken, sec.LoopbackOnly))
	}
	s.engine.Use(s.limitRequest)
}

// limitRequest applies the body size limit and the per-route client IP
// limits. It is the global middleware installed by harden.
func (s *Server) limitRequest(c *gin.Context) {
	c.Writer.Header()["X-Content-Type-Options"] = s.hard.nosniff
	r := c.Request
	route := c.FullPath()
	if r.Body != nil && r.Body != http.NoBody {
		limit := s.d.MaxBodyBytes
		if l, ok := s.d.RouteBodyLimits[route]; ok {
			limit = l
		}
		if r.ContentLength > limit {
			httpkit.WriteError(c, s.d.Log, apperr.TooLarge("request body too large"))
			return
		}
		if r.ContentLength <= 0 {
			// Unknown length (chunked; 0 with a body from a caller other
			// than net/http): stop reading at the limit. A known length
			// is at most limit here, and net/http never reads past it:
			// the wrapper would change nothing.
			r.Body = http.MaxBytesReader(c.Writer, r.Body, limit)
		}
	}
	if !strings.HasPrefix(route, authRoutePrefix) {
		c.Next()
		return
	}
	var bucket *ratelimit.Limiter // nil Limiter: that limit is off
	switch {
	case route == verifyRoute:
		bucket = s.hard.verifyIP
	case route == authRoutePrefix && APIKeyFromHeaders(c.GetHeader) != "":
		// Server mode: a site's backend mints for all its visitors from a few
		// addresses, so it gets its own, much larger per-IP bucket.
		bucket = s.hard.serverIP
	default:
		if err := s.hard.authGuard.AllowIP(httpkit.ClientIP(c)); err != nil {
			httpkit.WriteError(c, s.d.Log, err)
			return
		}
		c.Next()
		return
	}
	var err error
	if ok, wait := bucket.Allow(httpkit.ClientIP(c)); !ok {
		err = apperr.RateLimited("too many requests from this address; slow down", "rate_limited", wait)
	}
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	c.Next()
}

// AuthGuard returns the /auth login guard (per IP, per project+login,
// lockout); other handlers authenticating end-users can share it.
func (s *Server) AuthGuard() *ratelimit.Guard { return s.hard.authGuard }

// RateLimitIP is middleware that answers 429 JSON (with Retry-After) when
// the client IP's bucket in guard is empty. Console login routes adopt it
// with one line: r.POST("/console/login", httpapi.RateLimitIP(guard), h).
func RateLimitIP(guard *ratelimit.Guard) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := guard.AllowIP(httpkit.ClientIP(c)); err != nil {
			httpkit.WriteError(c, nil, err)
			return
		}
		c.Next()
	}
}

// guardedUsers applies the per project+login bucket and the lockout around
// password authentication. Only bad credentials count as failures; outages
// and invalid input do not.
type guardedUsers struct {
	EndUsers
	guard *ratelimit.Guard
}

func (g guardedUsers) Authenticate(ctx context.Context, projectID, login, password string) (*enduser.User, error) {
	var u *enduser.User
	err := g.guard.Attempt("", projectID, login, func() (err error) {
		u, err = g.EndUsers.Authenticate(ctx, projectID, login, password)
		return err
	})
	return u, err
}

// guardedBridge applies the same per project+login bucket and lockout to the
// password mode of the verification bridge; server and exchange modes are
// not password checks and pass straight through.
type guardedBridge struct {
	Bridge
	guard *ratelimit.Guard
}

func (g guardedBridge) Authenticate(ctx context.Context, p *project.Project, req bridge.Request) (token.Identity, error) {
	if req.Mode != mapping.ModePassword {
		return g.Bridge.Authenticate(ctx, p, req)
	}
	var id token.Identity
	err := g.guard.Attempt("", p.ID, req.Login, func() (err error) {
		id, err = g.Bridge.Authenticate(ctx, p, req)
		return err
	})
	return id, err
}

// knownBridge marks projects found on the server-mode fast path as known
// for metrics labels (that path does not go through Deps.Projects).
type knownBridge struct {
	Bridge
	known *knownSet
}

func (k knownBridge) CachedProject(ctx context.Context, id string) (*project.Project, error) {
	p, err := k.Bridge.CachedProject(ctx, id)
	if err == nil {
		k.known.add(p.ID)
	}
	return p, err
}

func (k knownBridge) HotProject(ctx context.Context, id, base string) (*project.Project, string, error) {
	p, aud, err := k.Bridge.HotProject(ctx, id, base)
	if err == nil {
		k.known.add(p.ID)
	}
	return p, aud, err
}

// knownProjects remembers which project ids exist, so metrics can label by
// project without letting random ids inflate label cardinality.
type knownProjects struct {
	Projects
	known *knownSet
}

func (k knownProjects) Get(ctx context.Context, id string) (*project.Project, error) {
	p, err := k.Projects.Get(ctx, id)
	if err == nil {
		k.known.add(p.ID)
	}
	return p, err
}
