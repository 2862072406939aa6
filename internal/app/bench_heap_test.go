package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

// BenchmarkCachedProjectHeap reports the live heap each warm project costs
// on the server-mode path (project row, settings, keyring, API key, limiter
// and metric state): projects are seeded in SQLite, each is minted once,
// and the heap after a GC is compared with the heap after one project.
// All 4,000 projects get per-project metric series here; with 100,000
// projects only the first 10,000 do (maxKnownProjects), so this figure is
// above the per-project cost at 100k by about 0.9 of a series.
// PINGAUTH_BENCH_HEAP_PROFILE=file also writes a heap profile.
//
//	go test ./internal/app -run '^$' -bench CachedProjectHeap -benchtime 1x
func BenchmarkCachedProjectHeap(b *testing.B) {
	const n = 4000
	if os.Getenv("PINGAUTH_BENCH_HEAP_PROFILE") != "" {
		runtime.MemProfileRate = 64
	}
	for range b.N {
		a, h := openHeapApp(b)
		keys := make([]string, n)
		ctx := context.Background()
		for i := range n {
			keys[i] = seedServerProject(ctx, b, a, fmt.Sprintf("heap%06d", i))
		}
		mint := func(i int) {
			req := httptest.NewRequest("POST", "/auth/"+fmt.Sprintf("heap%06d", i),
				strings.NewReader(`{"user":{"id":"42","email":"ann@example.com","firstname":"Ann","attributes":{"plan":"gold"}}}`))
			req.Header.Set("Authorization", "Bearer "+keys[i])
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = "127.0.0.1:1234"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("mint %d: %d %s", i, w.Code, w.Body)
			}
		}
		mint(0)
		before := liveHeap()
		for i := 1; i < n; i++ {
			mint(i)
		}
		after := liveHeap()
		b.ReportMetric(float64(after-before)/float64(n-1), "heap-B/project")
		if f := os.Getenv("PINGAUTH_BENCH_HEAP_PROFILE"); f != "" {
			out, err := os.Create(f)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
				b.Fatal(err)
			}
			_ = out.Close()
		}
		runtime.KeepAlive(a)
		runtime.KeepAlive(h) // the handler holds the metric series: without this they were collected before "after"
	}
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func openHeapApp(b *testing.B) (*app.App, http.Handler) {
	b.Helper()
	a, _, _ := openApp(b, map[string]string{
		"PINGAUTH_LOG_LEVEL":           "warn",
		"PINGAUTH_RATE_AUTH_IP":        "off",
		"PINGAUTH_RATE_AUTH_SERVER_IP": "off",
	}, app.Options{})
	if _, err := a.Projects.EnsureTenant(context.Background(), "bench", "bench"); err != nil {
		b.Fatal(err)
	}
	return a, a.HTTP()
}

func seedServerProject(ctx context.Context, b *testing.B, a *app.App, id string) string {
	b.Helper()
	if err := a.Projects.Create(ctx, &project.Project{ID: id, TenantID: "bench", Name: id, TokenTTLSeconds: 900}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := a.Secrets.Rotate(ctx, id, secret.WriteOptions{Actor: "bench"}); err != nil {
		b.Fatal(err)
	}
	if _, err := a.Modes.Admin.SetModes(ctx, "bench", id, []string{"server"}); err != nil {
		b.Fatal(err)
	}
	_, key, err := a.Modes.Admin.CreateAPIKey(ctx, "bench", id, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return key
}
