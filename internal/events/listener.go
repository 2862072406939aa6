package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listener holds one dedicated PostgreSQL connection that LISTENs on
// Channel and dispatches what arrives to a Bus. It reconnects with backoff
// after any failure (PostgreSQL restart, network blip, terminated backend)
// and resets the bus (drops every cache) on each (re)connect, since
// notifications sent while it was away are lost.
type Listener struct {
	dsn     string
	bus     *Bus
	log     *slog.Logger
	appName string

	connects atomic.Int64
	mu       sync.Mutex
	ready    chan struct{} // closed while connected; replaced on disconnect
	cancel   context.CancelFunc
	done     chan struct{}
}

// ListenerOptions tune NewListener.
type ListenerOptions struct {
	Log *slog.Logger
}

// NewListener returns a listener for dsn (a PostgreSQL URL or key=value DSN).
// Its connection's application_name is AppName (unique per listener).
func NewListener(dsn string, bus *Bus, o ListenerOptions) *Listener {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return &Listener{dsn: dsn, bus: bus, log: o.Log, appName: "pingauth-listen-" + hex.EncodeToString(rnd[:]), ready: make(chan struct{})}
}

// AppName is the application_name of the listener's connection.
func (l *Listener) AppName() string { return l.appName }

// Connects counts successful (re)connections.
func (l *Listener) Connects() int64 { return l.connects.Load() }

// Ready returns a channel closed while the listener is connected.
func (l *Listener) Ready() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ready
}

// ErrNotListening is Ping's answer while the listener is not connected.
var ErrNotListening = errors.New("events: not listening for other instances' changes; serving from caches bounded by their TTLs")

// Ping reports whether the listener is connected (for /readyz: degraded
// while it is not).
func (l *Listener) Ping(context.Context) error {
	select {
	case <-l.Ready():
		return nil
	default:
		return ErrNotListening
	}
}

// Start runs the listener until Close.
func (l *Listener) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
}

// Close stops the listener and waits for it.
func (l *Listener) Close() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
}

func (l *Listener) run(ctx context.Context) {
	const minB, maxB = 100 * time.Millisecond, 5 * time.Second
	backoff := minB
	for ctx.Err() == nil {
		up, err := l.session(ctx)
		if up {
			backoff = minB // it was connected: retry quickly
		}
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("invalidation listener disconnected; reconnecting", "error", err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxB)
	}
}

// session connects, LISTENs, resets the bus and dispatches until an error.
func (l *Listener) session(ctx context.Context) (up bool, err error) {
	cfg, err := pgx.ParseConfig(l.dsn)
	if err != nil {
		return false, err
	}
	cfg.RuntimeParams["application_name"] = l.appName
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return false, err
	}
	// Subscribed: whatever changed while we were not is unknown, drop it all.
	l.bus.Reset()
	l.connects.Add(1)
	l.mu.Lock()
	close(l.ready)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.ready = make(chan struct{})
		l.mu.Unlock()
	}()
	if n := l.connects.Load(); n > 1 {
		l.log.Info("invalidation listener reconnected; caches dropped", "connects", n)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		ev, err := Decode(n.Payload)
		if err != nil {
			l.log.Warn("ignoring invalidation event", "error", err.Error())
			continue
		}
		if ev.Origin == l.bus.ID() {
			continue // applied after our own commit already
		}
		l.bus.Dispatch(ev)
	}
}
