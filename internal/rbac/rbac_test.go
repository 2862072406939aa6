package rbac_test

import (
	"context"
	"testing"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestEnforceAndPersist(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := rbac.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(a.Assign(ctx, "root", rbac.AllTenants, rbac.RolePlatformAdmin))
		must(a.Assign(ctx, "alice", "acme", rbac.RoleTenantAdmin))
		must(a.Assign(ctx, "olga", "acme", rbac.RoleTenantOperator))
		must(a.Assign(ctx, "bob", "beta", rbac.RoleTenantAdmin))
		must(a.SetEndUserRoles(ctx, "acme", "p1", []string{"vip", "staff", "vip"}))

		// A second authorizer over the same DB sees everything (persistence).
		b, err := rbac.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			op, tenant, obj, act string
			want                 bool
		}{
			{"root", "acme", rbac.ObjSecret, rbac.ActRotate, true},
			{"root", rbac.AllTenants, rbac.ObjTenant, rbac.ActCreate, true},
			{"root", "", rbac.ObjProject, rbac.ActRead, true},
			{"alice", "acme", rbac.ObjProject, rbac.ActWrite, true},
			{"alice", "acme", rbac.ObjOperator, rbac.ActWrite, true},
			{"alice", "beta", rbac.ObjProject, rbac.ActRead, false},
			{"alice", rbac.AllTenants, rbac.ObjTenant, rbac.ActCreate, false},
			{"alice", rbac.AllTenants, rbac.ObjProject, rbac.ActRead, false},
			{"olga", "acme", rbac.ObjProject, rbac.ActRead, true},
			{"olga", "acme", rbac.ObjSecret, rbac.ActRotate, true},
			{"olga", "acme", rbac.ObjProject, rbac.ActWrite, false},
			{"olga", "acme", rbac.ObjEndUser, rbac.ActWrite, false},
			{"olga", "acme", rbac.ObjOperator, rbac.ActRead, false},
			{"bob", "acme", rbac.ObjProject, rbac.ActRead, false},
			{"nobody", "acme", rbac.ObjProject, rbac.ActRead, false},
			{"", "acme", rbac.ObjProject, rbac.ActRead, false},
		}
		for _, authz := range []*rbac.Authorizer{a, b} {
			for _, c := range cases {
				got, err := authz.Allowed(c.op, c.tenant, c.obj, c.act)
				if err != nil || got != c.want {
					t.Errorf("Allowed(%s,%s,%s,%s) = %v, %v; want %v", c.op, c.tenant, c.obj, c.act, got, err, c.want)
				}
			}
		}
		if all, ts := b.Scope("alice"); all || len(ts) != 1 || ts[0] != "acme" {
			t.Errorf("Scope(alice) = %v %v", all, ts)
		}
		if all, _ := b.Scope("root"); !all {
			t.Error("root should see all tenants")
		}
		if got := b.EndUserRoles("p1"); len(got) != 2 || got[0] != "staff" || got[1] != "vip" {
			t.Errorf("EndUserRoles = %v", got)
		}
		if !b.EndUserMayAuthenticate(ctx, "p1", []string{"x", "vip"}) || b.EndUserMayAuthenticate(ctx, "p1", []string{"x"}) {
			t.Error("p1 mapping not enforced")
		}
		if !b.EndUserMayAuthenticate(ctx, "p2", nil) {
			t.Error("project without rules must allow everyone")
		}
		// End-user role rules never grant operator permissions.
		if ok, _ := b.Allowed("vip", "acme", "project/p1", "authenticate"); ok {
			t.Error("end-user role leaked into operator space")
		}
		must(b.Revoke(ctx, "alice", "acme", rbac.RoleTenantAdmin))
		must(b.SetEndUserRoles(ctx, "acme", "p1", nil))
		c, err := rbac.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Allowed("alice", "acme", rbac.ObjProject, rbac.ActRead); ok {
			t.Error("revoked role still effective after reload")
		}
		if !c.EndUserMayAuthenticate(ctx, "p1", nil) {
			t.Error("cleared mapping should allow everyone")
		}
		if err := c.Assign(ctx, "x", "acme", rbac.RolePlatformAdmin); err == nil {
			t.Error("platform-admin in a tenant must be rejected")
		}
		if err := c.Assign(ctx, "x", rbac.AllTenants, rbac.RoleTenantAdmin); err == nil {
			t.Error("tenant-admin for all tenants must be rejected")
		}
	})
}

// End-user role rules are answered from a per-project index that follows
// every policy change: SetEndUserRoles here, Reload for another process's
// change; projects never see each other's rules.
func TestEndUserRoleIndexFollowsChanges(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := rbac.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		b, err := rbac.New(ctx, db) // another process
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SetEndUserRoles(ctx, "acme", "p1", []string{"vip", "staff"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			az      *rbac.Authorizer
			project string
			roles   []string
			want    bool
		}{
			{a, "p1", []string{"vip"}, true},
			{a, "p1", []string{"guest"}, false},
			{a, "p1", nil, false},
			{a, "p2", []string{"guest"}, true}, // no rule: everyone
			{b, "p1", []string{"guest"}, true}, // b has not reloaded yet
		} {
			if got := tc.az.EndUserMayAuthenticate(ctx, tc.project, tc.roles); got != tc.want {
				t.Errorf("%s %v: %v, want %v", tc.project, tc.roles, got, tc.want)
			}
		}
		if got := a.EndUserRoles("p1"); len(got) != 2 || got[0] != "staff" || got[1] != "vip" {
			t.Errorf("EndUserRoles = %v", got)
		}
		if err := b.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if b.EndUserMayAuthenticate(ctx, "p1", []string{"guest"}) || !b.EndUserMayAuthenticate(ctx, "p1", []string{"staff"}) {
			t.Error("after Reload the other process does not apply the rules")
		}
		if err := a.SetEndUserRoles(ctx, "acme", "p1", nil); err != nil {
			t.Fatal(err)
		}
		if !a.EndUserMayAuthenticate(ctx, "p1", []string{"guest"}) || len(a.EndUserRoles("p1")) != 0 {
			t.Error("removing the rules left them in the index")
		}
	})
}
