package chatserver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func jobsDB(t *testing.T, db *store.DB) *chatserver.Jobs {
	t.Helper()
	ctx := context.Background()
	pr := project.NewRepo(db)
	for _, tn := range []string{"t1", "t2"} {
		if _, err := pr.EnsureTenant(ctx, tn, tn); err != nil {
			t.Fatal(err)
		}
	}
	for id, tn := range map[string]string{"p1": "t1", "p2": "t1", "p3": "t2"} {
		if err := pr.Create(ctx, &project.Project{ID: id, TenantID: tn, Name: id, TokenTTLSeconds: 600}); err != nil {
			t.Fatal(err)
		}
	}
	return chatserver.NewJobs(db)
}

func ban(p, tenant, visitor, desired string) chatserver.Job {
	return chatserver.Job{ProjectID: p, TenantID: tenant, Kind: chatserver.JobBan, VisitorID: visitor, ExternalID: "ext-" + visitor, Desired: desired, RequestedBy: "op@x"}
}

// TestJobStateMachine walks one ban job through desire, claim, failure,
// retry, success, a superseding unban during an attempt, and the unban.
func TestJobStateMachine(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		jobs := jobsDB(t, db)
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

		// Unbanning a visitor never banned needs nothing.
		if out, err := jobs.Desire(ctx, ban("p1", "t1", "v1", chatserver.DesireUnbanned), t0); err != nil || out {
			t.Fatalf("unban of a stranger: %v %v", out, err)
		}
		if _, err := jobs.Get(ctx, "p1", chatserver.JobBan, "v1"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("a row was created: %v", err)
		}
		if out, err := jobs.Desire(ctx, ban("p1", "t1", "v1", chatserver.DesireBanned), t0); err != nil || !out {
			t.Fatalf("ban: %v %v", out, err)
		}
		select {
		case <-jobs.Kicks():
		default:
			t.Error("a new desire did not kick the worker")
		}
		due, err := jobs.Due(ctx, chatserver.JobBan, t0, 10)
		if err != nil || len(due) != 1 || due[0].State != chatserver.StatePending || due[0].Desired != chatserver.DesireBanned {
			t.Fatalf("due: %+v %v", due, err)
		}
		j := due[0]
		if ok, err := jobs.Claim(ctx, &j, t0, time.Minute); err != nil || !ok || j.Attempts != 1 {
			t.Fatalf("claim: %v %v %+v", ok, err, j)
		}
		// A second worker (another instance) cannot take it during the lease.
		other := due[0]
		if ok, err := jobs.Claim(ctx, &other, t0.Add(time.Second), time.Minute); err != nil || ok {
			t.Fatalf("second claim: %v %v", ok, err)
		}
		if d, _ := jobs.Due(ctx, chatserver.JobBan, t0.Add(30*time.Second), 10); len(d) != 0 {
			t.Fatalf("due during the lease: %+v", d)
		}
		next := t0.Add(10 * time.Second)
		if ok, err := jobs.Finish(ctx, &j, chatserver.Outcome{State: chatserver.StateFailed, Error: "the chat server could not be reached", Next: next}, t0); err != nil || !ok {
			t.Fatalf("finish failed: %v %v", ok, err)
		}
		got, _ := jobs.Get(ctx, "p1", chatserver.JobBan, "v1")
		if got.State != chatserver.StateFailed || got.LastError != "the chat server could not be reached" || got.Attempts != 1 || !got.NextAttemptAt.Equal(next) {
			t.Fatalf("after failure: %+v", got)
		}
		if d, _ := jobs.Due(ctx, chatserver.JobBan, next.Add(-time.Second), 10); len(d) != 0 {
			t.Fatal("due before its backoff ended")
		}
		due, _ = jobs.Due(ctx, chatserver.JobBan, next, 10)
		if len(due) != 1 {
			t.Fatalf("not due after the backoff: %+v", due)
		}
		j = due[0]
		if ok, _ := jobs.Claim(ctx, &j, next, time.Minute); !ok || j.Attempts != 2 {
			t.Fatalf("second attempt: %v %+v", ok, j)
		}
		// The operator unblocks during the attempt: the attempt's ban is
		// recorded, its "synced" is not (the unban is due).
		if out, err := jobs.Desire(ctx, ban("p1", "t1", "v1", chatserver.DesireUnbanned), next); err != nil || !out {
			t.Fatalf("unban during the attempt: %v %v", out, err)
		}
		if ok, err := jobs.Finish(ctx, &j, chatserver.Outcome{State: chatserver.StateSynced, BanID: "ban-1"}, next); err != nil || ok {
			t.Fatalf("a superseded attempt applied its state: %v %v", ok, err)
		}
		got, _ = jobs.Get(ctx, "p1", chatserver.JobBan, "v1")
		if got.Desired != chatserver.DesireUnbanned || got.State != chatserver.StatePending || got.BanID != "ban-1" || got.Attempts != 0 || got.LastError != "" {
			t.Fatalf("after the superseding unban: %+v", got)
		}
		due, _ = jobs.Due(ctx, chatserver.JobBan, next, 10)
		if len(due) != 1 || due[0].BanID != "ban-1" {
			t.Fatalf("unban not due: %+v", due)
		}
		j = due[0]
		if ok, _ := jobs.Claim(ctx, &j, next, time.Minute); !ok {
			t.Fatal("claim unban")
		}
		if ok, err := jobs.Finish(ctx, &j, chatserver.Outcome{State: chatserver.StateSynced, ClearBan: true}, next); err != nil || !ok {
			t.Fatalf("finish unban: %v %v", ok, err)
		}
		if _, err := jobs.Get(ctx, "p1", chatserver.JobBan, "v1"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("a synced unban left its row: %v", err)
		}
	})
}

// TestJobSyncedBanStaysAndCounts: a synced ban is kept (its ban _id is
// what the unban needs), re-blocking it is a no-op, counts and lists
// cover outstanding jobs only, and Wake makes no_connection jobs due.
func TestJobSyncedBanStaysAndCounts(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		jobs := jobsDB(t, db)
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for _, j := range []chatserver.Job{ban("p1", "t1", "a", chatserver.DesireBanned), ban("p1", "t1", "b", chatserver.DesireBanned),
			ban("p2", "t1", "c", chatserver.DesireBanned), ban("p3", "t2", "d", chatserver.DesireBanned)} {
			if _, err := jobs.Desire(ctx, j, t0); err != nil {
				t.Fatal(err)
			}
		}
		finish := func(p, v string, o chatserver.Outcome) {
			t.Helper()
			j, err := jobs.Get(ctx, p, chatserver.JobBan, v)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := jobs.Claim(ctx, j, t0, time.Minute); err != nil || !ok {
				t.Fatalf("claim %s: %v %v", v, ok, err)
			}
			if ok, err := jobs.Finish(ctx, j, o, t0); err != nil || !ok {
				t.Fatalf("finish %s: %v %v", v, ok, err)
			}
		}
		finish("p1", "a", chatserver.Outcome{State: chatserver.StateSynced, BanID: "ban-a"})
		finish("p1", "b", chatserver.Outcome{State: chatserver.StateNoConnection, Error: "not synced: no chat-server connection", Next: t0.Add(time.Hour)})
		finish("p3", "d", chatserver.Outcome{State: chatserver.StateNoConnection, Error: "not synced: no chat-server connection", Next: t0.Add(time.Hour)})

		if out, err := jobs.Desire(ctx, ban("p1", "t1", "a", chatserver.DesireBanned), t0.Add(time.Minute)); err != nil || out {
			t.Fatalf("re-blocking a synced ban: %v %v", out, err)
		}
		a, _ := jobs.Get(ctx, "p1", chatserver.JobBan, "a")
		if a.State != chatserver.StateSynced || a.BanID != "ban-a" || a.SyncedAt == nil {
			t.Fatalf("synced ban: %+v", a)
		}
		c, err := jobs.Counts(ctx, "p1")
		if err != nil || len(c) != 1 || c[chatserver.StateNoConnection] != 1 {
			t.Fatalf("counts p1: %v %v", c, err)
		}
		if c, _ := jobs.Counts(ctx, ""); c[chatserver.StateNoConnection] != 2 || c[chatserver.StatePending] != 1 {
			t.Fatalf("counts all: %v", c)
		}
		l, err := jobs.List(ctx, "p1", chatserver.JobBan, 10)
		if err != nil || len(l) != 2 || l[0].VisitorID != "b" || l[1].VisitorID != "a" {
			t.Fatalf("list (outstanding first): %+v %v", l, err)
		}
		// A connection set for tenant t1 wakes b (p1, t1), not d (t2).
		if err := jobs.Wake(ctx, chatserver.ScopeTenant, "t1", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		due, _ := jobs.Due(ctx, chatserver.JobBan, t0.Add(2*time.Minute), 10)
		ids := map[string]bool{}
		for _, j := range due {
			ids[j.VisitorID] = true
		}
		if !ids["b"] || !ids["c"] || ids["d"] || ids["a"] {
			t.Fatalf("due after waking t1: %v", ids)
		}
	})
}

// TestRotationMark: the rotation_store mark holds no secret, is updated in
// place, scoped by tenant, and cleared.
func TestRotationMark(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		jobs := jobsDB(t, db)
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := jobs.MarkRotation(ctx, "p1", "t1", "op@x", "secret store unavailable", 5, t0.Add(time.Second), t0); err != nil {
			t.Fatal(err)
		}
		if err := jobs.MarkRotation(ctx, "p1", "t1", "op@x", "still unavailable", 6, t0.Add(2*time.Second), t0); err != nil {
			t.Fatal(err)
		}
		if err := jobs.MarkRotation(ctx, "p3", "t2", "op@x", "x", 1, t0, t0); err != nil {
			t.Fatal(err)
		}
		rs, err := jobs.Rotations(ctx, []string{"t1"}, 10)
		if err != nil || len(rs) != 1 || rs[0].ProjectID != "p1" || rs[0].Attempts != 6 || rs[0].LastError != "still unavailable" || rs[0].State != chatserver.StateFailed {
			t.Fatalf("rotations t1: %+v %v", rs, err)
		}
		if rs, _ := jobs.Rotations(ctx, nil, 10); len(rs) != 2 {
			t.Fatalf("rotations all: %+v", rs)
		}
		if err := jobs.ClearRotation(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		if rs, _ := jobs.Rotations(ctx, nil, 10); len(rs) != 1 || rs[0].ProjectID != "p3" {
			t.Fatalf("after clear: %+v", rs)
		}
		// Rotation marks are not ban jobs.
		if c, _ := jobs.Counts(ctx, ""); len(c) != 0 {
			t.Fatalf("counts: %v", c)
		}
	})
}
