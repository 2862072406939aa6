// Package audit records who did what: every operator action and secret
// rotation is appended to audit_events. Details never carry secret values.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pingstreams/pingauth/internal/store"
)

// Event is one audit record.
type Event struct {
	ID        int64          `gorm:"primaryKey" json:"id"`
	At        time.Time      `json:"at"`
	Actor     string         `json:"actor"`
	TenantID  string         `json:"tenant_id,omitempty"`
	ProjectID string         `json:"project_id,omitempty"`
	Action    string         `json:"action"`
	Target    string         `json:"target,omitempty"`
	Details   map[string]any `gorm:"serializer:json" json:"details,omitempty"`
}

// TableName binds Event to audit_events.
func (Event) TableName() string { return "audit_events" }

// Log writes and reads audit events.
type Log struct{ db *store.DB }

// New returns an audit log over db.
func New(db *store.DB) *Log { return &Log{db: db} }

// Record appends e. At defaults to now.
func (l *Log) Record(ctx context.Context, e Event) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	if e.Actor == "" {
		e.Actor = "system"
	}
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	if err := l.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// Query narrows List.
type Query struct {
	// TenantIDs limits to these tenants when non-nil.
	TenantIDs []string
	ProjectID string
	Action    string
	BeforeID  int64 // paging: only events with id < BeforeID
	Limit     int
}

// List returns events newest first.
func (l *Log) List(ctx context.Context, q Query) ([]Event, error) {
	tx := l.db.WithContext(ctx).Order("id DESC")
	if q.TenantIDs != nil {
		if len(q.TenantIDs) == 0 {
			return []Event{}, nil
		}
		tx = tx.Where("tenant_id IN ?", q.TenantIDs)
	}
	if q.ProjectID != "" {
		tx = tx.Where("project_id = ?", q.ProjectID)
	}
	if q.Action != "" {
		tx = tx.Where("action = ?", q.Action)
	}
	if q.BeforeID > 0 {
		tx = tx.Where("id < ?", q.BeforeID)
	}
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	var out []Event
	if err := tx.Limit(q.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}

// MarshalDetails is a helper for templates.
func (e Event) MarshalDetails() string {
	b, _ := json.Marshal(e.Details)
	return string(b)
}
