package storetest

import (
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/store"
)

// CountReads counts the SQL reads (queries, row scans, raw statements) made
// through db from now on, for tests that assert a path reads nothing or a
// bounded number of statements.
func CountReads(t testing.TB, db *store.DB) *atomic.Int64 {
	t.Helper()
	n := &atomic.Int64{}
	fn := func(*gorm.DB) { n.Add(1) }
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().Before("gorm:query").Register("test:count_reads", fn),
		cb.Row().Before("gorm:row").Register("test:count_reads", fn),
		cb.Raw().Before("gorm:raw").Register("test:count_reads", fn),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}
