package secret_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

const cacheTTL = time.Minute

// cacheRig is a Cache over a Manager over a counting, switchable sealed
// backend, with a fake clock for the cache.
type cacheRig struct {
	*secrettest.Harness
	count   *secrettest.Counting
	switch_ *secrettest.Switchable
	cache   *secret.Cache
	mu      sync.Mutex
	now     time.Time
}

func (r *cacheRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *cacheRig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func newCacheRig(t *testing.T, backend func(t *testing.T, db *store.DB) secret.Backend) *cacheRig {
	t.Helper()
	db := storetest.Open(t, store.SQLite)
	sw := &secrettest.Switchable{Backend: backend(t, db)}
	cnt := &secrettest.Counting{Backend: sw}
	r := &cacheRig{count: cnt, switch_: sw, now: time.Now()}
	r.Harness = secrettest.NewHarness(t, secrettest.Env{DB: db, Backend: cnt}, time.Hour)
	r.cache = secret.NewCache(r.Manager, cacheTTL, nil, secret.WithCacheClock(r.clock), secret.WithRefreshRetry(10*time.Second))
	t.Cleanup(func() { _ = r.cache.Close() })
	return r
}

func sealedFor(t *testing.T, db *store.DB) secret.Backend { return newSealed(t, db) }

func (r *cacheRig) current(t *testing.T) int {
	t.Helper()
	kr, err := r.cache.Get(context.Background(), r.ProjectID)
	if err != nil {
		t.Fatalf("cache Get: %v", err)
	}
	return kr.Current.Version
}

func TestCacheHitDoesNotTouchBackend(t *testing.T) {
	t.Parallel()
	r := newCacheRig(t, sealedFor)
	ctx := context.Background()
	if _, err := r.cache.Put(ctx, r.ProjectID, secrettest.Value(32), secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.current(t)
	reads := r.count.Reads.Load()
	if reads == 0 {
		t.Fatal("the first Get did not read the backend")
	}
	for range 200 {
		if v := r.current(t); v != 1 {
			t.Fatalf("version %d", v)
		}
	}
	r.advance(cacheTTL - time.Second)
	r.current(t)
	if got := r.count.Reads.Load(); got != reads {
		t.Errorf("cache hits read the backend %d more times", got-reads)
	}
}

func TestCacheInvalidatesOnWrites(t *testing.T) {
	t.Parallel()
	r := newCacheRig(t, sealedFor)
	ctx := context.Background()
	if _, _, err := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if v := r.current(t); v != 1 {
		t.Fatalf("version %d", v)
	}
	// A write that bypasses the cache is not seen before the TTL: it is the
	// cache that serves.
	if _, _, err := r.Manager.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if v := r.current(t); v != 1 {
		t.Fatalf("uncached write visible at once (v%d): cache not in use", v)
	}
	steps := []struct {
		name  string
		write func() error
		want  int
	}{
		{"rotate", func() error { _, _, err := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); return err }, 3},
		{"put", func() error {
			_, err := r.cache.Put(ctx, r.ProjectID, secrettest.Value(20), secret.WriteOptions{})
			return err
		}, 4},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if v := r.current(t); v != s.want {
			t.Errorf("after %s through the cache, current is v%d, want v%d", s.name, v, s.want)
		}
	}
	if err := r.cache.Delete(ctx, r.ProjectID, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.cache.Get(ctx, r.ProjectID); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func TestCacheTTLExpiryRefreshes(t *testing.T) {
	t.Parallel()
	r := newCacheRig(t, sealedFor)
	ctx := context.Background()
	if _, _, err := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.current(t)
	// A rotation by another instance (the CLI, another replica) bypasses this cache.
	if _, _, err := r.Manager.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	reads := r.count.Reads.Load()
	r.advance(cacheTTL - time.Second)
	if v := r.current(t); v != 1 || r.count.Reads.Load() != reads {
		t.Fatalf("before the TTL: v%d, %d backend reads", v, r.count.Reads.Load()-reads)
	}
	r.advance(time.Second)
	// Expired: the first request waits for the (fast) refresh and sees v2.
	if v := r.current(t); v != 2 {
		t.Errorf("after the TTL: v%d, want v2", v)
	}
	if r.count.Reads.Load() == reads {
		t.Fatal("expired entry was not refreshed from the backend")
	}
	reads = r.count.Reads.Load()
	for range 20 {
		r.current(t)
	}
	if got := r.count.Reads.Load(); got != reads {
		t.Errorf("refreshed entry is not cached again (%d reads)", got-reads)
	}
	// Deleted behind the cache's back: the refresh drops the entry.
	if err := r.Manager.Delete(ctx, r.ProjectID, "ops"); err != nil {
		t.Fatal(err)
	}
	r.advance(cacheTTL)
	if _, err := r.cache.Get(ctx, r.ProjectID); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("after the secret was deleted: %v, want ErrNotFound", err)
	}
}

func TestCacheSlowRefreshServesCachedKeyringAfterBoundedWait(t *testing.T) {
	t.Parallel()
	var blk *blockingBackend
	r := newCacheRig(t, func(t *testing.T, db *store.DB) secret.Backend {
		blk = &blockingBackend{Backend: newSealed(t, db)}
		return blk
	})
	r.cache = secret.NewCache(r.Manager, cacheTTL, nil, secret.WithCacheClock(r.clock), secret.WithRefreshWait(300*time.Millisecond))
	t.Cleanup(func() { _ = r.cache.Close() })
	ctx := context.Background()
	if _, _, err := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.current(t)
	if _, _, err := r.Manager.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	entered, release := blk.arm() // the backend hangs
	r.advance(cacheTTL)
	start := time.Now()
	if v := r.current(t); v != 1 {
		t.Errorf("with a hanging backend: v%d, want the cached v1", v)
	}
	<-entered
	// Requests during the hung refresh do not start another one.
	for range 10 {
		if v := r.current(t); v != 1 {
			t.Fatalf("v%d", v)
		}
	}
	// One bounded wait (300ms) in all, not one per request (11 x 300ms).
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("11 requests took %s with a hung backend: each one waited", d)
	}
	close(release)
	_ = r.cache.Close() // the refresh completes in the background
	if v := r.current(t); v != 2 {
		t.Errorf("after the slow refresh finished: v%d, want v2", v)
	}
}

func TestCacheServesStaleWhileBackendIsDown(t *testing.T) {
	t.Parallel()
	r := newCacheRig(t, sealedFor)
	ctx := context.Background()
	other := r.AddProject(t)
	for _, p := range []string{r.ProjectID, other} {
		if _, _, err := r.cache.Rotate(ctx, p, secret.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r.current(t)
	r.switch_.SetDown(true)

	r.advance(cacheTTL + time.Second)
	for range 50 {
		if v := r.current(t); v != 1 {
			t.Fatalf("v%d", v)
		}
	}
	_ = r.cache.Close()
	reads := r.count.Reads.Load()
	if reads == 0 {
		t.Fatal("no refresh was attempted")
	}
	// Within the retry interval nobody calls the dead backend again.
	r.advance(5 * time.Second)
	for range 50 {
		r.current(t)
	}
	_ = r.cache.Close()
	if got := r.count.Reads.Load(); got != reads {
		t.Errorf("%d backend calls during the retry interval", got-reads)
	}
	// A project that was never cached cannot be served: 503.
	r.cache.Invalidate(other)
	_, err := r.cache.Get(ctx, other)
	if status, _ := httpkit.Status(err); !errors.Is(err, apperr.ErrUnavailable) || status != http.StatusServiceUnavailable {
		t.Errorf("cold Get with backend down = %v (status %d), want ErrUnavailable / 503", err, status)
	}

	// Back up: the next attempt after the retry interval refreshes.
	r.switch_.SetDown(false)
	if _, _, err := r.Manager.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.advance(6 * time.Second)
	r.current(t)
	_ = r.cache.Close()
	if v := r.current(t); v != 2 {
		t.Errorf("after recovery current is v%d, want v2", v)
	}
}

func TestCacheWritesFailWith503AndKeepServingWhileBackendIsDown(t *testing.T) {
	t.Parallel()
	r := newCacheRig(t, sealedFor)
	ctx := context.Background()
	_, first, err := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.current(t)
	r.switch_.SetDown(true)
	reads := r.count.Reads.Load()

	_, _, rotErr := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{Actor: "ops"})
	_, putErr := r.cache.Put(ctx, r.ProjectID, secrettest.Value(30), secret.WriteOptions{Actor: "ops"})
	for name, err := range map[string]error{"rotate": rotErr, "put": putErr} {
		if !errors.Is(err, apperr.ErrUnavailable) {
			t.Errorf("%s with backend down = %v, want ErrUnavailable", name, err)
		}
	}
	// The cached keyring survives the failed writes: /auth keeps working.
	kr, err := r.cache.Get(ctx, r.ProjectID)
	if err != nil || kr.Current.Version != 1 || !bytes.Equal(kr.Current.Value, first) {
		t.Fatalf("Get after failed writes = %v, %v", kr, err)
	}
	if got := r.count.Reads.Load(); got != reads {
		t.Errorf("failed writes dropped the cache entry (%d backend reads)", got-reads)
	}
	if vs, _ := r.Manager.Versions(ctx, r.ProjectID); len(vs) != 1 {
		t.Errorf("failed writes left metadata: %+v", vs)
	}

	// Through the one status mapping an HTTP handler uses: 503 with a clear,
	// secret-free message.
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.POST("/rotate", func(c *gin.Context) { httpkit.WriteError(c, nil, rotErr) })
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/rotate", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", w.Code)
	}
	var body httpkit.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Code != "unavailable" || !strings.Contains(body.Error.Message, "secret store unavailable") {
		t.Errorf("body = %s", w.Body.String())
	}
	if strings.Contains(w.Body.String(), string(first)) || strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Errorf("error body leaks internals: %s", w.Body.String())
	}
}

// blockingBackend blocks Read while armed.
type blockingBackend struct {
	secret.Backend
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (b *blockingBackend) arm() (entered, release chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gate, b.entered = make(chan struct{}), make(chan struct{}, 1)
	return b.entered, b.gate
}

func (b *blockingBackend) Read(ctx context.Context, projectID string, version int) ([]byte, error) {
	b.mu.Lock()
	gate, entered := b.gate, b.entered
	b.gate, b.entered = nil, nil
	b.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		<-gate
	}
	return b.Backend.Read(ctx, projectID, version)
}

func TestCacheDoesNotStoreALoadThatRacedARotation(t *testing.T) {
	t.Parallel()
	var blk *blockingBackend
	r := newCacheRig(t, func(t *testing.T, db *store.DB) secret.Backend {
		blk = &blockingBackend{Backend: newSealed(t, db)}
		return blk
	})
	ctx := context.Background()
	if _, _, err := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	entered, release := blk.arm()
	done := make(chan int)
	go func() {
		kr, err := r.cache.Get(ctx, r.ProjectID)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		done <- kr.Current.Version
	}()
	<-entered // the load has read v1's metadata and is reading its value
	if _, _, err := r.cache.Rotate(ctx, r.ProjectID, secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if v := <-done; v != 1 {
		t.Fatalf("racing load returned v%d, want v1", v)
	}
	if v := r.current(t); v != 2 {
		t.Errorf("after the rotation the cache serves v%d, want v2 (a pre-rotation load was stored)", v)
	}
}

// BenchmarkCacheHit is the /auth hot path's secret lookup.
func BenchmarkCacheHit(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	cnt := &secrettest.Counting{Backend: newSealed(b, db)}
	h := secrettest.NewHarness(b, secrettest.Env{DB: db, Backend: cnt}, time.Hour)
	c := secret.NewCache(h.Manager, time.Hour, nil)
	ctx := context.Background()
	if _, _, err := c.Rotate(ctx, h.ProjectID, secret.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Get(ctx, h.ProjectID); err != nil {
		b.Fatal(err)
	}
	reads := cnt.Reads.Load()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(ctx, h.ProjectID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if cnt.Reads.Load() != reads {
		b.Fatal("cache hits read the backend")
	}
}

// A rotation made by another process (the CLI, another replica) reaches this
// process's cache within the version-check interval, without a backend read
// per request: the check queries only SQL metadata.
func TestCacheNoticesRotationByAnotherProcess(t *testing.T) {
	t.Parallel()
	r := newCacheRig(t, sealedFor)
	ctx := context.Background()
	checked := secret.NewCache(r.Manager, cacheTTL, nil, secret.WithCacheClock(r.clock), secret.WithVersionCheck(r.Manager, 2*time.Second))
	t.Cleanup(func() { _ = checked.Close() })
	if _, err := r.cache.Put(ctx, r.ProjectID, secrettest.Value(32), secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := r.current(t)
	if kr, err := checked.Get(ctx, r.ProjectID); err != nil || kr.Current.Version != before {
		t.Fatalf("warm checked cache: %v %v", kr, err)
	}
	// "Another process": rotate through the Manager, bypassing both caches.
	if _, _, err := r.Manager.Rotate(ctx, r.ProjectID, secret.WriteOptions{Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	if kr, _ := checked.Get(ctx, r.ProjectID); kr.Current.Version != before {
		t.Fatal("version checked before the interval elapsed")
	}
	r.advance(3 * time.Second)
	_, _ = checked.Get(ctx, r.ProjectID) // due: starts the background check
	_ = checked.Close()                  // wait for it
	if kr, _ := checked.Get(ctx, r.ProjectID); kr.Current.Version != before+1 {
		t.Fatalf("checked cache still on v%d after another process rotated to v%d", kr.Current.Version, before+1)
	}
	if got := r.current(t); got != before {
		t.Fatalf("cache without version check changed too (v%d): the test does not isolate the check", got)
	}
	// Unchanged version: the check costs no backend read.
	reads := r.count.Reads.Load()
	r.advance(3 * time.Second)
	_, _ = checked.Get(ctx, r.ProjectID)
	_ = checked.Close()
	if r.count.Reads.Load() != reads {
		t.Fatalf("an unchanged version check read the backend (%d reads)", r.count.Reads.Load()-reads)
	}
}

// TestVersionCheckSkippedWhileInformed: while the change feed says this
// process is told of every write (a connected listener), the per-project
// version check does not run; when the feed stops, it resumes.
func TestVersionCheckSkippedWhileInformed(t *testing.T) {
	t.Parallel()
	r := newCacheRig(t, sealedFor)
	ctx := context.Background()
	var informed atomic.Bool
	informed.Store(true)
	checked := secret.NewCache(r.Manager, cacheTTL, nil, secret.WithCacheClock(r.clock), secret.WithVersionCheck(r.Manager, 2*time.Second),
		secret.WithChangeFeed(informed.Load))
	t.Cleanup(func() { _ = checked.Close() })
	if _, err := r.cache.Put(ctx, r.ProjectID, secrettest.Value(32), secret.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := r.current(t)
	if _, err := checked.Get(ctx, r.ProjectID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Manager.Rotate(ctx, r.ProjectID, secret.WriteOptions{Actor: "other"}); err != nil {
		t.Fatal(err)
	}
	r.advance(3 * time.Second)
	_, _ = checked.Get(ctx, r.ProjectID)
	_ = checked.Close()
	if kr, _ := checked.Get(ctx, r.ProjectID); kr.Current.Version != before {
		t.Fatalf("version checked while informed (now v%d): the events make it redundant", kr.Current.Version)
	}
	informed.Store(false) // listener lost: checks resume
	r.advance(3 * time.Second)
	_, _ = checked.Get(ctx, r.ProjectID)
	_ = checked.Close()
	if kr, _ := checked.Get(ctx, r.ProjectID); kr.Current.Version != before+1 {
		t.Fatalf("after the feed stopped the cache is still on v%d, want v%d", kr.Current.Version, before+1)
	}
}
