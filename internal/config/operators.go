package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Operators are the lifetimes of console sessions and operator API tokens
// (README "Operator sessions and API tokens").
type Operators struct {
	// TokenTTL is the lifetime of an API token created without one.
	// PINGAUTH_OPERATOR_TOKEN_TTL (default 90d)
	TokenTTL time.Duration
	// TokenMaxTTL is the longest lifetime an API token may be given; tokens
	// stored without an expiry end at their creation plus this.
	// PINGAUTH_OPERATOR_TOKEN_MAX_TTL (default 365d)
	TokenMaxTTL time.Duration
	// SessionIdle ends a console session unused for this long.
	// PINGAUTH_SESSION_IDLE (default 30m)
	SessionIdle time.Duration
	// SessionMax is the absolute lifetime of a console session.
	// PINGAUTH_SESSION_MAX (default 12h)
	SessionMax time.Duration
}

// Bounds of the operator lifetimes.
const (
	minTokenTTL    = time.Hour
	maxTokenMaxTTL = 5 * 365 * 24 * time.Hour
	minSessionIdle = time.Minute
	maxSessionMax  = 30 * 24 * time.Hour
)

// operatorsFromEnv reads the operator lifetimes; durations take Go syntax
// (30m, 12h) or whole days (90d).
func operatorsFromEnv(get func(k, def string) string) (Operators, []error) {
	var errs []error
	life := func(k string, def time.Duration) time.Duration {
		s := get(k, "")
		if s == "" {
			return def
		}
		d, err := parseLifetime(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration like 30m, 12h or 90d", k, truncate(s, 40)))
			return def
		}
		return d
	}
	o := Operators{
		TokenTTL:    life("PINGAUTH_OPERATOR_TOKEN_TTL", 90*24*time.Hour),
		TokenMaxTTL: life("PINGAUTH_OPERATOR_TOKEN_MAX_TTL", 365*24*time.Hour),
		SessionIdle: life("PINGAUTH_SESSION_IDLE", 30*time.Minute),
		SessionMax:  life("PINGAUTH_SESSION_MAX", 12*time.Hour),
	}
	if o.TokenMaxTTL < minTokenTTL || o.TokenMaxTTL > maxTokenMaxTTL {
		errs = append(errs, fmt.Errorf("PINGAUTH_OPERATOR_TOKEN_MAX_TTL: %s must be between 1h and 1825d", fmtLifetime(o.TokenMaxTTL)))
	}
	if o.TokenTTL < minTokenTTL || o.TokenTTL > o.TokenMaxTTL {
		errs = append(errs, fmt.Errorf("PINGAUTH_OPERATOR_TOKEN_TTL: %s must be between 1h and PINGAUTH_OPERATOR_TOKEN_MAX_TTL (%s)", fmtLifetime(o.TokenTTL), fmtLifetime(o.TokenMaxTTL)))
	}
	if o.SessionMax < 5*time.Minute || o.SessionMax > maxSessionMax {
		errs = append(errs, fmt.Errorf("PINGAUTH_SESSION_MAX: %s must be between 5m and 30d", fmtLifetime(o.SessionMax)))
	}
	if o.SessionIdle < minSessionIdle || o.SessionIdle > o.SessionMax {
		errs = append(errs, fmt.Errorf("PINGAUTH_SESSION_IDLE: %s must be between 1m and PINGAUTH_SESSION_MAX (%s)", fmtLifetime(o.SessionIdle), fmtLifetime(o.SessionMax)))
	}
	return o, errs
}

// parseLifetime reads a Go duration or a whole number of days ("90d").
func parseLifetime(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("bad day count %q", n)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// fmtLifetime writes whole days as 90d, anything else as a Go duration.
func fmtLifetime(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
