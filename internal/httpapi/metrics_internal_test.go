package httpapi

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestAuthSeriesExportLikeClientGolang: the compact per-project series
// expose exactly what a client_golang HistogramVec and CounterVec fed the
// same observations expose (bucket edges included), a project named
// "unknown" shares the label of ids never found without a duplicate
// series, and a project known but never requested exports nothing.
func TestAuthSeriesExportLikeClientGolang(t *testing.T) {
	bounds := [authBuckets]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	known := &knownSet{m: map[string]*authSeries{}, max: 10}
	got := newAuthCollector(bounds, known)
	want := struct {
		latency *prometheus.HistogramVec
		issued  *prometheus.CounterVec
	}{
		prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pingauth_auth_request_duration_seconds",
			Help: "Latency of POST /auth/<projectId> (and /refresh) by project.", Buckets: bounds[:]}, []string{"project"}),
		prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pingauth_tokens_issued_total",
			Help: "Tokens issued by POST /auth/<projectId> (and /refresh)."}, []string{"project"}),
	}
	for _, id := range []string{"p1", "p2", "unknown", "idle"} {
		known.add(id)
	}
	obs := []struct {
		id     string
		v      float64
		issued bool
	}{
		{"p1", 0, true}, {"p1", .001, true}, {"p1", .0010001, false}, {"p1", 10, true}, {"p1", 11, true},
		{"p2", .3, false}, {"random", .02, false}, {"unknown", .004, true}, {"other", 2.5, false},
	}
	for _, o := range obs {
		label, s := known.labelSeries(o.id, got.unknown)
		got.observe(s, o.v)
		want.latency.WithLabelValues(label).Observe(o.v)
		if o.issued {
			s.issued.Add(1)
			want.issued.WithLabelValues(label).Inc()
		}
	}
	if label, _ := known.labelSeries("random", got.unknown); label != unknownProject {
		t.Fatalf("label of an id never found: %q", label)
	}
	if text(t, got) != text(t, want.latency, want.issued) {
		t.Fatalf("exposition differs:\n%s\nclient_golang:\n%s", text(t, got), text(t, want.latency, want.issued))
	}
	if strings.Contains(text(t, got), "idle") {
		t.Fatal("a project without requests has series")
	}
}

func text(t *testing.T, cs ...prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(cs...)
	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).
		ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("gather: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

// TestAuthSeriesSize: each labelled project costs one 128-byte series
// (client_golang's histogram and counter cost about 1.8 KiB).
func TestAuthSeriesSize(t *testing.T) {
	if n := unsafe.Sizeof(authSeries{}); n > 128 {
		t.Fatalf("authSeries is %d bytes, want <= 128", n)
	}
}

// TestAuthSeriesConcurrentObservations: observations racing with each other
// and with scrapes are all counted (atomics and a CAS loop for the sum).
func TestAuthSeriesConcurrentObservations(t *testing.T) {
	bounds := [authBuckets]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	known := &knownSet{m: map[string]*authSeries{}, max: 10}
	known.add("p1")
	a := newAuthCollector(bounds, known)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, s := known.labelSeries("p1", a.unknown)
				a.observe(s, float64(i%4)*0.25) // 0, .25, .5, .75: sums exactly
			}
		}()
	}
	for range 5 {
		_ = text(t, a)
	}
	wg.Wait()
	got := known.m["p1"].snapshot()
	var n uint64
	for _, c := range got.counts {
		n += c
	}
	if n != workers*each || got.sum != workers*each/4*(0+.25+.5+.75) {
		t.Fatalf("count %d sum %v, want %d and %v", n, got.sum, workers*each, workers*each/4*1.5)
	}
}
