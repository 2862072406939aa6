package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/ratelimit"
)

// Security is the abuse-protection and operations configuration
// (README "Security & operations").
type Security struct {
	// TrustedProxies are the reverse proxies (IPs or CIDRs) whose
	// X-Forwarded-For / X-Real-IP headers name the client. Empty: trust none,
	// the client is the TCP peer. PINGAUTH_TRUSTED_PROXIES
	TrustedProxies []string
	// Token-bucket rates, "N/PERIOD[:BURST]" or "off".
	AuthPerIP ratelimit.Rate // PINGAUTH_RATE_AUTH_IP: /auth requests per client IP (browsers: password, exchange)
	// AuthServerPerIP limits /auth requests that carry an API key (server
	// mode): one site backend mints for all its visitors from few IPs.
	AuthServerPerIP ratelimit.Rate // PINGAUTH_RATE_AUTH_SERVER_IP
	AuthPerLogin    ratelimit.Rate // PINGAUTH_RATE_AUTH_LOGIN: /auth attempts per project+login
	VerifyPerIP     ratelimit.Rate // PINGAUTH_RATE_VERIFY_IP: /auth/<id>/verify requests per client IP
	LoginPerIP      ratelimit.Rate // PINGAUTH_RATE_LOGIN_IP: console login attempts per client IP
	LoginPerUser    ratelimit.Rate // PINGAUTH_RATE_LOGIN_USER: console login attempts per username
	// Lockout after consecutive failed passwords (per project+login and per console user).
	Lockout ratelimit.LockoutPolicy // PINGAUTH_LOCKOUT_THRESHOLD, PINGAUTH_LOCKOUT_BASE, PINGAUTH_LOCKOUT_MAX
	// RateMaxKeys bounds each limiter table (memory). PINGAUTH_RATE_MAX_KEYS
	RateMaxKeys int
	// MaxBodyBytes bounds every request body. PINGAUTH_MAX_BODY_BYTES
	MaxBodyBytes int64
	// JWTLeeway is the clock skew tolerated when verifying exp/iat. PINGAUTH_JWT_LEEWAY
	JWTLeeway time.Duration
	// Metrics enables GET /metrics. PINGAUTH_METRICS (on|off)
	Metrics bool
	// MetricsToken, when set, is required as "Authorization: Bearer <token>" on /metrics. PINGAUTH_METRICS_TOKEN
	// Without one, /metrics is served only when LoopbackOnly; otherwise it answers 401.
	MetricsToken string
	// MetricsProjectLabels keeps project ids as the "project" label of the
	// per-project metrics; off, that label is a constant (no project id is
	// exposed). PINGAUTH_METRICS_PROJECT_LABELS (on|off, default on)
	MetricsProjectLabels bool
	// LoopbackOnly is derived from PINGAUTH_ADDR: the server listens on a
	// loopback address only (127.0.0.0/8, ::1 or localhost), so /metrics may
	// be served without a token. See LoopbackAddr.
	LoopbackOnly bool
	// ShutdownTimeout bounds the graceful drain on SIGTERM. PINGAUTH_SHUTDOWN_TIMEOUT
	ShutdownTimeout time.Duration
	// HashWorkers is how many argon2id hashes may run at once; 0 means half
	// the cores (at least one). PINGAUTH_HASH_WORKERS
	HashWorkers int
	// HashCooldownPct keeps a hashing slot idle for this percentage of the
	// time its last hash took, capping password hashing's CPU share under a
	// flood (0 disables). PINGAUTH_HASH_COOLDOWN_PCT
	HashCooldownPct int
}

// securityFromEnv reads Security; get returns the trimmed value or def, dur
// parses a duration (recording its own errors).
func securityFromEnv(get func(k, def string) string, dur func(k string, def time.Duration) time.Duration) (Security, []error) {
	var errs []error
	rate := func(k, def string) ratelimit.Rate {
		r, err := ratelimit.ParseRate(get(k, def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
		return r
	}
	integer := func(k string, def, lo, hi int64) int64 {
		s := get(k, "")
		if s == "" {
			return def
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s: %q must be an integer from %d to %d", k, s, lo, hi))
			return def
		}
		return n
	}
	s := Security{
		AuthPerIP:       rate("PINGAUTH_RATE_AUTH_IP", "5/s:20"),
		AuthServerPerIP: rate("PINGAUTH_RATE_AUTH_SERVER_IP", "500/s:1000"),
		AuthPerLogin:    rate("PINGAUTH_RATE_AUTH_LOGIN", "10/m:10"),
		VerifyPerIP:     rate("PINGAUTH_RATE_VERIFY_IP", "50/s:100"),
		LoginPerIP:      rate("PINGAUTH_RATE_LOGIN_IP", "20/m:10"),
		LoginPerUser:    rate("PINGAUTH_RATE_LOGIN_USER", "10/m:5"),
		RateMaxKeys:     int(integer("PINGAUTH_RATE_MAX_KEYS", ratelimit.DefaultMaxKeys, 100, 10_000_000)),
		MaxBodyBytes:    integer("PINGAUTH_MAX_BODY_BYTES", 64<<10, 1<<10, 10<<20),
		JWTLeeway:       dur("PINGAUTH_JWT_LEEWAY", 30*time.Second),
		MetricsToken:    get("PINGAUTH_METRICS_TOKEN", ""),
		ShutdownTimeout: dur("PINGAUTH_SHUTDOWN_TIMEOUT", 15*time.Second),
		HashWorkers:     int(integer("PINGAUTH_HASH_WORKERS", 0, 0, 1024)),
		HashCooldownPct: int(integer("PINGAUTH_HASH_COOLDOWN_PCT", 50, 0, 1000)),
	}
	s.Lockout = ratelimit.LockoutPolicy{
		Threshold: int(integer("PINGAUTH_LOCKOUT_THRESHOLD", 5, 0, 1000)),
		Base:      dur("PINGAUTH_LOCKOUT_BASE", 30*time.Second),
		Max:       dur("PINGAUTH_LOCKOUT_MAX", 15*time.Minute),
	}
	if s.Lockout.Threshold > 0 && (s.Lockout.Base < time.Second || s.Lockout.Max < s.Lockout.Base || s.Lockout.Max > 24*time.Hour) {
		errs = append(errs, fmt.Errorf("PINGAUTH_LOCKOUT_BASE/PINGAUTH_LOCKOUT_MAX: need 1s <= base (%s) <= max (%s) <= 24h", s.Lockout.Base, s.Lockout.Max))
	}
	if s.JWTLeeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("PINGAUTH_JWT_LEEWAY: %s must be at most 5m", s.JWTLeeway))
	}
	if s.ShutdownTimeout < time.Second || s.ShutdownTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("PINGAUTH_SHUTDOWN_TIMEOUT: %s must be between 1s and 10m", s.ShutdownTimeout))
	}
	onOff := func(k, def string) bool {
		switch v := strings.ToLower(get(k, def)); v {
		case "on", "true", "1", "yes":
			return true
		case "off", "false", "0", "no":
		default:
			errs = append(errs, fmt.Errorf("%s: %q is not one of on, off", k, truncate(v, 40)))
		}
		return false
	}
	s.Metrics = onOff("PINGAUTH_METRICS", "on")
	s.MetricsProjectLabels = onOff("PINGAUTH_METRICS_PROJECT_LABELS", "on")
	if s.MetricsToken != "" && len(s.MetricsToken) < 16 {
		errs = append(errs, fmt.Errorf("PINGAUTH_METRICS_TOKEN: must be at least 16 characters"))
	}
	for _, p := range strings.FieldsFunc(get("PINGAUTH_TRUSTED_PROXIES", ""), func(r rune) bool { return r == ',' || r == ' ' }) {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, fmt.Errorf("PINGAUTH_TRUSTED_PROXIES: %q is not an IP address or CIDR", truncate(p, 60)))
				continue
			}
		}
		s.TrustedProxies = append(s.TrustedProxies, p)
	}
	return s, errs
}

// LoopbackAddr reports whether a listen address (PINGAUTH_ADDR, host:port)
// accepts connections on loopback only: its host is a loopback IP
// (127.0.0.0/8, ::1) or "localhost". An empty host (":8080") listens on every
// interface and is not loopback.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
