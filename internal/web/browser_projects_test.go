package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestBrowserDashboardPagesAndSearches drives headless Chromium over a
// dashboard of 130 projects: the first page shows 50 and the tenant's
// count, "Next page" twice reaches the last 30, "First page" returns, the
// search box narrows to matching projects, and the audit filter's search
// field suggests projects for a partial id.
func TestBrowserDashboardPagesAndSearches(t *testing.T) {
	requireBrowser(t)
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	for i := 0; i < 130; i++ {
		e.project("acme", fmt.Sprintf("site-%03d", i))
	}
	e.operator("admin@acme.test", rbac.RoleTenantAdmin, "acme")
	bctx := startBrowser(t)
	tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	run := stepRunner(tctx, t)
	rows := func() []string {
		t.Helper()
		txt, err := chromedp.Run(tctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("tr.project-row td:nth-child(2)")).map(e => e.textContent.trim()).join(",")`))
		if err != nil {
			t.Fatal(err)
		}
		if txt == "" {
			return nil
		}
		return strings.Split(txt, ",")
	}
	run("sign in",
		append(consoleSignIn(e.url, "admin@acme.test", "operator-pass-1"),
			chromedp.WaitVisible(css("#projects")))...,
	)
	if got := rows(); len(got) != 50 || got[0] != "site-000" || got[49] != "site-049" {
		t.Fatalf("first page: %d rows %v", len(got), got)
	}
	if n, _ := chromedp.Run(tctx, chromedp.Text(css("#tenant-acme .project-count"))); strings.TrimSpace(n) != "130" {
		t.Errorf("tenant summary count %q, want 130", n)
	}
	run("next page", chromedp.Click(css("#projects-next")), chromedp.WaitVisible(css("#projects-first")))
	if got := rows(); len(got) != 50 || got[0] != "site-050" {
		t.Fatalf("second page: %v", got)
	}
	run("last page", chromedp.Click(css("#projects-next")), chromedp.WaitVisible(css("#projects-first")))
	if got := rows(); len(got) != 30 || got[29] != "site-129" {
		t.Fatalf("last page: %v", got)
	}
	if n, _ := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#projects-next").length`)); n != 0 {
		t.Error("the last page has a next link")
	}
	run("first page", chromedp.Click(css("#projects-first")), chromedp.WaitVisible(css("#projects")))
	if got := rows(); len(got) != 50 || got[0] != "site-000" {
		t.Fatalf("back on the first page: %v", got)
	}
	run("search",
		chromedp.SendKeys(css("#project-search"), "SITE-12"),
		chromedp.Click(css("#project-search-go")),
		chromedp.WaitVisible(css("#project-search-clear")),
	)
	if got := rows(); len(got) != 10 || got[0] != "site-120" || got[9] != "site-129" {
		t.Fatalf("search SITE-12: %v", got)
	}
	run("audit filter suggests",
		chromedp.Navigate(e.url+"/console/audit"),
		chromedp.WaitVisible(css("#audit-project")),
		chromedp.SendKeys(css("#audit-project"), "site-00"),
		chromedp.Click(css("#audit-filter")),
		chromedp.WaitVisible(css("#audit-miss")),
	)
	n, _ := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("a.audit-suggestion").length`))
	if n != 10 {
		t.Fatalf("audit suggestions: %d, want 10", n)
	}
	run("pick a suggestion", chromedp.Click(css("a.audit-suggestion")), chromedp.WaitVisible(css("#audit")))
	if v, _ := chromedp.Run(tctx, chromedp.Value(css("#audit-project"))); v != "site-000" {
		t.Errorf("audit filter after the suggestion: %q", v)
	}
}
