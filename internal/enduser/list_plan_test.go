package enduser

import (
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

var errRollback = errors.New("rollback")

// TestListPlansUseTheIndexes: the list's keyset read is a range of
// end_users_list_idx, and the search conditions are the expressions
// migration 0015 indexes (PostgreSQL: the pg_trgm GIN index, with
// sequential scans off as they would lose at size; SQLite: the FTS5 trigram
// table, which also proves FTS5 and its trigram tokenizer are compiled in).
func TestListPlansUseTheIndexes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		r := &Repo{db: db}
		plan := func(setup, query string, args ...any) string {
			t.Helper()
			var lines []string
			err := db.Transaction(func(tx *gorm.DB) error {
				explain := "EXPLAIN QUERY PLAN "
				if db.Dialect == store.Postgres {
					explain = "EXPLAIN "
					for _, stmt := range []string{"SET LOCAL enable_seqscan = off", setup} {
						if err := tx.Exec(stmt).Error; stmt != "" && err != nil {
							return err
						}
					}
				}
				rows, err := tx.Raw(explain+query, args...).Rows()
				if err != nil {
					return err
				}
				defer rows.Close()
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						return err
					}
					if s, ok := vals[len(vals)-1].(string); ok {
						lines = append(lines, s)
					} else if b, ok := vals[len(vals)-1].([]byte); ok {
						lines = append(lines, string(b))
					}
				}
				if err := rows.Err(); err != nil {
					return err
				}
				return errRollback // the setup (a dropped index) must not stay
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("explain %s: %v", query, err)
			}
			return strings.Join(lines, "\n")
		}
		list := `SELECT id FROM end_users WHERE project_id = ? AND ` + paging.After("email", "id") + ` ORDER BY email, id LIMIT 51`
		if p := plan("", list, "p1", "a@b.test", "x"); !strings.Contains(p, "end_users_list_idx") {
			t.Errorf("list plan does not use end_users_list_idx:\n%s", p)
		}
		for _, search := range []string{"lovelace", "ad"} {
			cond, arg := r.searchCond(search)
			// Without the list index (dropped in the explain's transaction,
			// rolled back) the GIN index is the only index that can serve
			// the search on PostgreSQL (whose other indexes all lead with
			// project_id, not in this query).
			p := plan("DROP INDEX end_users_list_idx", `SELECT id FROM end_users WHERE `+cond, arg)
			want := "end_users_search_idx"
			if db.Dialect == store.SQLite {
				// A short search filters the covering list index.
				p = plan("", `SELECT id FROM end_users WHERE project_id = ? AND `+cond+` ORDER BY email, id`, "p1", arg)
				want = "VIRTUAL TABLE INDEX"
				if len(search) < minSubstring {
					want = "COVERING INDEX end_users_list_idx"
				}
			}
			if !strings.Contains(p, want) {
				t.Errorf("search %q plan does not use %s:\n%s", search, want, p)
			}
		}
	})
}
