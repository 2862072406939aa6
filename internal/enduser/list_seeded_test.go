package enduser_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestListTimingsOnSeededDatabase times Repo.List (list query plus bounded
// count, as the API and console run them) on a database seeded with
// docs/fixtures/endusers_1m.sql. It runs only when
// PINGAUTH_ENDUSERS_BENCH_URL (a migrated PostgreSQL database) and
// PINGAUTH_ENDUSERS_BENCH_PROJECT (the fixture's project) are set:
//
//	PINGAUTH_ENDUSERS_BENCH_URL='postgres://postgres@127.0.0.1:5432/pingbench?sslmode=disable' \
//	PINGAUTH_ENDUSERS_BENCH_PROJECT=bench1m go test -run TestListTimingsOnSeededDatabase -v ./internal/enduser/
func TestListTimingsOnSeededDatabase(t *testing.T) {
	dsn, projectID := os.Getenv("PINGAUTH_ENDUSERS_BENCH_URL"), os.Getenv("PINGAUTH_ENDUSERS_BENCH_PROJECT")
	if dsn == "" || projectID == "" {
		t.Skip("set PINGAUTH_ENDUSERS_BENCH_URL and PINGAUTH_ENDUSERS_BENCH_PROJECT to time a seeded database")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := enduser.NewRepo(db, enduser.NewHasher(enduser.TestParams, 1), nil)
	// A cursor deep in the list: the 987,654th row of the fixture.
	var deep struct{ Email, ID string }
	if err := db.Raw(`SELECT email, id FROM end_users WHERE project_id = ? AND external_id = 'ext-987654'`, projectID).Scan(&deep).Error; err != nil || deep.ID == "" {
		t.Fatalf("fixture row ext-987654: %v", err)
	}
	deepCursor := paging.Encode(deep.Email, deep.ID)
	for _, tc := range []struct{ name, search, cursor string }{
		{"first page", "", ""},
		{"deep page (row ~987654)", "", deepCursor},
		{"substring, common: example", "example", ""},
		{"substring, common, deep page", "example", deepCursor},
		{"substring, rare: 0777777", "0777777", ""},
		{"substring, 5%: kowalski", "kowalski", ""},
		{"email prefix: user00012", "user00012", ""},
		{"no match: nomatch", "nomatch", ""},
		{"short: an", "an", ""},
		{"short: q", "q", ""},
		{"short, no match: zz", "zz", ""},
	} {
		var times []time.Duration
		var page paging.Page[enduser.User]
		var total paging.Total
		for range 5 {
			start := time.Now()
			page, total, err = r.List(ctx, projectID, enduser.ListOptions{Search: tc.search, Page: paging.Request{Limit: 50, Cursor: tc.cursor}})
			times = append(times, time.Since(start))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		slices.Sort(times)
		t.Logf("%-32s p50 %7.1f ms  max %7.1f ms  rows %2d  total %s", tc.name,
			float64(times[2].Microseconds())/1000, float64(times[4].Microseconds())/1000, len(page.Items), total)
	}
}
