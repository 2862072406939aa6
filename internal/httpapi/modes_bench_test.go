package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// BenchmarkServerModeHandler measures the server-mode mint handler in
// process (no network): go test -bench ServerMode -benchmem ./internal/httpapi
// For throughput over real HTTP see cmd/pingauth-load.
func BenchmarkServerModeHandler(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	e := newModesEnvB(b, db)
	body := `{"user":{"id":"42","email":"ann@example.com","firstname":"Ann","attributes":{"plan":"gold"}}}`
	h := e.handler
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/auth/"+mProjA, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.key)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
}
