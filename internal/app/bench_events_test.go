package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/mapping"
)

// BenchmarkPropagation measures how long after a change returned on one
// instance another instance applies it (PostgreSQL NOTIFY -> LISTEN ->
// cache drop -> reload), alternating block and unblock of one user. It
// reports the p50 and p99 in milliseconds. Commands: docs/performance.md.
func BenchmarkPropagation(b *testing.B) {
	ctx := context.Background()
	w, r := twoInstances(b)
	f := seedServerMode(b, w, "proj-bench")
	time.Sleep(200 * time.Millisecond) // the seeding's own events
	if err := serverAuth(r, f, "u1"); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		block := i%2 == 0
		var err error
		if block {
			err = w.Modes.Admin.PutOverride(ctx, "bench", &mapping.Override{ProjectID: f.p.ID, ExternalID: "u1", Blocked: true})
		} else {
			err = w.Modes.Admin.DeleteOverride(ctx, "bench", f.p.ID, "u1")
		}
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for (serverAuth(r, f, "u1") != nil) != block {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("change %d not applied by the other instance within 10 s", i)
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
