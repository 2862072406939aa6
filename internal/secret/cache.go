package secret

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// Cache wraps a SecretStore so that Get is served from memory. Entries expire
// after ttl; writes through the Cache invalidate the project's entry at once.
// When a refresh fails because the backend is unavailable, the last known
// keyring keeps serving (stale), so a Vault outage does not stop /auth.
type Cache struct {
	SecretStore
	ttl    time.Duration
	log    *slog.Logger
	now    func() time.Time
	group  singleflight.Group
	mu     sync.RWMutex
	byProj map[string]cacheEntry
}

type cacheEntry struct {
	kr      *Keyring
	fetched time.Time
}

// NewCache wraps inner.
func NewCache(inner SecretStore, ttl time.Duration, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{SecretStore: inner, ttl: ttl, log: log, now: time.Now, byProj: map[string]cacheEntry{}}
}

// Get implements SecretStore from memory when fresh.
func (c *Cache) Get(ctx context.Context, projectID string) (*Keyring, error) {
	c.mu.RLock()
	e, ok := c.byProj[projectID]
	c.mu.RUnlock()
	if ok && c.now().Sub(e.fetched) < c.ttl {
		return e.kr, nil
	}
	v, err, _ := c.group.Do(projectID, func() (any, error) {
		kr, err := c.SecretStore.Get(context.WithoutCancel(ctx), projectID)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.byProj[projectID] = cacheEntry{kr: kr, fetched: c.now()}
		c.mu.Unlock()
		return kr, nil
	})
	if err != nil {
		if ok && errors.Is(err, apperr.ErrUnavailable) {
			c.log.Warn("secret store unavailable; serving cached secret", "project_id", projectID, "age", c.now().Sub(e.fetched).Round(time.Second).String(), "error", err.Error())
			return e.kr, nil
		}
		if errors.Is(err, apperr.ErrNotFound) {
			c.Invalidate(projectID)
		}
		return nil, err
	}
	return v.(*Keyring), nil
}

// Invalidate drops the project's entry.
func (c *Cache) Invalidate(projectID string) {
	c.mu.Lock()
	delete(c.byProj, projectID)
	c.mu.Unlock()
	c.group.Forget(projectID)
}

// Put implements SecretStore and invalidates the entry.
func (c *Cache) Put(ctx context.Context, projectID string, value []byte, opts WriteOptions) (Meta, error) {
	defer c.Invalidate(projectID)
	return c.SecretStore.Put(ctx, projectID, value, opts)
}

// Rotate implements SecretStore and invalidates the entry.
func (c *Cache) Rotate(ctx context.Context, projectID string, opts WriteOptions) (Meta, []byte, error) {
	defer c.Invalidate(projectID)
	return c.SecretStore.Rotate(ctx, projectID, opts)
}

// Delete implements SecretStore and invalidates the entry.
func (c *Cache) Delete(ctx context.Context, projectID string, actor string) error {
	defer c.Invalidate(projectID)
	return c.SecretStore.Delete(ctx, projectID, actor)
}
