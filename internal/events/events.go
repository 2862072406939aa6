// Package events carries cache invalidations between pingauth instances.
//
// Every committed admin change publishes an Event (Bus.Publish, called inside
// the writer's transaction through store.DB.Publish). On PostgreSQL the event
// is a NOTIFY on Channel in that same transaction, so it is delivered to
// every instance exactly when (and only if) the change commits; each serving
// instance LISTENs on a dedicated connection (Listener) and applies events
// to its caches. The publishing instance also applies the event to its own
// caches right after the commit, without waiting for the round trip. On the
// embedded SQLite default (one process) events are delivered in-process
// after commit only.
//
// A listener that loses its connection cannot know what it missed: on every
// (re)connect it calls OnReset, which drops everything the instance caches.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pingstreams/pingauth/internal/store"
)

// Channel is the PostgreSQL NOTIFY channel of invalidation events.
const Channel = "pingauth_invalidate"

// Event is one committed change: Kind is one of the store.Kind* constants,
// ID its object (project, API key, tenant or operator id).
type Event struct {
	Kind string `json:"k"`
	ID   string `json:"id,omitempty"`
	// Origin is the publishing Bus's instance id.
	Origin string `json:"o,omitempty"`
	// Local is true when this process made the change (dispatched after its
	// own commit); false when it came from another instance.
	Local bool `json:"-"`
}

// Handler applies an event to a cache.
type Handler func(Event)

// Bus publishes events and dispatches them to this process's subscribers.
// It implements store.Publisher. Create it with NewBus.
type Bus struct {
	db  *store.DB
	log *slog.Logger
	id  string

	mu       sync.RWMutex
	handlers []Handler
	resets   []func()
}

// NewBus returns a bus over db; set db.Events to it so repositories publish.
func NewBus(db *store.DB, log *slog.Logger) *Bus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return &Bus{db: db, log: log, id: hex.EncodeToString(rnd[:])}
}

// ID is this instance's id (Event.Origin of what it publishes).
func (b *Bus) ID() string { return b.id }

// Subscribe adds a handler for every event (published here or received).
func (b *Bus) Subscribe(h Handler) {
	b.mu.Lock()
	b.handlers = append(b.handlers, h)
	b.mu.Unlock()
}

// OnReset adds a function that drops everything a cache holds; the
// listener calls them on every (re)connect.
func (b *Bus) OnReset(f func()) {
	b.mu.Lock()
	b.resets = append(b.resets, f)
	b.mu.Unlock()
}

// Dispatch applies ev to every subscriber.
func (b *Bus) Dispatch(ev Event) {
	b.mu.RLock()
	hs := b.handlers
	b.mu.RUnlock()
	for _, h := range hs {
		h(ev)
	}
}

// Reset calls every OnReset function.
func (b *Bus) Reset() {
	b.mu.RLock()
	rs := b.resets
	b.mu.RUnlock()
	for _, f := range rs {
		f()
	}
}

// Publish implements store.Publisher: on PostgreSQL it runs pg_notify in
// the transaction ctx carries (store.DB.InTx; without one, in a transaction
// of its own), and in every dialect it dispatches the event to this
// process's subscribers after the commit.
func (b *Bus) Publish(ctx context.Context, kind, id string) error {
	ev := Event{Kind: kind, ID: id, Origin: b.id}
	return b.db.InTx(ctx, func(ctx context.Context) error {
		if b.db.Dialect == store.Postgres {
			payload, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if err := store.Tx(ctx).Exec("SELECT pg_notify(?, ?)", Channel, string(payload)).Error; err != nil {
				return fmt.Errorf("events: notify: %w", err)
			}
		}
		local := ev
		local.Local = true
		store.AfterCommit(ctx, func() { b.Dispatch(local) })
		return nil
	})
}

// Decode parses a NOTIFY payload.
func Decode(payload string) (Event, error) {
	var ev Event
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return Event{}, fmt.Errorf("events: bad payload: %w", err)
	}
	if ev.Kind == "" {
		return Event{}, fmt.Errorf("events: payload without kind")
	}
	return ev, nil
}
