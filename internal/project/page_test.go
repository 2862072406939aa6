package project_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func seedProjects(t *testing.T, r *project.Repo, tenant string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.EnsureTenant(ctx, tenant, tenant); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := r.Create(ctx, &project.Project{ID: id, TenantID: tenant, Name: "Shop " + strings.ToUpper(id), TokenTTLSeconds: 900, Status: project.StatusActive}); err != nil {
			t.Fatal(err)
		}
	}
}

// walk reads every page of f with page size n, calling between(page) after
// each page read, and returns the ids in the order served.
func walk(t *testing.T, r *project.Repo, f project.ListFilter, n int, between func(page int)) []string {
	t.Helper()
	var out []string
	req := paging.Request{Limit: n}
	for page := 0; ; page++ {
		pg, err := r.Page(context.Background(), f, req)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if len(pg.Items) > n {
			t.Fatalf("page %d has %d rows, limit %d", page, len(pg.Items), n)
		}
		for _, p := range pg.Items {
			out = append(out, p.TenantID+"/"+p.ID)
		}
		if between != nil {
			between(page)
		}
		if pg.Next == "" {
			return out
		}
		if page > 1000 {
			t.Fatal("paging does not end")
		}
		req.Cursor = pg.Next
	}
}

// TestProjectPagesHaveNoDuplicatesOrGapsWhileRowsAreInserted walks the
// pages while projects are created before and after the cursor between
// page reads: every project that existed at the start is served exactly
// once, in (tenant, id) order.
func TestProjectPagesHaveNoDuplicatesOrGapsWhileRowsAreInserted(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		r := project.NewRepo(db)
		var start []string
		for _, tenant := range []string{"acme", "globex"} {
			var ids []string
			for i := 0; i < 23; i++ {
				ids = append(ids, fmt.Sprintf("%s-p%03d", tenant, i*2))
			}
			seedProjects(t, r, tenant, ids...)
			for _, id := range ids {
				start = append(start, tenant+"/"+id)
			}
		}
		added := 0
		got := walk(t, r, project.ListFilter{}, 7, func(page int) {
			// One id sorting before everything served so far, one in the gap
			// right after the cursor, one at the end.
			seedProjects(t, r, "acme", fmt.Sprintf("acme-a%03d", page))
			seedProjects(t, r, "globex", fmt.Sprintf("globex-p%03d", page*14+1))
			seedProjects(t, r, "zeta", fmt.Sprintf("zeta-z%03d", page))
			added += 3
		})
		seen := map[string]int{}
		for _, k := range got {
			seen[k]++
			if seen[k] > 1 {
				t.Errorf("%s served twice", k)
			}
		}
		for _, k := range start {
			if seen[k] != 1 {
				t.Errorf("%s served %d times, want once", k, seen[k])
			}
		}
		if !sort.StringsAreSorted(got) {
			t.Errorf("pages not in (tenant, id) order: %v", got)
		}
		if added == 0 || len(got) <= len(start) {
			t.Errorf("served %d of %d (+%d inserted): the inserts after the cursor should show", len(got), len(start), added)
		}
	})
}

func TestProjectPageSearchAndFilters(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := project.NewRepo(db)
		seedProjects(t, r, "acme", "shop-one", "shop-two", "blog", "pct_50")
		seedProjects(t, r, "globex", "shop-three", "Mixed-Case")
		ids := func(f project.ListFilter) string {
			got := walk(t, r, f, 2, nil)
			return strings.Join(got, ",")
		}
		for _, tc := range []struct {
			name string
			f    project.ListFilter
			want string
		}{
			{"all", project.ListFilter{}, "acme/blog,acme/pct_50,acme/shop-one,acme/shop-two,globex/Mixed-Case,globex/shop-three"},
			{"tenant", project.ListFilter{TenantIDs: []string{"globex"}}, "globex/Mixed-Case,globex/shop-three"},
			{"no tenant in scope", project.ListFilter{TenantIDs: []string{}}, ""},
			{"substring of id", project.ListFilter{Search: "hop-t"}, "acme/shop-two,globex/shop-three"},
			{"prefix, case-insensitive", project.ListFilter{Search: "MIXED"}, "globex/Mixed-Case"},
			{"name", project.ListFilter{Search: "shop BLOG"}, "acme/blog"},
			{"search within tenant", project.ListFilter{TenantIDs: []string{"acme"}, Search: "shop"}, "acme/blog,acme/pct_50,acme/shop-one,acme/shop-two"},
			{"underscore is literal", project.ListFilter{Search: "t_5"}, "acme/pct_50"},
			{"percent is literal", project.ListFilter{Search: "%"}, ""},
			{"backslash is literal", project.ListFilter{Search: `\`}, ""},
			{"no match", project.ListFilter{Search: "nothing"}, ""},
		} {
			if got := ids(tc.f); got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
			}
		}
		for _, tc := range []struct {
			name  string
			f     project.ListFilter
			req   paging.Request
			field string
		}{
			{"foreign cursor", project.ListFilter{}, paging.Request{Limit: 2, Cursor: paging.Encode("one")}, "cursor"},
			{"garbage cursor", project.ListFilter{}, paging.Request{Limit: 2, Cursor: "%%%"}, "cursor"},
			{"long search", project.ListFilter{Search: strings.Repeat("x", project.MaxSearch+1)}, paging.Request{}, "search"},
		} {
			_, err := r.Page(ctx, tc.f, tc.req)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Field != tc.field {
				t.Errorf("%s: err %v, want invalid %s", tc.name, err, tc.field)
			}
		}
		n, err := r.CountByTenant(ctx, []string{"acme", "globex", "none"})
		if err != nil || n["acme"] != 4 || n["globex"] != 2 || n["none"] != 0 {
			t.Errorf("CountByTenant = %v, %v", n, err)
		}
		var tenants []string
		req := paging.Request{Limit: 1}
		for {
			pg, err := r.PageTenants(ctx, nil, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, tn := range pg.Items {
				tenants = append(tenants, tn.ID)
			}
			if pg.Next == "" {
				break
			}
			req.Cursor = pg.Next
		}
		if strings.Join(tenants, ",") != "acme,globex" {
			t.Errorf("tenant pages = %v", tenants)
		}
		if pg, err := r.PageTenants(ctx, []string{"globex"}, paging.Request{}); err != nil || len(pg.Items) != 1 || pg.Items[0].ID != "globex" || pg.Next != "" {
			t.Errorf("scoped tenant page = %+v, %v", pg, err)
		}
	})
}
