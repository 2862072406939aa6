package mapping

import (
	"context"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// TokenID is the _id pingauth's tokens carry for the end-user of override o
// (nil: no override) under a mapping with prefix: the override's force_id,
// else prefix + external id, as Apply and ApplyOverride derive it.
func TokenID(prefix, externalID string, o *Override) string {
	if o != nil && o.ForceID != "" {
		return o.ForceID
	}
	return prefix + externalID
}

// ChatSync is how far the chat server agrees with a block: the visitor's
// ban there (internal/chatserver sync jobs).
type ChatSync struct {
	VisitorID string `json:"visitor_id"`
	// Desired is "banned" or "unbanned".
	Desired string `json:"desired"`
	// State is "pending", "failed", "no_connection" or "synced".
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

// Override returns one override of the project.
func (r *Repo) Override(ctx context.Context, projectID, externalID string) (*Override, error) {
	return store.First[Override](ctx, r.db.WithContext(ctx), "mapping: get override", apperr.NotFound("no override for this external id"),
		"project_id = ? AND external_id = ?", projectID, externalID)
}
