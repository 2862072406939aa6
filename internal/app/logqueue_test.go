package app_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/logging"
)

// TestLogQueueFlushedOnCloseAndCounted: the default logger queues info
// lines (the access log), exports its drop counter on /metrics, and App.Close
// writes every queued line.
func TestLogQueueFlushedOnCloseAndCounted(t *testing.T) {
	t.Parallel()
	a, srv, logs := openApp(t, map[string]string{"PINGAUTH_METRICS": "on"}, appOptions())
	if logging.QueueOf(a.Log) == nil {
		t.Fatal("the default logger writes synchronously")
	}
	resp, err := client.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(b.String(), "\npingauth_log_dropped_lines_total 0\n") {
		t.Fatalf("/metrics %d without pingauth_log_dropped_lines_total 0", resp.StatusCode)
	}
	for range 50 {
		a.Log.Info("queued line")
	}
	a.Log.Info("last queued line")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); strings.Count(got, `"msg":"queued line"`) != 50 || !strings.Contains(got, "last queued line") {
		t.Fatalf("lines lost on Close:\n%s", got[max(0, len(got)-300):])
	}
}

func TestLogQueueOff(t *testing.T) {
	t.Parallel()
	a, _, logs := openApp(t, map[string]string{"PINGAUTH_LOG_QUEUE_BYTES": "0"}, appOptions())
	if logging.QueueOf(a.Log) != nil {
		t.Fatal("PINGAUTH_LOG_QUEUE_BYTES=0 still queues")
	}
	a.Log.Info("written at once")
	if !strings.Contains(logs.String(), "written at once") {
		t.Fatal("a line was not written synchronously")
	}
}
