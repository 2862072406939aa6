// Package ratelimit protects login-style endpoints from abuse: keyed token
// buckets (per client IP, per project+login, ...) and an account lockout with
// exponential backoff after consecutive failures. Everything is in memory and
// bounded: each keyed table keeps at most MaxKeys entries and evicts the least
// recently used one when full, so a flood of distinct keys cannot exhaust
// memory. State is per process: with several replicas each enforces its own
// limits (multiply the configured rates by the replica count to get the
// global worst case).
//
// Reuse for another login form (e.g. the operator console):
//
//	guard := ratelimit.NewGuard(ratelimit.GuardConfig{PerIP: cfg.Limits.LoginPerIP, PerLogin: cfg.Limits.LoginPerUser, Lockout: cfg.Limits.Lockout})
//	r.POST("/console/login", func(c *gin.Context) {
//		err := guard.Attempt(c.ClientIP(), "console", username, func() error { return checkPassword(...) })
//		if err != nil {
//			httpkit.WriteError(c, log, err) // 429 JSON with Retry-After, or the check's 401
//			return
//		}
//	})
package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a token-bucket policy: Burst requests at once, refilled at Limit
// tokens per second. The zero Rate (or one with Limit or Burst <= 0) is
// "unlimited".
type Rate struct {
	Limit float64 // tokens per second
	Burst int
}

// Enabled reports whether the rate limits anything.
func (r Rate) Enabled() bool { return r.Limit > 0 && r.Burst > 0 }

// String renders the rate in the syntax ParseRate accepts.
func (r Rate) String() string {
	if !r.Enabled() {
		return "off"
	}
	per := strconv.FormatFloat(r.Limit, 'f', -1, 64) + "/s"
	if r.Limit < 1 {
		per = strconv.FormatFloat(r.Limit*60, 'f', -1, 64) + "/m"
	}
	return per + ":" + strconv.Itoa(r.Burst)
}

// ParseRate parses "N/PERIOD[:BURST]" where PERIOD is s, m, h or a Go
// duration ("10s"), e.g. "10/s:20", "30/m", "100/1h:10". BURST defaults to
// max(1, N). "off", "0" and "" disable the limit.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "off" || s == "0" || s == "none" {
		return Rate{}, nil
	}
	spec, burstS, hasBurst := strings.Cut(s, ":")
	nS, perS, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q must look like 10/s, 30/m:10 or off", s)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(nS), 64)
	if err != nil || n <= 0 || n > 1e6 || n != n {
		return Rate{}, fmt.Errorf("%q: count must be a positive number up to 1000000", s)
	}
	var per time.Duration
	switch p := strings.TrimSpace(perS); p {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		per, err = time.ParseDuration(p)
		if err != nil || per < time.Millisecond || per > 24*time.Hour {
			return Rate{}, fmt.Errorf("%q: period must be s, m, h or a duration between 1ms and 24h", s)
		}
	}
	burst := int(n)
	if burst < 1 {
		burst = 1
	}
	if hasBurst {
		b, err := strconv.Atoi(strings.TrimSpace(burstS))
		if err != nil || b < 1 || b > 1e6 {
			return Rate{}, fmt.Errorf("%q: burst must be an integer from 1 to 1000000", s)
		}
		burst = b
	}
	return Rate{Limit: n / per.Seconds(), Burst: burst}, nil
}
