// Package paging is keyset (cursor) paging for every list the console and
// the admin API show: a bounded page size, an opaque cursor holding the sort
// key of the last row served, and a page that knows whether more follow.
//
// A list orders by a unique key backed by an index (for example
// (project_id, email, id)) and reads limit+1 rows after the cursor's key with
// a row-value comparison, so a page costs one index range scan however deep
// it is, and rows inserted between two page reads never shift the pages
// already served (no duplicates, no gaps).
package paging

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// Bounds of a page.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	// maxCursor bounds the encoded cursor a client may send.
	maxCursor = 1024
)

// Request is one page request: at most Limit rows after the key held in
// Cursor (empty: from the start).
type Request struct {
	Limit  int
	Cursor string
}

// Parse reads the limit and cursor query values of a list (empty: the
// defaults). Errors are 400s naming the field.
func Parse(limit, cursor string) (Request, error) {
	r := Request{Limit: DefaultLimit, Cursor: cursor}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxLimit {
			return Request{}, apperr.Invalid("limit", "limit must be 1-%d", MaxLimit)
		}
		r.Limit = n
	}
	if len(cursor) > maxCursor {
		return Request{}, apperr.Invalid("cursor", "cursor is not one this server issued")
	}
	return r, nil
}

// Bounded returns r with its limit in 1..MaxLimit (DefaultLimit when unset).
func (r Request) Bounded() Request {
	if r.Limit <= 0 {
		r.Limit = DefaultLimit
	}
	if r.Limit > MaxLimit {
		r.Limit = MaxLimit
	}
	return r
}

// Keys decodes the cursor into its n key values (nil for the first page).
// A cursor of another list or shape is a 400 naming "cursor".
func (r Request) Keys(n int) ([]string, error) {
	if r.Cursor == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(r.Cursor)
	var keys []string
	if err == nil {
		err = json.Unmarshal(raw, &keys)
	}
	if err != nil || len(keys) != n {
		return nil, apperr.Invalid("cursor", "cursor is not one this server issued for this list")
	}
	return keys, nil
}

// Encode makes the cursor that resumes after a row with these key values.
func Encode(keys ...string) string {
	raw, _ := json.Marshal(keys) // []string always marshals
	return base64.RawURLEncoding.EncodeToString(raw)
}

// After is the SQL condition "the sort key (cols...) is after the cursor's
// key": a row-value comparison, which PostgreSQL serves from a btree on the
// same columns and SQLite (3.15+) evaluates natively. cols are trusted
// column names, never input.
func After(cols ...string) string {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	return "(" + strings.Join(cols, ", ") + ") > (" + marks + ")"
}

// Args turns key values into query arguments for After.
func Args(keys []string) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// Page is one page of a list. Next is the cursor of the following page
// (empty: this is the last one).
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next_cursor,omitempty"`
}

// Cut turns the limit+1 rows a query read into a page: when a row beyond the
// limit came back, the page ends at limit and Next resumes after its last
// row's key.
func Cut[T any](rows []T, limit int, key func(*T) []string) Page[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= limit {
		return Page[T]{Items: rows}
	}
	rows = rows[:limit]
	return Page[T]{Items: rows, Next: Encode(key(&rows[limit-1])...)}
}

// Total is a row count that stops counting at a bound: Exact is false when
// more than Count rows match (the list then says "Count+").
type Total struct {
	Count int64 `json:"count"`
	Exact bool  `json:"exact"`
}

// CountBound is how far lists count their matches before saying "more than".
const CountBound = 1000

// Bound builds a Total from a count read with LIMIT bound+1.
func Bound(n int64, bound int64) Total {
	if n > bound {
		return Total{Count: bound, Exact: false}
	}
	return Total{Count: n, Exact: true}
}

// String is the count as the console shows it ("1000+" past the bound).
func (t Total) String() string {
	s := strconv.FormatInt(t.Count, 10)
	if !t.Exact {
		s += "+"
	}
	return s
}

// Contains is the LIKE pattern (with ESCAPE '\') matching any value that
// contains s, lowercased: compare it with LOWER(column).
func Contains(s string) string {
	return "%" + EscapeLike(strings.ToLower(s)) + "%"
}

// EscapeLike makes s literal in a LIKE pattern with ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}
