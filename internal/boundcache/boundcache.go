// Package boundcache is a bounded map for the hot-path caches: at most Max
// entries, evicting an approximately least recently used one (second chance:
// a hit sets a flag without taking the write lock; eviction skips and clears
// flagged entries) instead of emptying the whole cache when full. A
// generation counter, bumped by every Delete and Clear, lets a loader that
// read the database before an invalidation refuse to store what it read.
package boundcache

import (
	"sync"
	"sync/atomic"
)

// scan bounds the entries eviction looks at (Go's map iteration starts at a
// random place, so the candidates are a random sample).
const scan = 64

// Map is a bounded string-keyed cache. Safe for concurrent use.
type Map[V any] struct {
	mu  sync.RWMutex
	max int
	m   map[string]*item[V]
	gen uint64
}

type item[V any] struct {
	v    V
	used atomic.Bool
}

// New returns a map holding at most limit entries (limit < 1: 1).
func New[V any](limit int) *Map[V] {
	return &Map[V]{max: max(limit, 1), m: map[string]*item[V]{}}
}

// Get returns k's value and marks it recently used.
func (c *Map[V]) Get(k string) (V, bool) {
	c.mu.RLock()
	it, ok := c.m[k]
	c.mu.RUnlock()
	if !ok {
		var zero V
		return zero, false
	}
	if !it.used.Load() {
		it.used.Store(true)
	}
	return it.v, true
}

// Gen returns the generation; pass it to PutIfGen after loading.
func (c *Map[V]) Gen() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// PutIfGen stores v under k unless an invalidation happened since gen was
// read; it reports whether it stored. A full map first evicts one entry.
func (c *Map[V]) PutIfGen(k string, v V, gen uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		c.evict()
	}
	c.m[k] = &item[V]{v: v}
	return true
}

// evict removes one entry not used since the last sweep, or else the last
// of the sampled ones. Called with mu held.
func (c *Map[V]) evict() {
	var last string
	n := 0
	for k, it := range c.m {
		if !it.used.Load() {
			delete(c.m, k)
			return
		}
		it.used.Store(false)
		last = k
		if n++; n >= scan {
			break
		}
	}
	delete(c.m, last)
}

// Delete drops k and bumps the generation.
func (c *Map[V]) Delete(k string) {
	c.mu.Lock()
	delete(c.m, k)
	c.gen++
	c.mu.Unlock()
}

// Clear drops every entry and bumps the generation; it returns the keys
// that were cached.
func (c *Map[V]) Clear() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	c.m = map[string]*item[V]{}
	c.gen++
	return keys
}

// Len is the number of entries.
func (c *Map[V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
