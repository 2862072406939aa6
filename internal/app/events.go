package app

import (
	"context"
	"time"

	"github.com/pingstreams/pingauth/internal/events"
	"github.com/pingstreams/pingauth/internal/store"
)

// wireEvents makes every committed admin change publish an event
// (store.DB.Events) and applies events to this app's caches: those this
// process published right after its commit, and, once StartListener runs,
// those of every other instance on the same PostgreSQL database.
func (a *App) wireEvents() {
	a.Events = events.NewBus(a.DB, a.Log)
	a.DB.Events = a.Events
	a.Events.Subscribe(a.applyEvent)
	a.Events.OnReset(a.dropCaches)
}

// applyEvent drops what an event makes stale.
func (a *App) applyEvent(ev events.Event) {
	if a.Modes != nil {
		a.Modes.Bridge.Changed(ev.Kind, ev.ID)
	}
	switch ev.Kind {
	case store.KindProject, store.KindProjectDelete, store.KindSecret:
		if a.Secrets != nil {
			a.Secrets.Invalidate(ev.ID)
		}
	case store.KindRoles:
		// This process's enforcer already holds its own changes (and its
		// write still holds the policy lock when the event is dispatched).
		if !ev.Local && a.RBAC != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.RBAC.Reload(ctx); err != nil {
				a.Log.Warn("policy reload after a change event failed", "error", err.Error())
			}
		}
	}
	// store.KindOperator: sessions and tokens are looked up in SQL on every
	// request; nothing is cached.
}

// dropCaches empties every cache (the listener (re)connected).
func (a *App) dropCaches() {
	if a.Modes != nil {
		a.Modes.Bridge.DropCaches()
	}
	if a.Secrets != nil {
		a.Secrets.InvalidateAll()
	}
	if a.RBAC != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.RBAC.Reload(ctx); err != nil {
			a.Log.Warn("policy reload after listener reconnect failed", "error", err.Error())
		}
	}
}

// StartListener subscribes this instance to the changes of every other
// instance (PostgreSQL LISTEN on a dedicated connection, reconnecting with
// backoff; every (re)connect drops all caches). It does nothing on SQLite,
// where one process owns the database. Close stops it.
func (a *App) StartListener() {
	if a.DB.Dialect != store.Postgres || a.listener.Load() != nil {
		return
	}
	l := events.NewListener(a.Config.DatabaseURL, a.Events, events.ListenerOptions{Log: a.Log})
	a.listener.Store(l)
	l.Start()
}

// Listener is the running invalidation listener (nil before StartListener
// or on SQLite).
func (a *App) Listener() *events.Listener { return a.listener.Load() }

// listening reports whether this instance is told of every change at once
// (its listener is connected).
func (a *App) listening() bool {
	l := a.listener.Load()
	return l != nil && l.Ping(context.Background()) == nil
}
