package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/pingstreams/pingauth/internal/events"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) add(ev events.Event) { r.mu.Lock(); r.evs = append(r.evs, ev); r.mu.Unlock() }
func (r *recorder) got() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.evs...)
}

// TestPublishDeliversAfterCommitOnly: in both dialects a published event
// reaches this process's subscribers after the commit, marked local, and
// never when the transaction rolls back.
func TestPublishDeliversAfterCommitOnly(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		bus := events.NewBus(db, nil)
		db.Events = bus
		var rec recorder
		bus.Subscribe(rec.add)
		ctx := context.Background()
		err := db.InTx(ctx, func(ctx context.Context) error {
			if err := db.Publish(ctx, store.KindAPIKey, "k1"); err != nil {
				return err
			}
			if n := len(rec.got()); n != 0 {
				t.Errorf("%d events delivered before the commit", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := db.Change(ctx, store.KindProject, "p1", func(context.Context) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		got := rec.got()
		if len(got) != 1 || got[0].Kind != store.KindAPIKey || got[0].ID != "k1" || !got[0].Local || got[0].Origin != bus.ID() {
			t.Fatalf("events = %+v, want one local apikey k1", got)
		}
	})
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"k":"apikey","id":"x","o":"y"}`, true},
		{`{"id":"x"}`, false},
		{`not json`, false},
	} {
		ev, err := events.Decode(c.in)
		if (err == nil) != c.ok {
			t.Errorf("Decode(%q) = %+v, %v", c.in, ev, err)
		}
		if err == nil && ev.Local {
			t.Errorf("Decode(%q) marked local", c.in)
		}
	}
}
