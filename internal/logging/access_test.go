package logging_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/logging"
)

// accessLines returns the line LogAccess writes for a and the line the JSON
// handler writes for the same record through the same logger (Redact over
// SplitJSON over a queue), at time now.
func accessLines(t *testing.T, level slog.Level, now time.Time, a *logging.Access) (fast, ref string) {
	t.Helper()
	out := &lockedBuffer{}
	q := logging.NewQueue(out, 1<<20, time.Hour)
	defer q.Close()
	log := slog.New(logging.Redact(logging.SplitJSON(q, nil)))
	ctx := context.Background()
	logging.LogAccess(ctx, log, level, now, a)
	_ = q.Flush()
	fast = out.String()
	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	rec := slog.NewRecord(now, level, logging.AccessMessage, 0)
	rec.AddAttrs(logging.AccessAttrs(a)...)
	if err := log.Handler().Handle(ctx, rec); err != nil {
		t.Fatal(err)
	}
	_ = q.Flush()
	return fast, out.String()
}

var accessSeeds = []logging.Access{
	{RequestID: "0123456789abcdef", Method: "POST", Route: "/auth/:projectId", Path: "/auth/bench", Status: 200, Duration: 1234567 * time.Nanosecond, Remote: "127.0.0.1"},
	{RequestID: "eyJhbGciOi.eyJzdWIiOi.sig", Method: "GET", Route: "unmatched", Path: "/x/eyJhbGciOiJI.eyJzdWIiOiIx.abc/prt_abcdefghijklmnopqrstuvwxyz_0123456789012345678901234567890123456789012", Status: 404, Remote: "::1"},
	{RequestID: "a", Method: "P\"O\\ST\n", Route: "/r", Path: "/a b/Bearer abcdefghijkl/\x01\x1f\x7f/\xff\xfe/\u2028\u2029/é<>&", Status: 503, Duration: -5 * time.Millisecond, Remote: ""},
	{Duration: 3 * time.Hour},
	{Duration: 999 * time.Nanosecond},
}

func TestLogAccessMatchesJSONHandler(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 1, 42, 29, 332157254, time.UTC)
	for _, a := range accessSeeds {
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError} {
			fast, ref := accessLines(t, level, now, &a)
			if fast != ref || fast == "" {
				t.Fatalf("LogAccess wrote\n%q\nthe JSON handler\n%q", fast, ref)
			}
		}
	}
	fast, _ := accessLines(t, slog.LevelInfo, now, &accessSeeds[1])
	if strings.Contains(fast, "eyJ") || strings.Contains(fast, "prt_") {
		t.Fatalf("credential not scrubbed: %s", fast)
	}
}

// TestLogAccessQueue: info lines are queued (and dropped, counted, when the
// queue is full), error lines written at once; the level filter applies;
// other loggers get the same line through slog.
func TestLogAccessQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	out := &lockedBuffer{}
	q := logging.NewQueue(out, 300, time.Hour)
	defer q.Close()
	log := slog.New(logging.Redact(logging.SplitJSON(q, &slog.HandlerOptions{Level: slog.LevelInfo})))
	a := accessSeeds[0]
	logging.LogAccess(ctx, log, slog.LevelDebug, time.Now(), &a)
	logging.LogAccess(ctx, log, slog.LevelInfo, time.Now(), &a)
	if out.String() != "" {
		t.Fatalf("an info line was written before a flush: %q", out.String())
	}
	logging.LogAccess(ctx, log, slog.LevelInfo, time.Now(), &a) // does not fit: dropped
	if q.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", q.Dropped())
	}
	logging.LogAccess(ctx, log, slog.LevelError, time.Now(), &a)
	if got := strings.Count(out.String(), "\n"); got != 2 || !strings.Contains(out.String(), `"level":"ERROR"`) {
		t.Fatalf("after an error line: %q", out.String())
	}
	var plain lockedBuffer
	logging.LogAccess(ctx, slog.New(logging.Redact(slog.NewJSONHandler(&plain, nil))), slog.LevelInfo, time.Now(), &accessSeeds[1])
	if !strings.Contains(plain.String(), `"path":"/x/[REDACTED]/[REDACTED]"`) {
		t.Fatalf("through slog: %s", plain.String())
	}
}

func FuzzAccessLine(f *testing.F) {
	for _, a := range accessSeeds {
		f.Add(a.RequestID, a.Method, a.Path, a.Remote, a.Status, int64(a.Duration), false)
	}
	now := time.Date(2026, 12, 2, 1, 42, 29, 332157254, time.UTC)
	f.Fuzz(func(t *testing.T, id, method, path, remote string, status int, d int64, isErr bool) {
		level := slog.LevelInfo
		if isErr {
			level = slog.LevelError
		}
		a := logging.Access{RequestID: id, Method: method, Route: "/auth/:projectId", Path: path, Status: status, Duration: time.Duration(d), Remote: remote}
		if fast, ref := accessLines(t, level, now.Add(time.Duration(d)), &a); fast != ref {
			t.Fatalf("LogAccess wrote\n%q\nthe JSON handler\n%q", fast, ref)
		}
	})
}
