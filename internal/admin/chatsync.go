package admin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/secret"
)

// ChatJobs is the chat-server sync outbox (*chatserver.Jobs).
type ChatJobs interface {
	Desire(ctx context.Context, j chatserver.Job, now time.Time) (bool, error)
	Get(ctx context.Context, projectID, kind, visitorID string) (*chatserver.Job, error)
	ForExternal(ctx context.Context, projectID, externalID string) ([]chatserver.Job, error)
	Due(ctx context.Context, kind string, now time.Time, limit int) ([]chatserver.Job, error)
	Claim(ctx context.Context, j *chatserver.Job, now time.Time, lease time.Duration) (bool, error)
	Finish(ctx context.Context, j *chatserver.Job, o chatserver.Outcome, now time.Time) (bool, error)
	List(ctx context.Context, projectID, kind string, limit int) ([]chatserver.Job, error)
	Counts(ctx context.Context, projectID string) (map[string]int, error)
	Wake(ctx context.Context, scope, scopeID string, now time.Time) error
	MarkRotation(ctx context.Context, projectID, tenantID, actor, reason string, attempts int, next, now time.Time) error
	ClearRotation(ctx context.Context, projectID string) error
	Rotations(ctx context.Context, tenantIDs []string, limit int) ([]chatserver.Job, error)
	Kicks() <-chan struct{}
}

// ChatSyncActor is the audit actor of the background chat-server sync.
const ChatSyncActor = "chat-sync"

// NoConnectionMessage is the state of a block whose project has no
// chat-server connection: the block applies here only.
const NoConnectionMessage = "not synced: no chat-server connection"

const (
	// chatSyncBatch bounds the jobs one pass attempts.
	chatSyncBatch = 50
	// chatSyncLease: a claimed job is not attempted by another worker
	// before it ends (an attempt is bounded by the outbound timeouts).
	chatSyncLease = 2 * time.Minute
	// noConnectionRetry: a job without a connection is retried this rarely
	// (and at once when a connection is set).
	noConnectionRetry = time.Hour
	// jobListLimit bounds the jobs a project's page lists.
	jobListLimit = 200
)

// DefaultChatSyncBackoff is the wait before attempt n+1 after n failed
// attempts: 10 s doubling, at most 30 minutes.
func DefaultChatSyncBackoff(attempts int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < attempts && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// chatSync is the in-process state of the chat-server sync worker.
type chatSync struct {
	// store serialises every write of a secret the chat server switched
	// to (RotateSecret and the background retry): a late retry never
	// overwrites a newer rotation.
	store sync.Mutex
	mu    sync.Mutex
	// pending holds, in memory only, the secrets the chat server switched
	// to that could not be stored yet (never in SQL: a restart loses them
	// and the operator rotates again).
	pending map[string]*pendingRotation
	kick    chan struct{}
	// last pass's counts, for the metrics
	jobs      atomic.Pointer[map[string]int]
	rotations atomic.Int64
}

type pendingRotation struct {
	tenantID string
	value    []byte
	opts     secret.WriteOptions
	from     int // the current version when the chat server switched
	attempts int
	next     time.Time
	lastErr  string
}

func newChatSync() *chatSync {
	return &chatSync{pending: map[string]*pendingRotation{}, kick: make(chan struct{}, 1)}
}

func (c *chatSync) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (s *Service) backoff(attempts int) time.Duration {
	if s.d.ChatSyncBackoff != nil {
		return s.d.ChatSyncBackoff(attempts)
	}
	return DefaultChatSyncBackoff(attempts)
}

var _ bridge.OverrideSync = (*Service)(nil)

// OverrideChanged turns a committed override change into ban jobs, in the
// change's own transaction: a new block bans the visitor _id its tokens
// carried; an unblock (or a block under another _id) lifts the bans made
// for the external id. Every transport (console, API, CLI) changes
// overrides through bridge.Admin, which calls this once.
func (s *Service) OverrideChanged(ctx context.Context, c bridge.OverrideChange) error {
	jobs := s.d.ChatJobs
	if jobs == nil {
		return nil
	}
	ext := ""
	switch {
	case c.After != nil:
		ext = c.After.ExternalID
	case c.Before != nil:
		ext = c.Before.ExternalID
	}
	now := s.d.Now()
	visitor := ""
	if c.After != nil && c.After.Blocked {
		visitor = mapping.TokenID(c.Prefix, ext, c.After)
		if c.After.ForceID == "" && c.Before != nil && !c.Before.Blocked && c.Before.ForceID != "" {
			visitor = c.Before.ForceID // the _id its tokens carried until now
		}
	}
	// Lift what was banned for this end-user under another _id (all of it,
	// on an unblock): found by external id, so a changed prefix or force_id
	// still finds the ban.
	js, err := jobs.ForExternal(ctx, c.Project.ID, ext)
	if err != nil {
		return err
	}
	for _, j := range js {
		if j.Desired != chatserver.DesireBanned || j.VisitorID == visitor {
			continue
		}
		if _, err := jobs.Desire(ctx, chatserver.Job{ProjectID: c.Project.ID, TenantID: c.Project.TenantID, Kind: chatserver.JobBan,
			VisitorID: j.VisitorID, ExternalID: ext, Desired: chatserver.DesireUnbanned, RequestedBy: c.Actor}, now); err != nil {
			return err
		}
	}
	if visitor == "" {
		return nil
	}
	if _, err := jobs.Desire(ctx, chatserver.Job{ProjectID: c.Project.ID, TenantID: c.Project.TenantID, Kind: chatserver.JobBan,
		VisitorID: visitor, ExternalID: ext, Desired: chatserver.DesireBanned, RequestedBy: c.Actor}, now); err != nil {
		return err
	}
	j, err := jobs.Get(ctx, c.Project.ID, chatserver.JobBan, visitor)
	if err != nil {
		return err
	}
	c.After.ChatSync = syncView(j)
	return nil
}

func syncView(j *chatserver.Job) *mapping.ChatSync {
	return &mapping.ChatSync{VisitorID: j.VisitorID, Desired: j.Desired, State: j.State, Attempts: j.Attempts, LastError: j.LastError, NextAttemptAt: j.NextAttemptAt}
}

// OverrideSyncs returns the ban state of the project's blocked end-users by
// external id.
func (s *Service) OverrideSyncs(ctx context.Context, projectID string) (map[string]*mapping.ChatSync, error) {
	out := map[string]*mapping.ChatSync{}
	if s.d.ChatJobs == nil {
		return out, nil
	}
	js, err := s.d.ChatJobs.List(ctx, projectID, chatserver.JobBan, jobListLimit)
	if err != nil {
		return nil, err
	}
	for i := range js {
		j := &js[i]
		if prev, ok := out[j.ExternalID]; ok && !(prev.State == chatserver.StateSynced && j.Outstanding()) {
			continue // outstanding first (List's order)
		}
		out[j.ExternalID] = syncView(j)
	}
	return out, nil
}

// SyncChat runs one pass of the chat-server sync: every due ban job is
// attempted once, every pending rotation store retried, and the counts the
// metrics show refreshed. It returns how many attempts it made. The
// background worker (RunChatSync) calls it; tests drive it directly.
func (s *Service) SyncChat(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	if jobs := s.d.ChatJobs; jobs != nil {
		due, err := jobs.Due(ctx, chatserver.JobBan, s.d.Now(), chatSyncBatch)
		if err != nil {
			errs = append(errs, err)
		}
		for i := range due {
			if ctx.Err() != nil {
				break
			}
			tried, err := s.syncBan(ctx, &due[i])
			if err != nil {
				errs = append(errs, err)
			}
			if tried {
				n++
			}
		}
	}
	n += s.retryRotations(ctx)
	if err := s.refreshChatStats(ctx); err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// RunChatSync runs SyncChat every interval, and at once when a job becomes
// due (a block, a rotation that could not be stored), until ctx ends.
func (s *Service) RunChatSync(ctx context.Context, every time.Duration) {
	var kicks <-chan struct{}
	if s.d.ChatJobs != nil {
		kicks = s.d.ChatJobs.Kicks()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.SyncChat(ctx); err != nil && ctx.Err() == nil {
			s.d.Log.WarnContext(ctx, "chat-server sync pass failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kicks:
		case <-s.cs.kick:
		}
	}
}

// syncBan makes one attempt on j.
func (s *Service) syncBan(ctx context.Context, j *chatserver.Job) (bool, error) {
	jobs := s.d.ChatJobs
	prevState := j.State
	ok, err := jobs.Claim(ctx, j, s.d.Now(), chatSyncLease)
	if err != nil || !ok {
		return false, err
	}
	o, baseURL := s.applyBan(ctx, j)
	applied, err := jobs.Finish(ctx, j, o, s.d.Now())
	if err != nil {
		return true, err
	}
	if !applied {
		return true, nil // superseded: the newer desire is due
	}
	if o.State == chatserver.StateFailed {
		s.d.Log.WarnContext(ctx, "chat-server ban sync failed; retrying", "project_id", j.ProjectID, "visitor_id", j.VisitorID,
			"desired", j.Desired, "attempts", j.Attempts, "error", o.Error)
	}
	if o.State != prevState || o.State == chatserver.StateSynced {
		details := map[string]any{"visitor_id": j.VisitorID, "external_id": j.ExternalID, "desired": j.Desired,
			"outcome": o.State, "attempts": j.Attempts, "requested_by": j.RequestedBy}
		if o.Error != "" {
			details["error"] = o.Error
		}
		if baseURL != "" {
			details["base_url"] = baseURL
		}
		s.record(ctx, Actor{Email: ChatSyncActor}, audit.Event{TenantID: j.TenantID, ProjectID: j.ProjectID, Action: audit.ChatBanSync,
			Target: j.VisitorID, Details: details})
	}
	return true, nil
}

// applyBan asks the chat server for j's desired state and returns the
// outcome (and the chat server's base URL, for the audit event).
func (s *Service) applyBan(ctx context.Context, j *chatserver.Job) (chatserver.Outcome, string) {
	fail := func(err error) chatserver.Outcome {
		return chatserver.Outcome{State: chatserver.StateFailed, Error: apperr.Message(err), Next: s.d.Now().Add(s.backoff(j.Attempts))}
	}
	noConn := chatserver.Outcome{State: chatserver.StateNoConnection, Error: NoConnectionMessage, Next: s.d.Now().Add(noConnectionRetry)}
	chat, conns, err := s.chat()
	if err != nil {
		return noConn, ""
	}
	c, err := conns.For(ctx, j.ProjectID, j.TenantID)
	if errors.Is(err, apperr.ErrNotFound) {
		return noConn, ""
	}
	if err != nil {
		return fail(err), ""
	}
	cred, err := conns.Credential(ctx, c)
	if err != nil {
		return fail(err), c.BaseURL
	}
	session, err := chat.Session(ctx, c.BaseURL, cred)
	if err != nil {
		return fail(err), c.BaseURL
	}
	bans, err := chat.Bans(ctx, c.BaseURL, session, j.ProjectID)
	if err != nil {
		return fail(err), c.BaseURL
	}
	if j.Desired == chatserver.DesireBanned {
		for _, b := range bans {
			if b.VisitorID == j.VisitorID { // already banned (an earlier attempt whose answer was lost)
				return chatserver.Outcome{State: chatserver.StateSynced, BanID: b.BanID}, c.BaseURL
			}
		}
		id, err := chat.Ban(ctx, c.BaseURL, session, j.ProjectID, j.VisitorID)
		if err != nil {
			return fail(err), c.BaseURL
		}
		return chatserver.Outcome{State: chatserver.StateSynced, BanID: id}, c.BaseURL
	}
	for _, b := range bans { // every ban of the visitor, the recorded one and any other
		if b.VisitorID == j.VisitorID {
			if err := chat.Unban(ctx, c.BaseURL, session, j.ProjectID, b.BanID); err != nil {
				return fail(err), c.BaseURL
			}
		}
	}
	return chatserver.Outcome{State: chatserver.StateSynced, ClearBan: true}, c.BaseURL
}

// holdRotation keeps a secret the chat server switched to but that could
// not be stored, for the background retry, and marks the project degraded
// (best effort: the SQL mark may fail with the store; the in-memory entry
// counts as degraded too).
func (s *Service) holdRotation(ctx context.Context, tenantID, projectID string, value []byte, opts secret.WriteOptions, from int, cause error) {
	now := s.d.Now()
	pr := &pendingRotation{tenantID: tenantID, value: value, opts: opts, from: from, attempts: storeAttempts,
		next: now.Add(s.backoff(1)), lastErr: apperr.Message(cause)}
	s.cs.mu.Lock()
	s.cs.pending[projectID] = pr
	s.cs.rotations.Store(int64(len(s.cs.pending)))
	s.cs.mu.Unlock()
	s.cs.wake()
	if s.d.ChatJobs == nil {
		return
	}
	if err := s.d.ChatJobs.MarkRotation(ctx, projectID, tenantID, opts.Actor, pr.lastErr, pr.attempts, pr.next, now); err != nil {
		s.d.Log.ErrorContext(ctx, "marking the project degraded failed (it stays degraded in this process)", "project_id", projectID, "error", err.Error())
	}
}

// dropRotation forgets a pending store of project (a newer secret is
// stored) and clears its degraded mark.
func (s *Service) dropRotation(ctx context.Context, projectID string) {
	s.cs.mu.Lock()
	delete(s.cs.pending, projectID)
	s.cs.rotations.Store(int64(len(s.cs.pending)))
	s.cs.mu.Unlock()
	if s.d.ChatJobs == nil {
		return
	}
	if err := s.d.ChatJobs.ClearRotation(ctx, projectID); err != nil {
		s.d.Log.WarnContext(ctx, "clearing the project's degraded mark failed", "project_id", projectID, "error", err.Error())
	}
}

// retryRotations retries every due pending store once.
func (s *Service) retryRotations(ctx context.Context) int {
	now := s.d.Now()
	s.cs.mu.Lock()
	due := map[string]*pendingRotation{}
	for id, pr := range s.cs.pending {
		if !pr.next.After(now) {
			due[id] = pr
		}
	}
	s.cs.mu.Unlock()
	n := 0
	for id, pr := range due {
		if ctx.Err() != nil {
			break
		}
		n++
		s.retryRotation(ctx, id, pr)
	}
	return n
}

func (s *Service) retryRotation(ctx context.Context, projectID string, pr *pendingRotation) {
	s.cs.store.Lock()
	defer s.cs.store.Unlock()
	s.cs.mu.Lock()
	current := s.cs.pending[projectID] == pr
	s.cs.mu.Unlock()
	if !current {
		return // a newer rotation replaced or stored it
	}
	if info, err := s.SecretInfo(ctx, projectID); err == nil && info.Version != pr.from {
		// Another instance (or a paste) stored a newer secret meanwhile.
		s.dropRotation(ctx, projectID)
		return
	}
	meta, err := s.d.Secrets.Put(ctx, projectID, pr.value, pr.opts)
	a := Actor{Email: ChatSyncActor}
	if err != nil {
		s.cs.mu.Lock()
		pr.attempts++
		pr.next, pr.lastErr = s.d.Now().Add(s.backoff(pr.attempts)), apperr.Message(err)
		s.cs.mu.Unlock()
		s.d.Log.WarnContext(ctx, "storing the chat server's new secret failed again; retrying", "project_id", projectID, "attempts", pr.attempts, "error", err.Error())
		if s.d.ChatJobs == nil {
			return
		}
		if err := s.d.ChatJobs.MarkRotation(ctx, projectID, pr.tenantID, pr.opts.Actor, pr.lastErr, pr.attempts, pr.next, s.d.Now()); err != nil {
			s.d.Log.WarnContext(ctx, "updating the project's degraded mark failed", "project_id", projectID, "error", err.Error())
		}
		return
	}
	s.dropRotation(ctx, projectID)
	s.record(ctx, a, audit.Event{TenantID: pr.tenantID, ProjectID: projectID, Action: audit.SecretChatRotate, Target: projectID,
		Details: map[string]any{"from_version": pr.from, "to_version": meta.Version, "outcome": "stored_after_retry",
			"attempts": pr.attempts + 1, "requested_by": pr.opts.Actor}})
}

// refreshChatStats recomputes the counts the metrics show.
func (s *Service) refreshChatStats(ctx context.Context) error {
	if s.d.ChatJobs == nil {
		return nil
	}
	c, err := s.d.ChatJobs.Counts(ctx, "")
	if err != nil {
		return err
	}
	s.cs.jobs.Store(&c)
	return nil
}

// ChatSyncStats are the figures of the chat-server sync metrics.
type ChatSyncStats struct {
	// Jobs: outstanding ban jobs by state, as of the last pass.
	Jobs map[string]int
	// RotationStorePending: projects whose new chat-server secret this
	// process holds because storing it failed (live).
	RotationStorePending int
}

// ChatSyncStats returns the metrics' figures.
func (s *Service) ChatSyncStats() ChatSyncStats {
	out := ChatSyncStats{Jobs: map[string]int{}, RotationStorePending: int(s.cs.rotations.Load())}
	if m := s.cs.jobs.Load(); m != nil {
		out.Jobs = *m
	}
	return out
}

// RotationDegraded is a project whose chat server switched to a secret
// pingauth has not stored yet.
type RotationDegraded struct {
	ProjectID string    `json:"project_id"`
	TenantID  string    `json:"tenant_id"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	NextRetry time.Time `json:"next_attempt_at"`
	// Held: this process holds the secret and keeps retrying; false: the
	// instance that held it may have restarted (rotate again).
	Held bool `json:"held_here"`
}

// DegradedRotations lists the projects (of tenantIDs; nil: all) whose
// rotation could not be stored: this process's pending stores and the
// marks in SQL (other instances', or lost by a restart).
func (s *Service) DegradedRotations(ctx context.Context, tenantIDs []string) ([]RotationDegraded, error) {
	allowed := func(t string) bool {
		if tenantIDs == nil {
			return true
		}
		for _, id := range tenantIDs {
			if id == t {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	var out []RotationDegraded
	s.cs.mu.Lock()
	for id, pr := range s.cs.pending {
		if allowed(pr.tenantID) {
			seen[id] = true
			out = append(out, RotationDegraded{ProjectID: id, TenantID: pr.tenantID, Attempts: pr.attempts, LastError: pr.lastErr, NextRetry: pr.next, Held: true})
		}
	}
	s.cs.mu.Unlock()
	if s.d.ChatJobs == nil {
		return out, nil
	}
	rs, err := s.d.ChatJobs.Rotations(ctx, tenantIDs, jobListLimit)
	if err != nil {
		return out, err
	}
	for _, r := range rs {
		if !seen[r.ProjectID] {
			out = append(out, RotationDegraded{ProjectID: r.ProjectID, TenantID: r.TenantID, Attempts: r.Attempts, LastError: r.LastError, NextRetry: r.NextAttemptAt})
		}
	}
	return out, nil
}

// ChatSyncState is a project's chat-server sync state: its ban jobs
// (outstanding first), their counts by state, and a pending rotation store.
type ChatSyncState struct {
	Jobs        []chatserver.Job  `json:"jobs"`
	Counts      map[string]int    `json:"counts"`
	Outstanding int               `json:"outstanding"`
	Rotation    *RotationDegraded `json:"rotation_store,omitempty"`
}

// ChatSync returns the project's chat-server sync state.
func (s *Service) ChatSync(ctx context.Context, projectID, tenantID string) (ChatSyncState, error) {
	out := ChatSyncState{Jobs: []chatserver.Job{}, Counts: map[string]int{}}
	if s.d.ChatJobs == nil {
		return out, nil
	}
	js, err := s.d.ChatJobs.List(ctx, projectID, chatserver.JobBan, jobListLimit)
	if err != nil {
		return out, err
	}
	out.Jobs = js
	if out.Counts, err = s.d.ChatJobs.Counts(ctx, projectID); err != nil {
		return out, err
	}
	for _, n := range out.Counts {
		out.Outstanding += n
	}
	rs, err := s.DegradedRotations(ctx, []string{tenantID})
	if err != nil {
		return out, err
	}
	for i := range rs {
		if rs[i].ProjectID == projectID {
			out.Rotation = &rs[i]
		}
	}
	return out, nil
}
