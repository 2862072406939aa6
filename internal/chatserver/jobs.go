package chatserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// Job kinds of the chat-server sync outbox (chat_sync_jobs).
const (
	// JobBan: one visitor's ban on the chat server follows the block of its
	// end-user in pingauth (an override with blocked).
	JobBan = "ban"
	// JobRotationStore: the chat server switched to a new secret that
	// pingauth could not store; the project is degraded until it is stored
	// (or rotated again). The secret is never in this table.
	JobRotationStore = "rotation_store"
)

// Desired states of a job.
const (
	DesireBanned   = "banned"
	DesireUnbanned = "unbanned"
	DesireStored   = "stored"
)

// Job states.
const (
	// StatePending: not attempted yet, or due again now.
	StatePending = "pending"
	// StateFailed: the last attempt failed; retried at NextAttemptAt.
	StateFailed = "failed"
	// StateNoConnection: the project has no chat-server connection; the
	// local change applies, the chat server is not told. Retried when a
	// connection is set (and rarely otherwise).
	StateNoConnection = "no_connection"
	// StateSynced: the chat server agrees.
	StateSynced = "synced"
)

// Job is one row of the outbox: what the chat server must be made to agree
// with for one (project, kind, visitor id).
type Job struct {
	ProjectID string `gorm:"primaryKey" json:"project_id"`
	Kind      string `gorm:"primaryKey" json:"kind"`
	// VisitorID is the _id pingauth's tokens carry for the end-user ("" for
	// rotation_store).
	VisitorID  string `gorm:"primaryKey;column:visitor_id" json:"visitor_id,omitempty"`
	TenantID   string `json:"tenant_id"`
	ExternalID string `json:"external_id,omitempty"`
	Desired    string `json:"desired"`
	// BanID is the chat server's _id of the ban while one exists.
	BanID    string `json:"ban_id,omitempty"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// LastError is a client-safe message (never a credential or secret).
	LastError     string     `json:"last_error,omitempty"`
	Generation    int        `json:"-"`
	RequestedBy   string     `json:"requested_by,omitempty"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	SyncedAt      *time.Time `json:"synced_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// TableName binds Job to chat_sync_jobs.
func (Job) TableName() string { return "chat_sync_jobs" }

// Outstanding reports whether the chat server does not agree yet.
func (j *Job) Outstanding() bool { return j.State != StateSynced }

// Jobs is the outbox repository. Create it with NewJobs. Every method
// joins the transaction its context carries (store.DB.InTx).
type Jobs struct {
	db   *store.DB
	kick chan struct{}
}

// NewJobs returns the outbox over db.
func NewJobs(db *store.DB) *Jobs { return &Jobs{db: db, kick: make(chan struct{}, 1)} }

// Kicks is signalled (after the commit) whenever a job becomes due at once.
func (r *Jobs) Kicks() <-chan struct{} { return r.kick }

func (r *Jobs) signal(ctx context.Context) {
	store.AfterCommit(ctx, func() {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	})
}

const byKey = "project_id = ? AND kind = ? AND visitor_id = ?"

func key(projectID, kind, visitorID string) []any { return []any{projectID, kind, visitorID} }

// Get returns one job.
func (r *Jobs) Get(ctx context.Context, projectID, kind, visitorID string) (*Job, error) {
	return store.First[Job](ctx, r.db.WithContext(ctx), "chatserver: get job",
		apperr.NotFound("no chat-server sync job for %s %s", kind, visitorID), append([]any{byKey}, key(projectID, kind, visitorID)...)...)
}

// Desire records that j.Desired is wanted for (j.ProjectID, j.Kind,
// j.VisitorID) and makes the job due at now. A desire already synced is a
// no-op; an unban of a visitor never banned needs nothing. It reports
// whether a job is now outstanding. The caller's transaction (the block's
// own) makes the desire and the local change commit together.
func (r *Jobs) Desire(ctx context.Context, j Job, now time.Time) (bool, error) {
	now = now.UTC()
	outstanding := false
	err := r.db.InTx(ctx, func(ctx context.Context) error {
		cur, err := r.Get(ctx, j.ProjectID, j.Kind, j.VisitorID)
		switch {
		case errors.Is(err, apperr.ErrNotFound):
			if j.Desired == DesireUnbanned {
				return nil
			}
			j.State, j.Attempts, j.LastError, j.Generation, j.BanID = StatePending, 0, "", 1, ""
			j.NextAttemptAt, j.CreatedAt, j.UpdatedAt, j.SyncedAt = now, now, now, nil
			if err := r.db.WithContext(ctx).Create(&j).Error; err != nil {
				return fmt.Errorf("chatserver: create job: %w", err)
			}
			outstanding = true
			return nil
		case err != nil:
			return err
		case cur.Desired == j.Desired && cur.State == StateSynced:
			return nil
		}
		upd := map[string]any{"next_attempt_at": now, "updated_at": now, "requested_by": j.RequestedBy, "tenant_id": j.TenantID}
		if j.ExternalID != "" {
			upd["external_id"] = j.ExternalID
		}
		if cur.Desired != j.Desired {
			upd["desired"], upd["state"], upd["attempts"], upd["last_error"] = j.Desired, StatePending, 0, ""
			upd["generation"] = gorm.Expr("generation + 1")
		}
		if err := r.db.WithContext(ctx).Model(&Job{}).Where(byKey, key(j.ProjectID, j.Kind, j.VisitorID)...).
			Updates(upd).Error; err != nil {
			return fmt.Errorf("chatserver: update job: %w", err)
		}
		outstanding = true
		return nil
	})
	if err == nil && outstanding {
		r.signal(ctx)
	}
	return outstanding, err
}

// ForExternal lists the project's ban jobs made for one external id.
func (r *Jobs) ForExternal(ctx context.Context, projectID, externalID string) ([]Job, error) {
	var out []Job
	if err := r.db.WithContext(ctx).Where("project_id = ? AND kind = ? AND external_id = ?", projectID, JobBan, externalID).
		Order("visitor_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("chatserver: jobs of external id: %w", err)
	}
	return out, nil
}

// Due lists up to limit jobs of kind due at now (pending or failed whose
// next attempt has come; no_connection ones too, they are retried rarely).
func (r *Jobs) Due(ctx context.Context, kind string, now time.Time, limit int) ([]Job, error) {
	var out []Job
	err := r.db.WithContext(ctx).Where("kind = ? AND state IN ? AND next_attempt_at <= ?", kind,
		[]string{StatePending, StateFailed, StateNoConnection}, now.UTC()).
		Order("next_attempt_at").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("chatserver: due jobs: %w", err)
	}
	return out, nil
}

// Claim takes j for one attempt: the attempt count grows and the job is
// not due again before now+lease, so another instance's worker skips it.
// It reports false when the job changed or another worker took it.
func (r *Jobs) Claim(ctx context.Context, j *Job, now time.Time, lease time.Duration) (bool, error) {
	now = now.UTC()
	k := key(j.ProjectID, j.Kind, j.VisitorID)
	res := r.db.WithContext(ctx).Model(&Job{}).
		Where(byKey+" AND generation = ? AND state <> ? AND next_attempt_at <= ?", append(k, j.Generation, StateSynced, now)...).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "next_attempt_at": now.Add(lease)})
	if res.Error != nil {
		return false, fmt.Errorf("chatserver: claim job: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	j.Attempts++
	return true, nil
}

// Outcome is the result of one attempt.
type Outcome struct {
	// State: StateSynced, StateFailed or StateNoConnection.
	State string
	// Error is the client-safe reason of a failure.
	Error string
	// Next is when a failed job is due again.
	Next time.Time
	// BanID, when set, is the chat server's ban now in place; ClearBan
	// records that none is (both are recorded even when the job was
	// superseded meanwhile: the next attempt must know what exists there).
	BanID    string
	ClearBan bool
}

// Finish records the outcome of an attempt on j (as claimed). It reports
// false when the desire changed meanwhile (the outcome's state is then not
// applied; the newer desire is due). A synced unban removes the row.
func (r *Jobs) Finish(ctx context.Context, j *Job, o Outcome, now time.Time) (bool, error) {
	now = now.UTC()
	k := key(j.ProjectID, j.Kind, j.VisitorID)
	applied := false
	err := r.db.InTx(ctx, func(ctx context.Context) error {
		db := r.db.WithContext(ctx)
		if o.BanID != "" || o.ClearBan {
			if err := db.Model(&Job{}).Where(byKey, k...).Update("ban_id", o.BanID).Error; err != nil {
				return fmt.Errorf("chatserver: record ban: %w", err)
			}
		}
		cur := append(k, j.Generation)
		where := byKey + " AND generation = ?"
		if o.State == StateSynced && j.Desired == DesireUnbanned {
			res := db.Where(where, cur...).Delete(&Job{})
			applied = res.RowsAffected == 1
			return res.Error
		}
		upd := map[string]any{"state": o.State, "last_error": truncate(o.Error, 500), "updated_at": now}
		if o.State == StateSynced {
			upd["synced_at"], upd["next_attempt_at"] = now, now
		} else {
			upd["next_attempt_at"] = o.Next.UTC()
		}
		res := db.Model(&Job{}).Where(where, cur...).Updates(upd)
		applied = res.RowsAffected == 1
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("chatserver: finish job: %w", err)
	}
	return applied, nil
}

// List returns the project's jobs of kind, outstanding first.
func (r *Jobs) List(ctx context.Context, projectID, kind string, limit int) ([]Job, error) {
	var out []Job
	err := r.db.WithContext(ctx).Where("project_id = ? AND kind = ?", projectID, kind).
		Order("CASE WHEN state = 'synced' THEN 1 ELSE 0 END, updated_at DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("chatserver: list jobs: %w", err)
	}
	return out, nil
}

// Counts returns the number of outstanding ban jobs by state, for one
// project ("" for all).
func (r *Jobs) Counts(ctx context.Context, projectID string) (map[string]int, error) {
	var rows []struct {
		State string
		N     int
	}
	q := r.db.WithContext(ctx).Model(&Job{}).Select("state, COUNT(*) AS n").Where("kind = ? AND state <> ?", JobBan, StateSynced)
	if projectID != "" {
		q = q.Where("project_id = ?", projectID)
	}
	if err := q.Group("state").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("chatserver: count jobs: %w", err)
	}
	out := map[string]int{}
	for _, row := range rows {
		out[row.State] = row.N
	}
	return out, nil
}

// Wake makes a scope's no_connection jobs due at now (a connection was just
// set for the tenant or the project).
func (r *Jobs) Wake(ctx context.Context, scope, scopeID string, now time.Time) error {
	col := "tenant_id"
	if scope == ScopeProject {
		col = "project_id"
	}
	res := r.db.WithContext(ctx).Model(&Job{}).Where(col+" = ? AND state = ?", scopeID, StateNoConnection).
		Update("next_attempt_at", now.UTC())
	if res.Error != nil {
		return fmt.Errorf("chatserver: wake jobs: %w", res.Error)
	}
	if res.RowsAffected > 0 {
		r.signal(ctx)
	}
	return nil
}

// MarkRotation records that project's new chat-server secret is not stored
// yet (reason: a safe message). Never the secret.
func (r *Jobs) MarkRotation(ctx context.Context, projectID, tenantID, actor, reason string, attempts int, next, now time.Time) error {
	now = now.UTC()
	j := Job{ProjectID: projectID, Kind: JobRotationStore, TenantID: tenantID, Desired: DesireStored, State: StateFailed,
		Attempts: attempts, LastError: truncate(reason, 500), Generation: 1, RequestedBy: actor, NextAttemptAt: next.UTC(), CreatedAt: now, UpdatedAt: now}
	return r.db.InTx(ctx, func(ctx context.Context) error {
		db := r.db.WithContext(ctx)
		res := db.Model(&Job{}).Where(byKey, key(projectID, JobRotationStore, "")...).
			Updates(map[string]any{"state": StateFailed, "attempts": attempts, "last_error": j.LastError, "next_attempt_at": j.NextAttemptAt, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("chatserver: mark rotation: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return nil
		}
		if err := db.Create(&j).Error; err != nil {
			return fmt.Errorf("chatserver: mark rotation: %w", err)
		}
		return nil
	})
}

// ClearRotation removes project's rotation_store mark.
func (r *Jobs) ClearRotation(ctx context.Context, projectID string) error {
	if err := r.db.WithContext(ctx).Where(byKey, key(projectID, JobRotationStore, "")...).
		Delete(&Job{}).Error; err != nil {
		return fmt.Errorf("chatserver: clear rotation: %w", err)
	}
	return nil
}

// Rotations lists up to limit projects marked degraded by a rotation whose
// secret is not stored (tenantIDs nil: every tenant).
func (r *Jobs) Rotations(ctx context.Context, tenantIDs []string, limit int) ([]Job, error) {
	var out []Job
	q := r.db.WithContext(ctx).Where("kind = ?", JobRotationStore)
	if tenantIDs != nil {
		q = q.Where("tenant_id IN ?", tenantIDs)
	}
	if err := q.Order("project_id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("chatserver: rotations: %w", err)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n]
}
