package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/store"
)

// TestConsoleStaticOddPaths: odd static paths (invalid percent-encoding
// results, traversal, NUL, directories) answer 404 (or 400), never 5xx, a
// directory listing or a file outside web/static.
func TestConsoleStaticOddPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	cases := []struct {
		path string
		want int
	}{
		{"/console/static/console.css", http.StatusOK},
		{"/console/static/console.js", http.StatusOK},
		{"/console/static/%ff", http.StatusNotFound},
		{"/console/static/%fe%ff", http.StatusNotFound},
		{"/console/static/a%ffb.css", http.StatusNotFound},
		{"/console/static/..%2f..%2fgo.mod", http.StatusNotFound},
		{"/console/static/..%2fconsole.go", http.StatusNotFound},
		{"/console/static/%2e%2e/%2e%2e/go.mod", http.StatusNotFound},
		{"/console/static/%00", http.StatusNotFound},
		{"/console/static/console.css%00", http.StatusNotFound},
		{"/console/static/", http.StatusNotFound},
		{"/console/static/.", http.StatusNotFound},
		{"/console/static//console.css", http.StatusNotFound},
		{"/console/static/console.css/", http.StatusNotFound},
		{"/console/static/%5c..%5cgo.mod", http.StatusNotFound},
		{"/console/static/CONSOLE.CSS", http.StatusNotFound},
		{"/console/static/nope.js", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, e.url+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			body := string(raw)
			if res.StatusCode != tc.want && !(tc.want == http.StatusNotFound && res.StatusCode == http.StatusBadRequest) {
				t.Fatalf("GET %s: %d %.200q, want %d", tc.path, res.StatusCode, body, tc.want)
			}
			if tc.want != http.StatusOK && (strings.Contains(body, "module ") || strings.Contains(body, "<pre>") || strings.Contains(body, "package ")) {
				t.Fatalf("GET %s leaked %.200q", tc.path, body)
			}
			if tc.want != http.StatusOK && (!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"code":"not_found"`)) {
				t.Fatalf("GET %s: %s %.200q, want a JSON not_found error", tc.path, res.Header.Get("Content-Type"), body)
			}
			if tc.want == http.StatusOK && (res.Header.Get("Cache-Control") != "public, max-age=3600" || res.Header.Get("Content-Type") == "") {
				t.Fatalf("GET %s headers %v", tc.path, res.Header)
			}
		})
	}
}
