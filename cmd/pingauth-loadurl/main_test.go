package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestLoadCountsRequestsStatusesAndBody(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Test") != "yes" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if i%10 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if _, err := w.Write([]byte(`{"token":"x"}`)); err != nil {
			t.Errorf("write response: %v", err)
		}
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-url", srv.URL + "/auth/p", "-body", `{"a":1}`, "-H", "X-Test: yes", "-c", "4", "-n", "100"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if n.Load() != 100 {
		t.Errorf("server saw %d requests, want exactly 100", n.Load())
	}
	for _, want := range []string{"requests    100 in", "(90 ok, 10 errors)", "status 200  90", "status 503  10", "p50", "p99", "req/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLoadRefusesBadOptionsAndRemoteTargets(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"-url", "http://10.0.0.1/auth/p"},
		{"-url", "http://example.com/auth/p"},
		{"-url", "http://127.0.0.1:1/x", "-c", "0"},
		{"-url", "http://127.0.0.1:1/x", "-n", "0"},
		{"-url", "http://127.0.0.1:1/x", "-H", "novalue"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
