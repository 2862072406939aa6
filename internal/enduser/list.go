package enduser

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/store"
)

// MaxSearchLen bounds a search (characters).
const MaxSearchLen = 100

// searchDoc is the one search document of an end-user: its email,
// username, external id, first and last name, each preceded by a space,
// lower-cased. Migration 0015 indexes exactly this expression (a pg_trgm GIN
// index on PostgreSQL; on SQLite the end_user_search table and its FTS5
// trigram index, filled by triggers with the same expression), so the two
// must stay spelled alike.
const searchDoc = `lower(' ' || email || ' ' || username || ' ' || external_id || ' ' || firstname || ' ' || lastname)`

// minSubstring is the shortest search matched as a substring: a trigram
// index needs three characters. Shorter searches match the start of a field
// (or of a word in a name).
const minSubstring = 3

// ListOptions select a page of a project's end-users.
type ListOptions struct {
	// Search keeps the end-users whose email, username, external id, first
	// or last name contains it (case-insensitive; 1-2 characters: starts
	// with it). Empty: every end-user.
	Search string
	// Page is the page size and the cursor of the previous page's end.
	Page paging.Request
}

// NormalizeSearch trims a search, folds runs of white space into one space
// and drops control characters. A search longer than MaxSearchLen or not
// UTF-8 is a 400 naming "search".
func NormalizeSearch(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", apperr.Invalid("search", "search must be valid UTF-8")
	}
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > MaxSearchLen {
		return "", apperr.Invalid("search", "search must be at most %d characters", MaxSearchLen)
	}
	return s, nil
}

// List returns one page of a project's end-users in (email, id) order
// (end-users without an email first), keyset-paged: each page is one range
// scan of end_users_list_idx after the cursor's (email, id), so rows added
// or removed between two reads never shift the pages (no duplicates, no
// gaps). The total is bounded: counting stops past paging.CountBound.
func (r *Repo) List(ctx context.Context, projectID string, o ListOptions) (paging.Page[User], paging.Total, error) {
	var none paging.Page[User]
	req := o.Page.Bounded()
	keys, err := req.Keys(2)
	if err != nil {
		return none, paging.Total{}, err
	}
	search, err := NormalizeSearch(o.Search)
	if err != nil {
		return none, paging.Total{}, err
	}
	base := func() *gorm.DB {
		q := r.db.WithContext(ctx).Model(&User{}).Where("project_id = ?", projectID)
		if search != "" {
			cond, arg := r.searchCond(search)
			q = q.Where(cond, arg)
		}
		return q
	}
	// The ids of the page first (an index-only scan of end_users_list_idx
	// when the search walks the list order, or the search index), then
	// their rows by primary key.
	ids := base().Select("id")
	if keys != nil {
		ids = ids.Where(paging.After("email", "id"), paging.Args(keys)...)
	}
	ids = ids.Order("email, id").Limit(req.Limit + 1)
	var rows []User
	if err := r.db.WithContext(ctx).Where("id IN (?)", ids).Order("email, id").Find(&rows).Error; err != nil {
		return none, paging.Total{}, fmt.Errorf("list end-users: %w", err)
	}
	// The bounded count walks the same order, so the planner may stop after
	// CountBound+1 matches of the list index (common searches) or take the
	// search index (rare ones); it never counts a million rows.
	var n int64
	sub := base().Select("1").Order("email, id").Limit(paging.CountBound + 1)
	if err := r.db.WithContext(ctx).Table("(?) AS matches", sub).Count(&n).Error; err != nil {
		return none, paging.Total{}, fmt.Errorf("count end-users: %w", err)
	}
	page := paging.Cut(rows, req.Limit, func(u *User) []string { return []string{u.Email, u.ID} })
	return page, paging.Bound(n, paging.CountBound), nil
}

// searchCond is the WHERE condition of a normalized, non-empty search and
// its one argument.
//
//   - 3+ characters, PostgreSQL: searchDoc LIKE '%s%', served by the pg_trgm
//     GIN index end_users_search_idx;
//   - 3+ characters, SQLite: the end-users whose end_user_search document
//     the FTS5 trigram index finds by GLOB '*s*' (the document is already
//     lower-case, so the trigram index is case-sensitive and GLOB, whose
//     index use needs that, is exact);
//   - 1-2 characters: searchDoc LIKE '% s%', the start of a field or of a
//     word in a name (on PostgreSQL the GIN index's word-start trigrams; on
//     SQLite a filter while walking the list index, where such short
//     searches match early).
func (r *Repo) searchCond(search string) (string, any) {
	if utf8.RuneCountInString(search) < minSubstring {
		return searchDoc + ` LIKE lower(?) ESCAPE '\'`, "% " + paging.EscapeLike(search) + "%"
	}
	if r.db.Dialect == store.Postgres {
		return searchDoc + ` LIKE lower(?) ESCAPE '\'`, "%" + paging.EscapeLike(search) + "%"
	}
	return `id IN (SELECT s.user_id FROM end_user_search_fts f JOIN end_user_search s ON s.seq = f.rowid WHERE f.doc GLOB lower(?))`,
		"*" + globEscape(search) + "*"
}

// globEscape makes s literal in a GLOB pattern (GLOB has no escape
// character: the special characters become one-character classes).
func globEscape(s string) string {
	return strings.NewReplacer("*", "[*]", "?", "[?]", "[", "[[]").Replace(s)
}
