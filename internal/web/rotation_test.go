package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/rotation"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
)

// The rotation-policy API: bad input is a 400 naming the field and stores
// nothing; a good one answers the schedule with next_due, also shown as
// rotation on GET /projects/{id}; DELETE turns it off; another tenant's
// operator cannot touch it; the tenant-wide rotation of a tenant whose
// projects have no connection skips them all.
func TestRotationPolicyAPI(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e, c := acmeShop(t, d, "admin@acme.example", rbac.RoleTenantAdmin)
			const path = "/api/v1/projects/shop1/rotation-policy"
			for _, bad := range []struct {
				body  map[string]any
				field string
			}{
				{map[string]any{"every_days": 0}, "every_days"},
				{map[string]any{"every_days": 400}, "every_days"},
				{map[string]any{"every_days": 30, "window_start_hour": 24}, "window_start_hour"},
				{map[string]any{"every_days": 30, "window_start_hour": 3, "window_end_hour": 3}, "window_end_hour"},
				{map[string]any{"every_days": 30, "window_end_hour": -1}, "window_end_hour"},
				{map[string]any{"every_days": "30d"}, ""},
				{map[string]any{"every_days": 30, "when": "nightly"}, ""},
			} {
				res, body := c.do("PUT", path, bad.body)
				if res.StatusCode != http.StatusBadRequest || (bad.field != "" && !strings.Contains(string(body), `"field":"`+bad.field+`"`)) {
					t.Errorf("PUT %v: %d %s, want 400 naming %q", bad.body, res.StatusCode, body, bad.field)
				}
			}
			if res, body := c.do("GET", path, nil); res.StatusCode != 200 || !strings.Contains(string(body), `"policy":null`) {
				t.Fatalf("GET before: %d %s", res.StatusCode, body)
			}
			res, body := c.do("PUT", path, map[string]any{"every_days": 7, "window_start_hour": 22, "window_end_hour": 2})
			var st struct {
				Policy  *rotation.Policy `json:"policy"`
				NextDue *time.Time       `json:"next_due"`
				Overdue bool             `json:"overdue"`
			}
			if err := json.Unmarshal(body, &st); res.StatusCode != 200 || err != nil || st.Policy == nil || st.Policy.EveryDays != 7 || st.NextDue == nil || st.Overdue {
				t.Fatalf("PUT: %d %s", res.StatusCode, body)
			}
			if h := st.NextDue.UTC().Hour(); h < 22 && h >= 2 || st.NextDue.Before(time.Now().Add(6*24*time.Hour)) {
				t.Errorf("next due %v outside the window or too early", st.NextDue)
			}
			if res, body := c.do("GET", "/api/v1/projects/shop1", nil); res.StatusCode != 200 || !strings.Contains(string(body), `"rotation":{"policy":{"project_id":"shop1","every_days":7`) {
				t.Errorf("GET project: %d %s", res.StatusCode, body)
			}
			e.tenant("globex")
			e.operator("admin@globex.example", rbac.RoleTenantAdmin, "globex")
			g := e.login("admin@globex.example")
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				if res, _ := g.do(m, path, map[string]any{"every_days": 1}); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s acme's policy as globex: %d", m, res.StatusCode)
				}
			}
			if res, _ := g.do("POST", "/api/v1/tenants/acme/secrets/rotate", nil); res.StatusCode != http.StatusForbidden {
				t.Errorf("tenant rotation of acme as globex: %d", res.StatusCode)
			}
			res, body = c.do("POST", "/api/v1/tenants/acme/secrets/rotate", map[string]any{"grace_seconds": -1})
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"grace_seconds"`) {
				t.Errorf("tenant rotation with a bad grace: %d %s", res.StatusCode, body)
			}
			res, body = c.do("POST", "/api/v1/tenants/acme/secrets/rotate", nil)
			if res.StatusCode != 200 || !strings.Contains(string(body), `"ok":0,"failed":0,"skipped":1`) || !strings.Contains(string(body), `"outcome":"skipped"`) {
				t.Errorf("tenant rotation without connections: %d %s", res.StatusCode, body)
			}
			if res, body := c.do("DELETE", path, nil); res.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", res.StatusCode, body)
			}
			if res, _ := c.do("DELETE", path, nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("DELETE again: %d", res.StatusCode)
			}
		})
	}
}

// The console: the schedule form on the project page (bad input shown on
// the form naming the problem), the dashboard's last rotation and next
// due with an overdue project marked by class and text, and the tenant
// page's rotate-every-project button with its report.
func TestConsoleRotationSchedule(t *testing.T) {
	t.Parallel()
	e, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	ctx := context.Background()
	if _, err := e.a.Secrets.Put(ctx, "shop1", []byte("a-pasted-secret-of-32-characters!!"), secret.WriteOptions{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if page := c.page("/console/projects/shop1"); !strings.Contains(page, `id="rotation-form"`) || !strings.Contains(page, "not scheduled") {
		t.Fatal("project page without the schedule form")
	}
	res, body := c.form("/console/projects/shop1/rotation-policy", url.Values{"every_days": {"0"}}, true)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="rotation-error"`) || !strings.Contains(body, "every_days must be between 1 and 365") {
		t.Fatalf("bad schedule: %d %s", res.StatusCode, trim([]byte(body)))
	}
	res, body = c.form("/console/projects/shop1/rotation-policy", url.Values{"every_days": {"30"}, "window_start_hour": {"2"}, "window_end_hour": {"4"}}, true)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/projects/shop1?done=rotation_policy" {
		t.Fatalf("save schedule: %d %s", res.StatusCode, trim([]byte(body)))
	}
	page := c.page("/console/projects/shop1")
	if !strings.Contains(page, `id="rotation-policy">Every 30 days, between 02:00–04:00 UTC.`) || !strings.Contains(page, `class="next-due"`) || strings.Contains(page, "overdue") {
		t.Errorf("project page after saving: %s", trim([]byte(page)))
	}
	// A second project whose schedule fell due days ago and was not rotated.
	e.project("acme", "shop2")
	if err := e.a.Rotations.Put(ctx, &rotation.Policy{ProjectID: "shop2", EveryDays: 1, WindowStart: 2, WindowEnd: 4,
		NextDueAt: time.Now().Add(-72 * time.Hour), UpdatedBy: "test", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	dash := c.page("/console/")
	if strings.Count(dash, `class="tag bad overdue"`) != 1 || !strings.Contains(dash, ">overdue</span> since") || strings.Count(dash, `class="next-due"`) != 1 {
		t.Errorf("dashboard: overdue %d, next-due %d", strings.Count(dash, `class="tag bad overdue"`), strings.Count(dash, `class="next-due"`))
	}
	res, body = c.form("/console/projects/shop1/rotation-policy", url.Values{"off": {"1"}}, true)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("turn off: %d %s", res.StatusCode, trim([]byte(body)))
	}
	if page := c.page("/console/projects/shop1"); !strings.Contains(page, "not scheduled") {
		t.Error("schedule still shown after turning it off")
	}
	if page := c.page("/console/tenants/acme/settings"); !strings.Contains(page, `id="tenant-rotate"`) || !strings.Contains(page, "data-confirm=\"Rotate the shared secret of EVERY project of acme") {
		t.Error("tenant settings without the rotate-every-project button and its confirmation")
	}
	res, body = c.form("/console/tenants/acme/secrets/rotate", nil, true)
	if res.StatusCode != 200 || !strings.Contains(body, `id="rotation-report"`) || strings.Count(body, `class="outcome-skipped"`) != 2 || !strings.Contains(body, "0 rotated") {
		t.Errorf("tenant rotation report: %d %s", res.StatusCode, trim([]byte(body)))
	}
}
