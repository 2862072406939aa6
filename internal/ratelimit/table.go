package ratelimit

import (
	"hash/maphash"
	"sync"
)

const shardCount = 16

// table is a bounded, sharded map from string keys to V with least recently
// used eviction. Each shard has its own lock, so unrelated keys rarely contend.
type table[V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [shardCount]shard[V]
}

type shard[V any] struct {
	mu         sync.Mutex
	m          map[string]*entry[V]
	head, tail *entry[V] // head: most recently used
}

type entry[V any] struct {
	key        string
	val        V
	prev, next *entry[V]
}

func newTable[V any](maxKeys int) *table[V] {
	if maxKeys < shardCount {
		maxKeys = shardCount
	}
	t := &table[V]{seed: maphash.MakeSeed(), perShard: maxKeys / shardCount}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*entry[V])
	}
	return t
}

// with runs fn on key's value under the shard lock, creating a zero value
// (fresh=true) when absent and evicting the least recently used entry of the
// shard when it is full. fn returns false to delete the entry afterwards.
func (t *table[V]) with(key string, fn func(v *V, fresh bool) (keep bool)) {
	s := &t.shards[maphash.String(t.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		if len(s.m) >= t.perShard && s.tail != nil {
			old := s.tail
			s.unlink(old)
			delete(s.m, old.key)
		}
		e = &entry[V]{key: key}
		s.m[key] = e
	} else {
		s.unlink(e)
	}
	if fn(&e.val, !ok) {
		s.pushFront(e)
		return
	}
	delete(s.m, key)
}

// peek runs fn on key's value if present, without creating or reordering.
func (t *table[V]) peek(key string, fn func(v *V)) bool {
	s := &t.shards[maphash.String(t.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if ok {
		fn(&e.val)
	}
	return ok
}

func (t *table[V]) delete(key string) {
	s := &t.shards[maphash.String(t.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok {
		s.unlink(e)
		delete(s.m, key)
	}
}

// len counts entries (for tests and metrics).
func (t *table[V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (s *shard[V]) unlink(e *entry[V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if s.head == e {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if s.tail == e {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *shard[V]) pushFront(e *entry[V]) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}
