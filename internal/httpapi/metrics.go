package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/httpkit"
)

// unknownProject labels requests for project ids that were never found, so
// random ids cannot create unbounded label values.
const unknownProject = "unknown"

// NoProjectLabel is the value of every "project" label when
// PINGAUTH_METRICS_PROJECT_LABELS is off: no project id is exposed.
const NoProjectLabel = "-"

// maxKnownProjects bounds the project label values; beyond it new projects
// are counted as "unknown" until restart.
const maxKnownProjects = 10_000

// Metrics is the per-Server Prometheus registry and its collectors. Code that
// adds per-project metrics labels them with ProjectLabel.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.HistogramVec // route, method, code
	authLatency *prometheus.HistogramVec // project
	issued      *prometheus.CounterVec   // project
	failures    *prometheus.CounterVec   // project, reason
	verified    *prometheus.CounterVec   // project, result
	known       *knownSet
	codes       [600]string
	// projectLabels: PINGAUTH_METRICS_PROJECT_LABELS; off, ProjectLabel is constant.
	projectLabels bool
}

func newMetrics(h *hardening, projectLabels bool) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), known: &knownSet{m: map[string]struct{}{}, max: maxKnownProjects}, projectLabels: projectLabels}
	for i := range m.codes {
		m.codes[i] = strconv.Itoa(i)
	}
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pingauth_http_request_duration_seconds", Help: "HTTP request latency by route pattern, method and status.", Buckets: buckets,
	}, []string{"route", "method", "code"})
	m.authLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pingauth_auth_request_duration_seconds", Help: "Latency of POST /auth/<projectId> (and /refresh) by project.", Buckets: buckets,
	}, []string{"project"})
	m.issued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pingauth_tokens_issued_total", Help: "Tokens issued by POST /auth/<projectId> (and /refresh).",
	}, []string{"project"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pingauth_auth_failures_total", Help: "Failed /auth requests by project and reason (error code, or locked/rate_limited).",
	}, []string{"project", "reason"})
	m.verified = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pingauth_token_verifications_total", Help: "Token introspections by project and result (active, inactive).",
	}, []string{"project", "result"})
	m.reg.MustRegister(m.requests, m.authLatency, m.issued, m.failures, m.verified,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pingauth_ratelimit_tracked_keys", Help: "Keys tracked by the /auth per-IP limiter (bounded by PINGAUTH_RATE_MAX_KEYS).", ConstLabels: prometheus.Labels{"limiter": "auth_ip"}},
			func() float64 { return float64(h.authGuard.TrackedIPs()) }),
	)
	return m
}

// Registry exposes the server's registry so other packages can register
// their collectors on it (never the global default registry).
func (s *Server) Registry() *prometheus.Registry {
	if s.hard.metrics == nil {
		return nil
	}
	return s.hard.metrics.reg
}

// Metrics returns the server's metrics (nil when PINGAUTH_METRICS=off).
func (s *Server) Metrics() *Metrics { return s.hard.metrics }

// ProjectLabel is the value of the "project" label for project id: the id
// once the project was found (bounded, see maxKnownProjects), "unknown" for
// ids never found, and NoProjectLabel for every id when
// PINGAUTH_METRICS_PROJECT_LABELS is off. Every per-project metric must be
// labelled through it, so switching project labels off covers it too.
func (m *Metrics) ProjectLabel(id string) string {
	if m == nil || !m.projectLabels {
		return NoProjectLabel
	}
	return m.known.label(id)
}

func (m *Metrics) code(status int) string {
	if status >= 0 && status < len(m.codes) {
		return m.codes[status]
	}
	return "other"
}

// observe records every request.
func (m *Metrics) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	elapsed := time.Since(start).Seconds()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	m.requests.WithLabelValues(route, c.Request.Method, m.code(status)).Observe(elapsed)
	if !strings.HasPrefix(route, authRoutePrefix) || c.Request.Method != http.MethodPost {
		return
	}
	if route == refreshRevokeRoute {
		return // a logout, not a token request
	}
	proj := m.ProjectLabel(c.Param("projectId"))
	if route == verifyRoute {
		if status == http.StatusOK {
			result := "inactive"
			if c.GetBool(verifyActiveKey) {
				result = "active"
			}
			m.verified.WithLabelValues(proj, result).Inc()
		}
		return
	}
	m.authLatency.WithLabelValues(proj).Observe(elapsed)
	if status == http.StatusOK {
		m.issued.WithLabelValues(proj).Inc()
		return
	}
	reason := c.GetString(httpkit.ErrorReasonKey) // set by httpkit.WriteError
	if reason == "" {
		reason = m.code(status)
	}
	m.failures.WithLabelValues(proj, reason).Inc()
}

// serve is GET /metrics. With a token it requires "Authorization: Bearer
// <token>" (constant-time comparison). Without one it is served only when
// the server listens on loopback only (open); otherwise it answers 401, so a
// server reachable from the network never exposes its metrics by default.
func (m *Metrics) serve(token string, open bool) gin.HandlerFunc {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		switch {
		case token != "":
			got, ok := bearer(c.GetHeader("Authorization"))
			sum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
				c.Header("WWW-Authenticate", `Bearer realm="metrics"`)
				httpkit.WriteError(c, nil, apperr.Unauthorized("metrics need a bearer token"))
				return
			}
		case !open:
			c.Header("WWW-Authenticate", `Bearer realm="metrics"`)
			httpkit.WriteError(c, nil, apperr.Unauthorized("metrics need PINGAUTH_METRICS_TOKEN (sent as a bearer token) when the server does not listen on loopback only"))
			return
		}
		h.ServeHTTP(c.Writer, c.Request)
	}
}

// bearer returns the credentials of an "Authorization: Bearer <token>"
// header (scheme case-insensitive).
func bearer(h string) (string, bool) {
	const scheme = "Bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	return h[len(scheme):], true
}

// knownSet is a bounded set of project ids seen to exist.
type knownSet struct {
	mu  sync.RWMutex
	m   map[string]struct{}
	max int
}

func (k *knownSet) add(id string) {
	k.mu.RLock()
	_, ok := k.m[id]
	full := len(k.m) >= k.max
	k.mu.RUnlock()
	if ok || full {
		return
	}
	k.mu.Lock()
	if len(k.m) < k.max {
		k.m[id] = struct{}{}
	}
	k.mu.Unlock()
}

func (k *knownSet) label(id string) string {
	k.mu.RLock()
	_, ok := k.m[id]
	k.mu.RUnlock()
	if ok {
		return id
	}
	return unknownProject
}
