// Package rbac decides what operators may do, with Casbin (RBAC with domains,
// a domain being a tenant id; "*" means every tenant). The model and default
// role permissions live in policies/; role assignments and end-user role
// mappings are stored in the casbin_rule table through Adapter, so they
// survive restarts and are shared by the CLI and the server.
package rbac

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/policies"
)

// Operator roles.
const (
	RolePlatformAdmin  = "platform-admin"
	RoleTenantAdmin    = "tenant-admin"
	RoleTenantOperator = "tenant-operator"
)

// AllTenants is the domain of platform-wide role assignments and of
// requests that are not about one tenant (creating a tenant, listing operators).
const AllTenants = "*"

// Objects and actions used in policies.
const (
	ObjTenant   = "tenant"
	ObjProject  = "project"
	ObjSecret   = "secret"
	ObjEndUser  = "enduser"
	ObjOperator = "operator"
	ObjAudit    = "audit"
	ObjMapping  = "mapping"

	ActRead   = "read"
	ActWrite  = "write"
	ActRotate = "rotate"
	ActCreate = "create"
)

// TenantRoles are the roles assignable within one tenant.
var TenantRoles = []string{RoleTenantAdmin, RoleTenantOperator}

const (
	operatorPrefix = "operator:"
	endRolePrefix  = "endrole:"
	projectPrefix  = "project/"
	actAuthn       = "authenticate"
)

// Assignment is one role of an operator in a tenant ("*" = all tenants).
type Assignment struct {
	OperatorID string `json:"operator_id"`
	Tenant     string `json:"tenant"`
	Role       string `json:"role"`
}

// Authorizer enforces and manages the access policy. Safe for concurrent use.
type Authorizer struct {
	mu sync.RWMutex
	e  *casbin.ContextEnforcer
	db *store.DB
	// endUser indexes the end-user role rules by project id (sorted roles),
	// rebuilt under mu whenever the policy changes: the /auth hot path looks
	// a project up instead of scanning the whole policy per request.
	endUser map[string][]string
}

// New loads the model, the stored policy, and ensures the default role permissions exist.
func New(ctx context.Context, db *store.DB) (*Authorizer, error) {
	m, err := model.NewModelFromString(policies.Model)
	if err != nil {
		return nil, fmt.Errorf("rbac: model: %w", err)
	}
	ie, err := casbin.NewContextEnforcer(m, NewAdapter(db))
	if err != nil {
		return nil, fmt.Errorf("rbac: enforcer: %w", err)
	}
	a := &Authorizer{e: ie.(*casbin.ContextEnforcer), db: db}
	if err := a.ensureDefaults(ctx); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.indexEndUserRules()
	a.mu.Unlock()
	return a, nil
}

// indexEndUserRules rebuilds endUser from the enforcer (called with mu held).
func (a *Authorizer) indexEndUserRules() {
	idx := map[string][]string{}
	rules, _ := a.e.GetFilteredPolicy(3, actAuthn)
	for _, r := range rules {
		if len(r) < 3 || !strings.HasPrefix(r[0], endRolePrefix) || !strings.HasPrefix(r[2], projectPrefix) {
			continue
		}
		p := strings.TrimPrefix(r[2], projectPrefix)
		idx[p] = append(idx[p], strings.TrimPrefix(r[0], endRolePrefix))
	}
	for _, roles := range idx {
		sort.Strings(roles)
	}
	a.endUser = idx
}

// DefaultPolicy parses policies/default_policy.csv into p rules.
func DefaultPolicy() ([][]string, error) {
	r := csv.NewReader(strings.NewReader(policies.Default))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("rbac: default policy: %w", err)
	}
	var out [][]string
	for _, rec := range recs {
		if len(rec) != 5 || rec[0] != "p" {
			return nil, fmt.Errorf("rbac: default policy: bad line %q", strings.Join(rec, ","))
		}
		out = append(out, rec[1:])
	}
	return out, nil
}

func (a *Authorizer) ensureDefaults(ctx context.Context) error {
	rules, err := DefaultPolicy()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rules {
		has, err := a.e.HasPolicy(r)
		if err != nil {
			return err
		}
		if has {
			continue
		}
		if _, err := a.e.AddPolicyCtx(ctx, r); err != nil {
			return fmt.Errorf("rbac: add default rule: %w", err)
		}
	}
	return nil
}

// Reload re-reads the policy from the database (changes made by another process).
func (a *Authorizer) Reload(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.e.LoadPolicyCtx(ctx)
	a.indexEndUserRules()
	if err != nil {
		return fmt.Errorf("rbac: reload: %w", err)
	}
	return nil
}

// change runs a policy write and publishes store.KindRoles in one
// transaction, so other instances reload the policy (see App's handler:
// only events of other instances reload; this one's enforcer already holds
// the change).
func (a *Authorizer) change(ctx context.Context, write func(ctx context.Context) error) error {
	return a.db.Change(ctx, store.KindRoles, "", write)
}

// Subject is the Casbin subject of an operator.
func Subject(operatorID string) string { return operatorPrefix + operatorID }

// Allowed reports whether the operator may do act on obj in tenant ("*" for
// platform-wide requests).
func (a *Authorizer) Allowed(operatorID, tenant, obj, act string) (bool, error) {
	if operatorID == "" {
		return false, nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	ok, err := a.e.Enforce(Subject(operatorID), tenant, obj, act)
	if err != nil {
		return false, fmt.Errorf("rbac: enforce: %w", err)
	}
	return ok, nil
}

// ValidateAssignment checks a role/tenant pair.
func ValidateAssignment(tenant, role string) error {
	switch role {
	case RolePlatformAdmin:
		if tenant != AllTenants {
			return apperr.Invalid("role", "platform-admin is assigned for all tenants (tenant \"*\")")
		}
	case RoleTenantAdmin, RoleTenantOperator:
		if tenant == "" || tenant == AllTenants {
			return apperr.Invalid("tenant", "%s needs a tenant", role)
		}
	default:
		return apperr.Invalid("role", "role must be one of platform-admin, tenant-admin, tenant-operator")
	}
	return nil
}

// Assign gives an operator a role in a tenant (idempotent).
func (a *Authorizer) Assign(ctx context.Context, operatorID, tenant, role string) error {
	if err := ValidateAssignment(tenant, role); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.change(ctx, func(ctx context.Context) error {
		if _, err := a.e.AddGroupingPolicyCtx(ctx, Subject(operatorID), role, tenant); err != nil {
			return fmt.Errorf("rbac: assign: %w", err)
		}
		return nil
	})
}

// Revoke removes an operator's role in a tenant.
func (a *Authorizer) Revoke(ctx context.Context, operatorID, tenant, role string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.change(ctx, func(ctx context.Context) error {
		ok, err := a.e.RemoveGroupingPolicyCtx(ctx, Subject(operatorID), role, tenant)
		if err != nil {
			return fmt.Errorf("rbac: revoke: %w", err)
		}
		if !ok {
			return apperr.NotFound("role assignment not found")
		}
		return nil
	})
}

// RevokeTenant removes every role of an operator in one tenant.
func (a *Authorizer) RevokeTenant(ctx context.Context, operatorID, tenant string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.change(ctx, func(ctx context.Context) error {
		if _, err := a.e.RemoveFilteredGroupingPolicyCtx(ctx, 0, Subject(operatorID), "", tenant); err != nil {
			return fmt.Errorf("rbac: revoke: %w", err)
		}
		return nil
	})
}

// RevokeAll removes every role of an operator.
func (a *Authorizer) RevokeAll(ctx context.Context, operatorID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.change(ctx, func(ctx context.Context) error {
		if _, err := a.e.RemoveFilteredGroupingPolicyCtx(ctx, 0, Subject(operatorID)); err != nil {
			return fmt.Errorf("rbac: revoke: %w", err)
		}
		return nil
	})
}

func (a *Authorizer) groupings(fieldIndex int, values ...string) []Assignment {
	a.mu.RLock()
	rules, _ := a.e.GetFilteredGroupingPolicy(fieldIndex, values...)
	a.mu.RUnlock()
	var out []Assignment
	for _, r := range rules {
		if len(r) < 3 || !strings.HasPrefix(r[0], operatorPrefix) {
			continue
		}
		out = append(out, Assignment{OperatorID: strings.TrimPrefix(r[0], operatorPrefix), Role: r[1], Tenant: r[2]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Role < out[j].Role
	})
	return out
}

// Assignments lists an operator's roles.
func (a *Authorizer) Assignments(operatorID string) []Assignment {
	return a.groupings(0, Subject(operatorID))
}

// Members lists role assignments in a tenant (not platform-wide ones).
func (a *Authorizer) Members(tenant string) []Assignment {
	return a.groupings(2, tenant)
}

// AllAssignments lists every operator role assignment.
func (a *Authorizer) AllAssignments() []Assignment { return a.groupings(0) }

// Scope returns the tenants an operator holds any role in; all is true for
// platform-wide roles (then tenants is nil).
func (a *Authorizer) Scope(operatorID string) (all bool, tenants []string) {
	tenants = []string{}
	for _, as := range a.Assignments(operatorID) {
		if as.Tenant == AllTenants {
			return true, nil
		}
		if !slices.Contains(tenants, as.Tenant) {
			tenants = append(tenants, as.Tenant)
		}
	}
	return false, tenants
}

// EndUserRoles returns the end-user roles allowed to authenticate to a
// project; empty means no rule, i.e. every end-user may.
func (a *Authorizer) EndUserRoles(projectID string) []string {
	a.mu.RLock()
	roles := a.endUser[projectID]
	a.mu.RUnlock()
	return append([]string{}, roles...)
}

// EndUserMayAuthenticate reports whether an end-user holding roles may obtain
// a token for the project: true when the project has no rule, else when one
// of the roles is allowed.
func (a *Authorizer) EndUserMayAuthenticate(_ context.Context, projectID string, roles []string) bool {
	a.mu.RLock()
	allowed := a.endUser[projectID] // read-only: indexEndUserRules replaces, never edits
	a.mu.RUnlock()
	if len(allowed) == 0 {
		return true
	}
	if slices.Contains(allowed, "*") && len(roles) > 0 { // "*": any user holding some role
		return true
	}
	for _, r := range roles {
		if slices.Contains(allowed, r) {
			return true
		}
	}
	return false
}

// ValidateEndUserRole is the one validator of an end-user role name in a
// role rule (console form, role-rules API, enduser-roles API, CLI): 1-64
// letters, digits and ._-:@+, or "*" (every user that has any role).
func ValidateEndUserRole(r string) error {
	if r == "*" {
		return nil
	}
	if r == "" || len(r) > 64 {
		return apperr.Invalid("role", "role must be 1-64 characters")
	}
	for _, c := range r {
		if !(c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '+' || unicode.IsLetter(c) || unicode.IsDigit(c)) {
			shown := r
			if len(shown) > 40 {
				shown = shown[:40] + "…"
			}
			return apperr.Invalid("role", "role %q may contain letters, digits and ._-:@+ only", shown)
		}
	}
	return nil
}

// SetEndUserRoles replaces the end-user roles allowed to authenticate to a
// project of tenant (empty: everyone may).
func (a *Authorizer) SetEndUserRoles(ctx context.Context, tenant, projectID string, roles []string) error {
	seen := map[string]bool{}
	var rules [][]string
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if r == "" || seen[r] {
			continue
		}
		if err := ValidateEndUserRole(r); err != nil {
			return apperr.Invalid("roles", "%s", err.(*apperr.Error).Message)
		}
		seen[r] = true
		rules = append(rules, []string{endRolePrefix + r, tenant, projectPrefix + projectID, actAuthn})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	defer a.indexEndUserRules() // whatever the outcome: the index follows the enforcer
	return a.change(ctx, func(ctx context.Context) error {
		if _, err := a.e.RemoveFilteredPolicyCtx(ctx, 2, projectPrefix+projectID, actAuthn); err != nil {
			return fmt.Errorf("rbac: end-user roles: %w", err)
		}
		for _, r := range rules {
			if _, err := a.e.AddPolicyCtx(ctx, r); err != nil {
				return fmt.Errorf("rbac: end-user roles: %w", err)
			}
		}
		return nil
	})
}
