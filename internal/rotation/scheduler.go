package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// Target is what the scheduler rotates through (*admin.Service).
type Target interface {
	// LastRotation is when the project's current secret version was
	// created (nil: it has none).
	LastRotation(ctx context.Context, projectID string) (*time.Time, error)
	// RotateScheduled rotates the project's secret as the scheduler.
	RotateScheduled(ctx context.Context, projectID string) error
}

// Store is the policy storage the scheduler needs (*Repo).
type Store interface {
	Due(ctx context.Context, now time.Time, limit int) ([]Policy, error)
	Claim(ctx context.Context, projectID, owner string, now, until time.Time) (bool, error)
	Finish(ctx context.Context, projectID, owner string, res Result) error
}

// Options configure a Scheduler.
type Options struct {
	Store  Store
	Target Target
	Log    *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Interval between ticks of Run (default one minute).
	Interval time.Duration
	// Lease bounds one rotation: the claim lapses after it, so a replica
	// that died mid-rotation does not block the project (default 5 minutes;
	// the rotation's context ends at Lease/2).
	Lease time.Duration
	// RetryAfter: after a failed rotation no replica retries the project
	// before this (default 15 minutes), so a chat server that is down is not
	// hammered.
	RetryAfter time.Duration
	// Batch is how many due projects a tick looks at (default 100).
	Batch int
	// ID names this replica in claims (default random).
	ID string
}

// Scheduler rotates due projects. Create it with NewScheduler.
type Scheduler struct{ o Options }

// NewScheduler returns a scheduler.
func NewScheduler(o Options) *Scheduler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Minute
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 15 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.ID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		o.ID = hex.EncodeToString(b)
	}
	return &Scheduler{o: o}
}

// Run ticks every Interval until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.o.Log.WarnContext(ctx, "scheduled rotation: tick failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// TickReport is what one tick did.
type TickReport struct {
	Rotated, Failed, Rescheduled []string
}

// Tick looks once at the due projects whose window is open now: claims
// each (skipping those another replica holds), rotates it unless it was
// rotated since it became due (then only reschedules), and records the
// outcome. A failure keeps the project due but claimed for RetryAfter.
func (s *Scheduler) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	now := s.o.Now().UTC()
	due, err := s.o.Store.Due(ctx, now, s.o.Batch)
	if err != nil {
		return rep, err
	}
	for i := range due {
		p := &due[i]
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if !p.InWindow(now) {
			continue
		}
		ok, err := s.o.Store.Claim(ctx, p.ProjectID, s.o.ID, now, now.Add(s.o.Lease))
		if err != nil {
			return rep, err
		}
		if !ok {
			continue // another replica has it
		}
		res, err := s.one(ctx, p, now)
		switch {
		case err != nil:
			rep.Failed = append(rep.Failed, p.ProjectID)
		case res.Attempted:
			rep.Rotated = append(rep.Rotated, p.ProjectID)
		default:
			rep.Rescheduled = append(rep.Rescheduled, p.ProjectID)
		}
		if ferr := s.o.Store.Finish(ctx, p.ProjectID, s.o.ID, res); ferr != nil {
			return rep, ferr
		}
	}
	return rep, nil
}

// one handles a claimed project; err is the rotation's failure (recorded
// in the result).
func (s *Scheduler) one(ctx context.Context, p *Policy, now time.Time) (Result, error) {
	last, err := s.o.Target.LastRotation(ctx, p.ProjectID)
	if err != nil {
		return s.failed(ctx, p, now, err), err
	}
	if last != nil {
		if due := p.DueAfter(*last); due.After(now) {
			// Rotated by hand (or tenant-wide) since: look again when due.
			return Result{NextDueAt: due}, nil
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.o.Lease/2)
	err = s.o.Target.RotateScheduled(rctx, p.ProjectID)
	cancel()
	if err != nil {
		return s.failed(ctx, p, now, err), err
	}
	s.o.Log.InfoContext(ctx, "scheduled rotation done", "project_id", p.ProjectID)
	return Result{NextDueAt: p.DueAfter(now), Attempted: true, At: now, Outcome: OutcomeOK}, nil
}

func (s *Scheduler) failed(ctx context.Context, p *Policy, now time.Time, err error) Result {
	msg := apperr.Message(err) // client-safe: shown on the dashboard
	s.o.Log.WarnContext(ctx, "scheduled rotation failed; retried later", "project_id", p.ProjectID,
		"retry_after", s.o.RetryAfter.String(), "error", err.Error())
	return Result{NextDueAt: p.NextDueAt, Attempted: true, At: now, Outcome: OutcomeFailed, Error: msg, HoldUntil: now.Add(s.o.RetryAfter)}
}
