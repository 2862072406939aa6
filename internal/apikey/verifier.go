package apikey

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
)

// ErrInvalidKey is returned for every failed key check (malformed, unknown,
// revoked, wrong project, wrong secret) so responses reveal nothing.
var ErrInvalidKey = apperr.Unauthorized("invalid API key")

// TouchEvery is the most often a key's last_used_at is written. It bounds
// the write load of the hot path: with 100k keys in use, once a minute was
// 1,700 row updates a second, measurably slowing minting
// (cmd/pingauth-bench-projects); a last use to within 5 minutes is what an
// operator needs to spot unused keys.
const TouchEvery = 5 * time.Minute

// TouchFlush is how long a key's use waits to be written with others.
const TouchFlush = 2 * time.Second

// touchChunk bounds the keys of one last_used_at statement.
const touchChunk = 500

// Verifier checks presented keys against an in-memory cache of key rows
// (an internal/cache.Cache named "api_keys": bounded, unknown ids cached
// too), so the server-mode hot path does no SQL. Entries are dropped at once
// when revoked through this Verifier or when a change event names the key;
// the cache's TTL is the safety net. last_used_at is written asynchronously,
// at most once per TouchEvery per key.
type Verifier struct {
	repo *Repo
	log  *slog.Logger
	now  func() time.Time

	entries *cache.Cache[*entry]
	// pending last uses, by use time (whole seconds): written together by
	// one background flush per TouchFlush, one statement per second of use
	// and chunk of touchChunk keys, instead of one UPDATE per key.
	pendMu     sync.Mutex
	pending    map[int64][]string
	flushing   bool
	flushEvery time.Duration // TouchFlush (tests lengthen it)
	touches    sync.WaitGroup
	closeMu    sync.RWMutex // guards closed against touches.Add racing Close
	closed     bool
	closing    chan struct{} // closed by Close: the pending flush runs at once
}

type entry struct { // fields ordered for size: 64 bytes, not 80 (one per cached key)
	projectID string
	hash      [32]byte
	lastTouch atomic.Int64 // unix nanos of the last last_used_at write
	found     bool
	revoked   bool
}

// NewVerifier returns a caching verifier; co sizes its cache (co.TTL bounds
// how long a revocation that no event reported may take to be seen here).
func NewVerifier(repo *Repo, log *slog.Logger, co cache.Options) *Verifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{repo: repo, log: log, now: time.Now, closing: make(chan struct{}), flushEvery: TouchFlush}
	co.Name = "api_keys"
	if co.Now == nil {
		co.Now = func() time.Time { return v.now() }
	}
	v.entries = cache.New[*entry](co)
	return v
}

// Cache is the verifier's cache (metrics).
func (v *Verifier) Cache() *cache.Cache[*entry] { return v.entries }

// Repo returns the underlying repository.
func (v *Verifier) Repo() *Repo { return v.repo }

// Verify checks that presented is an active key of projectID and returns its id.
// A key loaded into the cache keeps projectID (when it is the key's project)
// instead of its own copy: pass a project's own id, not a substring of a
// request.
func (v *Verifier) Verify(ctx context.Context, projectID, presented string) (string, error) {
	id, ok := ParseID(presented)
	if !ok {
		return "", ErrInvalidKey
	}
	e, err := v.lookup(ctx, id, projectID)
	if err != nil {
		return "", err
	}
	// Always hash, whatever the entry, so timing says little about existence.
	match := equalHash(presented, e.hash)
	if !e.found || !match || e.revoked || e.projectID != projectID {
		return "", ErrInvalidKey
	}
	v.touch(id, e)
	return id, nil
}

func (v *Verifier) lookup(ctx context.Context, id, projectID string) (*entry, error) {
	return v.entries.Get(ctx, id, func(ctx context.Context) (*entry, error) {
		k, err := v.repo.Get(ctx, id)
		ne := &entry{}
		switch {
		case errors.Is(err, apperr.ErrNotFound):
		case err != nil:
			return nil, apperr.Unavailable("API key store unavailable; try again later", err)
		default:
			h, okh := hashBytes(k.SecretHash)
			ne.found = okh
			ne.hash = h
			ne.projectID = k.ProjectID
			if k.ProjectID == projectID {
				ne.projectID = projectID // the cached project's copy: one per project, not one per key too
			}
			ne.revoked = k.RevokedAt != nil
			if k.LastUsedAt != nil {
				ne.lastTouch.Store(k.LastUsedAt.UnixNano())
			}
		}
		return ne, nil
	})
}

// touch writes last_used_at in the background when the last write is older
// than TouchEvery; concurrent requests race on a CAS so only one writes.
func (v *Verifier) touch(id string, e *entry) {
	now := v.now()
	last := e.lastTouch.Load()
	if now.UnixNano()-last < int64(TouchEvery) {
		return
	}
	if !e.lastTouch.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	v.closeMu.RLock()
	defer v.closeMu.RUnlock()
	if v.closed {
		return
	}
	sec := now.Truncate(time.Second).Unix()
	v.pendMu.Lock()
	if v.pending == nil {
		v.pending = map[int64][]string{}
	}
	v.pending[sec] = append(v.pending[sec], id)
	start := !v.flushing
	v.flushing = true
	v.pendMu.Unlock()
	if start {
		v.touches.Add(1)
		go v.flushLater()
	}
}

// flushLater writes the pending last uses after TouchFlush (or at once
// when the Verifier is closing).
func (v *Verifier) flushLater() {
	defer v.touches.Done()
	t := time.NewTimer(v.flushEvery)
	select {
	case <-t.C:
	case <-v.closing:
		t.Stop()
	}
	v.flush()
}

// flush writes every pending last use.
func (v *Verifier) flush() {
	v.pendMu.Lock()
	batch := v.pending
	v.pending, v.flushing = nil, false
	v.pendMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for sec, ids := range batch {
		for len(ids) > 0 {
			n := min(len(ids), touchChunk)
			if err := v.repo.TouchMany(ctx, ids[:n], time.Unix(sec, 0)); err != nil {
				v.log.Warn("could not record API key use", "keys", n, "error", err.Error())
			}
			ids = ids[n:]
		}
	}
}

// Invalidate drops the cached entry of key id.
func (v *Verifier) Invalidate(id string) { v.entries.Invalidate(id) }

// InvalidateProject drops every cached key of projectID (the project was
// deleted: its keys went with it, and a project re-created under the same
// id must not accept them for the cache's TTL). It returns how many it
// dropped.
func (v *Verifier) InvalidateProject(projectID string) int {
	return v.entries.InvalidateFunc(func(_ string, e *entry) bool { return e.projectID == projectID })
}

// InvalidateAll drops every cached entry.
func (v *Verifier) InvalidateAll() { v.entries.InvalidateAll() }

// Revoke revokes a key and drops it from the cache at once.
func (v *Verifier) Revoke(ctx context.Context, projectID, id, actor string) (*Key, error) {
	k, err := v.repo.Revoke(ctx, projectID, id, actor)
	if err == nil {
		v.Invalidate(id)
	}
	return k, err
}

// Close writes the pending last uses and waits for the write.
func (v *Verifier) Close() {
	v.closeMu.Lock()
	if !v.closed {
		v.closed = true
		close(v.closing)
	}
	v.closeMu.Unlock()
	v.touches.Wait()
}

// FlushTouches writes the pending last uses now (tests, shutdown).
func (v *Verifier) FlushTouches() { v.flush() }
