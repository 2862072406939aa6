package secret

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// KeyringLoader loads one keyring from its store: SecretStore.Get for the
// projects' shared secrets, or any other secret kept in a Backend and
// versioned in SQL (internal/idp loads the exchange-mode HS secret).
type KeyringLoader interface {
	Get(ctx context.Context, id string) (*Keyring, error)
}

// KeyringCache serves keyrings from memory so that the /auth hot path calls
// the backend at most once per id per ttl, never per request.
//
//   - A cold entry (first use, or after invalidation) is loaded synchronously,
//     with concurrent loads of one id merged into one.
//   - An entry older than ttl is refreshed by one background load; requests
//     wait for it until refreshWait (default 250ms) after it started, then
//     get the cached keyring, so a slow or dead backend adds at most
//     refreshWait of latency once per refresh, not per request.
//   - When the refresh fails (Vault down, database down) the cached keyring
//     keeps serving and the next refresh is tried after retry (default 10s);
//     only "not found" (the secret was deleted) drops the entry.
//   - Writers call InvalidateAfter (or Invalidate) once a write may have
//     changed anything; a write that fails as unavailable changed nothing, so
//     the cached keyring stays for the hot path.
//   - Writes made by another process (the CLI, another replica) are noticed
//     through a VersionChecker: at most every checkEvery a background query
//     compares the current version in SQL metadata (never the backend) with
//     the cached one and reloads on a difference. Pingstreams revokes the old
//     shared secret as soon as a new one is generated, so signing with a
//     stale secret for a whole ttl is not acceptable.
type KeyringCache struct {
	load           KeyringLoader
	versions       VersionChecker
	checkEvery     time.Duration
	ttl            time.Duration
	retry          time.Duration
	refreshWait    time.Duration
	refreshTimeout time.Duration
	log            *slog.Logger
	now            func() time.Time
	// informed, when set and true, means another mechanism (change events)
	// reports every write at once: the version check is skipped, and
	// entries are refreshed after informedTTL (when longer than ttl).
	informed    func() bool
	informedTTL time.Duration
	// maxEntries bounds byProj (0: unbounded).
	maxEntries int

	group singleflight.Group
	wg    sync.WaitGroup
	mu    sync.RWMutex
	// byProj holds cached keyrings. A background check or refresh stores
	// only while its entry is still the one in byProj (an invalidation
	// removes it), and a cold load only when no invalidation of its id ran
	// while it was in flight (loading: the cold loads in flight, by id;
	// nothing is kept per id once a load ends, so ids that come and go
	// leave nothing behind).
	byProj  map[string]*cacheEntry
	loading map[string]*coldLoad
}

// coldLoad is one cold load in flight; stale is set (under mu) when the id
// is invalidated meanwhile.
type coldLoad struct{ stale bool }

// Cache wraps a SecretStore so that Get is served from memory by a
// KeyringCache (see there) and the writes Put, Rotate and Delete drop the
// project's entry once they may have changed anything.
type Cache struct {
	SecretStore
	keys *KeyringCache
}

type cacheEntry struct {
	kr      *Keyring
	fetched int64 // c.now() in unix nanoseconds (int64, not time.Time: 100k of these are cached)
	checked int64
	// refreshing is closed when the running background check or refresh ends
	// (nil: none runs); requests wait for a refresh of an expired entry until
	// waitUntil (wall clock) at the latest.
	refreshing chan struct{}
	waitUntil  int64 // wall clock, unix nanoseconds
	nextTry    int64
}

// VersionChecker reports an id's current secret version from metadata
// (implemented by *Manager with one SQL query; it never reads the value).
type VersionChecker interface {
	CurrentVersion(ctx context.Context, projectID string) (int, error)
}

// WithVersionCheck makes the Cache compare the cached version with vc at
// most every interval and reload when another process changed it.
func WithVersionCheck(vc VersionChecker, interval time.Duration) CacheOption {
	return func(c *KeyringCache) {
		if interval > 0 {
			c.versions, c.checkEvery = vc, interval
		}
	}
}

// WithChangeFeed skips the version check while informed() is true: the
// process is told of every secret write at once (internal/events on
// PostgreSQL, while its listener is connected), so the check would only
// repeat what the events say. When informed() turns false (listener
// disconnected) the checks resume.
func WithChangeFeed(informed func() bool) CacheOption {
	return func(c *KeyringCache) { c.informed = informed }
}

// WithInformedTTL refreshes entries after d instead of the cache's ttl
// while the change feed of WithChangeFeed reports every write (the refresh
// is then a safety net; PINGAUTH_CACHE_SAFETY_TTL).
func WithInformedTTL(d time.Duration) CacheOption {
	return func(c *KeyringCache) { c.informedTTL = d }
}

// WithMaxEntries bounds the number of cached keyrings (PINGAUTH_CACHE_ENTRIES):
// a full cache evicts an idle entry (one without a running refresh) before
// storing a new one.
func WithMaxEntries(n int) CacheOption { return func(c *KeyringCache) { c.maxEntries = n } }

// maxAge is the age after which an entry is refreshed.
func (c *KeyringCache) maxAge() time.Duration {
	if c.informedTTL > c.ttl && c.informed != nil && c.informed() {
		return c.informedTTL
	}
	return c.ttl
}

// evictIdle drops one entry without a running refresh (called with mu
// held; Go's map iteration starts at a random entry, so the victim is a
// random idle one).
func (c *KeyringCache) evictIdle() {
	for id, e := range c.byProj {
		if e.refreshing == nil { // a cold load of id may still store: it read current data
			delete(c.byProj, id)
			return
		}
	}
}

// Len is the number of cached keyrings.
func (c *KeyringCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byProj)
}

// CacheOption configures a KeyringCache (and so a Cache).
type CacheOption func(*KeyringCache)

// WithCacheClock replaces time.Now (tests).
func WithCacheClock(now func() time.Time) CacheOption { return func(c *KeyringCache) { c.now = now } }

// WithRefreshRetry sets how long a failed background refresh waits before the
// next attempt (default 10s).
func WithRefreshRetry(d time.Duration) CacheOption { return func(c *KeyringCache) { c.retry = d } }

// WithRefreshWait sets how long requests wait for the refresh of an expired
// entry before they are served the cached keyring (default 250ms; 0: never).
func WithRefreshWait(d time.Duration) CacheOption { return func(c *KeyringCache) { c.refreshWait = d } }

// NewCache wraps inner; entries are refreshed after ttl.
func NewCache(inner SecretStore, ttl time.Duration, log *slog.Logger, opts ...CacheOption) *Cache {
	return &Cache{SecretStore: inner, keys: NewKeyringCache(inner, ttl, log, opts...)}
}

// NewKeyringCache caches what l loads; entries are refreshed after ttl.
func NewKeyringCache(l KeyringLoader, ttl time.Duration, log *slog.Logger, opts ...CacheOption) *KeyringCache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &KeyringCache{
		load:           l,
		ttl:            ttl,
		retry:          10 * time.Second,
		refreshWait:    250 * time.Millisecond,
		refreshTimeout: 30 * time.Second,
		log:            log,
		now:            time.Now,
		byProj:         map[string]*cacheEntry{},
		loading:        map[string]*coldLoad{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Get implements SecretStore from memory (see KeyringCache).
func (c *Cache) Get(ctx context.Context, projectID string) (*Keyring, error) {
	return c.keys.Get(ctx, projectID)
}

// Get returns the id's keyring from memory, loading it when cold (see
// KeyringCache). Errors are the loader's.
func (c *KeyringCache) Get(ctx context.Context, projectID string) (*Keyring, error) {
	c.mu.RLock()
	e, ok := c.byProj[projectID]
	if ok && c.now().UnixNano()-e.fetched < int64(c.maxAge()) {
		kr := e.kr
		due := c.versions != nil && e.refreshing == nil && c.now().UnixNano()-e.checked >= int64(c.checkEvery)
		c.mu.RUnlock()
		if due && c.informed != nil && c.informed() {
			due = false
		}
		if due {
			c.startCheck(projectID)
		}
		return kr, nil
	}
	c.mu.RUnlock()

	c.mu.Lock()
	e, ok = c.byProj[projectID]
	if ok {
		now := c.now().UnixNano()
		if now-e.fetched >= int64(c.maxAge()) && e.refreshing == nil && now >= e.nextTry {
			e.refreshing = make(chan struct{})
			e.waitUntil = time.Now().Add(c.refreshWait).UnixNano()
			c.wg.Add(1)
			go c.refresh(projectID, e, e.refreshing)
		}
		kr, wait, d := e.kr, e.refreshing, time.Duration(e.waitUntil-time.Now().UnixNano())
		c.mu.Unlock()
		if wait == nil || d <= 0 { // a slow refresh delays requests by refreshWait once, not each
			return kr, nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-wait:
		case <-t.C:
			return kr, nil // slow backend: serve what we have
		case <-ctx.Done():
			return kr, nil
		}
		c.mu.RLock()
		e2, ok := c.byProj[projectID]
		c.mu.RUnlock()
		if !ok { // deleted or invalidated meanwhile: load afresh
			return c.Get(ctx, projectID)
		}
		return e2.kr, nil
	}
	c.mu.Unlock()

	// The id is often a substring of the request line (a path parameter):
	// the stored keyring and its map key share one copy instead of pinning
	// the request.
	projectID = strings.Clone(projectID)
	v, err, _ := c.group.Do(projectID, func() (any, error) {
		c.mu.Lock()
		cl := &coldLoad{}
		c.loading[projectID] = cl
		c.mu.Unlock()
		kr, err := c.load.Get(context.WithoutCancel(ctx), projectID)
		c.mu.Lock()
		if c.loading[projectID] == cl {
			delete(c.loading, projectID)
		}
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		if !cl.stale {
			now := c.now()
			if c.maxEntries > 0 && len(c.byProj) >= c.maxEntries {
				c.evictIdle()
			}
			c.byProj[projectID] = &cacheEntry{kr: kr, fetched: now.UnixNano(), checked: now.UnixNano()}
		}
		c.mu.Unlock()
		return kr, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Keyring), nil
}

// startCheck launches one background version check for the project.
func (c *KeyringCache) startCheck(projectID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byProj[projectID]
	now := c.now().UnixNano()
	if !ok || e.refreshing != nil || now-e.checked < int64(c.checkEvery) {
		return // another request got here first
	}
	e.checked = now
	e.refreshing = make(chan struct{}) // waitUntil stays zero: nobody waits for a check
	c.wg.Add(1)
	go c.check(projectID, e, e.kr.Current.Version, e.refreshing)
}

// check compares the metadata's current version with the cached one and
// reloads the keyring when they differ (or drops it when the secret is gone).
func (c *KeyringCache) check(projectID string, started *cacheEntry, cached int, done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), c.refreshTimeout)
	v, err := c.versions.CurrentVersion(ctx, projectID)
	cancel()
	if err == nil && v != cached || errors.Is(err, apperr.ErrNotFound) {
		c.refresh(projectID, started, done) // calls wg.Done and closes done
		return
	}
	defer c.wg.Done()
	defer close(done)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byProj[projectID]; ok && e == started {
		e.refreshing = nil
	}
	if err != nil {
		c.log.Warn("secret version check failed; serving cached secret", "project_id", projectID, "error", err.Error())
	}
}

// refresh reloads an entry in the background and closes done when finished.
func (c *KeyringCache) refresh(projectID string, started *cacheEntry, done chan struct{}) {
	defer c.wg.Done()
	defer close(done)
	ctx, cancel := context.WithTimeout(context.Background(), c.refreshTimeout)
	defer cancel()
	kr, err := c.load.Get(ctx, projectID)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byProj[projectID]
	if !ok || e != started {
		return // invalidated meanwhile: the next Get loads afresh
	}
	switch {
	case err == nil:
		now := c.now()
		c.byProj[projectID] = &cacheEntry{kr: kr, fetched: now.UnixNano(), checked: now.UnixNano()}
	case errors.Is(err, apperr.ErrNotFound):
		delete(c.byProj, projectID)
	default:
		e.refreshing = nil
		e.nextTry = c.now().Add(c.retry).UnixNano()
		c.log.Warn("secret refresh failed; serving cached secret",
			"project_id", projectID, "age", c.now().Sub(time.Unix(0, e.fetched)).Round(time.Second).String(), "error", err.Error())
	}
}

// Close waits for background refreshes to finish (the cache stays usable).
func (c *KeyringCache) Close() error {
	c.wg.Wait()
	return nil
}

// Invalidate drops the id's entry.
func (c *KeyringCache) Invalidate(projectID string) {
	c.mu.Lock()
	delete(c.byProj, projectID)
	if cl := c.loading[projectID]; cl != nil {
		cl.stale = true
	}
	c.mu.Unlock()
	c.group.Forget(projectID)
}

// InvalidateAll drops every entry.
func (c *KeyringCache) InvalidateAll() {
	c.mu.Lock()
	for id := range c.byProj {
		c.group.Forget(id)
	}
	for _, cl := range c.loading {
		cl.stale = true
	}
	c.byProj = map[string]*cacheEntry{}
	c.mu.Unlock()
}

// InvalidateAfter is for writers: it drops the entry after a write that
// succeeded or failed in a way that may have changed something, and keeps it
// when err says the store was unavailable (then nothing was written and the
// cached keyring must keep serving the hot path).
func (c *KeyringCache) InvalidateAfter(projectID string, err error) {
	if err == nil || !errors.Is(err, apperr.ErrUnavailable) {
		c.Invalidate(projectID)
	}
}

// Close waits for background refreshes to finish (the Cache stays usable).
func (c *Cache) Close() error { return c.keys.Close() }

// Invalidate drops the project's entry.
func (c *Cache) Invalidate(projectID string) { c.keys.Invalidate(projectID) }

// InvalidateAll drops every entry.
func (c *Cache) InvalidateAll() { c.keys.InvalidateAll() }

// Put implements SecretStore and invalidates the entry.
func (c *Cache) Put(ctx context.Context, projectID string, value []byte, opts WriteOptions) (Meta, error) {
	m, err := c.SecretStore.Put(ctx, projectID, value, opts)
	c.keys.InvalidateAfter(projectID, err)
	return m, err
}

// Rotate implements SecretStore and invalidates the entry.
func (c *Cache) Rotate(ctx context.Context, projectID string, opts WriteOptions) (Meta, []byte, error) {
	m, v, err := c.SecretStore.Rotate(ctx, projectID, opts)
	c.keys.InvalidateAfter(projectID, err)
	return m, v, err
}

// Delete implements SecretStore and invalidates the entry.
func (c *Cache) Delete(ctx context.Context, projectID string, actor string) error {
	err := c.SecretStore.Delete(ctx, projectID, actor)
	c.keys.InvalidateAfter(projectID, err)
	return err
}
