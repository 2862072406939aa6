package ratelimit

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    Rate
		wantErr bool
	}{
		{"10/s:20", Rate{Limit: 10, Burst: 20}, false},
		{"10/s", Rate{Limit: 10, Burst: 10}, false},
		{"30/m", Rate{Limit: 0.5, Burst: 30}, false},
		{"60/1m:5", Rate{Limit: 1, Burst: 5}, false},
		{"3600/h:1", Rate{Limit: 1, Burst: 1}, false},
		{" OFF ", Rate{}, false},
		{"0", Rate{}, false},
		{"", Rate{}, false},
		{"10", Rate{}, true},
		{"-1/s", Rate{}, true},
		{"x/s", Rate{}, true},
		{"10/fortnight", Rate{}, true},
		{"10/s:0", Rate{}, true},
		{"10/s:abc", Rate{}, true},
		{"NaN/s", Rate{}, true},
		{"1/0s", Rate{}, true},
	}
	for _, tc := range cases {
		got, err := ParseRate(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.Enabled() {
			back, err := ParseRate(got.String())
			if err != nil || back.Burst != got.Burst || back.Limit-got.Limit > 1e-9 || got.Limit-back.Limit > 1e-9 {
				t.Errorf("round trip of %q via %q = %+v, %v", tc.in, got.String(), back, err)
			}
		}
	}
}

func TestLimiterBurstRefillAndRetryAfter(t *testing.T) {
	t.Parallel()
	l := NewLimiter(Rate{Limit: 2, Burst: 3}, 100)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if ok, _ := l.AllowAt("a", t0); !ok {
			t.Fatalf("request %d within burst denied", i)
		}
	}
	ok, wait := l.AllowAt("a", t0)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th request: ok=%v wait=%v, want denied with 500ms", ok, wait)
	}
	if ok, _ := l.AllowAt("b", t0); !ok {
		t.Fatal("another key must have its own bucket")
	}
	if ok, _ := l.AllowAt("a", t0.Add(499*time.Millisecond)); ok {
		t.Fatal("allowed before a token was refilled")
	}
	if ok, _ := l.AllowAt("a", t0.Add(500*time.Millisecond)); !ok {
		t.Fatal("denied after refill")
	}
	// A long pause refills to Burst, not beyond.
	t1 := t0.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if ok, _ := l.AllowAt("a", t1); !ok {
			t.Fatalf("after pause: request %d denied", i)
		}
	}
	if ok, _ := l.AllowAt("a", t1); ok {
		t.Fatal("bucket refilled beyond burst")
	}
}

func TestNilAndDisabledLimitersAllowAll(t *testing.T) {
	t.Parallel()
	if l := NewLimiter(Rate{}, 10); l != nil {
		t.Fatal("disabled rate must give a nil limiter")
	}
	var l *Limiter
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("nil limiter denied")
		}
	}
	var g *Guard
	if g.Begin("1.2.3.4", "p", "u") != nil || g.AllowIP("x") != nil {
		t.Fatal("nil guard denied")
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	l := NewLimiter(Rate{Limit: 1, Burst: 1}, 1600)
	now := time.Unix(0, 0)
	for i := 0; i < 50_000; i++ {
		l.AllowAt(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
	}
	if n := l.Len(); n > 1600 || n < 1600/2 {
		t.Fatalf("tracked keys = %d, want <= 1600 (and the table used)", n)
	}
	// The most recently used key survives eviction: it is still limited.
	l.AllowAt("hot", now)
	for i := 0; i < 5000; i++ {
		l.AllowAt(fmt.Sprintf("cold-%d", i), now)
		if i%50 == 0 {
			if ok, _ := l.AllowAt("hot", now); ok {
				t.Fatalf("hot key was evicted while in use (after %d cold keys)", i)
			}
		}
	}
}

func TestLockoutExponentialBackoff(t *testing.T) {
	t.Parallel()
	now := time.Unix(5000, 0)
	l := NewLockout(LockoutPolicy{Threshold: 3, Base: 10 * time.Second, Max: 35 * time.Second}, 100)
	l.now = func() time.Time { return now }
	want := []time.Duration{0, 0, 10 * time.Second, 20 * time.Second, 35 * time.Second, 35 * time.Second}
	for i, w := range want {
		if got := l.Fail("k"); got != w {
			t.Fatalf("failure %d: lock %v, want %v", i+1, got, w)
		}
	}
	if left := l.Locked("k"); left != 35*time.Second {
		t.Fatalf("Locked = %v", left)
	}
	if l.Locked("other") != 0 {
		t.Fatal("unrelated key locked")
	}
	now = now.Add(36 * time.Second)
	if l.Locked("k") != 0 {
		t.Fatal("lock did not expire")
	}
	// The count is still there: next failure locks again at once (capped).
	if got := l.Fail("k"); got != 35*time.Second {
		t.Fatalf("failure after expiry: %v", got)
	}
	l.Succeed("k")
	if l.Locked("k") != 0 || l.Fail("k") != 0 {
		t.Fatal("success must clear lock and count")
	}
	// A long quiet period forgets old failures (default Forget = 1h here).
	l.Fail("k")
	now = now.Add(2 * time.Hour)
	if got := l.Fail("k"); got != 0 {
		t.Fatalf("failures were not forgotten: %v", got)
	}
}

func TestGuardErrorsCarryRetryAfter(t *testing.T) {
	t.Parallel()
	g := NewGuard(GuardConfig{PerIP: Rate{Limit: 0.001, Burst: 5}, PerLogin: Rate{Limit: 0.001, Burst: 3}, Lockout: LockoutPolicy{Threshold: 2, Base: time.Minute, Max: time.Hour}})
	// Lockout after two failures, whatever the case of the login.
	if err := g.Begin("1.1.1.1", "proj", "User@Example.com"); err != nil {
		t.Fatal(err)
	}
	g.Fail("proj", "User@Example.com")
	g.Fail("proj", "user@example.com ")
	err := g.Begin("2.2.2.2", "proj", "user@example.com")
	r, ok := apperr.RetryOf(err)
	if !errors.Is(err, apperr.ErrRateLimited) || !ok || r.Reason != "locked" || r.Seconds() < 59 || r.Seconds() > 60 {
		t.Fatalf("locked login: err=%v retry=%+v", err, r)
	}
	// Same login in another scope is independent.
	if err := g.Begin("3.3.3.3", "other-proj", "user@example.com"); err != nil {
		t.Fatalf("other scope: %v", err)
	}
	g.Succeed("proj", "user@example.com")
	// Per-login bucket: 3 attempts (1 used above + 2), then rate_limited.
	for i := 0; i < 2; i++ {
		if err := g.Begin("", "proj", "user@example.com"); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	err = g.Begin("", "proj", "user@example.com")
	if r, ok := apperr.RetryOf(err); !ok || r.Reason != "rate_limited" || !errors.Is(err, apperr.ErrRateLimited) {
		t.Fatalf("per-login limit: %v", err)
	}
	// Per-IP bucket: 5 per address.
	for i := 0; i < 5; i++ {
		if err := g.AllowIP("9.9.9.9"); err != nil {
			t.Fatalf("ip attempt %d: %v", i, err)
		}
	}
	if err := g.AllowIP("9.9.9.9"); !errors.Is(err, apperr.ErrRateLimited) {
		t.Fatalf("per-IP limit: %v", err)
	}
}

func TestLimiterConcurrentUseCountsExactly(t *testing.T) {
	t.Parallel()
	l := NewLimiter(Rate{Limit: 1e-6, Burst: 100}, 1000)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				l.Allow(fmt.Sprintf("own-%d", i))
			}
		}()
	}
	wg.Wait()
	if allowed != 100 {
		t.Fatalf("allowed %d of 800 concurrent requests, want exactly the burst (100)", allowed)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := NewLimiter(Rate{Limit: 1e9, Burst: 1 << 30}, DefaultMaxKeys)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("192.0.2.%d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i&1023])
			i++
		}
	})
}

// Attempt counts only rejected passwords towards the lockout, clears the
// count on success, and does not run the check while locked.
func TestGuardAttempt(t *testing.T) {
	t.Parallel()
	g := NewGuard(GuardConfig{Lockout: LockoutPolicy{Threshold: 2, Base: time.Minute, Max: time.Hour}})
	bad := func() error { return apperr.Unauthorized("invalid credentials") }
	down := func() error { return apperr.Unavailable("db down", nil) }
	ok := func() error { return nil }
	for _, check := range []func() error{bad, down, down, ok, bad} { // success resets; outages do not count
		_ = g.Attempt("", "p1", "ann", check)
	}
	ran := false
	if err := g.Attempt("", "p1", "ann", func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("one failure since the last success must not lock: err=%v ran=%v", err, ran)
	}
	_ = g.Attempt("", "p1", "ann", bad)
	_ = g.Attempt("", "p1", "ann", bad)
	ran = false
	err := g.Attempt("", "p1", "ann", func() error { ran = true; return nil })
	if !errors.Is(err, apperr.ErrRateLimited) || ran {
		t.Fatalf("after 2 rejected passwords: err=%v, check ran=%v; want rate limited without running it", err, ran)
	}
	if err := g.Attempt("", "p2", "ann", ok); err != nil {
		t.Fatalf("the same login in another scope is locked: %v", err)
	}
}
