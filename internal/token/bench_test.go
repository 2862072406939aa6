package token_test

import (
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/token"
)

// BenchmarkSign measures signing one widget token (HS256) alone.
func BenchmarkSign(b *testing.B) {
	key := token.Key{Version: 3, Value: []byte("Vq3n0v9v2b2l7Qy0Yc8a1s5d6f7g8h9j0k1l2z3x4c5")}
	id := token.Identity{ID: "user-123", Firstname: "Ann", Lastname: "Lee", Email: "ann@example.com", Attributes: map[string]any{"plan": "pro"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Sign("https://tiledesk.com/projects/p1", key, id, 15*time.Minute, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilterAttributes: the claims policy's check of clean attributes,
// done on every mint (0 allocs/op expected).
func BenchmarkFilterAttributes(b *testing.B) {
	attrs := map[string]any{"customAttr": "gold", "Plan": map[string]any{"Tier": 1.0, "tags": []any{"a", "b"}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = token.FilterAttributes(attrs, nil)
		_ = token.CheckAttributes(attrs)
	}
}
