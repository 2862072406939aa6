package admin

import (
	"context"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
)

// The reads the console and the API show. Authorization (which tenants an
// operator may list) is the transport's: scope is the tenant filter of the
// route/permission table (nil: every tenant).

// ListTenants lists the tenants in scope.
func (s *Service) ListTenants(ctx context.Context, scope []string) ([]project.Tenant, error) {
	return s.d.Projects.ListTenants(ctx, scope)
}

// Tenant returns one tenant.
func (s *Service) Tenant(ctx context.Context, id string) (*project.Tenant, error) {
	return s.d.Projects.GetTenant(ctx, id)
}

// ListUsers returns one keyset page of the project's end-users in (email,
// id) order, filtered by o.Search, and their total bounded at
// paging.CountBound. A bad cursor or search is a 400 naming the field.
func (s *Service) ListUsers(ctx context.Context, p *project.Project, o enduser.ListOptions) (paging.Page[enduser.User], paging.Total, error) {
	return s.d.Users.List(ctx, p.ID, o)
}

// User returns one end-user of the project.
func (s *Service) User(ctx context.Context, p *project.Project, id string) (*enduser.User, error) {
	return s.d.Users.Get(ctx, p.ID, id)
}

// SignIns lists the end-user's remembered sign-ins (refresh credential
// families, never a credential; none when refresh credentials are off).
func (s *Service) SignIns(ctx context.Context, p *project.Project, userID string) ([]refresh.Family, error) {
	u, err := s.d.Users.Get(ctx, p.ID, userID)
	if err != nil {
		return nil, err
	}
	if s.d.Refresh == nil {
		return []refresh.Family{}, nil
	}
	return s.d.Refresh.Families(ctx, p.ID, u.ID)
}

// RoleRules are the end-user roles that may sign in to the project (empty:
// everyone).
func (s *Service) RoleRules(p *project.Project) []string { return s.d.Roles.EndUserRoles(p.ID) }

// Tokens lists the actor's operator API tokens (never a value).
func (s *Service) Tokens(ctx context.Context, a Actor) ([]operator.Token, error) {
	return s.d.Operators.ListTokens(ctx, a.OperatorID)
}

// OperatorView is an operator with its roles.
type OperatorView struct {
	*operator.Operator
	Roles []rbac.Assignment `json:"roles"`
}

// Operator returns one operator with its roles.
func (s *Service) Operator(ctx context.Context, id string) (OperatorView, error) {
	o, err := s.d.Operators.Get(ctx, id)
	if err != nil {
		return OperatorView{}, err
	}
	return OperatorView{o, s.d.Roles.Assignments(o.ID)}, nil
}

// Operators lists every operator with its roles (platform view).
func (s *Service) Operators(ctx context.Context) ([]OperatorView, error) {
	os, err := s.d.Operators.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]OperatorView, len(os))
	for i := range os {
		out[i] = OperatorView{&os[i], s.d.Roles.Assignments(os[i].ID)}
	}
	return out, nil
}

// Roles are an operator's role assignments.
func (s *Service) Roles(operatorID string) []rbac.Assignment {
	return s.d.Roles.Assignments(operatorID)
}

// Member is one operator's role in a tenant.
type Member struct {
	Operator *operator.Operator `json:"operator"`
	Role     string             `json:"role"`
}

// Members lists the operators holding a role in tenant.
func (s *Service) Members(ctx context.Context, tenant string) ([]Member, error) {
	if _, err := s.d.Projects.GetTenant(ctx, tenant); err != nil {
		return nil, err
	}
	as := s.d.Roles.Members(tenant)
	ids := make([]string, 0, len(as))
	for _, a := range as {
		ids = append(ids, a.OperatorID)
	}
	ops, err := s.d.Operators.List(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := map[string]*operator.Operator{}
	for i := range ops {
		byID[ops[i].ID] = &ops[i]
	}
	out := []Member{}
	for _, a := range as {
		if o := byID[a.OperatorID]; o != nil {
			out = append(out, Member{Operator: o, Role: a.Role})
		}
	}
	return out, nil
}

// AuditQuery builds an audit query limited to what the reader may read:
// one project (when projectID is set: the reader must be allowed on its
// tenant, and only that tenant's events of the id are listed, so a project
// id deleted by one tenant and re-created by another shows only the current
// tenant's history) or the tenants in scope that canRead allows (scope nil:
// all).
func (s *Service) AuditQuery(ctx context.Context, projectID string, limit int, before int64, scope []string, canRead func(tenant string) bool) (audit.Query, error) {
	q := audit.Query{ProjectID: projectID, Limit: limit, BeforeID: before}
	if projectID != "" {
		p, err := s.d.Projects.Get(ctx, projectID)
		if err != nil || !canRead(p.TenantID) {
			return q, apperr.Forbidden("you cannot read the audit log of this project")
		}
		q.TenantIDs = []string{p.TenantID}
		return q, nil
	}
	if scope != nil {
		readable := []string{}
		for _, t := range scope {
			if canRead(t) {
				readable = append(readable, t)
			}
		}
		q.TenantIDs = readable
	}
	return q, nil
}
