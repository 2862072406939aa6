package enduser_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func mustCreate(t *testing.T, r *enduser.Repo, u *enduser.User) *enduser.User {
	t.Helper()
	u.Enabled = true
	if err := r.Create(context.Background(), u, ""); err != nil {
		t.Fatalf("create %+v: %v", u, err)
	}
	return u
}

// walk reads every page of a list, calling between after each page but the
// last, and returns the ids in the order served.
func walk(t *testing.T, r *enduser.Repo, o enduser.ListOptions, between func(page int, last enduser.User)) []string {
	t.Helper()
	var ids []string
	for n := 0; ; n++ {
		if n > 1000 {
			t.Fatal("paging does not end")
		}
		page, _, err := r.List(context.Background(), "p1", o)
		if err != nil {
			t.Fatalf("page %d: %v", n, err)
		}
		if len(page.Items) > o.Page.Limit {
			t.Fatalf("page %d has %d rows, limit %d", n, len(page.Items), o.Page.Limit)
		}
		for _, u := range page.Items {
			ids = append(ids, u.ID)
		}
		if page.Next == "" {
			return ids
		}
		if len(page.Items) != o.Page.Limit {
			t.Fatalf("page %d: %d rows and a next cursor", n, len(page.Items))
		}
		if between != nil {
			between(n, page.Items[len(page.Items)-1])
		}
		o.Page.Cursor = page.Next
	}
}

// TestListKeysetPagingWhileInserting walks every page while end-users are
// added between the reads, sorting before the cursor, right after it, at the
// end and (no email) at the very start: every end-user that existed at the
// start is served exactly once, and no row is served twice.
func TestListKeysetPagingWhileInserting(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		r := newRepo(t, db)
		start := map[string]bool{}
		for i := range 40 {
			u := &enduser.User{ProjectID: "p1", Email: fmt.Sprintf("m%02d@walk.test", 2*i), Lastname: "Walker"}
			if i%9 == 0 { // no email: sorts first, by id
				u.Email, u.ExternalID = "", fmt.Sprintf("noemail-%02d", i)
			}
			start[mustCreate(t, r, u).ID] = true
		}
		mustCreate(t, r, &enduser.User{ProjectID: "p2", Email: "m01@walk.test", Lastname: "Walker"}) // other project
		for _, search := range []string{"", "walk", "wa"} {
			added := 0
			between := func(page int, last enduser.User) {
				for _, email := range []string{
					fmt.Sprintf("a%02d-%s@walk.test", page, search),                  // before every page served
					strings.Replace(last.Email, "@", fmt.Sprintf("x%s@", search), 1), // right after the cursor
					fmt.Sprintf("z%02d-%s@walk.test", page, search),                  // at the end
					"", // no email: before the cursor
				} {
					u := &enduser.User{ProjectID: "p1", Email: email, Lastname: "Walker"}
					if email == "" || last.Email == "" && strings.HasPrefix(email, "x") {
						u.Email, u.ExternalID = "", fmt.Sprintf("late-%s-%d-%d", search, page, added)
					}
					mustCreate(t, r, u)
					added++
				}
			}
			ids := walk(t, r, enduser.ListOptions{Search: search, Page: paging.Request{Limit: 7}}, between)
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("search %q: %s served twice", search, id)
				}
				seen[id] = true
			}
			for id := range start {
				if !seen[id] {
					t.Fatalf("search %q: %s (there from the start) never served", search, id)
				}
			}
			if added == 0 {
				t.Fatalf("search %q: no insert between pages", search)
			}
			// The order is (email, id): a fresh walk serves what the list
			// holds, in order, once each.
			again := walk(t, r, enduser.ListOptions{Search: search, Page: paging.Request{Limit: 200}}, nil)
			all := walk(t, r, enduser.ListOptions{Search: search, Page: paging.Request{Limit: 3}}, nil)
			if strings.Join(again, ",") != strings.Join(all, ",") {
				t.Fatalf("search %q: pages of 3 and of 200 differ", search)
			}
		}
	})
}

func TestListSearchSemantics(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		r := newRepo(t, db)
		users := map[string]*enduser.User{
			"ada":    {Email: "ada@example.com", Username: "ada_l", ExternalID: "ext-001", Firstname: "Ada", Lastname: "Lovelace"},
			"grace":  {Email: "grace@navy.mil", Username: "ghopper", ExternalID: "G.Hopper", Firstname: "Grace", Lastname: "Hopper"},
			"decoy":  {Username: "adaxl", Firstname: "Dec", Lastname: "Oy"},
			"per":    {Email: "per%cent@odd.test", ExternalID: "per-1", Firstname: "Percy"},
			"slash":  {Username: "slasher", Lastname: `Back\Slash`},
			"zoe":    {ExternalID: "zoe-9", Firstname: "Zoë", Lastname: "Mary Ann"},
			"nomail": {ExternalID: "only-external:42"},
		}
		byID := map[string]string{}
		for name, u := range users {
			u.ProjectID = "p1"
			byID[mustCreate(t, r, u).ID] = name
		}
		mustCreate(t, r, &enduser.User{ProjectID: "p2", Email: "ada@other.test", Firstname: "Ada"}) // other project
		for _, tc := range []struct {
			search string
			want   string // names, sorted, comma-separated
		}{
			{"ada", "ada,decoy"},          // email, username, first name; decoy's username
			{"ADA", "ada,decoy"},          // case-insensitive
			{"example", "ada"},            // email substring
			{"velac", "ada"},              // last name substring
			{"LOVELACE", "ada"},           // last name, case
			{"ada_l", "ada"},              // username
			{"navy.mil", "grace"},         // email domain
			{"ghop", "grace"},             // username prefix
			{"g.hopper", "grace"},         // external id, case
			{"ext-00", "ada"},             // external id prefix
			{"only-external:4", "nomail"}, // external id with ':'
			{"hopper", "grace"},           // several fields of one user: once
			{"ada love", "ada"},           // first and last name together
			{"  Ada   Lovelace ", "ada"},  // white space folded
			{"a_l", "ada"},                // '_' is literal (else "adaxl" matches)
			{"r%c", "per"},                // '%' is literal
			{"k\\s", "slash"},             // '\' is literal
			{"%", ""},                     // short: no field starts with '%'
			{"_", ""},                     // short: '_' literal
			{"\\", ""},                    // short: '\' literal
			{"*", ""},                     // GLOB specials are literal too
			{"[a]", ""},                   //
			{"a", "ada,decoy,zoe"},        // 1 character: start of a field or word ("Ann")
			{"gr", "grace"},               // 2 characters: field start
			{"ho", "grace"},               // start of the last name
			{"an", "zoe"},                 // start of a word in a name ("Mary Ann")
			{"ce", ""},                    // 2 characters inside a word: no match
			{"zoë", "zoe"},                // non-ASCII
			{"z", "zoe"},                  // external id start
			{"nomatch", ""},               // nothing
			{"p1", ""},                    // the project id is not searched
			{"@", ""},                     // short, no field starts with it
			{"example.com ada", "ada"},    // across fields: email then username
			{strings.Repeat("x", enduser.MaxSearchLen), ""},
		} {
			page, total, err := r.List(context.Background(), "p1", enduser.ListOptions{Search: tc.search, Page: paging.Request{Limit: 200}})
			if err != nil {
				t.Fatalf("search %q: %v", tc.search, err)
			}
			var got []string
			for _, u := range page.Items {
				got = append(got, byID[u.ID])
			}
			gotS := strings.Join(sorted(got), ",")
			if gotS != tc.want || total.Count != int64(len(got)) || !total.Exact {
				t.Errorf("search %q = %q (total %v), want %q", tc.search, gotS, total, tc.want)
			}
		}
	})
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// TestListSearchFollowsWrites: the search index follows updates, deletes
// and a project's deletion (SQLite: the triggers of migration 0015).
func TestListSearchFollowsWrites(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRepo(t, db)
		count := func(search string) int64 {
			t.Helper()
			_, total, err := r.List(ctx, "p1", enduser.ListOptions{Search: search})
			if err != nil {
				t.Fatal(err)
			}
			return total.Count
		}
		u := mustCreate(t, r, &enduser.User{ProjectID: "p1", Email: "kim@follow.test", Lastname: "Oldname"})
		mustCreate(t, r, &enduser.User{ProjectID: "p1", Email: "lee@follow.test", Lastname: "Keeper"})
		if count("oldname") != 1 {
			t.Fatal("new end-user not found")
		}
		u.Lastname, u.Email = "Newname", "kim2@follow.test"
		if err := r.Update(ctx, u); err != nil {
			t.Fatal(err)
		}
		if count("oldname") != 0 || count("newname") != 1 || count("kim2@") != 1 {
			t.Fatal("search does not follow an update")
		}
		if err := r.SetEnabled(ctx, "p1", u.ID, false); err != nil { // an update of other columns
			t.Fatal(err)
		}
		if count("newname") != 1 {
			t.Fatal("search lost an end-user on an update of other columns")
		}
		if err := r.Delete(ctx, "p1", u.ID); err != nil {
			t.Fatal(err)
		}
		if count("newname") != 0 || count("follow") != 1 {
			t.Fatal("search does not follow a delete")
		}
		if err := project.NewRepo(db).Delete(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		if db.Dialect == store.SQLite {
			var left int64
			if err := db.Raw(`SELECT count(*) FROM end_user_search`).Scan(&left).Error; err != nil || left != 0 {
				t.Fatalf("%d search documents left after the project's deletion (%v)", left, err)
			}
			if err := db.Raw(`SELECT count(*) FROM end_user_search_fts WHERE doc GLOB '*keeper*'`).Scan(&left).Error; err != nil || left != 0 {
				t.Fatalf("%d FTS rows left after the project's deletion (%v)", left, err)
			}
		}
	})
}

// TestListBoundedTotal: past paging.CountBound the total says "1000+".
func TestListBoundedTotal(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		newRepo(t, db)
		now := time.Now().UTC()
		rows := make([]enduser.User, paging.CountBound+5)
		for i := range rows {
			rows[i] = enduser.User{ID: fmt.Sprintf("u%05d", i), ProjectID: "p1", ExternalID: fmt.Sprintf("bulk-%05d", i),
				Email: fmt.Sprintf("bulk%05d@bound.test", i), Roles: []string{}, Attributes: map[string]any{}, Enabled: true, CreatedAt: now, UpdatedAt: now}
		}
		if err := db.CreateInBatches(rows, 200).Error; err != nil {
			t.Fatal(err)
		}
		r := enduser.NewRepo(db, enduser.NewHasher(enduser.TestParams, 1), nil)
		for search, want := range map[string]string{"": "1000+", "bound": "1000+", "bulk0000": "10", "bulk00001@": "1"} {
			page, total, err := r.List(context.Background(), "p1", enduser.ListOptions{Search: search, Page: paging.Request{Limit: 10}})
			if err != nil || total.String() != want || len(page.Items) == 0 {
				t.Errorf("search %q: total %v (%d rows, %v), want %s", search, total, len(page.Items), err, want)
			}
		}
	})
}

func TestListRefusesBadInput(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		r := newRepo(t, db)
		for _, tc := range []struct {
			o     enduser.ListOptions
			field string
		}{
			{enduser.ListOptions{Page: paging.Request{Cursor: "not-a-cursor"}}, "cursor"},
			{enduser.ListOptions{Page: paging.Request{Cursor: paging.Encode("one-key")}}, "cursor"},
			{enduser.ListOptions{Search: strings.Repeat("x", enduser.MaxSearchLen+1)}, "search"},
			{enduser.ListOptions{Search: "bad\xff"}, "search"},
		} {
			_, _, err := r.List(context.Background(), "p1", tc.o)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Field != tc.field || !errors.Is(err, apperr.ErrInvalid) {
				t.Errorf("%+v: err %v, want invalid %s", tc.o, err, tc.field)
			}
		}
	})
}
