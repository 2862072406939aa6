package admin

import (
	"context"

	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
)

// The paged lists of projects and tenants that the console's dashboard and
// the API show. Each page is a fixed number of queries whatever its size or
// depth: one keyset read, plus one grouped or IN query per column that
// comes from another table (never one per row).

// ProjectRow is a project with its secret and rotation summary.
type ProjectRow struct {
	project.Project
	// SecretVersion is the current shared-secret version (0: none).
	SecretVersion int `json:"secret_version"`
	// Rotation: last rotation, schedule, next due, overdue.
	Rotation RotationStatus `json:"rotation"`
}

// ProjectPage is one page of the projects matching f with their secret
// and rotation summaries: three queries (projects, current secret versions,
// rotation policies).
func (s *Service) ProjectPage(ctx context.Context, f project.ListFilter, req paging.Request) (paging.Page[ProjectRow], error) {
	ps, err := s.d.Projects.Page(ctx, f, req)
	if err != nil {
		return paging.Page[ProjectRow]{}, err
	}
	ids := make([]string, len(ps.Items))
	for i := range ps.Items {
		ids[i] = ps.Items[i].ID
	}
	cur, err := s.d.Secrets.CurrentVersions(ctx, ids)
	if err != nil {
		return paging.Page[ProjectRow]{}, err
	}
	pols, err := s.RotationPolicies(ctx, ids)
	if err != nil {
		return paging.Page[ProjectRow]{}, err
	}
	out := paging.Page[ProjectRow]{Items: make([]ProjectRow, len(ps.Items)), Next: ps.Next}
	for i, p := range ps.Items {
		row := ProjectRow{Project: p}
		if m, ok := cur[p.ID]; ok {
			at := m.CreatedAt
			row.SecretVersion = m.Version
			row.Rotation = s.ScheduleStatus(pols[p.ID], &at)
		} else {
			row.Rotation = s.ScheduleStatus(pols[p.ID], nil)
		}
		out.Items[i] = row
	}
	return out, nil
}

// Projects is one page of the projects matching f (the rows alone).
func (s *Service) Projects(ctx context.Context, f project.ListFilter, req paging.Request) (paging.Page[project.Project], error) {
	return s.d.Projects.Page(ctx, f, req)
}

// TenantSummary is a tenant with its number of projects.
type TenantSummary struct {
	project.Tenant
	Projects int64 `json:"projects"`
}

// TenantPage is one page of the tenants in scope (nil: all) with their
// project counts: two queries (tenants, one grouped count).
func (s *Service) TenantPage(ctx context.Context, scope []string, req paging.Request) (paging.Page[TenantSummary], error) {
	ts, err := s.d.Projects.PageTenants(ctx, scope, req)
	if err != nil {
		return paging.Page[TenantSummary]{}, err
	}
	ids := make([]string, len(ts.Items))
	for i := range ts.Items {
		ids[i] = ts.Items[i].ID
	}
	n, err := s.d.Projects.CountByTenant(ctx, ids)
	if err != nil {
		return paging.Page[TenantSummary]{}, err
	}
	out := paging.Page[TenantSummary]{Items: make([]TenantSummary, len(ts.Items)), Next: ts.Next}
	for i, t := range ts.Items {
		out.Items[i] = TenantSummary{Tenant: t, Projects: n[t.ID]}
	}
	return out, nil
}

// Tenants is one page of the tenants in scope (nil: all).
func (s *Service) Tenants(ctx context.Context, scope []string, req paging.Request) (paging.Page[project.Tenant], error) {
	return s.d.Projects.PageTenants(ctx, scope, req)
}
