package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

const overridesPath = "/console/projects/shop1/methods/overrides"

// storedOverrides returns shop1's overrides by external id, read through the
// same admin service the console and the API use.
func storedOverrides(t *testing.T, e *env) map[string]mapping.Override {
	t.Helper()
	ovs, err := e.a.Modes.Admin.Overrides(t.Context(), "shop1")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]mapping.Override{}
	for _, o := range ovs {
		out[o.ExternalID] = o
	}
	return out
}

// auditActions lists shop1's audit events as "actor action target".
func auditActions(t *testing.T, e *env) []string {
	t.Helper()
	es, err := e.a.Audit.List(t.Context(), audit.Query{ProjectID: "shop1", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range es {
		out = append(out, ev.Actor+" "+ev.Action+" "+ev.Target)
	}
	return out
}

func hasEntry(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

// TestConsoleOverridesAndBlocks: an override and a block added on the sign-in
// methods page are listed there, apply to server-mode /auth at once (block →
// 403, forced _id and attributes in the token), are audited with the
// operator as actor like the API's, and removing the block lets the user in
// again. External ids with "/", "|", "%" and spaces work (they travel in the
// form body, not the path).
func TestConsoleOverridesAndBlocks(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e, c := acmeShop(t, d, "admin@acme.example", rbac.RoleTenantAdmin)
			if res, body := c.form("/console/projects/shop1/secret", url.Values{"secret": {testSecret}}, true); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("paste secret: %d %s", res.StatusCode, trim([]byte(body)))
			}
			res, body := c.form("/console/projects/shop1/methods/modes", url.Values{"mode": {"password", "server"}}, true)
			wantRedirect(t, "enable server mode", res, body, "shop1", "modes")
			_, key, err := e.a.Modes.Admin.CreateAPIKey(t.Context(), "test", "shop1", "backend")
			if err != nil {
				t.Fatal(err)
			}
			const troll, odd = "troll-42", "shop/a|b%2F c"
			userOf := func(id string) string { return `{"user":{"id":"` + id + `","email":"x@example.com"}}` }
			if st, out := mint(t, e, "shop1", key, userOf(troll)); st != http.StatusOK {
				t.Fatalf("mint before the block: %d %v", st, out)
			}

			steps := []struct {
				name string
				form url.Values
			}{
				{"block", url.Values{"external_id": {troll}, "blocked": {"1"}, "note": {"abuse report #12"}}},
				{"force id and attributes", url.Values{"external_id": {" " + odd + " "}, "force_id": {"legacy-007"}, "attributes": {`{"tier": "platinum", "seats": 3}`}}},
			}
			for _, s := range steps {
				res, body := c.form(overridesPath, s.form, true)
				wantRedirect(t, s.name, res, body, "shop1", "override")
			}

			stored := storedOverrides(t, e)
			if o, ok := stored[troll]; !ok || !o.Blocked || o.Note != "abuse report #12" || o.UpdatedBy != "admin@acme.example" {
				t.Fatalf("stored block: %+v (present %v)", o, ok)
			}
			if o, ok := stored[odd]; !ok || o.Blocked || o.ForceID != "legacy-007" || o.Attributes["tier"] != "platinum" {
				t.Fatalf("stored override (external id trimmed): %+v (present %v); all: %v", o, ok, stored)
			}

			page := html.UnescapeString(c.page("/console/projects/shop1/methods?done=override"))
			for _, want := range []string{"Per-user override saved.", `data-external-id="` + troll + `"`, "abuse report #12",
				`data-external-id="` + odd + `"`, "legacy-007", `{"seats":3,"tier":"platinum"}`, `id="override-save"`} {
				if !strings.Contains(page, want) {
					t.Errorf("methods page lacks %q", want)
				}
			}

			// /auth: the block is refused at once, the override shapes the token.
			if st, out := mint(t, e, "shop1", key, userOf(troll)); st != http.StatusForbidden {
				t.Fatalf("mint for a blocked external id: %d %v, want 403", st, out)
			}
			st, out := mint(t, e, "shop1", key, userOf(odd))
			if st != http.StatusOK {
				t.Fatalf("mint with an override: %d %v", st, out)
			}
			if claims := verifyWidgetToken(t, "shop1", testSecret, out); claims["_id"] != "legacy-007" || attrOf(claims, "tier") != "platinum" {
				t.Errorf("claims = %v, want _id legacy-007 and tier platinum", claims)
			}

			// Remove (unblock) both, by the exact stored ids.
			for _, id := range []string{troll, odd} {
				res, body := c.form(overridesPath+"/remove", url.Values{"external_id": {id}}, true)
				wantRedirect(t, "remove "+id, res, body, "shop1", "override_removed")
			}
			if stored := storedOverrides(t, e); len(stored) != 0 {
				t.Fatalf("overrides after removing: %v", stored)
			}
			if st, out := mint(t, e, "shop1", key, userOf(troll)); st != http.StatusOK {
				t.Fatalf("mint after unblocking: %d %v", st, out)
			}
			if page := c.page("/console/projects/shop1/methods"); strings.Contains(page, "data-external-id=") || !strings.Contains(page, "No overrides or blocks.") {
				t.Error("removed overrides still listed")
			}

			acts := auditActions(t, e)
			for _, want := range []string{
				"admin@acme.example mapping.override.set " + troll, "admin@acme.example mapping.override.set " + odd,
				"admin@acme.example mapping.override.delete " + troll, "admin@acme.example mapping.override.delete " + odd,
			} {
				if !hasEntry(acts, want) {
					t.Errorf("audit lacks %q: %v", want, acts)
				}
			}
		})
	}
}

// TestConsoleOverrideValidation: bad input re-renders the sign-in methods
// page with the message and the operator's input (4xx, never 500), and
// stores and audits nothing.
func TestConsoleOverrideValidation(t *testing.T) {
	t.Parallel()
	e, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	cases := []struct {
		name   string
		path   string
		form   url.Values
		status int
		msg    string
		kept   string // input shown again
	}{
		{"bad JSON", overridesPath, url.Values{"external_id": {"u-1"}, "attributes": {`{"tier": `}}, 400, "attributes are not valid JSON", `value="u-1"`},
		{"repeated attribute", overridesPath, url.Values{"external_id": {"u-1"}, "attributes": {`{"tier": "gold", "tier": "free"}`}}, 400, `attributes are not valid JSON ("tier" is given more than once)`, `value="u-1"`},
		{"JSON array", overridesPath, url.Values{"external_id": {"u-1"}, "attributes": {`["gold"]`}}, 400, "attributes must be a JSON object", `["gold"]`},
		{"JSON string", overridesPath, url.Values{"external_id": {"u-1"}, "attributes": {`"gold"`}}, 400, "attributes must be a JSON object", `value="u-1"`},
		{"reserved claim", overridesPath, url.Values{"external_id": {"u-1"}, "attributes": {`{"email": "boss@example.com"}`}}, 400, "reserved token claim", "boss@example.com"},
		{"missing external id", overridesPath, url.Values{"blocked": {"1"}, "note": {"who?"}}, 400, "external_id: must not be empty", `value="who?"`},
		{"blank external id", overridesPath, url.Values{"external_id": {"   "}, "blocked": {"1"}}, 400, "external_id: must not be empty", ""},
		{"no effect", overridesPath, url.Values{"external_id": {"u-1"}, "note": {"nothing else"}}, 400, "needs force_id, attributes or blocked", `value="nothing else"`},
		{"control character", overridesPath, url.Values{"external_id": {"u\x01"}, "blocked": {"1"}}, 400, "control characters", ""},
		{"remove without id", overridesPath + "/remove", nil, 400, "external id is required", ""},
		{"remove unknown id", overridesPath + "/remove", url.Values{"external_id": {"nobody"}}, 404, "no override for this external id", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := c.form(tc.path, tc.form, true)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.status, trim([]byte(body)))
			}
			page := html.UnescapeString(body)
			if !strings.Contains(page, `id="override-error"`) || !strings.Contains(page, tc.msg) {
				t.Errorf("page lacks the inline message %q", tc.msg)
			}
			if tc.kept != "" && !strings.Contains(page, tc.kept) {
				t.Errorf("page lacks the operator's input %q", tc.kept)
			}
			if !strings.Contains(page, `id="overrides-card"`) {
				t.Error("not the sign-in methods page")
			}
		})
	}
	if stored := storedOverrides(t, e); len(stored) != 0 {
		t.Errorf("overrides stored by rejected forms: %v", stored)
	}
	for _, a := range auditActions(t, e) {
		if strings.Contains(a, "mapping.override") {
			t.Errorf("audit entry for a rejected form: %s", a)
		}
	}
}
