package bridge

import (
	"context"
	"errors"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
)

// OverrideChange is one committed change of an override: Before is the
// stored override before it (nil: none), After the one after it (nil:
// deleted); Prefix is the project's mapping prefix (the token _id of an
// override without force_id is Prefix + external id).
type OverrideChange struct {
	Project       *project.Project
	Actor         string
	Before, After *mapping.Override
	Prefix        string
}

// OverrideSync is told of every override change (console, API and CLI all
// change overrides here) and reports the chat-server state of each
// override. The admin service layer implements it (ban sync, issue 13).
type OverrideSync interface {
	// OverrideChanged runs inside the change's transaction (ctx carries
	// it): what it writes commits with the change, or neither does.
	OverrideChanged(ctx context.Context, c OverrideChange) error
	// OverrideSyncs returns the chat-server state of the project's
	// overrides, by external id (absent: nothing to sync).
	OverrideSyncs(ctx context.Context, projectID string) (map[string]*mapping.ChatSync, error)
}

// SetOverrideSync installs s (wiring, before the admin serves requests).
func (a *Admin) SetOverrideSync(s OverrideSync) { a.sync = s }

// changeOverride runs write and, with an OverrideSync installed, tells it
// of the change in the same transaction.
func (a *Admin) changeOverride(ctx context.Context, actor string, p *project.Project, externalID string, after *mapping.Override, write func(ctx context.Context) error) error {
	if a.sync == nil {
		return write(ctx)
	}
	return a.db.InTx(ctx, func(ctx context.Context) error {
		before, err := a.settings.Override(ctx, p.ID, externalID)
		if errors.Is(err, apperr.ErrNotFound) {
			before, err = nil, nil
		}
		if err != nil {
			return err
		}
		if err := write(ctx); err != nil {
			return err
		}
		m, err := a.settings.Mapping(ctx, p.ID)
		if err != nil {
			return err
		}
		return a.sync.OverrideChanged(ctx, OverrideChange{Project: p, Actor: actor, Before: before, After: after, Prefix: m.Prefix})
	})
}

// withSyncs fills the overrides' ChatSync (best effort: the overrides are
// shown even when the sync state cannot be read).
func (a *Admin) withSyncs(ctx context.Context, projectID string, os []mapping.Override) []mapping.Override {
	if a.sync == nil || len(os) == 0 {
		return os
	}
	st, err := a.sync.OverrideSyncs(ctx, projectID)
	if err != nil {
		return os
	}
	for i := range os {
		os[i].ChatSync = st[os[i].ExternalID]
	}
	return os
}
