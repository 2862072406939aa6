package apikey

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// ErrInvalidKey is returned for every failed key check (malformed, unknown,
// revoked, wrong project, wrong secret) so responses reveal nothing.
var ErrInvalidKey = apperr.Unauthorized("invalid API key")

// TouchEvery is the most often a key's last_used_at is written.
const TouchEvery = time.Minute

// maxEntries bounds the cache (unknown ids are cached too).
const maxEntries = 100_000

// Verifier checks presented keys against an in-memory cache of key rows, so
// the server-mode hot path does no SQL: entries live for ttl and are dropped
// at once when revoked through this Verifier. last_used_at is written
// asynchronously, at most once per TouchEvery per key.
type Verifier struct {
	repo *Repo
	ttl  time.Duration
	log  *slog.Logger
	now  func() time.Time

	mu      sync.RWMutex
	entries map[string]*entry
	gen     uint64 // bumped by every invalidation: a load started before one does not store
	group   singleflight.Group
	touches sync.WaitGroup
	closeMu sync.RWMutex // guards closed against touches.Add racing Close
	closed  bool
}

type entry struct {
	found     bool
	projectID string
	revoked   bool
	hash      [32]byte
	fetched   time.Time
	lastTouch atomic.Int64 // unix nanos of the last last_used_at write
}

// NewVerifier returns a caching verifier; ttl bounds how long another
// process's revocation may take to be seen here.
func NewVerifier(repo *Repo, ttl time.Duration, log *slog.Logger) *Verifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Verifier{repo: repo, ttl: ttl, log: log, now: time.Now, entries: map[string]*entry{}}
}

// Repo returns the underlying repository.
func (v *Verifier) Repo() *Repo { return v.repo }

// Verify checks that presented is an active key of projectID and returns its id.
func (v *Verifier) Verify(ctx context.Context, projectID, presented string) (string, error) {
	id, ok := ParseID(presented)
	if !ok {
		return "", ErrInvalidKey
	}
	e, err := v.lookup(ctx, id)
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

func (v *Verifier) lookup(ctx context.Context, id string) (*entry, error) {
	now := v.now()
	v.mu.RLock()
	e, ok := v.entries[id]
	v.mu.RUnlock()
	if ok && now.Sub(e.fetched) < v.ttl {
		return e, nil
	}
	res, err, _ := v.group.Do(id, func() (any, error) {
		v.mu.RLock()
		gen := v.gen
		v.mu.RUnlock()
		k, err := v.repo.Get(context.WithoutCancel(ctx), id)
		ne := &entry{fetched: v.now()}
		switch {
		case errors.Is(err, apperr.ErrNotFound):
		case err != nil:
			return nil, apperr.Unavailable("API key store unavailable; try again later", err)
		default:
			h, okh := hashBytes(k.SecretHash)
			ne.found = okh
			ne.hash = h
			ne.projectID = k.ProjectID
			ne.revoked = k.RevokedAt != nil
			if k.LastUsedAt != nil {
				ne.lastTouch.Store(k.LastUsedAt.UnixNano())
			}
		}
		if ok { // keep the touch clock across refreshes
			if lt := e.lastTouch.Load(); lt > ne.lastTouch.Load() {
				ne.lastTouch.Store(lt)
			}
		}
		v.mu.Lock()
		if len(v.entries) >= maxEntries {
			v.entries = map[string]*entry{}
		}
		if v.gen == gen {
			v.entries[id] = ne
		}
		v.mu.Unlock()
		return ne, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*entry), nil
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
	v.touches.Add(1)
	go func() {
		defer v.touches.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := v.repo.Touch(ctx, id, now); err != nil {
			v.log.Warn("could not record API key use", "key_id", id, "error", err.Error())
		}
	}()
}

// Invalidate drops the cached entry of key id.
func (v *Verifier) Invalidate(id string) {
	v.mu.Lock()
	delete(v.entries, id)
	v.gen++
	v.mu.Unlock()
	v.group.Forget(id)
}

// InvalidateAll drops every cached entry.
func (v *Verifier) InvalidateAll() {
	v.mu.Lock()
	for id := range v.entries {
		v.group.Forget(id)
	}
	v.entries = map[string]*entry{}
	v.gen++
	v.mu.Unlock()
}

// Revoke revokes a key and drops it from the cache at once.
func (v *Verifier) Revoke(ctx context.Context, projectID, id, actor string) (*Key, error) {
	k, err := v.repo.Revoke(ctx, projectID, id, actor)
	if err == nil {
		v.Invalidate(id)
	}
	return k, err
}

// Close waits for pending last_used_at writes.
func (v *Verifier) Close() {
	v.closeMu.Lock()
	v.closed = true
	v.closeMu.Unlock()
	v.touches.Wait()
}
