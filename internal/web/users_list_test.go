package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// seedUsers adds n end-users (no password) named page00@list.test... to the project.
func (e *env) seedUsers(projectID string, n int) {
	e.t.Helper()
	for i := range n {
		u := &enduser.User{ProjectID: projectID, Email: fmt.Sprintf("page%02d@list.test", i), Firstname: "Pat", Lastname: fmt.Sprintf("Lister%02d", i), Enabled: true}
		if i%2 == 1 {
			u.Lastname = "Odd" + u.Lastname
		}
		if err := e.a.Users.Create(context.Background(), u, ""); err != nil {
			e.t.Fatal(err)
		}
	}
}

type usersAnswer struct {
	Users []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"users"`
	Next  *string `json:"next_cursor"`
	Total struct {
		Count int64 `json:"count"`
		Exact bool  `json:"exact"`
	} `json:"total"`
	Limit int `json:"limit"`
}

// TestUsersAPIPagesBySearchAndCursor: GET /api/v1/projects/:id/users pages
// by cursor (next_cursor omitted on the last page), searches, bounds the
// total, and refuses a bad limit, cursor, search or any ?offset= with a 400
// naming the field; on both dialects.
func TestUsersAPIPagesBySearchAndCursor(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("acme")
			e.project("acme", "shop")
			e.seedUsers("shop", 12)
			e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
			c := e.login("admin@acme.example")
			get := func(query string) usersAnswer {
				t.Helper()
				res, body := c.do("GET", "/api/v1/projects/shop/users?"+query, nil)
				var a usersAnswer
				if res.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil {
					t.Fatalf("GET users?%s: %d %s", query, res.StatusCode, body)
				}
				if a.Next != nil && *a.Next == "" || (a.Next == nil) == strings.Contains(string(body), "next_cursor") {
					t.Fatalf("next_cursor must be absent on the last page, non-empty otherwise: %s", body)
				}
				return a
			}
			var emails []string
			query := "limit=5"
			for pages := 0; ; pages++ {
				a := get(query)
				if a.Limit != 5 || a.Total.Count != 12 || !a.Total.Exact || len(a.Users) > 5 {
					t.Fatalf("page %d: %+v", pages, a)
				}
				for _, u := range a.Users {
					emails = append(emails, u.Email)
				}
				if a.Next == nil {
					break
				}
				query = "limit=5&cursor=" + url.QueryEscape(*a.Next)
			}
			if len(emails) != 12 || emails[0] != "page00@list.test" || emails[11] != "page11@list.test" {
				t.Fatalf("walked %v", emails)
			}
			if a := get("search=ODDLISTER"); a.Total.Count != 6 || len(a.Users) != 6 || a.Next != nil || a.Limit != 50 {
				t.Fatalf("search: %+v", a)
			}
			if a := get("search=pa&limit=1"); a.Total.Count != 12 || len(a.Users) != 1 || a.Next == nil { // 2 characters: field start
				t.Fatalf("short search: %+v", a)
			}
			if a := get("search=nobody"); a.Total.Count != 0 || len(a.Users) != 0 || a.Next != nil {
				t.Fatalf("no match: %+v", a)
			}
			for query, field := range map[string]string{
				"limit=0":              "limit",
				"limit=201":            "limit",
				"limit=ten":            "limit",
				"cursor=not-a-cursor!": "cursor",
				"cursor=" + url.QueryEscape("eyJub3QiOiJhIGN1cnNvciJ9"): "cursor",
				"offset=5":        "offset",
				"limit=5&offset=": "offset",
				"search=" + strings.Repeat("y", enduser.MaxSearchLen+1): "search",
			} {
				res, body := c.do("GET", "/api/v1/projects/shop/users?"+query, nil)
				if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"`+field+`"`) {
					t.Errorf("GET users?%s: %d %s, want 400 naming %s", query, res.StatusCode, body, field)
				}
			}
		})
	}
}

var hrefRE = regexp.MustCompile(`id="users-(first|next)" ?href="([^"]*)"|href="([^"]*)" id="users-(first|next)"`)

// links returns the First/Next page links of a users page.
func usersLinks(body string) map[string]string {
	out := map[string]string{}
	for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
		if m[1] != "" {
			out[m[1]] = html.UnescapeString(m[2])
		} else {
			out[m[4]] = html.UnescapeString(m[3])
		}
	}
	return out
}

// TestUsersPagePagesAndSearches: the console users page shows the bounded
// total, a Next page link carrying the cursor and the search, a First page
// link on later pages, and refuses ?offset=.
func TestUsersPagePagesAndSearches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop")
	e.seedUsers("shop", 30) // more than a page of 25
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")
	body := c.page("/console/projects/shop/users")
	l := usersLinks(body)
	if !strings.Contains(body, "30 end-users") || l["next"] == "" || l["first"] != "" || strings.Count(body, "@list.test</code>") != 25 {
		t.Fatalf("first page: links %v\n%s", l, body[strings.Index(body, `class="pager"`):])
	}
	body = c.page(l["next"])
	l2 := usersLinks(body)
	if strings.Count(body, "@list.test</code>") != 5 || l2["next"] != "" || l2["first"] != "/console/projects/shop/users" || !strings.Contains(body, "page29@list.test") {
		t.Fatalf("second page: links %v\n%s", l2, trim([]byte(body)))
	}
	body = c.page("/console/projects/shop/users?search=oddlister&limit=4")
	l = usersLinks(body)
	if !strings.Contains(body, "15 end-users match") || strings.Count(body, "@list.test</code>") != 4 || !strings.Contains(l["next"], "search=oddlister") || !strings.Contains(l["next"], "limit=4") {
		t.Fatalf("search page: links %v\n%s", l, trim([]byte(body)))
	}
	body = c.page(l["next"])
	if l = usersLinks(body); l["first"] != "/console/projects/shop/users?limit=4&search=oddlister" || strings.Count(body, "OddLister") != 4 {
		t.Fatalf("search page 2: links %v\n%s", l, trim([]byte(body)))
	}
	if res, body := c.do("GET", "/console/projects/shop/users?offset=25", nil); res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "cursor") {
		t.Fatalf("?offset=: %d %s", res.StatusCode, trim(body))
	}
}
