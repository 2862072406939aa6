package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Queue is a bounded, asynchronous log writer: lines written through
// Buffered are appended to an in-memory queue of at most maxBytes and written
// to the underlying writer by one background goroutine, in batches (at most
// every interval, at once when half the queue is full). A line that does not
// fit is dropped and counted, never silently: Dropped reports the total (the
// pingauth_log_dropped_lines_total metric) and, after each batch that followed
// drops, the function given to OnDrop is called with the number dropped (it
// logs a warning saying how many).
//
// Lines written through Direct (warnings and errors, see SplitLevel) first
// write everything queued, then themselves, synchronously: they are never
// dropped and the order of lines is kept. Flush writes the queue now; Close
// writes it and stops the goroutine, after which Buffered writes directly,
// so no line is lost on a clean stop.
type Queue struct {
	out      io.Writer
	maxBytes int
	interval time.Duration

	mu      sync.Mutex // guards buf, dropped, closed
	buf     []byte     // queued lines
	dropped uint64     // dropped since the last report
	closed  bool

	outMu sync.Mutex // serializes writes to out; guards spare
	spare []byte

	total  atomic.Uint64 // dropped lines since start
	onDrop atomic.Pointer[func(dropped, total uint64)]

	wake, full chan struct{}
	done       chan struct{}
	stopped    chan struct{}
	closeOnce  sync.Once
}

// DefaultQueueInterval is how long a line may wait in the queue.
const DefaultQueueInterval = 10 * time.Millisecond

// NewQueue starts the writer goroutine of a queue of maxBytes (> 0) in front
// of out; interval <= 0 means DefaultQueueInterval.
func NewQueue(out io.Writer, maxBytes int, interval time.Duration) *Queue {
	if interval <= 0 {
		interval = DefaultQueueInterval
	}
	q := &Queue{out: out, maxBytes: maxBytes, interval: interval,
		wake: make(chan struct{}, 1), full: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go q.run()
	return q
}

// OnDrop sets the function called (from the writer goroutine) after lines
// were dropped, with the number dropped since the last call and in total.
func (q *Queue) OnDrop(f func(dropped, total uint64)) { q.onDrop.Store(&f) }

// Dropped is the number of lines dropped since the queue started.
func (q *Queue) Dropped() uint64 { return q.total.Load() }

// Buffered is the writer for lines that may wait (and, when the queue is
// full, be dropped). Each Write must be one whole line, as slog handlers do.
func (q *Queue) Buffered() io.Writer { return bufferedWriter{q} }

// Direct is the writer for lines that must not wait or be dropped.
func (q *Queue) Direct() io.Writer { return directWriter{q} }

type bufferedWriter struct{ q *Queue }

func (w bufferedWriter) Write(p []byte) (int, error) {
	q := w.q
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return q.writeOut(p)
	}
	n := len(q.buf)
	if n+len(p) > q.maxBytes {
		q.dropped++
		q.mu.Unlock()
		q.total.Add(1)
		return len(p), nil
	}
	q.buf = append(q.buf, p...)
	q.mu.Unlock()
	switch {
	case n == 0:
		signal(q.wake)
	case n+len(p) >= q.maxBytes/2 && n < q.maxBytes/2:
		signal(q.full)
	}
	return len(p), nil
}

type directWriter struct{ q *Queue }

func (w directWriter) Write(p []byte) (int, error) {
	q := w.q
	q.outMu.Lock()
	defer q.outMu.Unlock()
	_ = q.flushLocked() // an error of the underlying writer shows in the Write below
	return q.out.Write(p)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (q *Queue) writeOut(p []byte) (int, error) {
	q.outMu.Lock()
	defer q.outMu.Unlock()
	return q.out.Write(p)
}

// flushLocked writes the queued lines; q.outMu is held.
func (q *Queue) flushLocked() error {
	q.mu.Lock()
	batch := q.buf
	q.buf = q.spare[:0]
	q.mu.Unlock()
	var err error
	if len(batch) > 0 {
		_, err = q.out.Write(batch)
	}
	if cap(batch) > 2*q.maxBytes {
		batch = nil // grown by a line larger than the queue: do not keep it
	}
	q.spare = batch[:0]
	return err
}

// Flush writes every queued line now, then reports drops (OnDrop).
func (q *Queue) Flush() error {
	q.outMu.Lock()
	err := q.flushLocked()
	q.outMu.Unlock()
	q.report()
	return err
}

// report calls the OnDrop function with the drops not reported yet.
func (q *Queue) report() {
	q.mu.Lock()
	n := q.dropped
	q.dropped = 0
	q.mu.Unlock()
	if n == 0 {
		return
	}
	if f := q.onDrop.Load(); f != nil {
		(*f)(n, q.total.Load())
	}
}

func (q *Queue) run() {
	defer close(q.stopped)
	t := time.NewTimer(q.interval)
	t.Stop()
	for {
		select {
		case <-q.wake:
		case <-q.full:
		case <-q.done:
			return
		}
		t.Reset(q.interval)
		select {
		case <-t.C:
		case <-q.full:
			t.Stop()
		case <-q.done:
			t.Stop()
			return
		}
		_ = q.Flush()
	}
}

// Close writes the queued lines, stops the writer goroutine and makes later
// Buffered writes synchronous. It is safe to call more than once.
func (q *Queue) Close() error {
	var err error
	q.closeOnce.Do(func() {
		close(q.done)
		<-q.stopped
		// Closed and flushed under outMu: a line written directly after
		// this (closed) cannot overtake the queued ones.
		q.outMu.Lock()
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		err = q.flushLocked()
		q.outMu.Unlock()
		q.report()
	})
	return err
}

// SplitLevel is a handler that sends records below slog.LevelWarn to low
// and the others to high; both must have the same options. With low over
// Queue.Buffered and high over Queue.Direct, access lines are queued while
// warnings and errors are written at once, in order.
func SplitLevel(low, high slog.Handler, q *Queue) slog.Handler {
	return &splitLevel{low: low, high: high, q: q}
}

// SplitJSON is SplitLevel over two slog JSON handlers with options opts
// (nil: the defaults), writing to q.Buffered and q.Direct. Without
// opts.ReplaceAttr and opts.AddSource, LogAccess formats its lines itself
// (the same bytes) and writes them to the same queue.
func SplitJSON(q *Queue, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	return &splitLevel{low: slog.NewJSONHandler(q.Buffered(), opts), high: slog.NewJSONHandler(q.Direct(), opts), q: q,
		json: opts.ReplaceAttr == nil && !opts.AddSource}
}

type splitLevel struct {
	low, high slog.Handler
	q         *Queue
	// json: low and high are plain JSON handlers without attributes or
	// groups (SplitJSON): LogAccess may write their lines itself.
	json bool
}

func (s *splitLevel) Enabled(ctx context.Context, l slog.Level) bool { return s.low.Enabled(ctx, l) }

func (s *splitLevel) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return s.high.Handle(ctx, r)
	}
	return s.low.Handle(ctx, r)
}

func (s *splitLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return &splitLevel{low: s.low.WithAttrs(as), high: s.high.WithAttrs(as), q: s.q}
}

func (s *splitLevel) WithGroup(name string) slog.Handler {
	return &splitLevel{low: s.low.WithGroup(name), high: s.high.WithGroup(name), q: s.q}
}

func (s *splitLevel) queue() *Queue { return s.q }

// queued is implemented by handlers that write through a Queue.
type queued interface{ queue() *Queue }

// QueueOf returns the Queue behind l's handler (built by SplitLevel, possibly
// wrapped by Redact), or nil when its lines are written synchronously.
func QueueOf(l *slog.Logger) *Queue {
	if l == nil {
		return nil
	}
	if h, ok := l.Handler().(queued); ok {
		return h.queue()
	}
	return nil
}
