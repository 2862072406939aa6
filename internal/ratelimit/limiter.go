package ratelimit

import (
	"errors"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// DefaultMaxKeys bounds each keyed table when no MaxKeys is configured.
const DefaultMaxKeys = 100_000

// Limiter is a set of token buckets keyed by string (client IP, project+login,
// ...). A nil *Limiter, or one built from a disabled Rate, allows everything.
type Limiter struct {
	rate Rate
	t    *table[bucket]
	now  func() time.Time
	// shared, when set (Share), holds the buckets of every instance; t is
	// then only the fallback while shared is unreachable.
	shared Shared
	name   string
}

type bucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill
}

// NewLimiter returns a limiter keeping at most maxKeys buckets (<= 0:
// DefaultMaxKeys). It returns nil (allow all) when r is disabled.
func NewLimiter(r Rate, maxKeys int) *Limiter {
	if !r.Enabled() {
		return nil
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Limiter{rate: r, t: newTable[bucket](maxKeys), now: time.Now}
}

// Rate returns the limiter's policy.
func (l *Limiter) Rate() Rate {
	if l == nil {
		return Rate{}
	}
	return l.rate
}

// Allow takes one token from key's bucket. When none is left it reports how
// long until one will be.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	if l.shared != nil {
		if ok, wait, err := l.shared.Allow(l.name, key, l.rate); err == nil {
			return ok, wait
		}
	}
	return l.AllowAt(key, l.now())
}

// AllowAt is Allow at a given time (tests).
func (l *Limiter) AllowAt(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	ns := now.UnixNano()
	burst := float64(l.rate.Burst)
	l.t.with(key, func(b *bucket, fresh bool) bool {
		if fresh {
			b.tokens, b.last = burst, ns
		} else if elapsed := ns - b.last; elapsed > 0 {
			b.tokens += float64(elapsed) / 1e9 * l.rate.Limit
			if b.tokens > burst {
				b.tokens = burst
			}
			b.last = ns
		}
		if b.tokens >= 1 {
			b.tokens--
			ok = true
			return true
		}
		retryAfter = time.Duration((1 - b.tokens) / l.rate.Limit * 1e9)
		return true
	})
	return ok, retryAfter
}

// Len is the number of tracked keys.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	return l.t.len()
}

// LockoutPolicy locks a key out after Threshold consecutive failures, for
// Base, doubling with each further failure, capped at Max. A success resets
// the count; so does a quiet period of Forget (default max(1h, 2*Max)).
// Threshold <= 0 disables lockout.
type LockoutPolicy struct {
	Threshold int
	Base      time.Duration
	Max       time.Duration
	Forget    time.Duration
}

// Enabled reports whether the policy locks anything.
func (p LockoutPolicy) Enabled() bool { return p.Threshold > 0 && p.Base > 0 }

// Lockout tracks consecutive failures per key. A nil *Lockout never locks.
type Lockout struct {
	p   LockoutPolicy
	t   *table[lockState]
	now func() time.Time
	// shared, when set (Share), holds every instance's failure counts; t is
	// then only the fallback while shared is unreachable.
	shared Shared
	name   string
}

type lockState struct {
	failures int
	until    int64 // unix ns; locked while now < until
	lastFail int64
}

// NewLockout returns a lockout tracker with at most maxKeys entries, or nil
// when p is disabled.
func NewLockout(p LockoutPolicy, maxKeys int) *Lockout {
	if !p.Enabled() {
		return nil
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if p.Forget <= 0 {
		p.Forget = max(time.Hour, 2*p.Max)
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Lockout{p: p, t: newTable[lockState](maxKeys), now: time.Now}
}

// Locked reports how much longer key is locked out (0: not locked).
func (l *Lockout) Locked(key string) time.Duration {
	if l == nil {
		return 0
	}
	if l.shared != nil {
		if left, err := l.shared.Locked(l.name, key); err == nil {
			return left
		}
	}
	ns := l.now().UnixNano()
	var left time.Duration
	l.t.peek(key, func(s *lockState) {
		if s.until > ns {
			left = time.Duration(s.until - ns)
		}
	})
	return left
}

// Fail records a failure and returns the lock it imposes (0: none yet).
func (l *Lockout) Fail(key string) time.Duration {
	if l == nil {
		return 0
	}
	if l.shared != nil {
		if lock, err := l.shared.Fail(l.name, key, l.p); err == nil {
			return lock
		}
	}
	ns := l.now().UnixNano()
	var lock time.Duration
	l.t.with(key, func(s *lockState, fresh bool) bool {
		if !fresh && ns-s.lastFail > int64(l.p.Forget) {
			*s = lockState{}
		}
		s.failures++
		s.lastFail = ns
		if over := s.failures - l.p.Threshold; over >= 0 {
			lock = l.p.Max
			if over < 40 && l.p.Base<<over < l.p.Max && l.p.Base<<over > 0 {
				lock = l.p.Base << over
			}
			s.until = ns + int64(lock)
		}
		return true
	})
	return lock
}

// Succeed clears key's failures.
func (l *Lockout) Succeed(key string) {
	if l == nil {
		return
	}
	if l.shared != nil {
		_ = l.shared.Succeed(l.name, key) // unreachable: the shared count expires after Forget
	}
	l.t.delete(key)
}

// GuardConfig configures a Guard.
type GuardConfig struct {
	PerIP    Rate // attempts per client IP
	PerLogin Rate // attempts per scope+login
	Lockout  LockoutPolicy
	MaxKeys  int // per table (<= 0: DefaultMaxKeys)
}

// Guard combines the three protections of a password login form: a per-IP
// bucket, a per-login bucket and a lockout after consecutive failures. All
// methods are safe for concurrent use; a nil *Guard allows everything.
type Guard struct {
	ip    *Limiter
	login *Limiter
	lock  *Lockout
}

// NewGuard builds a Guard.
func NewGuard(c GuardConfig) *Guard {
	return &Guard{ip: NewLimiter(c.PerIP, c.MaxKeys), login: NewLimiter(c.PerLogin, c.MaxKeys), lock: NewLockout(c.Lockout, c.MaxKeys)}
}

// LoginKey is the key of login within scope (e.g. a project id or
// "console"). Logins are compared case-insensitively.
func LoginKey(scope, login string) string {
	return scope + "\x00" + strings.ToLower(strings.TrimSpace(login))
}

// AllowIP takes a token from the client IP's bucket; it returns an
// apperr.ErrRateLimited error (HTTP 429 with Retry-After) when empty.
func (g *Guard) AllowIP(ip string) error {
	if g == nil {
		return nil
	}
	if ok, wait := g.ip.Allow(ip); !ok {
		return apperr.RateLimited("too many requests from this address; slow down", "rate_limited", wait)
	}
	return nil
}

// Begin is called before a password check: it applies the IP bucket (when
// ip != ""), the lockout and the per-login bucket, in that order.
func (g *Guard) Begin(ip, scope, login string) error {
	if g == nil {
		return nil
	}
	if ip != "" {
		if err := g.AllowIP(ip); err != nil {
			return err
		}
	}
	key := LoginKey(scope, login)
	if left := g.lock.Locked(key); left > 0 {
		return apperr.RateLimited("too many failed attempts for this account; try again later", "locked", left)
	}
	if ok, wait := g.login.Allow(key); !ok {
		return apperr.RateLimited("too many attempts for this account; slow down", "rate_limited", wait)
	}
	return nil
}

// Attempt runs one password check for scope+login under the guard: Begin
// (ip may be ""), then check; a success clears the failure count, a
// rejected password (apperr.ErrUnauthorized) counts towards the lockout, and
// other errors (outages, invalid input) count for nothing.
func (g *Guard) Attempt(ip, scope, login string, check func() error) error {
	if err := g.Begin(ip, scope, login); err != nil {
		return err
	}
	err := check()
	switch {
	case err == nil:
		g.Succeed(scope, login)
	case errors.Is(err, apperr.ErrUnauthorized):
		g.Fail(scope, login)
	}
	return err
}

// Fail records a failed password check for scope+login.
func (g *Guard) Fail(scope, login string) {
	if g != nil {
		g.lock.Fail(LoginKey(scope, login))
	}
}

// Succeed records a successful password check, clearing the lockout count.
func (g *Guard) Succeed(scope, login string) {
	if g != nil {
		g.lock.Succeed(LoginKey(scope, login))
	}
}

// TrackedIPs is the number of client IPs the guard currently tracks.
func (g *Guard) TrackedIPs() int {
	if g == nil {
		return 0
	}
	return g.ip.Len()
}
