// Package rotation is scheduled rotation of projects' shared secrets: a
// policy per project (every N days, inside a daily UTC window), its
// storage with a claim (lease) so that of several replicas only one
// rotates a due project, and the Scheduler that finds due projects and has
// them rotated (by the admin service, on the chat server).
package rotation

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// Limits of a policy.
const (
	MinEveryDays = 1
	MaxEveryDays = 365
)

// Outcomes of the last scheduled attempt.
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
)

// Policy is a project's scheduled rotation (no row: off).
type Policy struct {
	ProjectID string `gorm:"primaryKey;column:project_id" json:"project_id"`
	EveryDays int    `gorm:"column:every_days" json:"every_days"`
	// WindowStart and WindowEnd are UTC hours: rotations start at or after
	// WindowStart and before WindowEnd (0–24; a window may wrap past
	// midnight, e.g. 22 to 2).
	WindowStart int `gorm:"column:window_start" json:"window_start_hour"`
	WindowEnd   int `gorm:"column:window_end" json:"window_end_hour"`
	// NextDueAt is when the scheduler next looks at the project.
	NextDueAt     time.Time  `gorm:"column:next_due_at" json:"next_due_at"`
	ClaimedBy     string     `gorm:"column:claimed_by" json:"-"`
	ClaimedUntil  *time.Time `gorm:"column:claimed_until" json:"-"`
	LastAttemptAt *time.Time `gorm:"column:last_attempt_at" json:"last_attempt_at,omitempty"`
	LastOutcome   string     `gorm:"column:last_outcome" json:"last_outcome,omitempty"`
	LastError     string     `gorm:"column:last_error" json:"last_error,omitempty"`
	UpdatedBy     string     `gorm:"column:updated_by" json:"updated_by"`
	UpdatedAt     time.Time  `gorm:"column:updated_at" json:"updated_at"`
}

// TableName binds Policy to rotation_policies.
func (Policy) TableName() string { return "rotation_policies" }

// Validate checks the schedule fields, naming the offending one.
func (p *Policy) Validate() error {
	if p.EveryDays < MinEveryDays || p.EveryDays > MaxEveryDays {
		return apperr.Invalid("every_days", "every_days must be between %d and %d", MinEveryDays, MaxEveryDays)
	}
	if p.WindowStart < 0 || p.WindowStart > 23 {
		return apperr.Invalid("window_start_hour", "window_start_hour must be a UTC hour between 0 and 23")
	}
	if p.WindowEnd < 0 || p.WindowEnd > 24 {
		return apperr.Invalid("window_end_hour", "window_end_hour must be a UTC hour between 0 and 24")
	}
	if p.WindowStart == p.WindowEnd%24 && !(p.WindowStart == 0 && p.WindowEnd == 24) {
		return apperr.Invalid("window_end_hour", "the window is empty: window_end_hour must differ from window_start_hour (0–24 for all day)")
	}
	return nil
}

// Window is the window as "HH:00–HH:00 UTC".
func (p *Policy) Window() string {
	return fmt.Sprintf("%02d:00–%02d:00 UTC", p.WindowStart, p.WindowEnd)
}

// InWindow reports whether t falls inside the daily window.
func (p *Policy) InWindow(t time.Time) bool {
	h := t.UTC().Hour()
	end := p.WindowEnd
	if p.WindowStart < end {
		return h >= p.WindowStart && h < end
	}
	return h >= p.WindowStart || h < end // wraps past midnight
}

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// WindowFrom is the first instant at or after t inside the window.
func (p *Policy) WindowFrom(t time.Time) time.Time {
	t = t.UTC()
	if p.InWindow(t) {
		return t
	}
	s := day(t).Add(time.Duration(p.WindowStart) * time.Hour)
	if !s.After(t) {
		s = s.Add(24 * time.Hour)
	}
	return s
}

// WindowEndAfter is the end of the window holding t (t inside the
// window), else of the next one.
func (p *Policy) WindowEndAfter(t time.Time) time.Time {
	t = p.WindowFrom(t)
	e := day(t).Add(time.Duration(p.WindowEnd) * time.Hour)
	if !e.After(t) {
		e = e.Add(24 * time.Hour)
	}
	return e
}

// Period is the rotation interval.
func (p *Policy) Period() time.Duration { return time.Duration(p.EveryDays) * 24 * time.Hour }

// DueAfter is when a secret last rotated at last is next due: EveryDays
// later, moved into the window.
func (p *Policy) DueAfter(last time.Time) time.Time { return p.WindowFrom(last.Add(p.Period())) }

// ParseWindow reads a window like "02-04", "2-4", "02:00-04:00" or "22-02"
// (UTC hours).
func ParseWindow(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(strings.ReplaceAll(strings.TrimSpace(s), "–", "-"), "-")
	bad := apperr.Invalid("window", "window %q is not like 02-04 (UTC hours from-to)", s)
	if !ok {
		return 0, 0, bad
	}
	hour := func(v string) (int, bool) {
		v = strings.TrimSuffix(strings.TrimSpace(v), ":00")
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	var okA, okB bool
	start, okA = hour(a)
	end, okB = hour(b)
	if !okA || !okB {
		return 0, 0, bad
	}
	return start, end, nil
}
