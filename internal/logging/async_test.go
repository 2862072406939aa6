package logging_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/logging"
)

// lockedBuffer is a goroutine-safe sink; gate, when set, blocks every Write
// until it is closed (a slow disk).
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	gate   chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	if l.gate != nil {
		<-l.gate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// queuedLogger is the logger app.NewLogger builds over a queue.
func queuedLogger(out *lockedBuffer, maxBytes int, interval time.Duration) (*slog.Logger, *logging.Queue) {
	q := logging.NewQueue(out, maxBytes, interval)
	ho := &slog.HandlerOptions{Level: slog.LevelDebug}
	log := slog.New(logging.Redact(logging.SplitLevel(slog.NewJSONHandler(q.Buffered(), ho), slog.NewJSONHandler(q.Direct(), ho), q)))
	q.OnDrop(func(dropped, total uint64) {
		log.Warn("log lines dropped", "dropped", dropped, "dropped_total", total)
	})
	return log, q
}

func TestQueueCloseWritesEveryLineInOrder(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{}
	log, q := queuedLogger(out, 1<<20, time.Hour) // nothing is written by the timer
	if logging.QueueOf(log) != q || logging.QueueOf(log.With("a", 1)) != q {
		t.Fatal("QueueOf does not find the queue behind the logger")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("http request", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(out.String(), "\n"); n != 0 {
		t.Fatalf("%d lines written before the interval or a full queue", n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2000 || q.Dropped() != 0 {
		t.Fatalf("%d lines after Close, %d dropped; want 2000, 0", len(lines), q.Dropped())
	}
	next := map[string]int{}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l[strings.Index(l, `"g":`):], `"g":%d,"i":%d`, &g, &i); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if k := fmt.Sprint(g); i != next[k] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[k]-1)
		}
		next[fmt.Sprint(g)]++
	}
	// After Close, lines are written at once.
	log.Info("stopped")
	if !strings.HasSuffix(out.String(), "\"msg\":\"stopped\"}\n") {
		t.Fatalf("a line after Close was not written: %q", out.String()[len(out.String())-80:])
	}
	if err := q.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestQueueWritesInBatchesAfterTheInterval(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{}
	log, q := queuedLogger(out, 1<<20, time.Millisecond)
	defer q.Close()
	for i := range 100 {
		log.Info("http request", "i", i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("queued lines not written by the writer goroutine: %d of 100", strings.Count(out.String(), "\n"))
		}
		time.Sleep(time.Millisecond)
	}
	out.mu.Lock()
	writes := out.writes
	out.mu.Unlock()
	if writes >= 100 {
		t.Fatalf("%d writes for 100 lines: not batched", writes)
	}
}

func TestQueueWarningsAreWrittenAtOnceAfterQueuedLines(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{}
	log, q := queuedLogger(out, 1<<20, time.Hour)
	defer q.Close()
	log.Info("first")
	log.Debug("second")
	log.Warn("third")
	got := out.String()
	if strings.Count(got, "\n") != 3 || !(strings.Index(got, "first") < strings.Index(got, "second") && strings.Index(got, "second") < strings.Index(got, "third")) {
		t.Fatalf("want first, second, third written by the warning: %q", got)
	}
	log.Error("fourth")
	if !strings.Contains(out.String(), "fourth") {
		t.Fatal("an error was queued")
	}
}

func TestQueueCountsAndReportsDroppedLines(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{gate: make(chan struct{})}
	log, q := queuedLogger(out, 64<<10, time.Millisecond)
	line := strings.Repeat("x", 200)
	// The writer goroutine takes the first batch and blocks in Write (a
	// stalled disk); everything after fills the 64 KiB queue and overflows.
	log.Info("http request", "pad", line)
	time.Sleep(20 * time.Millisecond)
	const n = 2000
	for range n {
		log.Info("http request", "pad", line)
	}
	dropped := q.Dropped()
	if dropped == 0 || dropped >= n {
		t.Fatalf("dropped %d of %d lines into a stalled 64 KiB queue", dropped, n)
	}
	close(out.gate)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	written := strings.Count(got, `"msg":"http request"`)
	if uint64(written)+dropped != n+1 {
		t.Fatalf("%d lines written + %d dropped != %d logged", written, dropped, n+1)
	}
	want := fmt.Sprintf(`"msg":"log lines dropped","dropped":%d,"dropped_total":%d`, dropped, dropped)
	if !strings.Contains(got, want) || !strings.Contains(got, `"level":"WARN"`) {
		t.Fatalf("no warning %s in the log:\n%s", want, got[max(0, len(got)-400):])
	}
	if q.Dropped() != dropped {
		t.Fatalf("the report itself was dropped: %d, then %d", dropped, q.Dropped())
	}
}

func TestQueuedLoggerRedacts(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{}
	log, q := queuedLogger(out, 1<<20, time.Hour)
	log.Info("login "+jwt, "password", secret, "path", "/auth/"+jwt, "route", "/auth/:projectId", "status", 200)
	log.LogAttrs(context.Background(), slog.LevelInfo, "http request", slog.String("request_id", "Bearer "+secret), slog.String("remote", "10.0.0.1"))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, leaked := range []string{secret, jwt} {
		if strings.Contains(got, leaked) {
			t.Fatalf("%q leaked: %s", leaked, got)
		}
	}
	if !strings.Contains(got, `"route":"/auth/:projectId","status":200`) || !strings.Contains(got, `"remote":"10.0.0.1"`) {
		t.Fatalf("unchanged attributes lost: %s", got)
	}
}

func TestSafeKeysAreNotSensitive(t *testing.T) {
	t.Parallel()
	for _, k := range logging.SafeKeys() {
		if logging.IsSensitiveKey(k) {
			t.Errorf("%q is on the fast path but sensitive", k)
		}
	}
}
