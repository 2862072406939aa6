package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// openApp opens the real app (every repository real) on dialect d.
func openApp(t *testing.T, d store.Dialect) *app.App {
	t.Helper()
	vars := map[string]string{
		"PINGAUTH_DATA_DIR":   t.TempDir(),
		"PINGAUTH_MASTER_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)),
		"PINGAUTH_TOKEN_TTL":  "20m",
	}
	if d == store.Postgres {
		vars["PINGAUTH_DATABASE_URL"] = storetest.PostgresDSN(t)
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func dialects(t *testing.T, fn func(t *testing.T, a *app.App)) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, openApp(t, d))
		})
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Every operation records exactly the audit actions below, as the actor,
// and no audit event carries a secret or a password.
func TestServiceAuditsEachChangeOnceAsTheActor(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		ctx := t.Context()
		s := a.Admin
		ann := admin.Actor{OperatorID: "op-ann", Email: "ann@ops.test"}
		const pasted, userPW, opPW = "pasted-secret-0123456789abcdef", "user-password-123", "operator-pass-123"

		must[*project.Tenant](t)(s.CreateTenant(ctx, ann, admin.TenantInput{ID: "acme", Name: "Acme"}))
		p := must[*project.Project](t)(s.CreateProject(ctx, ann, admin.ProjectInput{ID: "shop", TenantID: "acme", Name: "Shop"}))
		if p.TokenTTLSeconds != 1200 || p.RefreshTTLSeconds != int(project.DefaultRefreshTTL.Seconds()) {
			t.Errorf("defaults: token %d s, refresh %d s", p.TokenTTLSeconds, p.RefreshTTLSeconds)
		}
		p.Name = "Shop 2"
		ok(t, s.UpdateProject(ctx, ann, p))
		_, err := s.PutSecret(ctx, ann, p, admin.SecretInput{Value: "  " + pasted + "\n"})
		ok(t, err)
		u := must[*enduser.User](t)(s.CreateUser(ctx, ann, p, admin.UserInput{Email: "bob@shop.test", Password: userPW}))
		ok(t, s.SetUserEnabled(ctx, ann, p, u.ID, false))
		ok(t, s.SetUserPassword(ctx, ann, p, u.ID, userPW+"x"))
		in := admin.UserInputOf(u)
		in.Firstname = "Bob"
		must[*enduser.User](t)(s.UpdateUser(ctx, ann, p, u.ID, in))
		must[[]string](t)(s.SetRoleRules(ctx, ann, p, []string{"vip"}))
		if _, err := s.AddMember(ctx, ann, "acme", admin.MemberInput{Email: "cfo@acme.test", Role: rbac.RoleTenantAdmin, Password: opPW}); !errors.Is(err, admin.ErrPasswordNotYours) {
			t.Fatalf("a non-platform actor set a password: %v", err)
		}
		inv, err := s.AddMember(ctx, ann, "acme", admin.MemberInput{Email: "cfo@acme.test", Role: rbac.RoleTenantAdmin})
		if err != nil || inv.Invited == nil {
			t.Fatal(err)
		}
		tok := admin.InviteLinkToken(inv.Link)
		if len(tok) != 43 {
			t.Fatalf("link %q", inv.Link)
		}
		ok(t, s.DeleteUser(ctx, ann, p, u.ID))
		ok(t, s.DeleteProject(ctx, ann, p))

		evs := must[[]audit.Event](t)(s.AuditEvents(ctx, audit.Query{Limit: 100}))
		var got []string
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			got = append(got, e.Action)
			if e.Actor != ann.Email {
				t.Errorf("%s recorded as %q, want %q", e.Action, e.Actor, ann.Email)
			}
			b, _ := json.Marshal(e)
			for _, secret := range []string{pasted, userPW, opPW, tok} {
				if strings.Contains(string(b), secret) {
					t.Errorf("audit event %s carries a secret: %s", e.Action, b)
				}
			}
		}
		want := []string{audit.TenantCreate, audit.ProjectCreate, audit.ProjectUpdate, audit.SecretCreate, audit.EndUserCreate,
			audit.EndUserDisable, audit.EndUserPasswordReset, audit.EndUserUpdate, audit.RoleRulesUpdate, audit.InvitationCreate,
			audit.EndUserDelete, audit.SecretDelete, audit.ProjectDelete}
		if !slices.Equal(got, want) {
			t.Errorf("audit actions\n got  %v\n want %v", got, want)
		}
	})
}

// An operator cannot disable or delete their own account; the CLI (no
// operator id) and another operator can.
func TestServiceRefusesActingOnOwnAccount(t *testing.T) {
	t.Parallel()
	a := openApp(t, store.SQLite)
	ctx := t.Context()
	s := a.Admin
	o, err := s.CreateOperator(ctx, admin.CLI(), admin.OperatorInput{Email: "me@ops.test", Password: "operator-pass-123"})
	ok(t, err)
	me := admin.Actor{OperatorID: o.ID, Email: o.Email}
	for name, err := range map[string]error{
		"disable": s.SetOperatorDisabled(ctx, me, o.ID, true),
		"delete":  s.DeleteOperator(ctx, me, o.ID),
	} {
		var ae *apperr.Error
		if !errors.As(err, &ae) || !errors.Is(err, apperr.ErrInvalid) || ae.Field != "operator" {
			t.Errorf("%s own account: %v, want a 400 naming the operator field", name, err)
		}
	}
	ok(t, s.SetOperatorDisabled(ctx, admin.CLI(), o.ID, true))
	if got, _ := a.Operators.Get(ctx, o.ID); got == nil || !got.Disabled {
		t.Error("the CLI could not disable the account")
	}
	ok(t, s.DeleteOperator(ctx, admin.Actor{OperatorID: "someone-else", Email: "root@ops.test"}, o.ID))
	if _, err := a.Operators.Get(ctx, o.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("deleted operator still found: %v", err)
	}
}

// Every role-rule change — the whole list, one role allowed, one removed —
// is one implementation: one validator, one audit action with the lists
// before and after.
func TestRoleRulesOneImplementation(t *testing.T) {
	t.Parallel()
	a := openApp(t, store.SQLite)
	ctx := t.Context()
	s := a.Admin
	must[*project.Tenant](t)(s.CreateTenant(ctx, admin.CLI(), admin.TenantInput{ID: "acme", Name: "Acme"}))
	p := must[*project.Project](t)(s.CreateProject(ctx, admin.CLI(), admin.ProjectInput{ID: "shop", TenantID: "acme", Name: "Shop"}))
	must[[]string](t)(s.SetRoleRules(ctx, admin.CLI(), p, []string{"vip", " vip ", "gold"}))
	if _, err := s.Modes().AllowRole(ctx, "cli", p.ID, "silver"); err != nil {
		t.Fatal(err)
	}
	ok(t, s.Modes().RemoveRole(ctx, "cli", p.ID, "vip"))
	for _, bad := range []string{"shop/admin", `a"b`} {
		if _, err := s.SetRoleRules(ctx, admin.CLI(), p, []string{bad}); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("SetRoleRules(%q): %v, want invalid", bad, err)
		}
		if _, err := s.Modes().AllowRole(ctx, "cli", p.ID, bad); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("AllowRole(%q): %v, want invalid", bad, err)
		}
	}
	evs := must[[]audit.Event](t)(s.AuditEvents(ctx, audit.Query{ProjectID: p.ID, Action: audit.RoleRulesUpdate, Limit: 10}))
	var steps []string
	for i := len(evs) - 1; i >= 0; i-- {
		b, _ := json.Marshal(evs[i].Details)
		steps = append(steps, string(b))
	}
	want := []string{`{"from":[],"to":["gold","vip"]}`, `{"from":["gold","vip"],"to":["gold","silver","vip"]}`, `{"from":["gold","silver","vip"],"to":["gold","silver"]}`}
	if !slices.Equal(steps, want) {
		t.Errorf("role rule events\n got  %v\n want %v", steps, want)
	}
}

// Deleting a project removes its own chat-server connection and the
// credential: a project re-created under the same id in another tenant
// does not inherit it.
func TestDeleteProjectRemovesItsChatConnection(t *testing.T) {
	t.Parallel()
	a := openApp(t, store.SQLite)
	ctx := t.Context()
	s := a.Admin
	for _, tid := range []string{"acme", "globex"} {
		must[*project.Tenant](t)(s.CreateTenant(ctx, admin.CLI(), admin.TenantInput{ID: tid, Name: tid}))
	}
	p := must[*project.Project](t)(s.CreateProject(ctx, admin.CLI(), admin.ProjectInput{ID: "shop", TenantID: "acme", Name: "Shop"}))
	conn := must[*chatserver.Connection](t)(s.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeProject, p.ID, p.TenantID,
		admin.ChatConnectionInput{BaseURL: "https://chat.acme.example", Token: "JWT acme-session"}))
	ok(t, s.DeleteProject(ctx, admin.CLI(), p))
	if _, err := s.ChatConnection(ctx, chatserver.ScopeProject, "shop"); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("the deleted project's connection: %v, want not found", err)
	}
	if _, err := a.Backend.Read(ctx, chatserver.CredentialID(chatserver.ScopeProject, "shop"), conn.CredentialVersion); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("the deleted project's credential is still in the secret backend: %v", err)
	}
	q := must[*project.Project](t)(s.CreateProject(ctx, admin.CLI(), admin.ProjectInput{ID: "shop", TenantID: "globex", Name: "Shop"}))
	if c, err := s.ChatConnectionFor(ctx, q); err != nil || c != nil {
		t.Errorf("re-created project uses connection %+v (%v)", c, err)
	}
}
