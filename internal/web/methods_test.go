package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

const (
	testSecret = "pingstreams-shared-secret-0123"
	idpSecret  = "idp-hs-secret-0123456789-abcdefghijkl"
)

var keyPattern = regexp.MustCompile(`pa_live_[a-z2-7]{12}_[A-Za-z0-9_-]{43}`)

// form posts an HTML form the way the console does: session cookie and,
// when csrf is true, the hidden _csrf field (never the header).
func (c *client) form(path string, v url.Values, csrf bool) (*http.Response, string) {
	c.e.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	if csrf {
		v.Set("_csrf", c.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, c.e.url+path, strings.NewReader(v.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(c.cookie)
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// page GETs a console page and fails unless it is 200.
func (c *client) page(path string) string {
	c.e.t.Helper()
	res, body := c.do("GET", path, nil)
	if res.StatusCode != http.StatusOK {
		c.e.t.Fatalf("GET %s: %d %s", path, res.StatusCode, trim(body))
	}
	return string(body)
}

// wantRedirect checks a console form answered 303 to the sign-in methods page with a flash.
func wantRedirect(t *testing.T, what string, res *http.Response, body, project, done string) {
	t.Helper()
	want := "/console/projects/" + project + "/methods?done=" + done
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("%s: %d Location %q, want 303 %q (%s)", what, res.StatusCode, res.Header.Get("Location"), want, trim([]byte(body)))
	}
}

// acmeShop starts a server with tenant acme, project shop1 and a signed-in
// operator email holding role in acme.
func acmeShop(t *testing.T, d store.Dialect, email, role string) (*env, *client) {
	t.Helper()
	e := newEnv(t, d)
	e.tenant("acme")
	e.project("acme", "shop1")
	e.operator(email, role, "acme")
	return e, e.login(email)
}

// mint calls POST /auth/<project> as a site backend (server mode) or page (exchange).
func mint(t *testing.T, e *env, project, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/auth/"+project, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

const serverUser = `{"user":{"id":"u-1","email":"u1@example.com"}}`

// verifyWidgetToken checks a minted token against the project's shared secret.
func verifyWidgetToken(t *testing.T, project, secret string, out map[string]any) jwt.MapClaims {
	t.Helper()
	raw, _ := out["token"].(string)
	claims, err := token.Verify(raw, token.VerifyOptions{Audience: "https://tiledesk.com/projects/" + project,
		Keys: []token.Key{{Version: 1, Value: []byte(secret)}}})
	if err != nil {
		t.Fatalf("minted token does not verify with the project secret: %v (%v)", err, out)
	}
	return claims
}

// TestConsoleAPIKeyAndModes: a key created in the console is shown once
// (never again on any page), works only while server mode is enabled in the
// console, and stops working when revoked there; every change is audited
// with the operator as actor.
func TestConsoleAPIKeyAndModes(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e, c := acmeShop(t, d, "admin@acme.example", rbac.RoleTenantAdmin)
			if res, body := c.form("/console/projects/shop1/secret", url.Values{"secret": {testSecret}}, true); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("paste secret: %d %s", res.StatusCode, trim([]byte(body)))
			}

			res, body := c.form("/console/projects/shop1/methods/apikeys", url.Values{"name": {"shop-backend"}}, true)
			if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("create key: %d cache %q %s", res.StatusCode, res.Header.Get("Cache-Control"), trim([]byte(body)))
			}
			key := keyPattern.FindString(body)
			if key == "" || !strings.Contains(body, `id="new-key"`) {
				t.Fatalf("created key not shown: %s", trim([]byte(body)))
			}
			keyID := key[len("pa_live_") : len("pa_live_")+12]
			secretPart := key[len("pa_live_")+13:]
			for _, p := range []string{"/console/projects/shop1/methods", "/console/projects/shop1", "/console/projects/shop1/audit"} {
				page := c.page(p)
				if strings.Contains(page, secretPart) {
					t.Errorf("%s shows the API key after creation", p)
				}
				if p == "/console/projects/shop1/methods" && (!strings.Contains(page, "shop-backend") || !strings.Contains(page, keyID)) {
					t.Errorf("key list lacks the new key's name or id")
				}
			}

			// Server mode is off by default: the key is refused.
			if st, out := mint(t, e, "shop1", key, serverUser); st != http.StatusForbidden {
				t.Fatalf("mint before enabling server mode: %d %v, want 403", st, out)
			}
			res, body = c.form("/console/projects/shop1/methods/modes", url.Values{"mode": {"password", "server"}}, true)
			wantRedirect(t, "enable server mode", res, body, "shop1", "modes")
			st, out := mint(t, e, "shop1", key, serverUser)
			if st != http.StatusOK {
				t.Fatalf("mint with server mode enabled: %d %v", st, out)
			}
			if claims := verifyWidgetToken(t, "shop1", testSecret, out); claims["_id"] != "u-1" {
				t.Errorf("_id = %v, want u-1", claims["_id"])
			}
			page := c.page("/console/projects/shop1/methods")
			if !regexp.MustCompile(`id="mode-server" checked`).MatchString(page) || regexp.MustCompile(`id="mode-exchange" checked`).MatchString(page) {
				t.Error("methods page does not reflect the saved modes")
			}
			if p := c.page("/console/projects/shop1"); !strings.Contains(p, `id="snippet-server"`) || !strings.Contains(p, "Authorization: Bearer $PINGAUTH_API_KEY") || !strings.Contains(p, e.url+"/auth/shop1") {
				t.Error("project page lacks the server-mode snippet")
			}

			res, body = c.form("/console/projects/shop1/methods/modes", url.Values{"mode": {"password"}}, true)
			wantRedirect(t, "disable server mode", res, body, "shop1", "modes")
			if st, out := mint(t, e, "shop1", key, serverUser); st != http.StatusForbidden {
				t.Fatalf("mint after disabling server mode: %d %v, want 403", st, out)
			}
			// No mode at all is a validation error shown inline; nothing changes.
			res, body = c.form("/console/projects/shop1/methods/modes", nil, true)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "at least one mode") {
				t.Fatalf("empty modes: %d %s", res.StatusCode, trim([]byte(body)))
			}
			if ms, _ := e.a.Modes.Admin.Modes(t.Context(), "shop1"); len(ms) != 1 || ms[0] != "password" {
				t.Fatalf("modes after the rejected form: %v", ms)
			}

			// Revoke in the console: the key stops working even with server mode on.
			c.form("/console/projects/shop1/methods/modes", url.Values{"mode": {"server"}}, true)
			res, body = c.form("/console/projects/shop1/methods/apikeys/"+keyID+"/revoke", nil, true)
			wantRedirect(t, "revoke", res, body, "shop1", "key_revoked")
			if st, out := mint(t, e, "shop1", key, serverUser); st != http.StatusUnauthorized {
				t.Fatalf("mint with a revoked key: %d %v, want 401", st, out)
			}
			if page := c.page("/console/projects/shop1/methods"); strings.Contains(page, `id="revoke-`+keyID+`"`) || !strings.Contains(page, "revoked") {
				t.Error("revoked key still offered for revocation or not marked revoked")
			}

			_, audit := c.do("GET", "/api/v1/projects/shop1/audit", nil)
			for _, action := range []string{"apikey.create", "apikey.revoke", "modes.set"} {
				if !regexp.MustCompile(`"actor":"admin@acme.example","[^}]*"action":"`+regexp.QuoteMeta(action)+`"`).Match(audit) &&
					!regexp.MustCompile(`"action":"`+regexp.QuoteMeta(action)+`"[^}]*"actor":"admin@acme.example"`).Match(audit) {
					t.Errorf("audit lacks %s by the operator: %s", action, trim(audit))
				}
			}
			if strings.Contains(string(audit), secretPart) {
				t.Error("audit log contains the API key")
			}
		})
	}
}

// TestConsoleMethodsNeedCSRF: every sign-in methods form is refused without
// the session's CSRF token, and nothing changes.
func TestConsoleMethodsNeedCSRF(t *testing.T) {
	t.Parallel()
	e, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	k, _, err := e.a.Modes.Admin.CreateAPIKey(t.Context(), "test", "shop1", "existing")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.a.Modes.Admin.PutOverride(t.Context(), "test", &mapping.Override{ProjectID: "shop1", ExternalID: "troll", Blocked: true}); err != nil {
		t.Fatal(err)
	}
	forms := map[string]url.Values{
		"/console/projects/shop1/methods/modes":                       {"mode": {"server"}},
		"/console/projects/shop1/methods/apikeys":                     {"name": {"sneaky"}},
		"/console/projects/shop1/methods/apikeys/" + k.ID + "/revoke": nil,
		"/console/projects/shop1/methods/mapping":                     {"prefix": {"evil|"}},
		"/console/projects/shop1/methods/idp":                         {"issuer": {"https://evil.example"}, "audiences": {"x"}, "hs_secret": {idpSecret}},
		"/console/projects/shop1/methods/idp/delete":                  nil,
		"/console/projects/shop1/methods/overrides":                   {"external_id": {"victim"}, "blocked": {"1"}},
		"/console/projects/shop1/methods/overrides/remove":            {"external_id": {"troll"}},
	}
	n := 0
	for _, r := range consoleRoutes(t, e) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/console/projects/:projectId/methods") {
			n++
		}
	}
	if n != len(forms) {
		t.Fatalf("%d sign-in methods POST routes, test covers %d", n, len(forms))
	}
	for path, v := range forms {
		for _, bad := range []string{"", "wrong-token"} {
			if v == nil {
				v = url.Values{}
			}
			if bad != "" {
				v.Set("_csrf", bad)
			}
			res, body := c.form(path, v, false)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
				t.Errorf("POST %s with _csrf %q: %d, want 403 (%s)", path, bad, res.StatusCode, trim([]byte(body)))
			}
		}
	}
	ctx := t.Context()
	if ms, _ := e.a.Modes.Admin.Modes(ctx, "shop1"); len(ms) != 1 || ms[0] != "password" {
		t.Errorf("modes changed: %v", ms)
	}
	if ks, _ := e.a.Modes.Admin.ListAPIKeys(ctx, "shop1"); len(ks) != 1 || !ks[0].Active() {
		t.Errorf("keys changed: %+v", ks)
	}
	if m, _ := e.a.Modes.Admin.Mapping(ctx, "shop1"); m.Prefix != "" {
		t.Errorf("mapping changed: %+v", m)
	}
	if _, err := e.a.Modes.Admin.IdP(ctx, "shop1"); err == nil {
		t.Error("IdP configured without CSRF token")
	}
	if ovs, _ := e.a.Modes.Admin.Overrides(ctx, "shop1"); len(ovs) != 1 || ovs[0].ExternalID != "troll" || !ovs[0].Blocked {
		t.Errorf("overrides changed: %+v", ovs)
	}
}

// TestConsoleMethodsTenantOperator: a tenant-operator (read-only plus
// credential rotation) manages API keys but cannot change modes, mapping,
// overrides or the IdP, and sees those forms read-only.
func TestConsoleMethodsTenantOperator(t *testing.T) {
	t.Parallel()
	e, op := acmeShop(t, store.SQLite, "op@acme.example", rbac.RoleTenantOperator)
	if err := e.a.Modes.Admin.PutOverride(t.Context(), "test", &mapping.Override{ProjectID: "shop1", ExternalID: "troll", Blocked: true, Note: "abuse"}); err != nil {
		t.Fatal(err)
	}

	page := op.page("/console/projects/shop1/methods")
	for _, want := range []string{`id="key-create"`, `<fieldset class="modes" disabled>`, `data-external-id="troll"`} {
		if !strings.Contains(page, want) {
			t.Errorf("operator's methods page lacks %s", want)
		}
	}
	for _, absent := range []string{`id="modes-save"`, `id="claims-save"`, `id="idp-save"`, `id="override-save"`, `id="override-remove-0"`} {
		if strings.Contains(page, absent) {
			t.Errorf("operator's methods page offers %s", absent)
		}
	}
	res, body := op.form("/console/projects/shop1/methods/apikeys", url.Values{"name": {"ops-key"}}, true)
	key := keyPattern.FindString(body)
	if res.StatusCode != http.StatusOK || key == "" {
		t.Fatalf("operator creates key: %d %s", res.StatusCode, trim([]byte(body)))
	}
	res, body = op.form("/console/projects/shop1/methods/apikeys/"+key[8:20]+"/revoke", nil, true)
	wantRedirect(t, "operator revokes key", res, body, "shop1", "key_revoked")

	for path, v := range map[string]url.Values{
		"/console/projects/shop1/methods/modes":            {"mode": {"password", "server"}},
		"/console/projects/shop1/methods/mapping":          {"prefix": {"ops|"}},
		"/console/projects/shop1/methods/idp":              {"issuer": {"https://idp.example"}, "audiences": {"web"}, "hs_secret": {idpSecret}},
		"/console/projects/shop1/methods/idp/delete":       nil,
		"/console/projects/shop1/methods/overrides":        {"external_id": {"u-1"}, "blocked": {"1"}},
		"/console/projects/shop1/methods/overrides/remove": {"external_id": {"troll"}},
	} {
		if res, body := op.form(path, v, true); res.StatusCode != http.StatusForbidden {
			t.Errorf("operator POST %s: %d, want 403 (%s)", path, res.StatusCode, trim([]byte(body)))
		}
	}
	if ms, _ := e.a.Modes.Admin.Modes(t.Context(), "shop1"); len(ms) != 1 || ms[0] != "password" {
		t.Errorf("modes changed by an operator: %v", ms)
	}
	if ovs, _ := e.a.Modes.Admin.Overrides(t.Context(), "shop1"); len(ovs) != 1 || ovs[0].ExternalID != "troll" || !ovs[0].Blocked {
		t.Errorf("overrides changed by an operator: %+v", ovs)
	}
}

// TestConsoleMappingAndIdP: the mapping and IdP forms validate inline
// (overlapping prefix → 409 with the input kept), the HS secret is
// write-only, and the saved settings drive exchange-mode tokens.
func TestConsoleMappingAndIdP(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.tenant("acme")
			e.project("acme", "shopA")
			e.project("acme", "shopB")
			e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
			c := e.login("admin@acme.example")
			c.form("/console/projects/shopA/secret", url.Values{"secret": {testSecret}}, true)

			res, body := c.form("/console/projects/shopA/methods/mapping", url.Values{"id_claim": {"sub"}, "prefix": {"shopA|"}, "attributes": {"plan\ntier=app_metadata.tier"}}, true)
			wantRedirect(t, "mapping A", res, body, "shopA", "claims")
			res, body = c.form("/console/projects/shopB/methods/mapping", url.Values{"id_claim": {"uid"}, "prefix": {"shopA|x"}}, true)
			if res.StatusCode != http.StatusConflict || !strings.Contains(body, "overlaps") || !strings.Contains(body, `value="shopA|x"`) || !strings.Contains(body, `value="uid"`) {
				t.Fatalf("overlapping prefix: %d, want 409 inline with the input kept: %s", res.StatusCode, trim([]byte(body)))
			}
			if m, _ := e.a.Modes.Admin.Mapping(t.Context(), "shopB"); m.Prefix != "" {
				t.Fatalf("shopB mapping saved despite the conflict: %+v", m)
			}

			// IdP: neither JWKS nor secret is rejected inline; an HS secret is stored but never shown.
			res, body = c.form("/console/projects/shopA/methods/idp", url.Values{"issuer": {"https://login.shop.example"}, "audiences": {"shop-web"}}, true)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "JWKS URL or an HS secret") || !strings.Contains(body, `value="https://login.shop.example"`) {
				t.Fatalf("IdP without key material: %d %s", res.StatusCode, trim([]byte(body)))
			}
			res, body = c.form("/console/projects/shopA/methods/idp", url.Values{"issuer": {"https://login.shop.example"}, "audiences": {"shop-web"},
				"algorithms": {"HS256"}, "leeway": {"30s"}, "hs_secret": {idpSecret}}, true)
			wantRedirect(t, "IdP", res, body, "shopA", "idp")
			page := c.page("/console/projects/shopA/methods")
			if strings.Contains(page, idpSecret) || !strings.Contains(page, "HS secret set: yes") || !strings.Contains(page, `value="30s"`) {
				t.Fatalf("IdP form after saving: secret shown or state missing: %s", trim([]byte(page)))
			}
			// Saving again without the secret keeps it.
			res, body = c.form("/console/projects/shopA/methods/idp", url.Values{"issuer": {"https://login.shop.example"}, "audiences": {"shop-web\nshop-app"}, "leeway": {"60"}}, true)
			wantRedirect(t, "IdP keep secret", res, body, "shopA", "idp")
			if cfg, err := e.a.Modes.Admin.IdP(t.Context(), "shopA"); err != nil || !cfg.HasHSSecret || cfg.LeewaySeconds != 60 || len(cfg.Audiences) != 2 {
				t.Fatalf("IdP after re-save: %+v %v", cfg, err)
			}

			c.form("/console/projects/shopA/methods/modes", url.Values{"mode": {"exchange"}}, true)
			idToken, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://login.shop.example", "aud": "shop-app", "sub": "77",
				"exp": time.Now().Add(time.Minute).Unix(), "app_metadata": map[string]any{"tier": "gold"}}).SignedString([]byte(idpSecret))
			if err != nil {
				t.Fatal(err)
			}
			st, out := mint(t, e, "shopA", "", `{"id_token":"`+idToken+`"}`)
			if st != http.StatusOK {
				t.Fatalf("exchange: %d %v", st, out)
			}
			if claims := verifyWidgetToken(t, "shopA", testSecret, out); claims["_id"] != "shopA|77" || attrOf(claims, "tier") != "gold" {
				t.Errorf("exchange claims = %v, want _id shopA|77 and tier gold (mapping from the console)", claims)
			}
			if p := c.page("/console/projects/shopA"); !strings.Contains(p, `id="snippet-exchange"`) || !strings.Contains(p, "id_token: idToken") || strings.Contains(p, `id="snippet"`) {
				t.Error("project page should show the exchange snippet only (password mode is off)")
			}

			res, body = c.form("/console/projects/shopA/methods/idp/delete", nil, true)
			wantRedirect(t, "IdP delete", res, body, "shopA", "idp_deleted")
			if st, _ := mint(t, e, "shopA", "", `{"id_token":"`+idToken+`"}`); st == http.StatusOK {
				t.Error("exchange still works after removing the IdP")
			}
		})
	}
}
