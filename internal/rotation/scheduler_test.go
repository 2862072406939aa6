package rotation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rotation"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// fakeTarget stands in for the admin service: no chat server. A rotation
// sets the project's last rotation to the clock.
type fakeTarget struct {
	mu      sync.Mutex
	now     func() time.Time
	last    map[string]time.Time
	rotated []string
	fail    error
	// block, when set, is waited on by the first rotation (entered is
	// closed when it starts).
	block, entered chan struct{}
	calls          atomic.Int32
}

func (f *fakeTarget) LastRotation(_ context.Context, id string) (*time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.last[id]; ok {
		return &t, nil
	}
	return nil, nil
}

func (f *fakeTarget) RotateScheduled(ctx context.Context, id string) error {
	if f.calls.Add(1) == 1 && f.block != nil {
		close(f.entered)
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.rotated = append(f.rotated, id)
	f.last[id] = f.now()
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(s string)        { c.mu.Lock(); defer c.mu.Unlock(); c.t = at(s) }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// seed creates tenant t1 with the projects and a 30-day 02–04 policy for
// each, last rotated at last.
func seed(t *testing.T, db *store.DB, last time.Time, ids ...string) (*rotation.Repo, *fakeTarget) {
	t.Helper()
	ctx := context.Background()
	pr := project.NewRepo(db)
	if _, err := pr.EnsureTenant(ctx, "t1", "T1"); err != nil {
		t.Fatal(err)
	}
	repo := rotation.NewRepo(db)
	ft := &fakeTarget{last: map[string]time.Time{}}
	for _, id := range ids {
		if err := pr.Create(ctx, &project.Project{ID: id, TenantID: "t1", Name: id, TokenTTLSeconds: 600}); err != nil {
			t.Fatal(err)
		}
		p := &rotation.Policy{ProjectID: id, EveryDays: 30, WindowStart: 2, WindowEnd: 4, UpdatedBy: "test", UpdatedAt: last}
		p.NextDueAt = p.DueAfter(last)
		if err := repo.Put(ctx, p); err != nil {
			t.Fatal(err)
		}
		ft.last[id] = last
	}
	return repo, ft
}

// TestSchedulerRotatesInTheWindowOnly drives the scheduler with a fake
// clock on both dialects: nothing before the due day or outside the
// window; inside it the project is rotated once, rescheduled 30 days on,
// and a second tick does nothing.
func TestSchedulerRotatesInTheWindowOnly(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{}
		repo, ft := seed(t, db, at("2026-11-01T10:00:00Z"), "p1")
		ft.now = clk.Now
		s := rotation.NewScheduler(rotation.Options{Store: repo, Target: ft, Now: clk.Now, ID: "a"})
		for _, now := range []string{"2026-11-20T03:00:00Z", "2026-12-01T10:00:00Z", "2026-12-02T01:59:00Z", "2026-12-02T04:00:00Z"} {
			clk.Set(now)
			if rep, err := s.Tick(ctx); err != nil || len(rep.Rotated) != 0 || len(ft.rotated) != 0 {
				t.Fatalf("%s: %+v %v, rotated %v", now, rep, err, ft.rotated)
			}
		}
		clk.Set("2026-12-03T02:30:00Z") // due since 12-01 10:00, window open
		rep, err := s.Tick(ctx)
		if err != nil || !slices.Equal(rep.Rotated, []string{"p1"}) || !slices.Equal(ft.rotated, []string{"p1"}) {
			t.Fatalf("in the window: %+v %v, rotated %v", rep, err, ft.rotated)
		}
		p, err := repo.Get(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if !p.NextDueAt.Equal(at("2027-01-02T02:30:00Z")) || p.LastOutcome != rotation.OutcomeOK || p.LastAttemptAt == nil || p.ClaimedUntil != nil {
			t.Fatalf("after the rotation: %+v", p)
		}
		clk.Add(10 * time.Minute)
		if rep, err := s.Tick(ctx); err != nil || len(rep.Rotated)+len(rep.Failed) != 0 || len(ft.rotated) != 1 {
			t.Fatalf("second tick: %+v %v %v", rep, err, ft.rotated)
		}
	})
}

// TestSchedulerFailureIsRecordedAndRetriedLater: a failure records the
// client-safe reason, is not retried before RetryAfter (no hot loop), and
// is retried after it; a project rotated by hand meanwhile is only
// rescheduled.
func TestSchedulerFailureIsRecordedAndRetriedLater(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{}
		clk.Set("2026-12-02T02:00:00Z")
		repo, ft := seed(t, db, at("2026-11-01T00:00:00Z"), "p1", "p2")
		ft.now = clk.Now
		ft.fail = apperr.Unavailable("the chat server could not be reached", context.DeadlineExceeded)
		s := rotation.NewScheduler(rotation.Options{Store: repo, Target: ft, Now: clk.Now, ID: "a", RetryAfter: 15 * time.Minute})
		rep, err := s.Tick(ctx)
		if err != nil || len(rep.Failed) != 2 {
			t.Fatalf("failing tick: %+v %v", rep, err)
		}
		p, _ := repo.Get(ctx, "p1")
		if p.LastOutcome != rotation.OutcomeFailed || p.LastError != "the chat server could not be reached" || !p.NextDueAt.Before(clk.Now()) {
			t.Fatalf("failure not recorded: %+v", p)
		}
		calls := ft.calls.Load()
		clk.Add(5 * time.Minute)
		if rep, err := s.Tick(ctx); err != nil || len(rep.Failed)+len(rep.Rotated) != 0 || ft.calls.Load() != calls {
			t.Fatalf("retried before RetryAfter: %+v %v", rep, err)
		}
		// p2 rotated by hand meanwhile; the chat server is back.
		ft.mu.Lock()
		ft.fail, ft.last["p2"] = nil, clk.Now()
		ft.mu.Unlock()
		clk.Add(11 * time.Minute)
		rep, err = s.Tick(ctx)
		if err != nil || !slices.Equal(rep.Rotated, []string{"p1"}) || !slices.Equal(rep.Rescheduled, []string{"p2"}) {
			t.Fatalf("retry: %+v %v", rep, err)
		}
		p, _ = repo.Get(ctx, "p1")
		if p.LastOutcome != rotation.OutcomeOK || p.LastError != "" {
			t.Fatalf("after the retry: %+v", p)
		}
		p2, _ := repo.Get(ctx, "p2")
		if want := p2.DueAfter(at("2026-12-02T02:05:00Z")); !p2.NextDueAt.Equal(want) || p2.LastOutcome != rotation.OutcomeFailed {
			t.Fatalf("p2 rescheduled to %v (want %v), outcome %s", p2.NextDueAt, want, p2.LastOutcome)
		}
	})
}

// openTwice opens the same fresh database twice, as two replicas do.
func openTwice(t *testing.T, d store.Dialect) (*store.DB, *store.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := store.Options{SQLitePath: filepath.Join(t.TempDir(), "pingauth.db")}
	if d == store.Postgres {
		o = store.Options{DatabaseURL: storetest.PostgresDSN(t)}
	}
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	return dbs[0], dbs[1]
}

// TestTwoSchedulersRotateADueProjectOnce: two schedulers (replicas, each
// with its own connection pool) on the same database tick while the first
// one is still rotating; the claim lets only one of them rotate the
// project. PostgreSQL and SQLite alike.
func TestTwoSchedulersRotateADueProjectOnce(t *testing.T) {
	for _, d := range []store.Dialect{store.Postgres, store.SQLite} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db1, db2 := openTwice(t, d)
			clk := &clock{}
			clk.Set("2026-12-02T02:30:00Z")
			repo, ft := seed(t, db1, at("2026-11-01T00:00:00Z"), "p1")
			ft.now, ft.block, ft.entered = clk.Now, make(chan struct{}), make(chan struct{})
			a := rotation.NewScheduler(rotation.Options{Store: repo, Target: ft, Now: clk.Now, ID: "replica-a"})
			b := rotation.NewScheduler(rotation.Options{Store: rotation.NewRepo(db2), Target: ft, Now: clk.Now, ID: "replica-b"})
			done := make(chan rotation.TickReport, 1)
			go func() {
				rep, err := a.Tick(ctx)
				if err != nil {
					t.Error(err)
				}
				done <- rep
			}()
			<-ft.entered // a holds the claim and is rotating
			repB, err := b.Tick(ctx)
			if err != nil {
				t.Fatal(err)
			}
			close(ft.block)
			repA := <-done
			if got := len(repA.Rotated) + len(repB.Rotated); got != 1 || len(repA.Rotated) != 1 || ft.calls.Load() != 1 || len(ft.rotated) != 1 {
				t.Fatalf("rotations: a %+v, b %+v, calls %d", repA, repB, ft.calls.Load())
			}
			if _, err := b.Tick(ctx); err != nil || ft.calls.Load() != 1 {
				t.Fatalf("b after a finished: %v, calls %d", err, ft.calls.Load())
			}
			// A lapsed claim (a replica died mid-rotation) is taken over.
			p, _ := repo.Get(ctx, "p1")
			clk.Set(p.NextDueAt.Format(time.RFC3339))
			if ok, err := repo.Claim(ctx, "p1", "dead-replica", clk.Now(), clk.Now().Add(time.Minute)); !ok || err != nil {
				t.Fatalf("claim: %v %v", ok, err)
			}
			if rep, err := b.Tick(ctx); err != nil || len(rep.Rotated) != 0 {
				t.Fatalf("b during a live claim: %+v %v", rep, err)
			}
			clk.Add(2 * time.Minute)
			if rep, err := b.Tick(ctx); err != nil || len(rep.Rotated) != 1 {
				t.Fatalf("b after the claim lapsed: %+v %v", rep, err)
			}

			// Replicas that both saw the project due race for it: of eight
			// claims at once over the two pools, exactly one wins.
			p, _ = repo.Get(ctx, "p1")
			now := p.NextDueAt.Add(time.Minute)
			repos := []*rotation.Repo{repo, rotation.NewRepo(db2)}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					ok, err := repos[i%2].Claim(ctx, "p1", fmt.Sprint("r", i), now, now.Add(time.Minute))
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d concurrent claims won, want 1", wins.Load())
			}
		})
	}
}
