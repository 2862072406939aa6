package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/mail/mailtest"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// browserClient is a cookie-keeping HTTP client that does not follow
// redirects: what a browser sends, without a browser.
type browserClient struct {
	e  *env
	hc *http.Client
}

func (e *env) cookieClient() *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserClient) send(method, path, ct string, body io.Reader) (*http.Response, string) {
	b.e.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = b.e.url + path
	}
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res, string(out)
}

func (b *browserClient) get(path string) (*http.Response, string) {
	return b.send("GET", path, "", nil)
}

func (b *browserClient) postForm(path string, f url.Values) (*http.Response, string) {
	return b.send("POST", path, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
}

// signIn signs in through the API (the session cookie lands in the jar).
func (b *browserClient) signIn(email, password string) int {
	j, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, _ := b.send("POST", "/api/v1/session", "application/json", strings.NewReader(string(j)))
	return res.StatusCode
}

// answerTimes matches the RFC 3339 timestamps of a JSON answer.
var answerTimes = regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)`)

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func csrfIn(t *testing.T, html string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no _csrf field in page:\n%s", html)
	}
	return m[1]
}

var inviteLink = regexp.MustCompile(`https?://[^\s"<]+/console/invite/[A-Za-z0-9_-]{43}`)

// skeleton replaces the values that differ between two invitations (ids,
// emails, instants, the link) so two answers can be compared byte for byte.
func skeleton(t *testing.T, body []byte) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer is not JSON: %s", body)
	}
	inv, _ := v["invitation"].(map[string]any)
	for _, k := range []string{"id", "email", "created_at", "expires_at"} {
		if _, ok := inv[k]; ok {
			inv[k] = "<" + k + ">"
		}
	}
	if _, ok := v["link"]; ok {
		v["link"] = "<link>"
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// Issue 12, scenario 1, exactly: acme's tenant admin made an account for
// cfo@globex.test with a password acme chose, then removed the membership;
// later globex's admin adds cfo@globex.test as tenant-admin. Now: acme
// cannot set the password in the first place; globex's add is an
// invitation whose answer looks the same as for a new email; nothing is
// granted until cfo accepts signed in as cfo with the mailed link; acme's
// password never holds globex's role or rotates globex's secret.
func TestInvitationScenario1(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			smtpSrv := mailtest.Start(t, "mailer", "smtp-pass-123")
			e := newEnvVars(t, d, map[string]string{"PINGAUTH_SMTP_URL": smtpSrv.URL("pingauth@ops.test")})
			ctx := context.Background()
			e.tenant("acme")
			e.tenant("globex")
			gp := e.project("globex", "globex-shop")
			e.operator("root@ops.test", rbac.RolePlatformAdmin, rbac.AllTenants)
			e.operator("admin@acme.test", rbac.RoleTenantAdmin, "acme")
			globexAdmin := e.operator("admin@globex.test", rbac.RoleTenantAdmin, "globex")
			acme, globex, root := e.login("admin@acme.test"), e.login("admin@globex.test"), e.login("root@ops.test")
			const cfo, acmePW, globexPW = "cfo@globex.test", "acme-chosen-pw-1", "globex-typed-pw-1"

			// acme can no longer choose cfo's password: 400 naming the field, no account.
			res, body := acme.do("POST", "/api/v1/tenants/acme/operators", map[string]string{"email": cfo, "role": rbac.RoleTenantOperator, "password": acmePW})
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"password"`) || !strings.Contains(string(body), "tenant admins cannot set passwords; the invitee sets their own") {
				t.Fatalf("acme sets a password: %d %s", res.StatusCode, body)
			}
			if _, err := e.a.Operators.GetByEmail(ctx, cfo); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("an account was created: %v", err)
			}

			// The state the issue starts from (made by the old code): cfo's
			// account with acme's password, its acme membership removed.
			cfoOp, err := e.a.Admin.CreateOperatorWithRole(ctx, admin.CLI(), cfo, acmePW, rbac.RoleTenantOperator, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if res, body := acme.do("DELETE", "/api/v1/tenants/acme/operators/"+cfoOp.ID, nil); res.StatusCode != http.StatusNoContent {
				t.Fatalf("remove membership: %d %s", res.StatusCode, body)
			}

			// globex's admin typed a password: refused, not silently ignored.
			res, body = globex.do("POST", "/api/v1/tenants/globex/operators", map[string]string{"email": cfo, "role": rbac.RoleTenantAdmin, "password": globexPW})
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"password"`) {
				t.Fatalf("globex password: %d %s", res.StatusCode, body)
			}
			// Invite the existing account and a new email: same status, same answer.
			resOld, bodyOld := globex.do("POST", "/api/v1/tenants/globex/operators", map[string]string{"email": cfo, "role": rbac.RoleTenantAdmin})
			resNew, bodyNew := globex.do("POST", "/api/v1/tenants/globex/operators", map[string]string{"email": "new@globex.test", "role": rbac.RoleTenantAdmin})
			if resOld.StatusCode != http.StatusCreated || resNew.StatusCode != http.StatusCreated {
				t.Fatalf("invite: %d %s / %d %s", resOld.StatusCode, bodyOld, resNew.StatusCode, bodyNew)
			}
			if so, sn := skeleton(t, bodyOld), skeleton(t, bodyNew); so != sn {
				t.Errorf("the answer tells an existing account from a new email:\n existing %s\n new      %s", so, sn)
			}
			// Lengths too (timestamps masked: their fractional seconds vary in length).
			if lo, ln := len(answerTimes.ReplaceAll(bodyOld, []byte("T"))), len(answerTimes.ReplaceAll(bodyNew, []byte("T"))); lo != ln+len(cfo)-len("new@globex.test") {
				t.Errorf("answer lengths differ beyond the email: %d vs %d", lo, ln)
			}
			if resOld.Header.Get("Content-Type") != resNew.Header.Get("Content-Type") {
				t.Errorf("content types differ")
			}
			var invOld, invNew admin.Invited
			_ = json.Unmarshal(bodyOld, &invOld)
			_ = json.Unmarshal(bodyNew, &invNew)
			if !invOld.Emailed || !invNew.Emailed || !strings.HasPrefix(invOld.Link, e.url+"/console/invite/") {
				t.Fatalf("invited: %+v %+v", invOld, invNew)
			}
			if strings.Contains(string(bodyOld), "password") || strings.Contains(string(bodyOld), cfoOp.ID) {
				t.Errorf("the answer reveals the account: %s", bodyOld)
			}

			// The mail arrived, to the invitee, with the link.
			msgs := smtpSrv.Messages()
			if len(msgs) != 2 {
				t.Fatalf("%d emails, want 2", len(msgs))
			}
			var mailedLink string
			for _, m := range msgs {
				if len(m.To) == 1 && m.To[0] == cfo {
					mailedLink = inviteLink.FindString(m.Data)
				}
			}
			if mailedLink != invOld.Link {
				t.Fatalf("mailed link %q, answered %q", mailedLink, invOld.Link)
			}

			// Nothing granted yet: acme's password signs in as cfo and holds nothing in globex.
			asAcme := e.cookieClient()
			if st := asAcme.signIn(cfo, acmePW); st != http.StatusOK {
				t.Fatalf("sign in with acme's password: %d", st)
			}
			noGlobex := func(who string, c *browserClient) {
				t.Helper()
				if res, _ := c.get("/api/v1/tenants/globex/projects"); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s reads globex's projects: %d", who, res.StatusCode)
				}
				if res, _ := c.get("/api/v1/tenants/globex/invitations"); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s lists globex's invitations: %d", who, res.StatusCode)
				}
				for _, as := range e.a.RBAC.Assignments(cfoOp.ID) {
					if as.Tenant == "globex" || as.Tenant == rbac.AllTenants {
						t.Errorf("%s: cfo holds %s in %s", who, as.Role, as.Tenant)
					}
				}
			}
			noGlobex("acme's password", asAcme)
			_, me := asAcme.get("/api/v1/me")
			csrf := struct {
				CSRF string `json:"csrf_token"`
			}{}
			_ = json.Unmarshal([]byte(me), &csrf)
			req, _ := http.NewRequest("POST", e.url+"/api/v1/projects/"+gp.ID+"/secret/rotate", strings.NewReader(`{"local":true}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", csrf.CSRF)
			if res, err := asAcme.hc.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("acme's password rotates globex's secret: %v %v", res.StatusCode, err)
			}

			// Holding the link is not enough either: the new-account path never
			// takes over an existing account, another session cannot accept.
			tok := admin.InviteLinkToken(mailedLink)
			anon := e.cookieClient()
			_, page := anon.get(mailedLink)
			res, page = anon.postForm(mailedLink, url.Values{"_csrf": {csrfIn(t, page)}, "password": {globexPW}, "password_confirm": {globexPW}})
			if res.StatusCode != http.StatusConflict || !strings.Contains(page, "sign in as it") {
				t.Errorf("new-account path on an existing email: %d", res.StatusCode)
			}
			if st := e.cookieClient().signIn(cfo, globexPW); st == http.StatusOK {
				t.Error("the link set the existing account's password")
			}
			other := e.cookieClient()
			other.signIn("admin@acme.test", "operator-pass-1")
			_, page = other.get(mailedLink)
			res, _ = other.postForm(mailedLink, url.Values{"_csrf": {csrfIn(t, page)}, "action": {"accept"}})
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("another account accepts: %d", res.StatusCode)
			}
			// A forged accept (no CSRF token) is refused.
			if res, _ := asAcme.postForm(mailedLink, url.Values{"action": {"accept"}}); res.StatusCode != http.StatusForbidden {
				t.Errorf("accept without CSRF: %d", res.StatusCode)
			}
			noGlobex("after the refused accepts", asAcme)

			// Tenant admins cannot set or reset cfo's password (API and service).
			if res, body := globex.do("PATCH", "/api/v1/operators/"+cfoOp.ID, map[string]any{"password": globexPW}); res.StatusCode != http.StatusForbidden {
				t.Errorf("globex resets cfo's password: %d %s", res.StatusCode, body)
			}
			err = e.a.Admin.SetOperatorPassword(ctx, admin.Actor{OperatorID: globexAdmin.ID, Email: globexAdmin.Email}, cfoOp.ID, globexPW)
			if !errors.Is(err, apperr.ErrForbidden) {
				t.Errorf("service: tenant admin sets a password: %v", err)
			}

			// The owner recovers the account through a platform admin (ending
			// acme's sessions), signs in as cfo and accepts with the mailed link.
			if res, body := root.do("PATCH", "/api/v1/operators/"+cfoOp.ID, map[string]any{"password": "cfo-own-pass-1"}); res.StatusCode != http.StatusOK {
				t.Fatalf("platform admin reset: %d %s", res.StatusCode, body)
			}
			if res, _ := asAcme.get("/api/v1/me"); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("acme's session outlived the reset: %d", res.StatusCode)
			}
			owner := e.cookieClient()
			if st := owner.signIn(cfo, "cfo-own-pass-1"); st != http.StatusOK {
				t.Fatalf("owner sign-in: %d", st)
			}
			_, page = owner.get(mailedLink)
			if !strings.Contains(page, `id="invite-accept"`) {
				t.Fatalf("signed in as cfo, no Accept button:\n%s", page)
			}
			res, _ = owner.postForm(mailedLink, url.Values{"_csrf": {csrfIn(t, page)}, "action": {"accept"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("accept: %d", res.StatusCode)
			}
			if ok, _ := e.a.RBAC.Allowed(cfoOp.ID, "globex", rbac.ObjOperator, rbac.ActWrite); !ok {
				t.Error("cfo is not tenant-admin of globex after accepting")
			}
			if st := e.cookieClient().signIn(cfo, acmePW); st == http.StatusOK {
				t.Error("acme's old password still signs in")
			}
			// Single use.
			res, _ = owner.postForm(mailedLink, url.Values{"_csrf": {csrfIn(t, page)}, "action": {"accept"}})
			if res.StatusCode != http.StatusConflict {
				t.Errorf("reused link: %d", res.StatusCode)
			}
			if _, err := e.a.Admin.InvitationByToken(ctx, tok); !errors.Is(err, apperr.ErrConflict) {
				t.Errorf("used invitation still pending: %v", err)
			}

			// Audit: create and accept recorded, never the token.
			evs, err := e.a.Audit.List(ctx, audit.Query{Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, ev := range evs {
				seen[ev.Action]++
				b, _ := json.Marshal(ev)
				for _, s := range []string{tok, admin.InviteLinkToken(invNew.Link), acmePW, globexPW, "smtp-pass-123"} {
					if strings.Contains(string(b), s) {
						t.Errorf("audit %s carries a secret", ev.Action)
					}
				}
			}
			if seen[audit.InvitationCreate] != 2 || seen[audit.InvitationAccept] != 1 {
				t.Errorf("audit actions: %v", seen)
			}
		})
	}
}

// A new person accepts on the console: sets their own password, is signed
// in holding the invited role; the link then no longer works. Expired and
// revoked links are refused, revocation is for the tenant's admins only,
// and platform admins can still create accounts directly.
func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d) // no SMTP: the link is only shown
			ctx := context.Background()
			e.tenant("acme")
			e.tenant("globex")
			e.operator("root@ops.test", rbac.RolePlatformAdmin, rbac.AllTenants)
			e.operator("admin@acme.test", rbac.RoleTenantAdmin, "acme")
			e.operator("admin@globex.test", rbac.RoleTenantAdmin, "globex")
			acme, globex, root := e.login("admin@acme.test"), e.login("admin@globex.test"), e.login("root@ops.test")
			invite := func(c *client, tenant, email string) admin.Invited {
				t.Helper()
				res, body := c.do("POST", "/api/v1/tenants/"+tenant+"/operators", map[string]string{"email": email, "role": rbac.RoleTenantOperator})
				var out admin.Invited
				if res.StatusCode != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.Emailed {
					t.Fatalf("invite %s: %d %s", email, res.StatusCode, body)
				}
				return out
			}

			// New person, through the console form.
			inv := invite(globex, "globex", "Dana@Globex.test")
			if inv.Invitation.Email != "dana@globex.test" {
				t.Errorf("email not normalized: %q", inv.Invitation.Email)
			}
			b := e.cookieClient()
			res, page := b.get(inv.Link)
			if res.StatusCode != http.StatusOK || !strings.Contains(page, "dana@globex.test") || res.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("invite page: %d %q\n%s", res.StatusCode, res.Header.Get("Referrer-Policy"), page)
			}
			csrf := csrfIn(t, page)
			for _, bad := range []url.Values{
				{"_csrf": {csrf}, "password": {"short"}, "password_confirm": {"short"}},
				{"_csrf": {csrf}, "password": {"dana-pass-123"}, "password_confirm": {"dana-pass-124"}},
				{"_csrf": {"forged"}, "password": {"dana-pass-123"}, "password_confirm": {"dana-pass-123"}},
			} {
				if res, _ := b.postForm(inv.Link, bad); res.StatusCode < 400 || res.StatusCode >= 500 {
					t.Errorf("bad accept %v: %d", bad, res.StatusCode)
				}
			}
			if _, err := e.a.Operators.GetByEmail(ctx, "dana@globex.test"); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("a refused accept created the account: %v", err)
			}
			_, page = b.get(inv.Link)
			res, _ = b.postForm(inv.Link, url.Values{"_csrf": {csrfIn(t, page)}, "password": {"dana-pass-123"}, "password_confirm": {"dana-pass-123"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("accept: %d", res.StatusCode)
			}
			if res, body := b.get("/api/v1/me"); res.StatusCode != http.StatusOK || !strings.Contains(body, `"tenant":"globex"`) || !strings.Contains(body, rbac.RoleTenantOperator) {
				t.Errorf("after accepting: %d %s", res.StatusCode, body)
			}
			if res, _ := e.cookieClient().get(inv.Link); res.StatusCode != http.StatusConflict {
				t.Errorf("used link: %d", res.StatusCode)
			}

			// Expired.
			exp := invite(globex, "globex", "late@globex.test")
			if err := e.a.DB.Exec("UPDATE invitations SET expires_at = ? WHERE id = ?", time.Now().UTC().Add(-time.Minute), exp.Invitation.ID).Error; err != nil {
				t.Fatal(err)
			}
			if res, body := e.cookieClient().get(exp.Link); res.StatusCode != http.StatusConflict || !strings.Contains(body, "expired") {
				t.Errorf("expired link: %d", res.StatusCode)
			}
			if _, err := e.a.Admin.AcceptInvitationNew(ctx, admin.InviteLinkToken(exp.Link), "late-pass-123"); !errors.Is(err, apperr.ErrConflict) {
				t.Errorf("expired accept: %v", err)
			}

			// Revoked: another tenant's admin cannot; the tenant's admin can (API and console).
			rev := invite(globex, "globex", "gone@globex.test")
			if res, _ := acme.do("DELETE", "/api/v1/tenants/globex/invitations/"+rev.Invitation.ID, nil); res.StatusCode != http.StatusForbidden {
				t.Errorf("acme revokes globex's invitation: %d", res.StatusCode)
			}
			if res, _ := acme.do("DELETE", "/api/v1/tenants/acme/invitations/"+rev.Invitation.ID, nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("acme revokes globex's invitation through its own tenant: %d", res.StatusCode)
			}
			_, list := globex.do("GET", "/api/v1/tenants/globex/invitations", nil)
			if !strings.Contains(string(list), rev.Invitation.ID) || strings.Contains(string(list), exp.Invitation.ID) || strings.Contains(string(list), "dana@") ||
				strings.Contains(string(list), admin.InviteLinkToken(rev.Link)) {
				t.Errorf("pending list: %s", list)
			}
			if res, body := globex.do("DELETE", "/api/v1/tenants/globex/invitations/"+rev.Invitation.ID, nil); res.StatusCode != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", res.StatusCode, body)
			}
			if res, body := e.cookieClient().get(rev.Link); res.StatusCode != http.StatusConflict || !strings.Contains(body, "revoked") {
				t.Errorf("revoked link: %d", res.StatusCode)
			}
			if res, _ := globex.do("DELETE", "/api/v1/tenants/globex/invitations/"+rev.Invitation.ID, nil); res.StatusCode != http.StatusConflict {
				t.Errorf("revoke twice: %d", res.StatusCode)
			}
			// Console: the members page lists the pending invitation with a Revoke button.
			con := invite(globex, "globex", "console@globex.test")
			_, html := globex.do("GET", "/console/tenants/globex/operators", nil)
			action := "/console/tenants/globex/invitations/" + con.Invitation.ID + "/revoke"
			if !strings.Contains(string(html), action) || strings.Contains(string(html), `name="password"`) {
				t.Errorf("members page: no revoke button or a password field")
			}
			if res, _ := globex.do("POST", action, nil); res.StatusCode != http.StatusSeeOther {
				t.Errorf("console revoke: %d", res.StatusCode)
			}
			if _, err := e.a.Admin.InvitationByToken(ctx, admin.InviteLinkToken(con.Link)); !errors.Is(err, apperr.ErrConflict) {
				t.Errorf("console-revoked invitation: %v", err)
			}
			if res, _ := e.cookieClient().get("/console/invite/" + strings.Repeat("A", 43)); res.StatusCode != http.StatusNotFound {
				t.Errorf("unknown token: %d", res.StatusCode)
			}

			// Platform admins still create accounts directly; tenant admins cannot.
			if res, body := root.do("POST", "/api/v1/operators", map[string]any{"email": "direct@ops.test", "password": "direct-pass-1"}); res.StatusCode != http.StatusCreated {
				t.Errorf("platform admin creates an account: %d %s", res.StatusCode, body)
			}
			if res, body := root.do("POST", "/api/v1/tenants/acme/operators", map[string]any{"email": "made@acme.test", "role": rbac.RoleTenantAdmin, "password": "made-pass-123"}); res.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"operator"`) {
				t.Errorf("platform admin adds a member with a password: %d %s", res.StatusCode, body)
			}
			if st := e.cookieClient().signIn("made@acme.test", "made-pass-123"); st != http.StatusOK {
				t.Errorf("directly created member cannot sign in: %d", st)
			}
			if res, _ := globex.do("POST", "/api/v1/operators", map[string]any{"email": "sneaky@ops.test", "password": "sneaky-pass-1"}); res.StatusCode != http.StatusForbidden {
				t.Errorf("tenant admin creates an account: %d", res.StatusCode)
			}
			if _, err := e.a.Admin.CreateOperator(ctx, admin.Actor{OperatorID: "op_nobody", Email: "x"}, admin.OperatorInput{Email: "sneaky@ops.test", Password: "sneaky-pass-1"}); !errors.Is(err, apperr.ErrForbidden) {
				t.Errorf("service: non-platform actor creates an account: %v", err)
			}
			// An operator may still set their own password.
			dana, err := e.a.Operators.GetByEmail(ctx, "dana@globex.test")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.a.Admin.SetOperatorPassword(ctx, admin.Actor{OperatorID: dana.ID, Email: dana.Email}, dana.ID, "dana-pass-456"); err != nil {
				t.Errorf("own password: %v", err)
			}
			evs, _ := e.a.Audit.List(ctx, audit.Query{Limit: 200})
			revokes := 0
			for _, ev := range evs {
				if ev.Action == audit.InvitationRevoke {
					revokes++
				}
			}
			if revokes != 2 {
				t.Errorf("%d invitation.revoke events, want 2", revokes)
			}
		})
	}
}
