// Package redislimit keeps pingauth's abuse limits in Redis, so that every
// instance draws from one budget per client IP, login, console login and
// server-mode caller (ratelimit.Shared). Each decision is one atomic Lua
// script (EVALSHA, loaded on first use) on Redis's own clock: a token bucket
// for rates, a failure counter with doubling lock for lockouts. Keys are
// hashed (no IP address or login is stored in clear) and expire on their own.
//
// When Redis cannot answer, the store reports an error at once and the
// limiters decide with their in-process tables (as without Redis): the store
// logs the outage once, counts every fallback decision in a metric, reports
// itself unhealthy through Ping (/readyz: degraded), probes Redis in the
// background every second and resumes by itself when it answers again.
package redislimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pingstreams/pingauth/internal/ratelimit"
)

// ErrDown is returned while Redis is known to be unreachable.
var ErrDown = errors.New("redislimit: shared limit store unavailable")

// tokenBucket: KEYS[1] bucket; ARGV rate (tokens/s), burst. Returns
// {allowed 0|1, retry-after µs}.
var tokenBucket = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) / 1000000 * rate)
  ts = now
end
local ok = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  wait = math.ceil((1 - tokens) / rate * 1000000)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {ok, wait}
`)

// lockFail: KEYS[1] lock state; ARGV threshold, base ms, max ms, forget ms.
// Returns the lock imposed in ms (0: none yet).
var lockFail = redis.NewScript(`
local threshold = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local forget = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'f', 'u', 'lf')
local failures = tonumber(v[1]) or 0
local untl = tonumber(v[2]) or 0
local lastFail = tonumber(v[3]) or 0
if failures > 0 and now - lastFail > forget then
  failures = 0
  untl = 0
end
failures = failures + 1
lastFail = now
local lock = 0
local over = failures - threshold
if over >= 0 then
  lock = max
  if over < 40 then
    local l = base * (2 ^ over)
    if l < max then lock = l end
  end
  untl = now + lock
end
redis.call('HSET', KEYS[1], 'f', failures, 'u', tostring(untl), 'lf', tostring(lastFail))
redis.call('PEXPIRE', KEYS[1], forget + max)
return lock
`)

// lockLeft: KEYS[1] lock state. Returns ms left (0: not locked).
var lockLeft = redis.NewScript(`
local u = tonumber(redis.call('HGET', KEYS[1], 'u'))
if u == nil then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if u > now then return u - now end
return 0
`)

// Options tune New.
type Options struct {
	Log *slog.Logger
	// Prefix starts every key (default "pingauth:rl:"); tests use their own.
	Prefix string
	// Timeout bounds one Redis call (default 250ms): a slow Redis costs a
	// request at most this before the local decision.
	Timeout time.Duration
	// ProbeEvery is how often a down store pings Redis (default 1s).
	ProbeEvery time.Duration
}

// Store is a ratelimit.Shared over Redis. Create it with New; Close it.
type Store struct {
	rdb     *redis.Client
	log     *slog.Logger
	prefix  string
	timeout time.Duration
	probe   time.Duration

	up        atomic.Bool
	mu        sync.Mutex
	probing   bool
	closed    chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	upGauge   prometheus.Gauge
	fallbacks prometheus.Counter
	outages   prometheus.Counter
}

// New connects to url (redis:// or rediss://). An unreachable Redis is not
// an error: the store starts down and recovers in the background.
func New(url string, o Options) (*Store, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redislimit: PINGAUTH_REDIS_URL: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Prefix == "" {
		o.Prefix = "pingauth:rl:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = time.Second
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = o.Timeout, o.Timeout, o.Timeout, o.Timeout
	opt.MaxRetries = -1 // no retries: the local limiter decides at once
	s := &Store{
		rdb: redis.NewClient(opt), log: o.Log, prefix: o.Prefix, timeout: o.Timeout, probe: o.ProbeEvery,
		closed: make(chan struct{}),
		upGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pingauth_ratelimit_shared_up",
			Help: "1 while the shared (Redis) rate limit store answers; 0 while each instance limits on its own."}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "pingauth_ratelimit_shared_fallback_total",
			Help: "Rate limit decisions taken by the in-process limiter because the shared (Redis) store was unavailable."}),
		outages: prometheus.NewCounter(prometheus.CounterOpts{Name: "pingauth_ratelimit_shared_outages_total",
			Help: "Times the shared (Redis) rate limit store became unavailable."}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.down(err)
	} else {
		s.up.Store(true)
		s.upGauge.Set(1)
	}
	return s, nil
}

// Collectors are the store's metrics.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.upGauge, s.fallbacks, s.outages}
}

// Ping implements httpapi.Pinger for /readyz: an error while Redis is down
// (the instance then limits on its own: degraded, still serving).
func (s *Store) Ping(context.Context) error {
	if !s.up.Load() {
		return ErrDown
	}
	return nil
}

// Up reports whether the store currently uses Redis.
func (s *Store) Up() bool { return s.up.Load() }

// Close stops the background probe and closes the client.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.wg.Wait()
	return s.rdb.Close()
}

func (s *Store) key(name, key string) string {
	h := sha256.Sum256([]byte(key))
	return s.prefix + name + ":" + hex.EncodeToString(h[:16])
}

// down marks the store unavailable: the first failure of an outage logs,
// counts the outage and starts the background probe; later ones do nothing.
func (s *Store) down(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up.Store(false)
	if s.probing {
		return
	}
	select {
	case <-s.closed:
		return
	default:
	}
	s.probing = true
	s.outages.Inc()
	s.upGauge.Set(0)
	s.log.Warn("shared rate limit store (Redis) unavailable; each instance limits on its own until it is back", "error", err.Error())
	s.wg.Add(1)
	go s.probeLoop()
}

func (s *Store) probeLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.probe)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.mu.Lock()
			s.probing = false
			s.up.Store(true)
			s.mu.Unlock()
			s.upGauge.Set(1)
			s.log.Info("shared rate limit store (Redis) is back; limits are shared again")
			return
		}
	}
}

// run executes a script unless the store is down; failures mark it down.
func (s *Store) run(script *redis.Script, key string, args ...any) (any, error) {
	if !s.up.Load() {
		s.fallbacks.Inc()
		return nil, ErrDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	v, err := script.Run(ctx, s.rdb, []string{key}, args...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		s.fallbacks.Inc()
		s.down(err)
		return nil, err
	}
	return v, nil
}

// Allow implements ratelimit.Shared.
func (s *Store) Allow(name, key string, r ratelimit.Rate) (bool, time.Duration, error) {
	v, err := s.run(tokenBucket, s.key(name, key), strconv.FormatFloat(r.Limit, 'g', -1, 64), r.Burst)
	if err != nil {
		return false, 0, err
	}
	res, ok := v.([]any)
	if !ok || len(res) != 2 {
		return false, 0, fmt.Errorf("redislimit: unexpected reply %v", v)
	}
	allowed, _ := res[0].(int64)
	wait, _ := res[1].(int64)
	return allowed == 1, time.Duration(wait) * time.Microsecond, nil
}

// Locked implements ratelimit.Shared.
func (s *Store) Locked(name, key string) (time.Duration, error) {
	v, err := s.run(lockLeft, s.key(name, key))
	if err != nil {
		return 0, err
	}
	ms, _ := v.(int64)
	return time.Duration(ms) * time.Millisecond, nil
}

// Fail implements ratelimit.Shared.
func (s *Store) Fail(name, key string, p ratelimit.LockoutPolicy) (time.Duration, error) {
	forget := p.Forget
	if forget <= 0 {
		forget = max(time.Hour, 2*p.Max)
	}
	maxLock := max(p.Max, p.Base)
	v, err := s.run(lockFail, s.key(name, key), p.Threshold, p.Base.Milliseconds(), maxLock.Milliseconds(), forget.Milliseconds())
	if err != nil {
		return 0, err
	}
	ms, _ := v.(int64)
	return time.Duration(ms) * time.Millisecond, nil
}

// Succeed implements ratelimit.Shared.
func (s *Store) Succeed(name, key string) error {
	if !s.up.Load() {
		s.fallbacks.Inc()
		return ErrDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.rdb.Del(ctx, s.key(name, key)).Err(); err != nil {
		s.fallbacks.Inc()
		s.down(err)
		return err
	}
	return nil
}

var _ ratelimit.Shared = (*Store)(nil)
