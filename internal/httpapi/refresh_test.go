package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
	"github.com/pingstreams/pingauth/internal/token"
)

// refreshEnv is the production wiring (hardEnv) with refresh credentials on
// for both projects (1 hour) and no per-IP limit unless extra sets one.
func refreshEnv(t *testing.T, db *store.DB, extra map[string]string) *hardEnv {
	t.Helper()
	vars := map[string]string{"PINGAUTH_RATE_AUTH_IP": "off"}
	for k, v := range extra {
		vars[k] = v
	}
	e := newHardEnv(t, db, vars)
	for _, id := range []string{projA, projB} {
		setProject(t, e, id, func(p *project.Project) { p.RefreshTTLSeconds = 3600 })
	}
	return e
}

func setProject(t *testing.T, e *hardEnv, id string, change func(*project.Project)) {
	t.Helper()
	p, err := e.app.Projects.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	change(p)
	if err := e.app.Projects.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// visitor creates an end-user of pid and returns it.
func visitor(t *testing.T, e *hardEnv, pid, email string) *enduser.User {
	t.Helper()
	u := &enduser.User{ProjectID: pid, Email: email, ExternalID: "ext-" + strings.Split(email, "@")[0], Firstname: "Vi", Enabled: true}
	if err := e.app.Users.Create(context.Background(), u, password); err != nil {
		t.Fatal(err)
	}
	return u
}

// signIn logs email in with "refresh": true and returns the answer.
func signIn(t *testing.T, e *hardEnv, pid, email string, hdr map[string]string) result {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"email": email, "password": password, "refresh": true})
	r := e.call(t, "POST", "/auth/"+pid, string(body), hdr)
	if r.status != 200 {
		t.Fatalf("password sign-in with refresh: %d %s", r.status, r.raw)
	}
	return r
}

func credOf(t *testing.T, r result) string {
	t.Helper()
	rt, _ := r.body["refresh_token"].(string)
	if !strings.HasPrefix(rt, refresh.Prefix) {
		t.Fatalf("answer has no refresh credential: %s", r.raw)
	}
	return rt
}

func refreshCall(t *testing.T, e *hardEnv, pid, cred string, hdr map[string]string) result {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"refresh_token": cred})
	return e.call(t, "POST", "/auth/"+pid+"/refresh", string(body), hdr)
}

func verifyClaims(t *testing.T, pid, secret string, r result) map[string]any {
	t.Helper()
	raw, _ := r.body["token"].(string)
	claims, err := token.Verify(raw, token.VerifyOptions{Audience: "https://tiledesk.com/projects/" + pid, Keys: []token.Key{{Version: 1, Value: []byte(secret)}}})
	if err != nil {
		t.Fatalf("token does not verify: %v (%s)", err, r.raw)
	}
	if r.body["jwt"] != "JWT "+raw {
		t.Fatalf("jwt field %v", r.body["jwt"])
	}
	return claims
}

func familyRows(t *testing.T, db *store.DB, endUserID string) []refresh.Token {
	t.Helper()
	var rows []refresh.Token
	if err := db.Where("end_user_id = ?", endUserID).Order("created_at").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestRefreshIssueAndRotate: a password sign-in that asks for it gets a
// refresh credential (one that does not ask gets the unchanged answer); the
// credential is exchanged for a new token and its successor; presenting a
// spent credential is reuse: 401, and the whole family is revoked, so the
// successor dies too. Nothing about the credential reaches the audit log.
func TestRefreshIssueAndRotate(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := refreshEnv(t, db, nil)
		u := visitor(t, e, projA, "ann@example.com")

		plain := e.call(t, "POST", "/auth/"+projA, loginBody("ann@example.com", password), nil)
		if plain.status != 200 || strings.Contains(plain.raw, "refresh") {
			t.Fatalf("sign-in without refresh: %d %s, want the unchanged answer", plain.status, plain.raw)
		}
		form := e.call(t, "POST", "/auth/"+projA, "email=ann%40example.com&password=correct+horse+battery&refresh=true",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		credOf(t, form)

		first := signIn(t, e, projA, "ann@example.com", nil)
		c1 := credOf(t, first)
		exp, err := time.Parse(time.RFC3339Nano, first.body["refresh_expires_at"].(string))
		if err != nil || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
			t.Fatalf("refresh_expires_at %v (%v), want about an hour from now", first.body["refresh_expires_at"], err)
		}
		claims1 := verifyClaims(t, projA, secretA, first)

		second := refreshCall(t, e, projA, c1, nil)
		if second.status != 200 || second.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("refresh: %d %v %s", second.status, second.header, second.raw)
		}
		c2 := credOf(t, second)
		claims2 := verifyClaims(t, projA, secretA, second)
		if c2 == c1 || claims2["_id"] != "ext-ann" || claims2["_id"] != claims1["_id"] || claims2["jti"] == claims1["jti"] ||
			second.body["refresh_expires_at"] != first.body["refresh_expires_at"] {
			t.Fatalf("rotation: new credential %v, claims %v vs %v, expiry %v vs %v", c2 != c1, claims2, claims1,
				second.body["refresh_expires_at"], first.body["refresh_expires_at"])
		}
		if u := second.body["user"].(map[string]any); u["_id"] != "ext-ann" || u["email"] != "ann@example.com" {
			t.Fatalf("refresh answer user %v", u)
		}
		third := refreshCall(t, e, projA, c2, nil)
		c3 := credOf(t, third)

		// Reuse: the spent c1 again. 401, and c3 (live until now) is revoked too.
		reuse := refreshCall(t, e, projA, c1, nil)
		if reuse.status != 401 || !strings.Contains(reuse.raw, "already used") {
			t.Fatalf("spent credential: %d %s, want 401 already used", reuse.status, reuse.raw)
		}
		if r := refreshCall(t, e, projA, c3, nil); r.status != 401 || !strings.Contains(r.raw, "revoked") {
			t.Fatalf("successor after reuse: %d %s, want 401 revoked", r.status, r.raw)
		}
		tok, err := e.app.Refresh.Lookup(context.Background(), projA, c1)
		if err != nil {
			t.Fatal(err)
		}
		famID := tok.FamilyID
		for _, row := range familyRows(t, db, u.ID) {
			if row.FamilyID == famID && (row.RevokedAt == nil || row.Reason != refresh.ReasonReuse) {
				t.Errorf("row of the reused family: revoked %v reason %q", row.RevokedAt, row.Reason)
			}
			if row.FamilyID != famID && row.RevokedAt != nil {
				t.Errorf("a row of the form sign-in's family was revoked: %+v", row)
			}
		}
		events, err := e.app.Audit.List(context.Background(), audit.Query{ProjectID: projA})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range events {
			raw, _ := json.Marshal(ev)
			if strings.Contains(string(raw), refresh.Prefix) {
				t.Errorf("audit event carries a credential: %s", raw)
			}
			if ev.Action == "refresh.revoke" && ev.Details["reason"] == refresh.ReasonReuse && ev.Details["family_id"] == famID && ev.Target == "ext-ann" {
				found = true
			}
		}
		if !found {
			t.Errorf("no refresh.revoke audit event for the reused family; events %+v", events)
		}
	})
}

// TestRefreshRefusals: every state that must end a remembered sign-in does
// so at its next use — 401 and the family revoked with the reason: user
// disabled, password changed, user blocked by an override, password mode
// turned off, project disabled, user deleted; the credential stays refused
// after the state is restored. Expired, malformed, other projects'
// credentials and bad bodies are refused without effect on the family.
func TestRefreshRefusals(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := refreshEnv(t, db, nil)
		adm := e.app.Modes.Admin
		cases := []struct {
			name, reason string
			apply, undo  func(u *enduser.User)
		}{
			{"disabled", refresh.ReasonUserDisabled,
				func(u *enduser.User) { must(t, e.app.Users.SetEnabled(ctx, projA, u.ID, false)) },
				func(u *enduser.User) { must(t, e.app.Users.SetEnabled(ctx, projA, u.ID, true)) }},
			{"password changed", refresh.ReasonPasswordChanged,
				func(u *enduser.User) { must(t, e.app.Users.SetPassword(ctx, projA, u.ID, "a brand new password")) }, nil},
			{"blocked", "blocked",
				func(u *enduser.User) {
					must(t, adm.PutOverride(ctx, "test", &mapping.Override{ProjectID: projA, ExternalID: u.ExternalID, Blocked: true}))
				},
				func(u *enduser.User) { must(t, adm.DeleteOverride(ctx, "test", projA, u.ExternalID)) }},
			{"password mode off", "password_mode_off",
				func(*enduser.User) {
					_, err := adm.SetModes(ctx, "test", projA, []string{mapping.ModeServer})
					must(t, err)
				},
				func(*enduser.User) {
					_, err := adm.SetModes(ctx, "test", projA, []string{mapping.ModePassword})
					must(t, err)
				}},
			{"project disabled", refresh.ReasonProjectDisabled,
				func(*enduser.User) {
					setProject(t, e, projA, func(p *project.Project) { p.Status = project.StatusDisabled })
				},
				func(*enduser.User) {
					setProject(t, e, projA, func(p *project.Project) { p.Status = project.StatusActive })
				}},
		}
		for i, tc := range cases {
			email := "case" + itoa(i) + "@example.com"
			u := visitor(t, e, projA, email)
			cred := credOf(t, signIn(t, e, projA, email, nil))
			tc.apply(u)
			r := refreshCall(t, e, projA, cred, nil)
			if r.status != 401 || r.code() != "unauthorized" || r.body["token"] != nil {
				t.Errorf("%s: %d %s, want 401", tc.name, r.status, r.raw)
			}
			for _, row := range familyRows(t, db, u.ID) {
				if row.RevokedAt == nil || row.Reason != tc.reason {
					t.Errorf("%s: row revoked %v reason %q, want %q", tc.name, row.RevokedAt, row.Reason, tc.reason)
				}
			}
			if tc.undo != nil {
				tc.undo(u)
				if r := refreshCall(t, e, projA, cred, nil); r.status != 401 {
					t.Errorf("%s: after restoring the state the credential answers %d %s, want it still revoked", tc.name, r.status, r.raw)
				}
			}
		}

		// Deleted user: its credentials go with it.
		u := visitor(t, e, projA, "gone@example.com")
		cred := credOf(t, signIn(t, e, projA, "gone@example.com", nil))
		must(t, e.app.Users.Delete(ctx, projA, u.ID))
		if r := refreshCall(t, e, projA, cred, nil); r.status != 401 {
			t.Errorf("deleted user: %d %s", r.status, r.raw)
		}

		// Expired family (the project's refresh TTL is over).
		u = visitor(t, e, projA, "late@example.com")
		cred = credOf(t, signIn(t, e, projA, "late@example.com", nil))
		must(t, db.Model(&refresh.Token{}).Where("end_user_id = ?", u.ID).Update("expires_at", time.Now().Add(-time.Second)).Error)
		if r := refreshCall(t, e, projA, cred, nil); r.status != 401 || !strings.Contains(r.raw, "expired") {
			t.Errorf("expired: %d %s", r.status, r.raw)
		}

		// Refused without touching the family.
		u = visitor(t, e, projA, "keep@example.com")
		cred = credOf(t, signIn(t, e, projA, "keep@example.com", nil))
		for name, c := range map[string]struct {
			pid, body string
			status    int
			field     string
		}{
			"other project":   {projB, `{"refresh_token":"` + cred + `"}`, 401, ""},
			"malformed":       {projA, `{"refresh_token":"prt_nope"}`, 401, ""},
			"tampered":        {projA, `{"refresh_token":"` + cred[:len(cred)-2] + `xx"}`, 401, ""},
			"missing":         {projA, `{}`, 400, "refresh_token"},
			"unknown field":   {projA, `{"refresh_token":"` + cred + `","x":1}`, 400, "body"},
			"trailing data":   {projA, `{"refresh_token":"` + cred + `"}{}`, 400, "body"},
			"not JSON":        {projA, `refresh_token=` + cred, 400, "body"},
			"unknown project": {"no-such-project", `{"refresh_token":"` + cred + `"}`, 404, ""},
		} {
			r := e.call(t, "POST", "/auth/"+c.pid+"/refresh", c.body, nil)
			if f, _ := r.body["error"].(map[string]any); r.status != c.status || (c.field != "" && f["field"] != c.field) {
				t.Errorf("%s: %d %s, want %d field %q", name, r.status, r.raw, c.status, c.field)
			}
		}
		if rows := familyRows(t, db, u.ID); len(rows) != 1 || rows[0].RevokedAt != nil || rows[0].UsedAt != nil {
			t.Fatalf("refused requests changed the family: %+v", rows)
		}
		if r := refreshCall(t, e, projA, cred, nil); r.status != 200 {
			t.Fatalf("credential after the refused requests: %d %s", r.status, r.raw)
		}

		// Refresh turned off for the project: a sign-in asking for it gets none.
		setProject(t, e, projB, func(p *project.Project) { p.RefreshTTLSeconds = 0 })
		visitor(t, e, projB, "off@example.com")
		if r := signIn(t, e, projB, "off@example.com", nil); strings.Contains(r.raw, "refresh_token") {
			t.Fatalf("refresh off: %s", r.raw)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRefreshCORSAndLimits: the refresh routes answer browsers exactly as
// /auth does — the project's allowed origins, the service's own origin, and
// "Origin: null" only with the example page's ticket — and draw from the
// same per-IP bucket as /auth.
func TestRefreshCORSAndLimits(t *testing.T) {
	t.Parallel()
	e := refreshEnv(t, storetest.Open(t, store.SQLite), nil)
	visitor(t, e, projA, "ann@example.com")
	cred := func() string { return credOf(t, signIn(t, e, projA, "ann@example.com", nil)) }

	for _, path := range []string{"/refresh", "/refresh/revoke"} {
		pre := e.call(t, "OPTIONS", "/auth/"+projA+path, "", map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"})
		if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Fatalf("preflight %s: %d %v", path, pre.status, pre.header)
		}
		if bad := e.call(t, "OPTIONS", "/auth/"+projA+path, "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}); bad.status != 403 || bad.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign preflight %s: %d %v", path, bad.status, bad.header)
		}
	}
	ok := refreshCall(t, e, projA, cred(), map[string]string{"Origin": "https://shop.example.com"})
	if ok.status != 200 || ok.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || ok.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("allowed origin: %d %v %s", ok.status, ok.header, ok.raw)
	}
	c := cred()
	if r := refreshCall(t, e, projA, c, map[string]string{"Origin": "https://evil.example"}); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin: %d %v", r.status, r.header)
	}
	if r := refreshCall(t, e, projA, c, map[string]string{"Origin": "http://pingauth.test"}); r.status != 200 {
		t.Fatalf("the service's own origin: %d %s (the foreign request must not have spent the credential)", r.status, r.raw)
	}

	// The sandboxed example page: Origin null with its ticket, as for /auth.
	page := e.call(t, "GET", "/example/"+projA, "", nil)
	m := ticketRe.FindStringSubmatch(page.raw)
	if m == nil {
		t.Fatal("example page has no ticket")
	}
	if r := refreshCall(t, e, projA, cred(), map[string]string{"Origin": "null"}); r.status != 403 {
		t.Fatalf("Origin null without ticket: %d", r.status)
	}
	body, _ := json.Marshal(map[string]string{"refresh_token": cred()})
	r := e.call(t, "POST", "/auth/"+projA+"/refresh?example_ticket="+m[1], string(body), map[string]string{"Origin": "null"})
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "null" {
		t.Fatalf("Origin null with the page's ticket: %d %v %s", r.status, r.header, r.raw)
	}
	pre := e.call(t, "OPTIONS", "/auth/"+projA+"/refresh?example_ticket="+m[1], "", map[string]string{"Origin": "null", "Access-Control-Request-Method": "POST"})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "null" {
		t.Fatalf("preflight with the page's ticket: %d %v", pre.status, pre.header)
	}

	// One per-IP bucket for /auth and its refresh routes.
	lim := refreshEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_RATE_AUTH_IP": "3/h:3"})
	visitor(t, lim, projA, "ann@example.com")
	c1 := credOf(t, signIn(t, lim, projA, "ann@example.com", nil))
	c2 := credOf(t, refreshCall(t, lim, projA, c1, nil))
	if r := refreshCall(t, lim, projA, c2, nil); r.status != 200 {
		t.Fatalf("third request: %d %s", r.status, r.raw)
	}
	if r := refreshCall(t, lim, projA, c2, nil); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("fourth request from the address: %d %v, want 429", r.status, r.header)
	}
	if r := lim.call(t, "POST", "/auth/"+projA, loginBody("ann@example.com", password), nil); r.status != 429 {
		t.Fatalf("/auth after the refresh routes used the bucket: %d, want 429", r.status)
	}
}

// TestRefreshRevokeEndpoint: the SDK's logout revokes the family; it
// answers 204 whatever the credential, and 400 only for a malformed body.
func TestRefreshRevokeEndpoint(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := refreshEnv(t, db, nil)
		u := visitor(t, e, projA, "ann@example.com")
		c1 := credOf(t, signIn(t, e, projA, "ann@example.com", nil))
		c2 := credOf(t, refreshCall(t, e, projA, c1, nil))
		for _, body := range []string{`{"refresh_token":"` + c2 + `"}`, `{"refresh_token":"prt_garbage"}`, `{"refresh_token":"` + c2 + `"}`} {
			if r := e.call(t, "POST", "/auth/"+projA+"/refresh/revoke", body, nil); r.status != 204 {
				t.Fatalf("revoke %s: %d %s", body, r.status, r.raw)
			}
		}
		if r := e.call(t, "POST", "/auth/"+projA+"/refresh/revoke", `{}`, nil); r.status != 400 {
			t.Fatalf("revoke without credential: %d", r.status)
		}
		if r := refreshCall(t, e, projA, c2, nil); r.status != 401 {
			t.Fatalf("refresh after logout: %d %s", r.status, r.raw)
		}
		for _, row := range familyRows(t, db, u.ID) {
			if row.Reason != refresh.ReasonLogout {
				t.Errorf("row after logout: %+v", row)
			}
		}
	})
}

func TestAuthResponseWithRefreshAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 12, 31, 23, 59, 59, 123456000, time.UTC)
	r := httpapi.AuthResponse{Token: "a.b.c", JWT: "JWT a.b.c", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ExpiresIn: 900,
		User: AuthUserFor("42"), RefreshToken: "prt_abc_def", RefreshExpiresAt: &exp}
	want, _ := json.Marshal(r)
	if got := string(r.AppendJSON(nil)); got != string(want) {
		t.Errorf("AppendJSON\n got %s\nwant %s", got, want)
	}
}

// AuthUserFor is an AuthUser with an id and an email.
func AuthUserFor(id string) httpapi.AuthUser {
	return httpapi.AuthUser{ID: id, Email: id + "@example.com"}
}
