package mapping

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"golang.org/x/sync/singleflight"
)

// roleModel is the Casbin model of the end-user role gate: a request
// (project, role) is allowed when a policy names that project and role
// (or "*": any role). Policies come from enduser_role_rules.
const roleModel = `
[request_definition]
r = proj, role

[policy_definition]
p = proj, role

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.proj == p.proj && (p.role == "*" || r.role == p.role)
`

// CasbinGate decides with Casbin which end-user roles may authenticate to a
// project. A project without role rules lets everyone in. Enforcers are built
// per project from the rules table and cached for ttl (invalidated at once by
// changes through Invalidate).
//
// This is the consumer-side implementation for issue 7; the lead may swap it
// for internal/rbac (issue 5) behind the same EndUserMayAuthenticate method.
type CasbinGate struct {
	repo *Repo
	ttl  time.Duration
	now  func() time.Time

	mu    sync.RWMutex
	byID  map[string]*gateEntry
	group singleflight.Group
}

type gateEntry struct {
	enf     *casbin.SyncedEnforcer // nil: no rules, everyone may authenticate
	fetched time.Time
}

// NewCasbinGate returns a gate over repo's role rules.
func NewCasbinGate(repo *Repo, ttl time.Duration) *CasbinGate {
	return &CasbinGate{repo: repo, ttl: ttl, now: time.Now, byID: map[string]*gateEntry{}}
}

// EndUserMayAuthenticate reports whether a user with roles may sign in to projectID.
func (g *CasbinGate) EndUserMayAuthenticate(ctx context.Context, projectID string, roles []string) (bool, error) {
	e, err := g.entry(ctx, projectID)
	if err != nil {
		return false, err
	}
	if e.enf == nil {
		return true, nil
	}
	for _, r := range roles {
		ok, err := e.enf.Enforce(projectID, r)
		if err != nil {
			return false, fmt.Errorf("role gate: %w", err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func (g *CasbinGate) entry(ctx context.Context, projectID string) (*gateEntry, error) {
	g.mu.RLock()
	e, ok := g.byID[projectID]
	g.mu.RUnlock()
	if ok && g.now().Sub(e.fetched) < g.ttl {
		return e, nil
	}
	v, err, _ := g.group.Do(projectID, func() (any, error) {
		rules, err := g.repo.RoleRules(context.WithoutCancel(ctx), projectID)
		if err != nil {
			return nil, err
		}
		ne := &gateEntry{fetched: g.now()}
		if len(rules) > 0 {
			m, err := model.NewModelFromString(roleModel)
			if err != nil {
				return nil, fmt.Errorf("role gate model: %w", err)
			}
			enf, err := casbin.NewSyncedEnforcer(m)
			if err != nil {
				return nil, fmt.Errorf("role gate: %w", err)
			}
			policies := make([][]string, 0, len(rules))
			for _, r := range rules {
				policies = append(policies, []string{projectID, r.Role})
			}
			if _, err := enf.AddPolicies(policies); err != nil {
				return nil, fmt.Errorf("role gate: %w", err)
			}
			ne.enf = enf
		}
		g.mu.Lock()
		g.byID[projectID] = ne
		g.mu.Unlock()
		return ne, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*gateEntry), nil
}

// Invalidate drops the cached enforcer of projectID.
func (g *CasbinGate) Invalidate(projectID string) {
	g.mu.Lock()
	delete(g.byID, projectID)
	g.mu.Unlock()
	g.group.Forget(projectID)
}
