package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// counting returns a loader that returns key+"#"+n (n counts its calls).
func counting(key string, n *atomic.Int64) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		return fmt.Sprintf("%s#%d", key, n.Add(1)), nil
	}
}

func get(t *testing.T, c *Cache[string], key string, n *atomic.Int64) string {
	t.Helper()
	v, err := c.Get(context.Background(), key, counting(key, n))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := New[string](Options{Name: "t", MaxEntries: 3})
	var n atomic.Int64
	for _, k := range []string{"a", "b", "c"} {
		get(t, c, k, &n)
	}
	get(t, c, "a", &n) // a is now the most recent; b the least
	get(t, c, "d", &n) // evicts b
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := c.Peek(k); ok != want {
			t.Errorf("Peek(%s) = %v, want %v", k, ok, want)
		}
	}
	if s := c.Stats(); s.Evictions != 1 || s.Entries != 3 || s.Loads != 4 || s.Hits != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestBoundHoldsAcrossShards(t *testing.T) {
	t.Parallel()
	const limit = 1000
	c := New[string](Options{MaxEntries: limit})
	var n atomic.Int64
	for i := range 20 * limit {
		get(t, c, fmt.Sprint("k", i), &n)
	}
	if l := c.Len(); l != limit {
		t.Fatalf("Len = %d after %d distinct keys, bound %d", l, 20*limit, limit)
	}
	// A cache sized for N keys holds all N, whatever their shards.
	full := New[string](Options{MaxEntries: limit})
	for i := range limit {
		get(t, full, fmt.Sprint("p", i), &n)
	}
	before := full.Stats().Loads
	for i := range limit {
		get(t, full, fmt.Sprint("p", i), &n)
	}
	if s := full.Stats(); s.Loads != before || s.Evictions != 0 {
		t.Fatalf("a second pass over %d keys in a cache of %d loaded %d, evicted %d", limit, limit, s.Loads-before, s.Evictions)
	}
}

func TestTTL(t *testing.T) {
	t.Parallel()
	var informed atomic.Bool
	for _, tc := range []struct {
		name     string
		informed bool
		after    time.Duration
		reload   bool
	}{
		{"fresh", false, 9 * time.Second, false},
		{"expired", false, 10 * time.Second, true},
		{"informed keeps past TTL", true, time.Minute, false},
		{"informed expires past LongTTL", true, time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1000, 0)}
			inf := tc.informed
			c := New[string](Options{MaxEntries: 10, TTL: 10 * time.Second, LongTTL: time.Hour,
				Informed: func() bool { return inf || informed.Load() }, Now: clk.now})
			var n atomic.Int64
			first := get(t, c, "k", &n)
			clk.add(tc.after)
			second := get(t, c, "k", &n)
			if reloaded := first != second; reloaded != tc.reload {
				t.Errorf("after %v: %q then %q, reload=%v want %v", tc.after, first, second, reloaded, tc.reload)
			}
		})
	}
}

func TestSingleflightAndErrorsNotCached(t *testing.T) {
	t.Parallel()
	c := New[string](Options{MaxEntries: 10})
	var calls atomic.Int64
	release := make(chan struct{})
	load := func(context.Context) (string, error) {
		calls.Add(1)
		<-release
		return "v", nil
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if v, err := c.Get(context.Background(), "k", load); err != nil || v != "v" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	for c.Stats().Misses < 16 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("16 concurrent misses ran %d loads, want 1", calls.Load())
	}

	boom := errors.New("down")
	if _, err := c.Get(context.Background(), "e", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := c.Peek("e"); ok {
		t.Fatal("a failed load was cached")
	}
	if s := c.Stats(); s.LoadErrors != 1 {
		t.Fatalf("LoadErrors = %d", s.LoadErrors)
	}
}

func TestInvalidationDuringLoadDoesNotStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		invalidate func(c *Cache[string])
	}{
		{"key", func(c *Cache[string]) { c.Invalidate("p1") }},
		{"prefix", func(c *Cache[string]) { c.InvalidatePrefix("p") }},
		{"func", func(c *Cache[string]) { c.InvalidateFunc(func(string, string) bool { return false }) }},
		{"all", func(c *Cache[string]) { c.InvalidateAll() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := New[string](Options{MaxEntries: 1}) // one shard: the generation is shared
			started, release := make(chan struct{}), make(chan struct{})
			done := make(chan string)
			go func() {
				v, _ := c.Get(context.Background(), "p1", func(context.Context) (string, error) {
					close(started)
					<-release
					return "stale", nil
				})
				done <- v
			}()
			<-started
			tc.invalidate(c)
			close(release)
			if v := <-done; v != "stale" {
				t.Fatalf("the caller gets what its load read, got %q", v)
			}
			if _, ok := c.Peek("p1"); ok {
				t.Fatal("a load that started before the invalidation was stored")
			}
			var n atomic.Int64
			if v := get(t, c, "p1", &n); v != "p1#1" {
				t.Fatalf("next Get = %q, want a fresh load", v)
			}
		})
	}
}

func TestInvalidatePrefix(t *testing.T) {
	t.Parallel()
	c := New[string](Options{MaxEntries: 100})
	var n atomic.Int64
	for _, k := range []string{"t1/a", "t1/b", "t2/a", "t10/a"} {
		get(t, c, k, &n)
	}
	if got := c.InvalidatePrefix("t1/"); got != 2 {
		t.Fatalf("dropped %d, want 2", got)
	}
	for k, want := range map[string]bool{"t1/a": false, "t1/b": false, "t2/a": true, "t10/a": true} {
		if _, ok := c.Peek(k); ok != want {
			t.Errorf("Peek(%s) = %v, want %v", k, ok, want)
		}
	}
	c.InvalidateAll()
	if c.Len() != 0 {
		t.Fatal("InvalidateAll left entries")
	}
}

// InvalidateFunc drops exactly the entries its predicate names, by key or
// by value (the API-key cache drops a deleted project's keys by value).
func TestInvalidateFunc(t *testing.T) {
	t.Parallel()
	c := New[string](Options{MaxEntries: 100})
	var n atomic.Int64
	for _, k := range []string{"a", "b", "c", "d"} {
		get(t, c, k, &n) // values "a#1", "b#2", ...
	}
	if got := c.InvalidateFunc(func(k, v string) bool { return k == "a" || strings.HasPrefix(v, "c#") }); got != 2 {
		t.Fatalf("dropped %d, want 2", got)
	}
	for k, want := range map[string]bool{"a": false, "b": true, "c": false, "d": true} {
		if _, ok := c.Peek(k); ok != want {
			t.Errorf("Peek(%s) = %v, want %v", k, ok, want)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
}

func TestPutReplaces(t *testing.T) {
	t.Parallel()
	c := New[string](Options{MaxEntries: 2})
	c.Put("a", "1")
	c.Put("a", "2")
	c.Put("b", "3")
	if v, _ := c.Peek("a"); v != "2" || c.Len() != 2 {
		t.Fatalf("a = %q, len %d", v, c.Len())
	}
}

func TestCollector(t *testing.T) {
	t.Parallel()
	c := New[string](Options{Name: "projects", MaxEntries: 1})
	var n atomic.Int64
	get(t, c, "a", &n)
	get(t, c, "a", &n)
	get(t, c, "b", &n) // evicts a
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(Collector(c))
	want := `
# HELP pingauth_cache_evictions_total Least recently used entries evicted because the cache was full.
# TYPE pingauth_cache_evictions_total counter
pingauth_cache_evictions_total{cache="projects"} 1
# HELP pingauth_cache_hits_total Cache lookups served from memory.
# TYPE pingauth_cache_hits_total counter
pingauth_cache_hits_total{cache="projects"} 1
# HELP pingauth_cache_misses_total Cache lookups that found no fresh entry.
# TYPE pingauth_cache_misses_total counter
pingauth_cache_misses_total{cache="projects"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"pingauth_cache_evictions_total", "pingauth_cache_hits_total", "pingauth_cache_misses_total"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New[string](Options{MaxEntries: 100_000, TTL: time.Minute})
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprint("project-", i)
		c.Put(keys[i], keys[i])
	}
	load := func(context.Context) (string, error) { return "", nil }
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _ = c.Get(context.Background(), keys[i%len(keys)], load)
			i += 7919
		}
	})
}

// BenchmarkMapBaseline is an RWMutex-guarded map read, for comparison.
func BenchmarkMapBaseline(b *testing.B) {
	var mu sync.RWMutex
	m := map[string]string{}
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprint("project-", i)
		m[keys[i]] = keys[i]
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			mu.RLock()
			_ = m[keys[i%len(keys)]]
			mu.RUnlock()
			i += 7919
		}
	})
}

type keyedValue struct{ id string }

func (k *keyedValue) CacheKey() string { return k.id }

// TestKeyedValueLendsItsKey: a value holding its own copy of the key (a
// project row's id) is stored under that copy; any other key is copied, so
// a key cut from a request never pins the request.
func TestKeyedValueLendsItsKey(t *testing.T) {
	c := New[*keyedValue](Options{MaxEntries: 10})
	request := "POST /auth/proj1 HTTP/1.1"
	key := request[len("POST /auth/") : len("POST /auth/")+len("proj1")]
	own := &keyedValue{id: strings.Clone(key)}
	if _, err := c.Get(context.Background(), key, func(context.Context) (*keyedValue, error) { return own, nil }); err != nil {
		t.Fatal(err)
	}
	other := &keyedValue{id: "not-the-key"}
	c.Put(request[:4], other) // "POST": its value's id differs
	stored := map[string]string{}
	c.Range(func(k string, v *keyedValue) bool { stored[v.id] = k; return true })
	if k := stored[own.id]; unsafe.StringData(k) != unsafe.StringData(own.id) {
		t.Error("the key of a keyed value is a second copy, not the value's")
	}
	if k := stored[other.id]; k != "POST" || unsafe.StringData(k) == unsafe.StringData(request) {
		t.Errorf("a key that is not the value's own is kept as %q, sharing the request: %v", k, unsafe.StringData(k) == unsafe.StringData(request))
	}
}
