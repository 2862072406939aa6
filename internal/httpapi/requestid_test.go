package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRequestIDHeaderAndLog(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := New(Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	get := func(in string) (string, map[string]any) {
		logs.Reset()
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		if in != "" {
			req.Header.Set("X-Request-ID", in)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if got := w.Header().Values("X-Request-ID"); len(got) != 1 {
			t.Fatalf("X-Request-ID values %q, want exactly one", got)
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatalf("access log %q: %v", logs.String(), err)
		}
		return w.Header().Get("X-Request-ID"), line
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 1000 {
		id, line := get("")
		if !hex16.MatchString(id) {
			t.Fatalf("generated request id %q is not 16 hex digits", id)
		}
		if line["request_id"] != id {
			t.Fatalf("access log request_id %v, header %q", line["request_id"], id)
		}
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
	if id, line := get("abc-123.X_y"); id != "abc-123.X_y" || line["request_id"] != id {
		t.Fatalf("sane incoming id not kept: header %q, log %v", id, line["request_id"])
	}
	if id, _ := get("bad id\x01"); !hex16.MatchString(id) {
		t.Fatalf("bad incoming id not replaced: %q", id)
	}
}

// BenchmarkRequestIDMiddleware: the request id middleware alone.
func BenchmarkRequestIDMiddleware(b *testing.B) {
	s := New(Deps{})
	s.Engine().GET("/rid", func(*gin.Context) {})
	req := httptest.NewRequest(http.MethodGet, "/rid", nil)
	b.ReportAllocs()
	for b.Loop() {
		s.ServeHTTP(httptest.NewRecorder(), req)
	}
}
