package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec // route, method, code
	// auth holds pingauth_auth_request_duration_seconds and
	// pingauth_tokens_issued_total (project), one compact authSeries per
	// label value instead of a client_golang histogram and counter (about
	// 1.8 KiB per project; 10,000 projects are labelled).
	auth     *authCollector
	failures *prometheus.CounterVec // project, reason
	verified *prometheus.CounterVec // project, result
	known    *knownSet
	codes    [600]string
	// projectLabels: PINGAUTH_METRICS_PROJECT_LABELS; off, ProjectLabel is constant.
	projectLabels bool
}

func newMetrics(h *hardening, projectLabels bool) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), known: &knownSet{m: map[string]*authSeries{}, max: maxKnownProjects}, projectLabels: projectLabels}
	for i := range m.codes {
		m.codes[i] = strconv.Itoa(i)
	}
	buckets := [authBuckets]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pingauth_http_request_duration_seconds", Help: "HTTP request latency by route pattern, method and status.", Buckets: buckets[:],
	}, []string{"route", "method", "code"})
	m.auth = newAuthCollector(buckets, m.known)
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pingauth_auth_failures_total", Help: "Failed /auth requests by project and reason (error code, or locked/rate_limited).",
	}, []string{"project", "reason"})
	m.verified = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pingauth_token_verifications_total", Help: "Token introspections by project and result (active, inactive).",
	}, []string{"project", "result"})
	m.reg.MustRegister(m.requests, m.auth, m.failures, m.verified,
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
	if route == verifyRoute {
		proj := m.ProjectLabel(c.Param("projectId"))
		if status == http.StatusOK {
			result := "inactive"
			if c.GetBool(verifyActiveKey) {
				result = "active"
			}
			m.verified.WithLabelValues(proj, result).Inc()
		}
		return
	}
	proj, series := NoProjectLabel, m.auth.unlabelled
	if m.projectLabels {
		proj, series = m.known.labelSeries(c.Param("projectId"), m.auth.unknown)
	}
	m.auth.observe(series, elapsed)
	if status == http.StatusOK {
		series.issued.Add(1)
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

// knownSet is a bounded set of project ids seen to exist, with each one's
// auth series (nil until the project's first /auth request).
type knownSet struct {
	mu  sync.RWMutex
	m   map[string]*authSeries
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
	if _, ok := k.m[id]; !ok && len(k.m) < k.max {
		k.m[id] = nil
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

// labelSeries is label(id) and the label's auth series (unknown: the
// series of ids never found), created on first use.
func (k *knownSet) labelSeries(id string, unknown *authSeries) (string, *authSeries) {
	k.mu.RLock()
	s, ok := k.m[id]
	k.mu.RUnlock()
	switch {
	case !ok:
		return unknownProject, unknown
	case s != nil:
		return id, s
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if s = k.m[id]; s == nil {
		s = &authSeries{}
		k.m[id] = s
	}
	return id, s
}

// authBuckets is the number of latency buckets with a finite upper bound.
const authBuckets = 13

// authSeries is one project label's pingauth_auth_request_duration_seconds
// histogram and pingauth_tokens_issued_total counter: 128 bytes, written
// with atomics only. counts are per bucket (not cumulative), the last one
// past the largest bound (+Inf).
type authSeries struct {
	counts [authBuckets + 1]atomic.Uint64
	sum    atomic.Uint64 // float64 bits
	issued atomic.Uint64
}

// authCollector exports the authSeries of every label: a series appears
// once observed, as client_golang's vectors did.
type authCollector struct {
	bounds     [authBuckets]float64
	known      *knownSet
	unknown    *authSeries // ids never found
	unlabelled *authSeries // PINGAUTH_METRICS_PROJECT_LABELS=off
	latency    *prometheus.Desc
	issued     *prometheus.Desc
}

func newAuthCollector(bounds [authBuckets]float64, known *knownSet) *authCollector {
	return &authCollector{bounds: bounds, known: known, unknown: &authSeries{}, unlabelled: &authSeries{},
		latency: prometheus.NewDesc("pingauth_auth_request_duration_seconds",
			"Latency of POST /auth/<projectId> (and /refresh) by project.", []string{"project"}, nil),
		issued: prometheus.NewDesc("pingauth_tokens_issued_total",
			"Tokens issued by POST /auth/<projectId> (and /refresh).", []string{"project"}, nil)}
}

// observe records one request's latency in seconds (the bucket is the first
// whose upper bound is >= v, as in client_golang).
func (a *authCollector) observe(s *authSeries, v float64) {
	i := 0
	for i < len(a.bounds) && v > a.bounds[i] {
		i++
	}
	s.counts[i].Add(1)
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// authSnapshot is an authSeries read at scrape time.
type authSnapshot struct {
	counts [authBuckets + 1]uint64
	sum    float64
	issued uint64
}

func (s *authSeries) snapshot() authSnapshot {
	var out authSnapshot
	for i := range s.counts {
		out.counts[i] = s.counts[i].Load()
	}
	out.sum = math.Float64frombits(s.sum.Load())
	out.issued = s.issued.Load()
	return out
}

func (o *authSnapshot) add(s authSnapshot) {
	for i := range o.counts {
		o.counts[i] += s.counts[i]
	}
	o.sum += s.sum
	o.issued += s.issued
}

// Describe implements prometheus.Collector.
func (a *authCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- a.latency
	ch <- a.issued
}

// Collect implements prometheus.Collector.
func (a *authCollector) Collect(ch chan<- prometheus.Metric) {
	type labelled struct {
		label string
		s     authSnapshot
	}
	a.known.mu.RLock()
	out := make([]labelled, 0, len(a.known.m)+2)
	for id, s := range a.known.m {
		if s != nil {
			out = append(out, labelled{id, s.snapshot()})
		}
	}
	a.known.mu.RUnlock()
	// A project named "unknown" shares its label with the ids never found.
	unknown := a.unknown.snapshot()
	merged := false
	for i := range out {
		if out[i].label == unknownProject {
			out[i].s.add(unknown)
			merged = true
		}
	}
	if !merged {
		out = append(out, labelled{unknownProject, unknown})
	}
	out = append(out, labelled{NoProjectLabel, a.unlabelled.snapshot()})
	for _, l := range out {
		var count uint64
		buckets := make(map[float64]uint64, len(a.bounds))
		for i, ub := range a.bounds {
			count += l.s.counts[i]
			buckets[ub] = count
		}
		count += l.s.counts[authBuckets]
		if count > 0 {
			ch <- prometheus.MustNewConstHistogram(a.latency, count, l.s.sum, buckets, l.label)
		}
		if l.s.issued > 0 {
			ch <- prometheus.MustNewConstMetric(a.issued, prometheus.CounterValue, float64(l.s.issued), l.label)
		}
	}
}
