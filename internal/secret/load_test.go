package secret_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// A keyring with versions in grace loads from the sealed store in two
// queries (metadata, then every version's value at once), whatever the
// number of versions, and holds the same values as version-by-version reads.
func TestSealedKeyringLoadsInTwoQueries(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sealed, err := secret.NewSealed(db, bytes.Repeat([]byte{3}, 32))
		if err != nil {
			t.Fatal(err)
		}
		h := secrettest.NewHarness(t, secrettest.Env{DB: db, Backend: sealed}, time.Hour) // one hour of grace
		p := h.AddProject(t)
		for range 3 {
			if _, _, err := h.Manager.Rotate(ctx, p, secret.WriteOptions{Actor: "t"}); err != nil {
				t.Fatal(err)
			}
		}
		var reads atomic.Int64
		if err := db.Callback().Query().Before("gorm:query").Register("test:count", func(*gorm.DB) { reads.Add(1) }); err != nil {
			t.Fatal(err)
		}
		kr, err := h.Manager.Get(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if n := reads.Load(); n != 2 {
			t.Fatalf("a keyring of %d versions took %d queries, want 2", 1+len(kr.Previous), n)
		}
		if len(kr.Previous) != 2 {
			t.Fatalf("%d versions in grace, want 2", len(kr.Previous))
		}
		for _, v := range append([]secret.Version{kr.Current}, kr.Previous...) {
			one, err := sealed.Read(ctx, p, v.Version)
			if err != nil || !bytes.Equal(one, v.Value) || len(v.Value) == 0 {
				t.Fatalf("version %d: batch and single reads differ (err %v)", v.Version, err)
			}
		}
	})
}
