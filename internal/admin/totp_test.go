package admin_test

import (
	"errors"
	"testing"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
)

// TestSecondFactorRules: CreateToken needs an actor that passed the second
// factor; SecondFactorRequired follows the tenant setting for its members
// and for the tenant's own routes; deleting an operator removes their TOTP
// secret from the secret backend. Both dialects.
func TestSecondFactorRules(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		ctx := t.Context()
		if err := a.Projects.CreateTenant(ctx, &project.Tenant{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		o, err := a.Admin.CreateOperatorWithRole(ctx, admin.CLI(), "ops@acme.example", "operator-pass-1", rbac.RoleTenantAdmin, "acme")
		if err != nil {
			t.Fatal(err)
		}
		actor := admin.Actor{OperatorID: o.ID, Email: o.Email}
		if _, _, err := a.Admin.CreateToken(ctx, actor, admin.TokenInput{Name: "ci"}); !errors.Is(err, apperr.ErrForbidden) {
			t.Fatalf("token without the second factor: %v", err)
		}
		actor.SecondFactor = true
		if _, _, err := a.Admin.CreateToken(ctx, actor, admin.TokenInput{Name: "ci"}); err != nil {
			t.Fatalf("token with the second factor: %v", err)
		}

		for _, tc := range []struct {
			on     bool
			tenant string
			want   bool
		}{{false, "", false}, {false, "acme", false}, {true, "", true}, {true, "acme", true}} {
			if err := a.Admin.SetTenantRequireTOTP(ctx, admin.CLI(), "acme", tc.on); err != nil {
				t.Fatal(err)
			}
			got, err := a.Admin.SecondFactorRequired(ctx, o.ID, tc.tenant)
			if err != nil || got != tc.want {
				t.Errorf("required (tenant setting %v, route tenant %q) = %v %v, want %v", tc.on, tc.tenant, got, err, tc.want)
			}
		}
		// An operator of no tenant is bound only when acting in an enforcing one.
		root, err := a.Admin.CreateOperatorWithRole(ctx, admin.CLI(), "root@ops.example", "operator-pass-1", rbac.RolePlatformAdmin, rbac.AllTenants)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Admin.SecondFactorRequired(ctx, root.ID, ""); got {
			t.Error("platform admin bound outside the enforcing tenant")
		}
		if got, _ := a.Admin.SecondFactorRequired(ctx, root.ID, "acme"); !got {
			t.Error("platform admin not bound inside the enforcing tenant")
		}
		if err := a.Admin.SetTenantRequireTOTP(ctx, admin.CLI(), "nope", true); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("unknown tenant: %v", err)
		}

		// Deleting an operator removes their TOTP secret.
		en, err := a.Admin.StartTOTP(ctx, actor)
		if err != nil || en.Secret == "" {
			t.Fatalf("start: %v", err)
		}
		st, err := a.TOTP.State(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Admin.DeleteOperator(ctx, admin.CLI(), o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Backend.Read(ctx, o.ID+":totp", st.SecretVersion); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("TOTP secret after deleting the operator: %v", err)
		}
	})
}
