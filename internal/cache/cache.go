// Package cache is the one in-memory cache of pingauth's hot path: the
// fast-path projects, per-project settings, API keys and IdP configs are all a
// Cache. It is
//
//   - bounded: at most MaxEntries entries; when full, an entry not used
//     recently is evicted. Recency is tracked with CLOCK (second chance), the
//     usual approximation of LRU: a hit only sets the entry's reference bit,
//     under a read lock, and the eviction hand clears set bits and evicts the
//     first entry whose bit is clear. An exact LRU list costs a write lock
//     and four scattered memory writes per hit (measured: 12x a map read at
//     100k keys, BenchmarkGetHit);
//   - time-limited: an entry older than the TTL is loaded again on its next
//     use. While Informed reports true (the process hears of every committed
//     change through internal/events), LongTTL applies instead: the TTL is a
//     safety net then, not the consistency mechanism;
//   - loaded on miss with singleflight: concurrent misses of one key run one
//     load, and a load that started before an invalidation of its shard does
//     not store what it read;
//   - explicitly invalidated by key, by key prefix or entirely (the change
//     events of internal/events drive these);
//   - observable: Collector exports hits, misses, loads, failed loads,
//     evictions and the number of entries per cache, without a shared atomic
//     on the hit path (counters live under each shard's lock).
//
// Errors from the loader are not cached; a loader that wants to remember
// "not found" returns a value that says so.
package cache

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// shards spreads keys over independently locked parts (a power of two).
const shards = 32

// Options configure a Cache.
type Options struct {
	// Name labels the cache's metrics ("projects", "settings", ...).
	Name string
	// MaxEntries bounds the number of entries (< 1: 1). The bound is global
	// (a full cache evicts the least recently used entry of the shard it
	// inserts into), so a cache sized for N keys holds all N.
	MaxEntries int
	// TTL: an entry older than this is loaded again on its next use (<= 0:
	// entries never expire).
	TTL time.Duration
	// LongTTL replaces TTL while Informed() is true (0: TTL always applies).
	LongTTL  time.Duration
	Informed func() bool
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Cache is a bounded LRU cache of string keys. Safe for concurrent use.
type Cache[V any] struct {
	name     string
	ttl      time.Duration
	longTTL  time.Duration
	informed func() bool
	now      func() time.Time
	seed     maphash.Seed
	mask     uint64
	shards   []shard[V]
	group    singleflight.Group
	max      int64
	// count is the number of entries (changed on insert and removal only,
	// never on a hit).
	count atomic.Int64
}

type shard[V any] struct {
	mu sync.RWMutex
	m  map[string]*entry[V]
	// ring holds the entries in insertion order for the CLOCK hand.
	ring []*entry[V]
	hand int
	gen  uint64 // bumped by every invalidation in the shard
	// counters written under mu (write lock) or atomically (hits, misses:
	// the read path holds only the read lock).
	hits, misses                 atomic.Uint64
	loads, loadErrors, evictions uint64
	_                            [40]byte // keeps neighbouring shards off one cache line
}

type entry[V any] struct {
	key     string
	val     V
	fetched int64 // unix nanoseconds
	slot    int   // index in the shard's ring
	ref     atomic.Bool
}

// Keyed is implemented by values that hold a copy of their own key (a
// project's id): the cache keeps that copy as the key of the value's entry
// instead of making one more.
type Keyed interface{ CacheKey() string }

// Stats are a cache's counters.
type Stats struct {
	Hits, Misses, Loads, LoadErrors, Evictions uint64
	Entries                                    int
}

// New returns an empty cache.
func New[V any](o Options) *Cache[V] {
	if o.Now == nil {
		o.Now = time.Now
	}
	o.MaxEntries = max(o.MaxEntries, 1)
	n := shards
	if o.MaxEntries < 4*shards {
		n = 1 // small caches: one exact LRU
	}
	c := &Cache[V]{name: o.Name, ttl: o.TTL, longTTL: o.LongTTL, informed: o.Informed, now: o.Now,
		seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]shard[V], n), max: int64(o.MaxEntries)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*entry[V])
	}
	return c
}

// Name is the cache's metric label.
func (c *Cache[V]) Name() string { return c.name }

func (c *Cache[V]) shard(key string) *shard[V] {
	if c.mask == 0 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

// maxAge is the age past which an entry is loaded again (0: never).
func (c *Cache[V]) maxAge() time.Duration {
	if c.longTTL > 0 && c.informed != nil && c.informed() {
		return c.longTTL
	}
	return c.ttl
}

// Get returns key's value, calling load on a miss or an expired entry.
// Concurrent calls for one key share one load; the load runs with ctx's
// values but without its cancellation (a caller giving up does not fail the
// others).
func (c *Cache[V]) Get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	if v, ok := c.lookup(key); ok {
		return v, nil
	}
	s := c.shard(key)
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	r, err, _ := c.group.Do(key, func() (any, error) {
		v, err := load(context.WithoutCancel(ctx))
		s.mu.Lock()
		defer s.mu.Unlock()
		s.loads++
		if err != nil {
			s.loadErrors++
			return v, err
		}
		if s.gen == gen {
			c.store(s, key, v)
		}
		return v, nil
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return r.(V), nil
}

// Peek returns key's cached value, expired or not, without loading,
// counting or marking it used.
func (c *Cache[V]) Peek(key string) (V, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok {
		var zero V
		return zero, false
	}
	return e.val, true
}

// Range calls fn for every cached entry (expired ones too) until it
// returns false; fn runs under a shard's read lock and must not call the
// cache.
func (c *Cache[V]) Range(fn func(key string, v V) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		for k, e := range s.m {
			if !fn(k, e.val) {
				s.mu.RUnlock()
				return
			}
		}
		s.mu.RUnlock()
	}
}

func (c *Cache[V]) lookup(key string) (V, bool) {
	age := c.maxAge()
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if ok && (age <= 0 || c.now().UnixNano()-e.fetched < int64(age)) {
		if !e.ref.Load() {
			e.ref.Store(true) // the read path writes nothing else
		}
		s.hits.Add(1)
		return e.val, true
	}
	s.misses.Add(1)
	var zero V
	return zero, false
}

// Put stores v under key (an entry made by a writer that knows the value).
func (c *Cache[V]) Put(key string, v V) {
	s := c.shard(key)
	s.mu.Lock()
	c.store(s, key, v)
	s.mu.Unlock()
}

// store inserts or replaces key; called with s.mu held. A replaced
// entry is a new *entry (readers hold old ones without the lock).
func (c *Cache[V]) store(s *shard[V], key string, v V) {
	e := &entry[V]{key: key, val: v, fetched: c.now().UnixNano()}
	if old, ok := s.m[key]; ok {
		e.key, e.slot = old.key, old.slot // the stored copy of the key
		s.ring[e.slot] = e
		s.m[key] = e
		return
	}
	if c.count.Load() >= c.max {
		c.evict(s)
	}
	// A key is often a substring of a request (a path parameter): copying
	// it keeps the cache from pinning the whole request line or body. A
	// value holding its own copy lends it (one copy per entry, not two).
	if kv, ok := any(v).(Keyed); ok && kv.CacheKey() == key {
		key = kv.CacheKey()
	} else {
		key = strings.Clone(key)
	}
	e.key = key
	e.slot = len(s.ring)
	s.ring = append(s.ring, e)
	s.m[key] = e
	c.count.Add(1)
}

// evict removes one entry not used since the hand last passed it, from s
// (held), or, when s is empty, from another shard whose lock is free
// (locks are only tried, so two inserting shards never wait for each other).
func (c *Cache[V]) evict(s *shard[V]) {
	if len(s.ring) > 0 {
		c.evictFrom(s)
		return
	}
	for i := range c.shards {
		o := &c.shards[i]
		if o == s || !o.mu.TryLock() {
			continue
		}
		ok := len(o.ring) > 0
		if ok {
			c.evictFrom(o)
		}
		o.mu.Unlock()
		if ok {
			return
		}
	}
}

// evictFrom runs s's CLOCK hand (s held, not empty): referenced entries
// get a second chance (their bit is cleared), the first unreferenced one
// is evicted. After one full turn every bit is clear, so it ends.
func (c *Cache[V]) evictFrom(s *shard[V]) {
	for {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		e := s.ring[s.hand]
		if e.ref.Load() {
			e.ref.Store(false)
			s.hand++
			continue
		}
		c.remove(s, e)
		s.evictions++
		return
	}
}

// remove drops e from s (held): the ring's last entry takes its slot.
func (c *Cache[V]) remove(s *shard[V], e *entry[V]) {
	last := len(s.ring) - 1
	if e.slot != last {
		moved := s.ring[last]
		moved.slot = e.slot
		s.ring[e.slot] = moved
	}
	s.ring[last] = nil
	s.ring = s.ring[:last]
	delete(s.m, e.key)
	c.count.Add(-1)
}

// Invalidate drops key; a load of it already running does not store.
func (c *Cache[V]) Invalidate(key string) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.m[key]; ok {
		c.remove(s, e)
	}
	s.gen++
	s.mu.Unlock()
	c.group.Forget(key)
}

// InvalidatePrefix drops every key starting with prefix (a scan of the whole
// cache: for rare, broad changes) and returns how many it dropped.
func (c *Cache[V]) InvalidatePrefix(prefix string) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if strings.HasPrefix(k, prefix) {
				c.remove(s, e)
				c.group.Forget(k)
				n++
			}
		}
		s.gen++
		s.mu.Unlock()
	}
	return n
}

// InvalidateFunc drops every entry for which drop returns true (a scan of
// the whole cache: for rare, broad changes such as a deleted project) and
// returns how many it dropped. drop runs under a shard's lock and must not
// call the cache. Like Invalidate, a load already running in any shard does
// not store its result.
func (c *Cache[V]) InvalidateFunc(drop func(key string, v V) bool) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if drop(k, e.val) {
				c.remove(s, e)
				c.group.Forget(k)
				n++
			}
		}
		s.gen++
		s.mu.Unlock()
	}
	return n
}

// InvalidateAll drops every entry.
func (c *Cache[V]) InvalidateAll() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k := range s.m {
			c.group.Forget(k)
		}
		c.count.Add(-int64(len(s.m)))
		s.m, s.ring, s.hand = make(map[string]*entry[V]), nil, 0
		s.gen++
		s.mu.Unlock()
	}
}

// Len is the number of entries.
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Stats sums the shards' counters.
func (c *Cache[V]) Stats() Stats {
	var t Stats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		t.Hits += s.hits.Load()
		t.Misses += s.misses.Load()
		t.Loads += s.loads
		t.LoadErrors += s.loadErrors
		t.Evictions += s.evictions
		t.Entries += len(s.m)
		s.mu.Unlock()
	}
	return t
}
