package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// countQueries counts the SQL statements the app runs from now on.
func countQueries(t *testing.T, e *env) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	inc := func(*gorm.DB) { n.Add(1) }
	cb := e.a.DB.Callback()
	for name, err := range map[string]error{
		"query": cb.Query().After("gorm:query").Register("test:count_query", inc),
		"row":   cb.Row().After("gorm:row").Register("test:count_row", inc),
		"raw":   cb.Raw().After("gorm:raw").Register("test:count_raw", inc),
	} {
		if err != nil {
			t.Fatalf("register %s counter: %v", name, err)
		}
	}
	return &n
}

var (
	projectRowRe = regexp.MustCompile(`<tr class="project-row">\s*<td><a href="/console/projects/([^"]+)">`)
	nextLinkRe   = regexp.MustCompile(`<a href="([^"]+)" id="projects-next">`)
)

// dashboardPage reads one dashboard page: its project ids and the next link.
func dashboardPage(t *testing.T, c *client, path string) (ids []string, next string, body string) {
	t.Helper()
	body = c.page(path)
	for _, m := range projectRowRe.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	if m := nextLinkRe.FindStringSubmatch(body); m != nil {
		next = html.UnescapeString(m[1])
	}
	return ids, next, body
}

// TestProjectListsArePagedAndSearchable: the dashboard, GET /api/v1/projects
// and the tenant project list serve keyset pages within the operator's
// tenants, search by id or name, refuse offset and bad cursors with a 400
// naming the field, and the dashboard runs as many SQL statements for a
// full page as for a nearly empty one (no per-row queries).
func TestProjectListsArePagedAndSearchable(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("acme")
			e.tenant("globex")
			for i := 0; i < 120; i++ {
				e.project("acme", fmt.Sprintf("shop-%03d", i))
			}
			for i := 0; i < 3; i++ {
				e.project("globex", fmt.Sprintf("gshop-%d", i))
			}
			e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
			e.operator("admin@globex.example", rbac.RoleTenantAdmin, "globex")
			e.operator("root@example.com", rbac.RolePlatformAdmin, rbac.AllTenants)
			acme, globex, root := e.login("admin@acme.example"), e.login("admin@globex.example"), e.login("root@example.com")

			// Console: 50 per page, three pages, in id order, nothing of globex.
			var all []string
			path := "/console/"
			for pages := 0; path != ""; pages++ {
				ids, next, body := dashboardPage(t, acme, path)
				if pages == 0 && (strings.Contains(body, `id="projects-first"`) || !strings.Contains(body, `<td class="project-count">120</td>`)) {
					t.Errorf("first dashboard page: a first-page link or no count of 120 for acme")
				}
				if pages > 0 && !strings.Contains(body, `id="projects-first"`) {
					t.Errorf("page %d has no first-page link", pages+1)
				}
				if len(ids) > 50 {
					t.Fatalf("page of %d projects", len(ids))
				}
				all = append(all, ids...)
				path = next
				if pages > 5 {
					t.Fatal("dashboard paging does not end")
				}
			}
			if len(all) != 120 || all[0] != "shop-000" || all[119] != "shop-119" {
				t.Fatalf("dashboard pages served %d projects (%v…)", len(all), all[:min(3, len(all))])
			}
			for i := 1; i < len(all); i++ {
				if all[i] <= all[i-1] {
					t.Fatalf("dashboard order broken at %s after %s", all[i], all[i-1])
				}
			}
			if ids, next, _ := dashboardPage(t, acme, "/console/?q="+url.QueryEscape("SHOP-11")); len(ids) != 10 || next != "" || ids[0] != "shop-110" {
				t.Errorf("search SHOP-11: %v next %q", ids, next)
			}
			if ids, _, body := dashboardPage(t, acme, "/console/?q=gshop"); len(ids) != 0 || !strings.Contains(body, `id="no-projects"`) {
				t.Errorf("acme searching globex's projects: %v", ids)
			}
			if ids, _, _ := dashboardPage(t, acme, "/console/?tenant=globex"); len(ids) != 0 {
				t.Errorf("acme filtering on globex: %v", ids)
			}
			if ids, _, _ := dashboardPage(t, root, "/console/?tenant=globex"); len(ids) != 3 {
				t.Errorf("platform admin filtering on globex: %v", ids)
			}
			if res, body := acme.do("GET", "/console/?cursor=not-a-cursor", nil); res.StatusCode != http.StatusBadRequest {
				t.Errorf("bad dashboard cursor: %d %s", res.StatusCode, trim(body))
			}

			// The same number of statements for 50 rows as for 3.
			n := countQueries(t, e)
			acme.page("/console/")
			full := n.Swap(0)
			globex.page("/console/")
			small := n.Load()
			if full != small || full == 0 {
				t.Errorf("dashboard statements: %d for a page of 50 projects, %d for 3 (want equal: no per-row queries)", full, small)
			}

			// API: keyset pages through next_cursor.
			type projectsPage struct {
				Projects []struct {
					ID       string `json:"id"`
					TenantID string `json:"tenant_id"`
				} `json:"projects"`
				Next *string `json:"next_cursor"`
			}
			var got []string
			q := "/api/v1/projects?limit=40"
			for pages := 0; ; pages++ {
				res, body := acme.do("GET", q, nil)
				var pg projectsPage
				if err := json.Unmarshal(body, &pg); res.StatusCode != 200 || err != nil || len(pg.Projects) > 40 {
					t.Fatalf("GET %s: %d %s", q, res.StatusCode, trim(body))
				}
				for _, p := range pg.Projects {
					if p.TenantID != "acme" {
						t.Errorf("acme sees %s of %s", p.ID, p.TenantID)
					}
					got = append(got, p.ID)
				}
				if pg.Next == nil {
					break
				}
				if *pg.Next == "" || pages > 5 {
					t.Fatalf("next_cursor %q on page %d", *pg.Next, pages)
				}
				q = "/api/v1/projects?limit=40&cursor=" + url.QueryEscape(*pg.Next)
			}
			if len(got) != 120 {
				t.Errorf("API pages served %d projects, want 120", len(got))
			}
			res, body := root.do("GET", "/api/v1/tenants/acme/projects?search=op-00&limit=200", nil)
			var pg projectsPage
			if err := json.Unmarshal(body, &pg); res.StatusCode != 200 || err != nil || len(pg.Projects) != 10 || pg.Next != nil {
				t.Errorf("tenant projects search: %d %s", res.StatusCode, trim(body))
			}
			res, body = root.do("GET", "/api/v1/tenants", nil)
			var ts struct {
				Tenants []struct {
					ID       string `json:"id"`
					Projects int64  `json:"projects"`
				} `json:"tenants"`
			}
			if err := json.Unmarshal(body, &ts); res.StatusCode != 200 || err != nil || len(ts.Tenants) != 2 || ts.Tenants[0].Projects != 120 || ts.Tenants[1].Projects != 3 {
				t.Errorf("tenants: %d %s", res.StatusCode, trim(body))
			}
			for _, bad := range []struct{ path, field string }{
				{"/api/v1/projects?offset=50", "offset"},
				{"/api/v1/projects?limit=0", "limit"},
				{"/api/v1/projects?limit=201", "limit"},
				{"/api/v1/projects?cursor=bm9wZQ", "cursor"},
				{"/api/v1/projects?search=" + strings.Repeat("x", 201), "search"},
				{"/api/v1/tenants?offset=1", "offset"},
				{"/api/v1/tenants/acme/projects?cursor=%25", "cursor"},
			} {
				if res, body := acme.do("GET", bad.path, nil); res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"`+bad.field+`"`) {
					t.Errorf("GET %s: %d %s, want 400 naming %s", bad.path, res.StatusCode, trim(body), bad.field)
				}
			}

			// Audit: the project filter is a search field; an id naming no
			// readable project suggests readable ones containing it.
			res, body = acme.do("GET", "/console/audit?project_id=shop-05", nil)
			page := string(body)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, `id="audit-miss"`) || strings.Count(page, `class="audit-suggestion"`) != 10 || strings.Contains(page, "gshop") {
				t.Errorf("audit filter miss: %d, %d suggestions", res.StatusCode, strings.Count(page, `class="audit-suggestion"`))
			}
			if res, body := acme.do("GET", "/console/audit?project_id=gshop-1", nil); res.StatusCode != http.StatusForbidden || strings.Contains(string(body), "audit-suggestion") {
				t.Errorf("audit filter on globex's project: %d", res.StatusCode)
			}
			if page := acme.page("/console/audit?project_id=shop-050"); !strings.Contains(page, `value="shop-050"`) || strings.Contains(page, "audit-miss") {
				t.Errorf("audit filter on an acme project does not filter")
			}
			if page := acme.page("/console/audit"); strings.Contains(page, "<option") {
				t.Errorf("the audit page still lists projects in a select")
			}
		})
	}
}
