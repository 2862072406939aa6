package admin

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rotation"
)

// RotationPolicies stores scheduled-rotation policies (*rotation.Repo).
type RotationPolicies interface {
	Get(ctx context.Context, projectID string) (*rotation.Policy, error)
	Put(ctx context.Context, p *rotation.Policy) error
	Delete(ctx context.Context, projectID string) error
	List(ctx context.Context, projectIDs []string) (map[string]*rotation.Policy, error)
}

// SchedulerName is the scheduled rotation's name in audit events.
const SchedulerName = "scheduler"

// Scheduler is the actor of scheduled rotations.
func Scheduler() Actor { return Actor{Email: SchedulerName} }

// TenantRotationConcurrency is how many projects a tenant-wide rotation
// rotates at once.
const TenantRotationConcurrency = 4

// Default window of a schedule set without one (UTC hours).
const (
	DefaultWindowStart = 2
	DefaultWindowEnd   = 4
)

// RotationPolicyInput sets a project's scheduled rotation.
type RotationPolicyInput struct {
	EveryDays int `json:"every_days"`
	// WindowStartHour and WindowEndHour are UTC hours (nil: 2 and 4).
	WindowStartHour *int `json:"window_start_hour"`
	WindowEndHour   *int `json:"window_end_hour"`
}

// RotationStatus is a project's rotation state as the dashboard, the
// project page and the API show it.
type RotationStatus struct {
	// Policy is the schedule (nil: scheduled rotation is off).
	Policy *rotation.Policy `json:"policy"`
	// LastRotation is when the current secret version was created.
	LastRotation *time.Time `json:"last_rotation,omitempty"`
	// NextDue is when the schedule rotates next (nil: no schedule).
	NextDue *time.Time `json:"next_due,omitempty"`
	// Overdue: the window of NextDue has closed without a rotation.
	Overdue bool `json:"overdue"`
}

func (s *Service) rotations() (RotationPolicies, error) {
	if s.d.Rotations == nil {
		return nil, apperr.Unavailable("scheduled rotation is not configured on this server", nil)
	}
	return s.d.Rotations, nil
}

// SetRotationPolicy turns on (or changes) the project's scheduled
// rotation: every in.EveryDays days, inside the daily UTC window. The next
// rotation is due EveryDays after the current secret version was created
// (now when there is none), moved into the window.
func (s *Service) SetRotationPolicy(ctx context.Context, a Actor, p *project.Project, in RotationPolicyInput) (RotationStatus, error) {
	repo, err := s.rotations()
	if err != nil {
		return RotationStatus{}, err
	}
	pol := &rotation.Policy{ProjectID: p.ID, EveryDays: in.EveryDays, WindowStart: DefaultWindowStart, WindowEnd: DefaultWindowEnd,
		UpdatedBy: a.Email, UpdatedAt: s.d.Now()}
	if in.WindowStartHour != nil {
		pol.WindowStart = *in.WindowStartHour
	}
	if in.WindowEndHour != nil {
		pol.WindowEnd = *in.WindowEndHour
	}
	if err := pol.Validate(); err != nil {
		return RotationStatus{}, err
	}
	last, err := s.LastRotation(ctx, p.ID)
	if err != nil {
		return RotationStatus{}, err
	}
	base := s.d.Now()
	if last != nil {
		base = *last
	}
	pol.NextDueAt = pol.DueAfter(base)
	if err := repo.Put(ctx, pol); err != nil {
		return RotationStatus{}, err
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.RotationPolicySet, Target: p.ID,
		Details: map[string]any{"every_days": pol.EveryDays, "window_start_hour": pol.WindowStart, "window_end_hour": pol.WindowEnd}})
	return s.ScheduleStatus(pol, last), nil
}

// DeleteRotationPolicy turns the project's scheduled rotation off.
func (s *Service) DeleteRotationPolicy(ctx context.Context, a Actor, p *project.Project) error {
	repo, err := s.rotations()
	if err != nil {
		return err
	}
	if err := repo.Delete(ctx, p.ID); err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.RotationPolicyDelete, Target: p.ID})
	return nil
}

// RotationStatus returns the project's rotation state.
func (s *Service) RotationStatus(ctx context.Context, p *project.Project) (RotationStatus, error) {
	last, err := s.LastRotation(ctx, p.ID)
	if err != nil {
		return RotationStatus{}, err
	}
	var pol *rotation.Policy
	if s.d.Rotations != nil {
		pol, err = s.d.Rotations.Get(ctx, p.ID)
		if errors.Is(err, apperr.ErrNotFound) {
			pol, err = nil, nil
		}
		if err != nil {
			return RotationStatus{}, err
		}
	}
	return s.ScheduleStatus(pol, last), nil
}

// RotationPolicies returns the schedules of the given projects (absent:
// off), for lists such as the dashboard.
func (s *Service) RotationPolicies(ctx context.Context, projectIDs []string) (map[string]*rotation.Policy, error) {
	if s.d.Rotations == nil {
		return map[string]*rotation.Policy{}, nil
	}
	return s.d.Rotations.List(ctx, projectIDs)
}

// ScheduleStatus is the rotation state of a project with schedule pol (nil:
// off) whose current secret was created at last (nil: none).
func (s *Service) ScheduleStatus(pol *rotation.Policy, last *time.Time) RotationStatus {
	st := RotationStatus{Policy: pol, LastRotation: last}
	if pol == nil {
		return st
	}
	due := pol.NextDueAt
	if last != nil {
		due = pol.DueAfter(*last)
	}
	due = due.UTC()
	st.NextDue = &due
	st.Overdue = s.d.Now().After(pol.WindowEndAfter(due))
	return st
}

// LastRotation is when the project's current secret version was created
// (nil: it has none); rotation.Target.
func (s *Service) LastRotation(ctx context.Context, projectID string) (*time.Time, error) {
	info, err := s.SecretInfo(ctx, projectID)
	if err != nil {
		return nil, err
	}
	return info.LastRotation, nil
}

// RotateScheduled rotates the project's secret on the chat server as the
// scheduler (rotation.Target). The old version keeps the deployment's
// grace window on pingauth's /verify.
func (s *Service) RotateScheduled(ctx context.Context, projectID string) error {
	p, err := s.d.Projects.Get(ctx, projectID)
	if err != nil {
		return err
	}
	rot, err := s.RotateSecret(ctx, Scheduler(), p, RotateInput{})
	if err != nil {
		return err
	}
	if !rot.ProbeOK {
		s.d.Log.WarnContext(ctx, "scheduled rotation: a probe token signed with the new secret did not pass the chat server's /testauth",
			"project_id", p.ID, "version", rot.Version.Version)
	}
	return nil
}

// Outcomes of one project in a tenant-wide rotation.
const (
	TenantRotateOK      = "ok"
	TenantRotateFailed  = "failed"
	TenantRotateSkipped = "skipped"
)

// TenantRotateInput asks for a tenant-wide rotation.
type TenantRotateInput struct {
	// GraceSeconds: how long the replaced versions still verify on
	// pingauth's own /verify (the chat server switches at once).
	GraceSeconds *int `json:"grace_seconds"`
}

// ProjectRotation is one project's line of a tenant-wide rotation.
type ProjectRotation struct {
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	// Outcome is ok, failed or skipped (no chat-server connection).
	Outcome string `json:"outcome"`
	// Reason is the client-safe reason of a failure or skip, or a warning.
	Reason  string `json:"reason,omitempty"`
	Version int    `json:"version,omitempty"`
	ProbeOK bool   `json:"probe_ok"`
}

// TenantRotation is the report of a tenant-wide rotation.
type TenantRotation struct {
	TenantID string            `json:"tenant_id"`
	Projects []ProjectRotation `json:"projects"`
	OK       int               `json:"ok"`
	Failed   int               `json:"failed"`
	Skipped  int               `json:"skipped"`
}

// RotateTenant rotates every project of the tenant on the chat server
// ("staff left"), TenantRotationConcurrency at a time. A project without a
// chat-server connection is skipped; one project's failure does not stop
// the others. progress (optional) is called once per project as it
// finishes (never concurrently). The report lists projects in id order.
func (s *Service) RotateTenant(ctx context.Context, a Actor, tenantID string, in TenantRotateInput, progress func(ProjectRotation)) (TenantRotation, error) {
	if _, err := graceOption(in.GraceSeconds); err != nil {
		return TenantRotation{}, err
	}
	if _, err := s.d.Projects.GetTenant(ctx, tenantID); err != nil {
		return TenantRotation{}, err
	}
	_, conns, err := s.chat()
	if err != nil {
		return TenantRotation{}, err
	}
	ps, err := s.d.Projects.List(ctx, project.ListFilter{TenantIDs: []string{tenantID}})
	if err != nil {
		return TenantRotation{}, err
	}
	out := TenantRotation{TenantID: tenantID, Projects: make([]ProjectRotation, len(ps))}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, TenantRotationConcurrency)
	)
	for i := range ps {
		p := &ps[i]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := ProjectRotation{ProjectID: p.ID, Name: p.Name}
			switch _, cerr := conns.For(ctx, p.ID, p.TenantID); {
			case errors.Is(cerr, apperr.ErrNotFound):
				r.Outcome, r.Reason = TenantRotateSkipped, "no chat-server connection (neither the project's nor the tenant's)"
			case ctx.Err() != nil:
				r.Outcome, r.Reason = TenantRotateFailed, "cancelled"
			case cerr != nil:
				r.Outcome, r.Reason = TenantRotateFailed, apperr.Message(cerr)
			default:
				rot, err := s.RotateSecret(ctx, a, p, RotateInput{GraceSeconds: in.GraceSeconds})
				if err != nil {
					r.Outcome, r.Reason = TenantRotateFailed, apperr.Message(err)
					break
				}
				r.Outcome, r.Version, r.ProbeOK = TenantRotateOK, rot.Version.Version, rot.ProbeOK
				if !rot.ProbeOK {
					r.Reason = "rotated, but a probe token did not pass the chat server's /testauth"
				}
			}
			mu.Lock()
			defer mu.Unlock()
			out.Projects[i] = r
			if progress != nil {
				progress(r)
			}
		})
	}
	wg.Wait()
	for _, r := range out.Projects {
		switch r.Outcome {
		case TenantRotateOK:
			out.OK++
		case TenantRotateFailed:
			out.Failed++
		default:
			out.Skipped++
		}
	}
	s.record(ctx, a, audit.Event{TenantID: tenantID, Action: audit.SecretTenantRotate, Target: tenantID,
		Details: map[string]any{"ok": out.OK, "failed": out.Failed, "skipped": out.Skipped}})
	return out, nil
}
