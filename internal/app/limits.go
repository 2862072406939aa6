package app

import (
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/ratelimit"
)

// ConsoleLoginGuard builds the abuse protection for operator console logins
// from PINGAUTH_RATE_LOGIN_IP, PINGAUTH_RATE_LOGIN_USER and
// PINGAUTH_LOCKOUT_*. Build it once per process and share it:
//
//	guard := app.ConsoleLoginGuard(cfg)
//	err := guard.Attempt(c.ClientIP(), "console", email, func() error { return checkPassword(...) })
func ConsoleLoginGuard(cfg config.Config) *ratelimit.Guard {
	s := cfg.Security
	return ratelimit.NewGuard(ratelimit.GuardConfig{PerIP: s.LoginPerIP, PerLogin: s.LoginPerUser, Lockout: s.Lockout, MaxKeys: s.RateMaxKeys})
}

// consoleLoginGuard is ConsoleLoginGuard, shared by every instance through
// Redis when PINGAUTH_REDIS_URL is set.
func (a *App) consoleLoginGuard() *ratelimit.Guard {
	g := ConsoleLoginGuard(a.Config)
	if a.Limits != nil {
		g.Share(a.Limits, "console")
	}
	return g
}

// totpGuard protects second-factor codes like console passwords (per IP,
// per operator, lockout after PINGAUTH_LOCKOUT_THRESHOLD wrong codes),
// shared through Redis when PINGAUTH_REDIS_URL is set.
func (a *App) totpGuard() *ratelimit.Guard {
	g := ConsoleLoginGuard(a.Config)
	if a.Limits != nil {
		g.Share(a.Limits, "totp")
	}
	return g
}
