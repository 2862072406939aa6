package admin_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
)

func field(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Field
	}
	return ""
}

// revocations returns the reasons of operator.token_delete events per
// token id, and fails when any event carries a token value.
func revocations(t *testing.T, a *app.App, values ...string) map[string]string {
	t.Helper()
	evs := must[[]audit.Event](t)(a.Admin.AuditEvents(t.Context(), audit.Query{Action: audit.OperatorTokenDelete, Limit: 100}))
	out := map[string]string{}
	for _, e := range evs {
		b, _ := json.Marshal(e)
		for _, v := range values {
			if strings.Contains(string(b), v) || strings.Contains(string(b), operator.Digest(v)) {
				t.Errorf("audit event carries a token value: %s", b)
			}
		}
		r, _ := e.Details["reason"].(string)
		out[e.Target] = r
	}
	return out
}

// Scenario 2 of issue 12 through the service: a token dies on password
// reset and stays dead after disable → enable; each revocation is audited.
func TestServiceScenario2TokenRevokedOnResetAndDisable(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		ctx := t.Context()
		s := a.Admin
		o := must[*operator.Operator](t)(s.CreateOperator(ctx, admin.CLI(), admin.OperatorInput{Email: "ops@ops.test", Password: "operator-pass-123", PlatformAdmin: true}))
		me := admin.Actor{OperatorID: o.ID, Email: o.Email, SecondFactor: true}
		root := admin.CLI() // a platform admin resets the password
		raw1, t1, err := s.CreateToken(ctx, me, admin.TokenInput{Name: "ci"})
		ok(t, err)
		if _, _, err := a.Operators.LookupToken(ctx, raw1); err != nil {
			t.Fatal(err)
		}
		ok(t, s.SetOperatorPassword(ctx, root, o.ID, "another-pass-123"))
		if _, _, err := a.Operators.LookupToken(ctx, raw1); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Fatalf("token after password reset: %v", err)
		}
		raw2, t2, err := s.CreateToken(ctx, me, admin.TokenInput{Name: "ci2"})
		ok(t, err)
		ok(t, s.SetOperatorDisabled(ctx, root, o.ID, true))
		ok(t, s.SetOperatorDisabled(ctx, root, o.ID, false))
		for _, raw := range []string{raw1, raw2} {
			if _, _, err := a.Operators.LookupToken(ctx, raw); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Errorf("token after disable → enable: %v", err)
			}
		}
		raw3, t3, err := s.CreateToken(ctx, me, admin.TokenInput{Name: "ci3"})
		ok(t, err)
		ok(t, s.DeleteOperator(ctx, root, o.ID))
		got := revocations(t, a, raw1, raw2, raw3)
		want := map[string]string{t1.ID: admin.RevokedPasswordReset, t2.ID: admin.RevokedDisabled, t3.ID: admin.RevokedDeleted}
		for id, reason := range want {
			if got[id] != reason {
				t.Errorf("revocation of %s audited as %q, want %q (all: %v)", id, got[id], reason, got)
			}
		}
	})
}

func TestServiceTokenCreationRules(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		ctx := t.Context()
		s := a.Admin
		must[*project.Tenant](t)(s.CreateTenant(ctx, admin.CLI(), admin.TenantInput{ID: "acme", Name: "Acme"}))
		must[*project.Tenant](t)(s.CreateTenant(ctx, admin.CLI(), admin.TenantInput{ID: "beta", Name: "Beta"}))
		o := must[*operator.Operator](t)(s.CreateOperatorWithRole(ctx, admin.CLI(), "ann@acme.test", "operator-pass-123", rbac.RoleTenantAdmin, "acme"))
		me := admin.Actor{OperatorID: o.ID, Email: o.Email, SecondFactor: true}
		cases := []struct {
			name  string
			actor admin.Actor
			in    admin.TokenInput
			field string // "" → created
			kind  error
		}{
			{"default lifetime", me, admin.TokenInput{Name: "a"}, "", nil},
			{"one year", me, admin.TokenInput{Name: "b", TTLSeconds: 365 * 86400}, "", nil},
			{"over the maximum", me, admin.TokenInput{Name: "c", TTLSeconds: 366 * 86400}, "ttl_seconds", apperr.ErrInvalid},
			{"huge", me, admin.TokenInput{Name: "c", TTLSeconds: 1 << 62}, "ttl_seconds", apperr.ErrInvalid},
			{"negative", me, admin.TokenInput{Name: "c", TTLSeconds: -1}, "ttl_seconds", apperr.ErrInvalid},
			{"own tenant", me, admin.TokenInput{Name: "d", TenantID: "acme", ReadOnly: true}, "", nil},
			{"tenant without a role", me, admin.TokenInput{Name: "e", TenantID: "beta"}, "tenant_id", apperr.ErrInvalid},
			{"unknown tenant", me, admin.TokenInput{Name: "e", TenantID: "nope"}, "tenant_id", apperr.ErrInvalid},
			{"made with an API token", admin.Actor{OperatorID: o.ID, Email: o.Email, TokenID: "tok_x", SecondFactor: true}, admin.TokenInput{Name: "f"}, "", apperr.ErrForbidden},
			{"CLI", admin.CLI(), admin.TokenInput{Name: "g"}, "operator", apperr.ErrInvalid},
		}
		for _, tc := range cases {
			_, tok, err := s.CreateToken(ctx, tc.actor, tc.in)
			if tc.kind == nil {
				if err != nil || tok.ExpiresAt == nil || tok.TenantID != tc.in.TenantID || tok.ReadOnly != tc.in.ReadOnly {
					t.Errorf("%s: %+v %v", tc.name, tok, err)
				}
				continue
			}
			if !errors.Is(err, tc.kind) || field(err) != tc.field {
				t.Errorf("%s: %v (field %q), want %v naming %q", tc.name, err, field(err), tc.kind, tc.field)
			}
		}
		ts := must[[]operator.Token](t)(s.Tokens(ctx, me))
		if len(ts) != 3 {
			t.Errorf("tokens created: %d, want 3", len(ts))
		}
	})
}

// Removing an operator's role in a tenant revokes the tokens limited to that
// tenant; removing the last role revokes every token.
func TestServiceRoleRemovalRevokesTokens(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		ctx := t.Context()
		s := a.Admin
		for _, id := range []string{"acme", "beta"} {
			must[*project.Tenant](t)(s.CreateTenant(ctx, admin.CLI(), admin.TenantInput{ID: id, Name: id}))
		}
		o := must[*admin.MemberAdded](t)(s.AddMember(ctx, admin.CLI(), "acme", admin.MemberInput{Email: "bo@ops.test", Role: rbac.RoleTenantOperator, Password: "operator-pass-123"})).Operator
		me := admin.Actor{OperatorID: o.ID, Email: o.Email, SecondFactor: true}
		inv := must[*admin.MemberAdded](t)(s.AddMember(ctx, admin.CLI(), "beta", admin.MemberInput{Email: "bo@ops.test", Role: rbac.RoleTenantAdmin}))
		ok(t, s.AcceptInvitationSignedIn(ctx, me, admin.InviteLinkToken(inv.Link)))
		rawAcme, tAcme, err := s.CreateToken(ctx, me, admin.TokenInput{Name: "acme", TenantID: "acme"})
		ok(t, err)
		rawBeta, tBeta, err := s.CreateToken(ctx, me, admin.TokenInput{Name: "beta", TenantID: "beta"})
		ok(t, err)
		rawAll, tAll, err := s.CreateToken(ctx, me, admin.TokenInput{Name: "all"})
		ok(t, err)
		live := func(raw string) bool { _, _, err := a.Operators.LookupToken(ctx, raw); return err == nil }

		ok(t, s.RemoveMember(ctx, admin.CLI(), "acme", o.ID))
		if live(rawAcme) || !live(rawBeta) || !live(rawAll) {
			t.Errorf("after leaving acme: acme %v beta %v all %v, want false true true", live(rawAcme), live(rawBeta), live(rawAll))
		}
		ok(t, s.RemoveMember(ctx, admin.CLI(), "beta", o.ID))
		if live(rawBeta) || live(rawAll) {
			t.Error("tokens survived the removal of the operator's last role")
		}
		got := revocations(t, a, rawAcme, rawBeta, rawAll)
		want := map[string]string{tAcme.ID: admin.RevokedTenantRole, tBeta.ID: admin.RevokedLastRole, tAll.ID: admin.RevokedLastRole}
		for id, reason := range want {
			if got[id] != reason {
				t.Errorf("revocation of %s audited as %q, want %q", id, got[id], reason)
			}
		}
	})
}

func TestServiceOwnPasswordChange(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		ctx := t.Context()
		s := a.Admin
		o := must[*operator.Operator](t)(s.CreateOperator(ctx, admin.CLI(), admin.OperatorInput{Email: "me@ops.test", Password: "operator-pass-123"}))
		me := admin.Actor{OperatorID: o.ID, Email: o.Email, SecondFactor: true}
		current, _, err := a.Operators.NewSession(ctx, o.ID)
		ok(t, err)
		other, _, err := a.Operators.NewSession(ctx, o.ID)
		ok(t, err)
		raw, _, err := s.CreateToken(ctx, me, admin.TokenInput{Name: "ci"})
		ok(t, err)
		for name, tc := range map[string]struct {
			actor admin.Actor
			keep  string
			in    admin.OwnPasswordInput
			kind  error
			field string
		}{
			"wrong current":  {me, current, admin.OwnPasswordInput{CurrentPassword: "nope-nope-nope", NewPassword: "new-pass-12345"}, apperr.ErrInvalid, "current_password"},
			"same password":  {me, current, admin.OwnPasswordInput{CurrentPassword: "operator-pass-123", NewPassword: "operator-pass-123"}, apperr.ErrInvalid, "new_password"},
			"with API token": {admin.Actor{OperatorID: o.ID, Email: o.Email, TokenID: "tok_x"}, "", admin.OwnPasswordInput{CurrentPassword: "operator-pass-123", NewPassword: "new-pass-12345"}, apperr.ErrForbidden, ""},
		} {
			if err := s.ChangeOwnPassword(ctx, tc.actor, tc.keep, tc.in); !errors.Is(err, tc.kind) || field(err) != tc.field {
				t.Errorf("%s: %v, want %v naming %q", name, err, tc.kind, tc.field)
			}
		}
		if _, _, err := a.Operators.LookupSession(ctx, other); err != nil {
			t.Fatal("a refused change ended a session")
		}
		ok(t, s.ChangeOwnPassword(ctx, me, current, admin.OwnPasswordInput{CurrentPassword: "operator-pass-123", NewPassword: "new-pass-12345"}))
		if _, _, err := a.Operators.LookupSession(ctx, current); err != nil {
			t.Errorf("current session ended: %v", err)
		}
		if _, _, err := a.Operators.LookupSession(ctx, other); err == nil {
			t.Error("other session survived")
		}
		if _, _, err := a.Operators.LookupToken(ctx, raw); err == nil {
			t.Error("API token survived the password change")
		}
		if got := revocations(t, a, raw); !slices.Contains(slices.Collect(maps.Values(got)), admin.RevokedPasswordOwn) {
			t.Errorf("revocations %v", got)
		}
	})
}
