package rotation

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// Repo stores rotation policies. Create it with NewRepo.
type Repo struct{ db *store.DB }

// NewRepo returns the repository over db.
func NewRepo(db *store.DB) *Repo { return &Repo{db: db} }

// Get returns the project's policy (apperr.ErrNotFound: scheduled rotation
// is off).
func (r *Repo) Get(ctx context.Context, projectID string) (*Policy, error) {
	return store.First[Policy](ctx, r.db.DB, "rotation: get policy",
		apperr.NotFound("project %s has no rotation schedule", projectID), "project_id = ?", projectID)
}

// Put stores p's schedule (every_days, window, next_due_at, updated_*),
// keeping the outcome of the last attempt and releasing any claim.
func (r *Repo) Put(ctx context.Context, p *Policy) error {
	p.NextDueAt, p.UpdatedAt = p.NextDueAt.UTC(), p.UpdatedAt.UTC()
	p.ClaimedBy, p.ClaimedUntil = "", nil
	err := r.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "project_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"every_days", "window_start", "window_end", "next_due_at", "claimed_by", "claimed_until", "updated_by", "updated_at"}),
	}).Create(p).Error
	if err != nil {
		return fmt.Errorf("rotation: put policy: %w", err)
	}
	return nil
}

// Delete turns the project's scheduled rotation off.
func (r *Repo) Delete(ctx context.Context, projectID string) error {
	res := r.db.WithContext(ctx).Delete(&Policy{}, "project_id = ?", projectID)
	if res.Error != nil {
		return fmt.Errorf("rotation: delete policy: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFound("project %s has no rotation schedule", projectID)
	}
	return nil
}

// List returns the policies of the given projects, by project id.
func (r *Repo) List(ctx context.Context, projectIDs []string) (map[string]*Policy, error) {
	out := map[string]*Policy{}
	if len(projectIDs) == 0 {
		return out, nil
	}
	var ps []Policy
	// In chunks: a dashboard may list many projects.
	for i := 0; i < len(projectIDs); i += 500 {
		chunk := projectIDs[i:min(i+500, len(projectIDs))]
		ps = ps[:0]
		if err := r.db.WithContext(ctx).Where("project_id IN ?", chunk).Find(&ps).Error; err != nil {
			return nil, fmt.Errorf("rotation: list policies: %w", err)
		}
		for j := range ps {
			p := ps[j]
			out[p.ProjectID] = &p
		}
	}
	return out, nil
}

// Due lists up to limit policies whose next_due_at has passed at now and
// that no replica holds a live claim on, oldest first.
func (r *Repo) Due(ctx context.Context, now time.Time, limit int) ([]Policy, error) {
	now = now.UTC()
	var ps []Policy
	err := r.db.WithContext(ctx).Where("next_due_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)", now, now).
		Order("next_due_at").Limit(limit).Find(&ps).Error
	if err != nil {
		return nil, fmt.Errorf("rotation: due policies: %w", err)
	}
	return ps, nil
}

// Claim takes the project for owner until until, if it is still due at now
// and unclaimed (or its claim lapsed): one conditional UPDATE, so of
// several replicas claiming at once exactly one succeeds (SQLite and
// PostgreSQL alike).
func (r *Repo) Claim(ctx context.Context, projectID, owner string, now, until time.Time) (bool, error) {
	now = now.UTC()
	res := r.db.WithContext(ctx).Model(&Policy{}).
		Where("project_id = ? AND next_due_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)", projectID, now, now).
		Updates(map[string]any{"claimed_by": owner, "claimed_until": until.UTC()})
	if res.Error != nil {
		return false, fmt.Errorf("rotation: claim: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Result is what the holder of a claim writes back.
type Result struct {
	// NextDueAt is when the project is looked at again.
	NextDueAt time.Time
	// Attempted: a rotation was tried (Outcome, Error and the attempt time
	// are recorded); false only reschedules.
	Attempted bool
	At        time.Time
	Outcome   string
	Error     string
	// HoldUntil keeps the claim (no replica retries before; zero: release).
	HoldUntil time.Time
}

// Finish records res for the project if owner still holds its claim.
func (r *Repo) Finish(ctx context.Context, projectID, owner string, res Result) error {
	set := map[string]any{"next_due_at": res.NextDueAt.UTC(), "claimed_by": "", "claimed_until": gorm.Expr("NULL")}
	if !res.HoldUntil.IsZero() {
		set["claimed_by"], set["claimed_until"] = owner, res.HoldUntil.UTC()
	}
	if res.Attempted {
		set["last_attempt_at"], set["last_outcome"], set["last_error"] = res.At.UTC(), res.Outcome, res.Error
	}
	q := r.db.WithContext(ctx).Model(&Policy{}).Where("project_id = ? AND claimed_by = ?", projectID, owner).Updates(set)
	if q.Error != nil {
		return fmt.Errorf("rotation: finish: %w", q.Error)
	}
	return nil
}
