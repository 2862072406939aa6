package redislimit_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pingstreams/pingauth/internal/ratelimit"
	"github.com/pingstreams/pingauth/internal/ratelimit/redislimit"
	"github.com/pingstreams/pingauth/internal/ratelimit/redistest"
)

// redisURL is the machine's Redis (PINGAUTH_TEST_REDIS_URL, default
// loopback 6379). Unreachable: skip, or fail with PINGAUTH_TEST_REQUIRE_REDIS=1.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("PINGAUTH_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	addr := strings.Split(strings.TrimPrefix(u, "redis://"), "/")[0]
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("PINGAUTH_TEST_REQUIRE_REDIS") == "1" {
			t.Fatalf("Redis required but unreachable at %s: %v", u, err)
		}
		t.Skipf("Redis unreachable at %s (%v); set PINGAUTH_TEST_REQUIRE_REDIS=1 to fail instead", u, err)
	}
	_ = c.Close()
	return u
}

func prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "pingauth-test:" + hex.EncodeToString(b[:]) + ":"
}

func open(t *testing.T, url, pfx string) *redislimit.Store {
	t.Helper()
	s, err := redislimit.New(url, redislimit.Options{Prefix: pfx, ProbeEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestTwoInstancesShareOneBudget: two stores (two instances' clients) on one
// Redis and prefix draw from one bucket and one lockout count.
func TestTwoInstancesShareOneBudget(t *testing.T) {
	t.Parallel()
	url, pfx := redisURL(t), prefix()
	a, b := open(t, url, pfx), open(t, url, pfx)
	r := ratelimit.Rate{Limit: 0.01, Burst: 10} // no noticeable refill during the test
	la := ratelimit.NewLimiter(r, 0).Share(a, "ip")
	lb := ratelimit.NewLimiter(r, 0).Share(b, "ip")
	allowed := 0
	for i := 0; i < 30; i++ {
		l := la
		if i%2 == 1 {
			l = lb
		}
		if ok, wait := l.Allow("203.0.113.7"); ok {
			allowed++
		} else if wait <= 0 {
			t.Fatalf("refused without Retry-After")
		}
	}
	if allowed != 10 {
		t.Fatalf("allowed %d of 30 alternating requests, want the one shared burst of 10", allowed)
	}
	if ok, _ := la.Allow("198.51.100.1"); !ok {
		t.Fatal("another key is limited too")
	}

	p := ratelimit.LockoutPolicy{Threshold: 3, Base: time.Minute, Max: time.Hour}
	ga := ratelimit.NewLockout(p, 0).Share(a, "lock")
	gb := ratelimit.NewLockout(p, 0).Share(b, "lock")
	ga.Fail("proj\x00ann")
	gb.Fail("proj\x00ann")
	if left := ga.Locked("proj\x00ann"); left != 0 {
		t.Fatalf("locked after 2 failures: %s", left)
	}
	if lock := ga.Fail("proj\x00ann"); lock != time.Minute {
		t.Fatalf("third failure (across instances) locks %s, want 1m", lock)
	}
	if left := gb.Locked("proj\x00ann"); left <= 0 || left > time.Minute {
		t.Fatalf("other instance sees lock %s", left)
	}
	gb.Succeed("proj\x00ann")
	if left := ga.Locked("proj\x00ann"); left != 0 {
		t.Fatalf("still locked after a success elsewhere: %s", left)
	}
	if a.Ping(t.Context()) != nil || !a.Up() {
		t.Fatal("store reports down while Redis answers")
	}
}

// TestUnreachableRedisFallsBackToLocal: a store pointed at a closed port is
// degraded from the start, answers at once, and the limiter uses its own
// buckets; the fallback is counted.
func TestUnreachableRedisFallsBackToLocal(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := open(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port), prefix())
	if s.Up() || s.Ping(t.Context()) == nil {
		t.Fatal("store up without Redis")
	}
	l := ratelimit.NewLimiter(ratelimit.Rate{Limit: 0.01, Burst: 3}, 0).Share(s, "ip")
	start := time.Now()
	var got []bool
	for i := 0; i < 5; i++ {
		ok, _ := l.Allow("203.0.113.7")
		got = append(got, ok)
	}
	if fmt.Sprint(got) != "[true true true false false]" {
		t.Fatalf("local fallback decisions %v, want the local burst of 3", got)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("fallback decisions took %s: a down store must answer at once", d)
	}
	if n := testutil.ToFloat64(s.Collectors()[1]); n < 5 {
		t.Fatalf("fallback metric %v, want >= 5", n)
	}
}

// TestRedisStopAndStart: with a Redis of the test's own (never the
// machine's), stopping it falls back (logged once, degraded) and starting it
// again resumes shared limits by itself.
func TestRedisStopAndStart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := open(t, srv.URL, prefix())
	l := ratelimit.NewLimiter(ratelimit.Rate{Limit: 0.01, Burst: 2}, 0).Share(s, "ip")
	if ok, _ := l.Allow("k"); !ok || !s.Up() {
		t.Fatal("first request refused or store down")
	}
	srv.Stop(t)
	l.Allow("k") // this call finds Redis gone and falls back
	if s.Up() || s.Ping(t.Context()) == nil {
		t.Fatal("store still up after Redis stopped")
	}
	for i := 0; i < 3; i++ {
		l.Allow("k")
	}
	if n := testutil.ToFloat64(s.Collectors()[2]); n != 1 {
		t.Fatalf("outages counted %v, want one for one outage", n)
	}
	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for !s.Up() {
		if time.Now().After(deadline) {
			t.Fatal("store did not recover after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Shared again: the fresh Redis has a full bucket of 2 for the key.
	for i := 0; i < 2; i++ {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("request %d refused after recovery", i)
		}
	}
	if ok, _ := l.Allow("k"); ok {
		t.Fatal("the recovered shared bucket of 2 allowed a third request")
	}
	if s.Ping(t.Context()) != nil {
		t.Fatal("still degraded after recovery")
	}
}
