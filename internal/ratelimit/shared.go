package ratelimit

import "time"

// Shared is a bucket and lockout store shared by every instance (Redis, see
// internal/ratelimit/redislimit). Each call reports an error when the store
// cannot answer; the caller then decides locally, as without a Shared store.
// Implementations must fail fast while the store is known to be down.
type Shared interface {
	// Allow takes one token of bucket (name, key) under r.
	Allow(name, key string, r Rate) (ok bool, retryAfter time.Duration, err error)
	// Locked reports how much longer (name, key) is locked out.
	Locked(name, key string) (time.Duration, error)
	// Fail records a failure of (name, key) under p and returns the lock imposed.
	Fail(name, key string, p LockoutPolicy) (time.Duration, error)
	// Succeed clears (name, key)'s failures.
	Succeed(name, key string) error
}

// Share makes the limiter take its tokens from s under name (one budget for
// every instance using the same store and name), falling back to its own
// in-process buckets whenever s reports an error. It returns l; nil l or s:
// no change.
func (l *Limiter) Share(s Shared, name string) *Limiter {
	if l != nil && s != nil {
		l.shared, l.name = s, name
	}
	return l
}

// Share makes the lockout count failures in s under name, falling back to
// its own in-process table whenever s reports an error. It returns l.
func (l *Lockout) Share(s Shared, name string) *Lockout {
	if l != nil && s != nil {
		l.shared, l.name = s, name
	}
	return l
}

// Share makes the guard's three protections shared through s, named
// name+":ip", name+":login" and name+":lock". It returns g.
func (g *Guard) Share(s Shared, name string) *Guard {
	if g != nil {
		g.ip.Share(s, name+":ip")
		g.login.Share(s, name+":login")
		g.lock.Share(s, name+":lock")
	}
	return g
}
