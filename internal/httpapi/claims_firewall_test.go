package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
	"github.com/pingstreams/pingauth/internal/token"
)

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// droppedCount reads pingauth_claims_dropped_total{project, reason}.
func droppedCount(t *testing.T, b *bridge.Bridge, projectID, reason string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["project"] == projectID && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func firewallEnv(t *testing.T, db *store.DB, logs *lockedBuffer) *modesEnv {
	return newModesEnvWith(t, db, nil, func(o *bridge.StackOptions) {
		o.DenyEmails = token.MustEmailDenyList("admin@tiledesk.com", "staff.agency.test")
		o.Log = slog.New(slog.NewTextHandler(logs, nil))
	})
}

// TestClaimsFirewallServerMode: what a site backend asserts is checked
// against the claims policy; a refused claim is a 400 naming the field.
func TestClaimsFirewallServerMode(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		logs := &lockedBuffer{}
		e := firewallEnv(t, db, logs)
		e.setModes(t, mProjA, "server")
		e.setModes(t, mProjC, "server")
		_, keyA := e.newKey(t, mProjA)
		_, keyC := e.newKey(t, mProjC)
		if _, err := e.stack.Admin.SetTenantEmailDenyList(context.Background(), "test", "agency", []string{"boss@agency-owner.test"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, body, field string
		}{
			{"superadmin attribute", `{"user":{"id":"v1","attributes":{"isSuperadmin":true}}}`, "user.attributes.isSuperadmin"},
			{"superadmin any case", `{"user":{"id":"v1","attributes":{"IsSuperAdmin":true}}}`, "user.attributes.IsSuperAdmin"},
			{"proto key", `{"user":{"id":"v1","attributes":{"__proto__":{"isAdmin":true}}}}`, "user.attributes.__proto__"},
			{"nested constructor", `{"user":{"id":"v1","attributes":{"prefs":{"constructor":{"prototype":1}}}}}`, "user.attributes.prefs.constructor"},
			{"top-level role", `{"user":{"id":"v1","email":"owner@chat.test"},"role":"owner"}`, "role"},
			{"user role", `{"user":{"id":"v1","email":"owner@chat.test","role":"owner"}}`, "user.role"},
			{"id_project", `{"user":{"id":"v1","id_project":"other"}}`, "user.id_project"},
			{"chat server admin email", `{"user":{"id":"v1","email":"Admin@Tiledesk.com"}}`, "user.email"},
			{"deployment staff domain", `{"user":{"id":"v1","email":"ann@eu.staff.agency.test"}}`, "user.email"},
			{"tenant deny-list", `{"user":{"id":"v1","email":"boss@agency-owner.test"}}`, "user.email"},
			{"bad phone", `{"user":{"id":"v1","phone":"call me"}}`, "user.phone"},
		} {
			code, b := serverAuth(t, e, mProjA, keyA, tc.body)
			if code != 400 || !strings.Contains(string(b), `"field":"`+tc.field+`"`) {
				t.Errorf("%s: %d %s, want 400 naming %s", tc.name, code, b, tc.field)
			}
		}
		// A site's own role data is inert inside attributes; it stays there.
		code, b := serverAuth(t, e, mProjA, keyA, `{"user":{"id":"v1","email":"ann@shop.test","phone":"+39 055 1234","attributes":{"role":"owner","plan":"gold"}}}`)
		if code != 200 {
			t.Fatalf("role in attributes: %d %s", code, b)
		}
		c := e.claims(t, mProjA, b)
		if c["role"] != nil || claimAt(c, "attributes.role") != "owner" || c["phone"] != "+39 055 1234" || c["email"] != "ann@shop.test" {
			t.Fatalf("claims %v", c)
		}
		// The tenant's list is its own: another tenant's project may use that email.
		if code, b := serverAuth(t, e, mProjC, keyC, `{"user":{"id":"v1","email":"boss@agency-owner.test"}}`); code != 200 {
			t.Fatalf("other tenant: %d %s", code, b)
		}
		// Clearing the list applies at once (the settings cache is invalidated).
		if _, err := e.stack.Admin.SetTenantEmailDenyList(context.Background(), "test", "agency", nil); err != nil {
			t.Fatal(err)
		}
		if code, b := serverAuth(t, e, mProjA, keyA, `{"user":{"id":"v1","email":"boss@agency-owner.test"}}`); code != 200 {
			t.Fatalf("after clearing the list: %d %s", code, b)
		}
		if _, err := e.stack.Admin.SetTenantEmailDenyList(context.Background(), "test", "agency", []string{"not an email"}); !errors.Is(err, apperr.ErrInvalid) {
			t.Fatalf("malformed deny-list entry: %v", err)
		}
	})
}

// TestClaimsFirewallExchangeMode: an IdP's claims are a third party's: what
// the policy refuses is dropped (never a 400 the visitor cannot fix),
// counted by project and reason, and logged once per project and key.
func TestClaimsFirewallExchangeMode(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		logs := &lockedBuffer{}
		e := firewallEnv(t, db, logs)
		hs := "an-hs-secret-long-enough-0123456789-abcdef"
		e.setModes(t, mProjA, "exchange")
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"`+idpIss+`","audiences":["`+idpAud+`"],"hs_secret":"`+hs+`"}`, 200)
		hostile := func(mut func(jwt.MapClaims)) string {
			return upstream(t, jwt.SigningMethodHS256, "", []byte(hs), func(c jwt.MapClaims) {
				c["role"] = "owner"
				c["id_project"] = "other"
				c["_doc"] = map[string]any{"_id": "admin"}
				c["email"] = "owner@chat.test"
				c["email_verified"] = false
				c["attributes"] = map[string]any{"isSuperadmin": true, "role": "owner", "plan": "gold",
					"prefs": map[string]any{"__proto__": map[string]any{"x": 1}, "lang": "it"}}
				if mut != nil {
					mut(c)
				}
			})
		}
		for i := range 2 {
			code, b := exchange(t, e, mProjA, hostile(nil))
			if code != 200 {
				t.Fatalf("exchange %d: %d %s", i, code, b)
			}
			c := e.claims(t, mProjA, b)
			for _, k := range []string{"role", "id_project", "_doc", "email", "attributes.isSuperadmin", "attributes.prefs.__proto__"} {
				if claimAt(c, k) != nil {
					t.Errorf("%s reached the token: %v", k, c)
				}
			}
			if claimAt(c, "attributes.plan") != "gold" || claimAt(c, "attributes.role") != "owner" || claimAt(c, "attributes.prefs.lang") != "it" {
				t.Errorf("safe attributes lost: %v", c)
			}
		}
		if n := droppedCount(t, e.stack.Bridge, mProjA, token.ReasonPrivileged); n != 2 {
			t.Errorf("privileged drops counted %v, want 2", n)
		}
		if n := droppedCount(t, e.stack.Bridge, mProjA, token.ReasonUnsafeKey); n != 2 {
			t.Errorf("unsafe-key drops counted %v, want 2", n)
		}
		if n := droppedCount(t, e.stack.Bridge, mProjA, token.ReasonUnverifiedEmail); n != 2 {
			t.Errorf("unverified-email drops counted %v, want 2", n)
		}
		if n := strings.Count(logs.String(), "key=attributes.isSuperadmin"); n != 1 {
			t.Errorf("isSuperadmin drop logged %d times, want once:\n%s", n, logs)
		}
		// A verified email passes, unless it is denied.
		for email, want := range map[string]any{"zoe@shop.test": "zoe@shop.test", "admin@tiledesk.com": nil, "pat@staff.agency.test": nil} {
			code, b := exchange(t, e, mProjA, hostile(func(c jwt.MapClaims) { c["email"], c["email_verified"] = email, true }))
			if c := e.claims(t, mProjA, b); code != 200 || c["email"] != want {
				t.Errorf("verified %s: %d email %v, want %v", email, code, c["email"], want)
			}
		}
		if n := droppedCount(t, e.stack.Bridge, mProjA, token.ReasonDeniedEmail); n != 2 {
			t.Errorf("denied-email drops counted %v, want 2", n)
		}
		// An issuer the operator marks as verifying emails needs no email_verified.
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"`+idpIss+`","audiences":["`+idpAud+`"],"emails_verified":true}`, 200)
		code, b := exchange(t, e, mProjA, hostile(func(c jwt.MapClaims) { delete(c, "email_verified"); c["email"] = "zoe@shop.test" }))
		if c := e.claims(t, mProjA, b); code != 200 || c["email"] != "zoe@shop.test" {
			t.Errorf("trusted issuer: %d %v", code, c)
		}
		// An unverified phone is dropped; a verified one passes.
		code, b = exchange(t, e, mProjA, hostile(func(c jwt.MapClaims) { c["phone_number"] = "+1 555 0100" }))
		if c := e.claims(t, mProjA, b); code != 200 || c["phone"] != nil {
			t.Errorf("unverified phone: %v", c)
		}
		code, b = exchange(t, e, mProjA, hostile(func(c jwt.MapClaims) { c["phone_number"], c["phone_number_verified"] = "+1 555 0100", true }))
		if c := e.claims(t, mProjA, b); code != 200 || c["phone"] != "+1 555 0100" {
			t.Errorf("verified phone: %v", c)
		}
	})
}

// TestClaimsFirewallStoredData: operator-written data (end-users, CSV rows
// through the same repository, overrides, the mapping's allow-list) is
// refused at write time; what was stored before a deny-list grew is
// filtered at mint time.
func TestClaimsFirewallStoredData(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		logs := &lockedBuffer{}
		e := firewallEnv(t, db, logs)
		e.setModes(t, mProjA, "password", "server")
		for _, tc := range []struct {
			name  string
			u     enduser.User
			field string
		}{
			{"superadmin attribute", enduser.User{Email: "a@shop.test", Attributes: map[string]any{"isSuperadmin": true}}, "attributes.isSuperadmin"},
			{"proto attribute", enduser.User{Email: "b@shop.test", Attributes: map[string]any{"x": map[string]any{"__proto__": 1}}}, "attributes.x.__proto__"},
			{"admin email", enduser.User{Email: "admin@tiledesk.com"}, "email"},
			{"staff domain", enduser.User{Email: "c@staff.agency.test"}, "email"},
		} {
			u := tc.u
			u.ProjectID, u.Enabled = mProjA, true
			err := e.users.Create(ctx, &u, "correct horse battery")
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.ErrInvalid || ae.Field != tc.field {
				t.Errorf("%s: %v, want 400 on %s", tc.name, err, tc.field)
			}
		}
		e.admin(t, "PUT", mProjA+"/mapping/overrides/vip", `{"attributes":{"isSuperadmin":true}}`, 400)
		e.admin(t, "PUT", mProjA+"/mapping/overrides/vip", `{"attributes":{"deep":{"constructor":1}}}`, 400)
		e.admin(t, "PUT", mProjA+"/mapping", `{"attributes":["isSuperadmin"]}`, 400)
		e.admin(t, "PUT", mProjA+"/mapping", `{"attributes":["__proto__=user.id"]}`, 400)

		// Stored before the tenant listed the domain: the email is dropped from tokens.
		u := &enduser.User{ProjectID: mProjA, Email: "ceo@late.test", Enabled: true, Attributes: map[string]any{"plan": "gold"}}
		if err := e.users.Create(ctx, u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.stack.Admin.SetTenantEmailDenyList(ctx, "test", "agency", []string{"late.test"}); err != nil {
			t.Fatal(err)
		}
		code, b := e.do(t, "POST", "/auth/"+mProjA, `{"email":"ceo@late.test","password":"correct horse battery"}`, nil)
		if c := e.claims(t, mProjA, b); code != 200 || c["email"] != nil || claimAt(c, "attributes.plan") != "gold" {
			t.Fatalf("late-denied email: %d %v", code, c)
		}
		u.Firstname = "Ceo"
		if err := e.users.Update(ctx, u); err == nil {
			t.Fatal("an end-user with a denied email was updated")
		}
		if n := droppedCount(t, e.stack.Bridge, mProjA, token.ReasonDeniedEmail); n != 1 {
			t.Errorf("denied-email drops %v, want 1", n)
		}
	})
}
