// Package admin is the admin service layer: every operation an operator
// performs — on tenants, operators and memberships, projects, secrets,
// end-users (with import), role rules and the audit log — is one method
// here with the shape (ctx, actor, input). The console pages, the JSON API
// (/api/v1) and the CLI only translate to and from these methods, so each
// rule (validation, invariants, audit events, cache invalidation) exists
// once. Authorization stays in the transports' one route/permission table
// (internal/web routes.go; the CLI acts with full rights on the database it
// opens); the methods assume the actor was allowed.
//
// The verification-mode operations (API keys, modes, mapping, overrides,
// IdP, the tenant email deny-list) live in bridge.Admin, next to the caches
// they invalidate; Service exposes them as Modes().
package admin

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/secret"
)

// Actor is who performs an operation: an operator signed in to the console
// or the API, or the CLI. Email is recorded as the audit actor.
type Actor struct {
	// OperatorID is the operator's id ("" for the CLI and bootstrap).
	OperatorID string
	Email      string
	// TokenID is the API token the request came with ("" for a console
	// session or the CLI).
	TokenID string
	// SecondFactor: the actor's console session passed the second factor
	// (TOTP); false for API tokens and the CLI (totp.go).
	SecondFactor bool
}

// CLI is the actor of commands run with `pingauth` on the server's database.
func CLI() Actor { return Actor{Email: CLIName} }

// CLIName is the CLI's name in audit events.
const CLIName = "cli"

// Bootstrap is the actor that creates the first platform admin.
func Bootstrap() Actor { return Actor{Email: "bootstrap"} }

// Projects is what the service needs of the tenant and project repository
// (*project.Repo).
type Projects interface {
	CreateTenant(ctx context.Context, t *project.Tenant) error
	EnsureTenant(ctx context.Context, id, name string) (*project.Tenant, error)
	GetTenant(ctx context.Context, id string) (*project.Tenant, error)
	Create(ctx context.Context, p *project.Project) error
	Get(ctx context.Context, id string) (*project.Project, error)
	Update(ctx context.Context, p *project.Project) error
	Delete(ctx context.Context, id string) error
	ListTenants(ctx context.Context, ids []string) ([]project.Tenant, error)
	List(ctx context.Context, f project.ListFilter) ([]project.Project, error)
	// Keyset pages (internal/paging) and the per-tenant counts of a page.
	Page(ctx context.Context, f project.ListFilter, req paging.Request) (paging.Page[project.Project], error)
	PageTenants(ctx context.Context, ids []string, req paging.Request) (paging.Page[project.Tenant], error)
	CountByTenant(ctx context.Context, tenantIDs []string) (map[string]int64, error)
}

// Users is what the service needs of the end-user repository (*enduser.Repo).
type Users interface {
	Create(ctx context.Context, u *enduser.User, password string) error
	Get(ctx context.Context, projectID, id string) (*enduser.User, error)
	Update(ctx context.Context, u *enduser.User) error
	SetEnabled(ctx context.Context, projectID, id string, enabled bool) error
	SetPassword(ctx context.Context, projectID, id, password string) error
	Delete(ctx context.Context, projectID, id string) error
	List(ctx context.Context, projectID string, o enduser.ListOptions) (paging.Page[enduser.User], paging.Total, error)
	// The CSV import: check every row, hash in the bounded pool, store all
	// rows in one transaction.
	PrepareNew(ctx context.Context, u *enduser.User, password string) error
	HashPassword(ctx context.Context, password string) (string, error)
	Taken(ctx context.Context, projectID string, emails, usernames, externalIDs []string) (enduser.TakenLogins, error)
	CreateAll(ctx context.Context, users []*enduser.User) error
}

// Operators is what the service needs of the operator repository
// (*operator.Repo).
type Operators interface {
	Create(ctx context.Context, email, name, password string) (*operator.Operator, error)
	Get(ctx context.Context, id string) (*operator.Operator, error)
	GetByEmail(ctx context.Context, email string) (*operator.Operator, error)
	SetDisabled(ctx context.Context, id string, disabled bool) ([]operator.Token, error)
	SetPassword(ctx context.Context, id, password, keepSession string) ([]operator.Token, error)
	CheckPassword(ctx context.Context, id, password string) error
	Delete(ctx context.Context, id string) error
	NewToken(ctx context.Context, operatorID string, spec operator.TokenSpec) (string, *operator.Token, error)
	DeleteToken(ctx context.Context, operatorID, tokenID string) error
	RevokeTokens(ctx context.Context, operatorID, tenantID string) ([]operator.Token, error)
	ListTokens(ctx context.Context, operatorID string) ([]operator.Token, error)
	List(ctx context.Context, ids []string) ([]operator.Operator, error)
}

// Roles is what the service needs of the access policy (*rbac.Authorizer).
type Roles interface {
	Assign(ctx context.Context, operatorID, tenant, role string) error
	Assignments(operatorID string) []rbac.Assignment
	RevokeTenant(ctx context.Context, operatorID, tenant string) error
	RevokeAll(ctx context.Context, operatorID string) error
	SetEndUserRoles(ctx context.Context, tenant, projectID string, roles []string) error
	EndUserRoles(projectID string) []string
	Members(tenant string) []rbac.Assignment
}

// Secrets is the shared-secret store (secret.SecretStore); it records the
// secret.* audit events itself.
type Secrets interface {
	Put(ctx context.Context, projectID string, value []byte, opts secret.WriteOptions) (secret.Meta, error)
	Rotate(ctx context.Context, projectID string, opts secret.WriteOptions) (secret.Meta, []byte, error)
	Delete(ctx context.Context, projectID, actor string) error
	Versions(ctx context.Context, projectID string) ([]secret.Meta, error)
	// CurrentVersions: the current version of each project, one query.
	CurrentVersions(ctx context.Context, projectIDs []string) (map[string]secret.Meta, error)
}

// Auditor records and lists audit events (*audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
	List(ctx context.Context, q audit.Query) ([]audit.Event, error)
}

// RefreshStore lists and revokes refresh credentials (*refresh.Store).
type RefreshStore interface {
	Families(ctx context.Context, projectID, endUserID string) ([]refresh.Family, error)
	RevokeUser(ctx context.Context, projectID, endUserID, reason string) (int, error)
	RevokeProject(ctx context.Context, projectID, reason string) (int64, error)
}

// Deps are the service's collaborators.
type Deps struct {
	Log       *slog.Logger
	Projects  Projects
	Users     Users
	Operators Operators
	Roles     Roles
	Secrets   Secrets
	Audit     Auditor
	// Modes is the verification-mode admin (nil: modes are off).
	Modes *bridge.Admin
	// Refresh revokes end-users' refresh credentials (nil: none are issued).
	Refresh RefreshStore
	// ProjectChanged is told of every project update or deletion so cached
	// copies of the row drop at once (the change event tells other
	// instances).
	ProjectChanged func(projectID string)
	// DefaultTTL is the token lifetime of a project created without one.
	DefaultTTL time.Duration
	// AudienceBase is the deployment's audience base (rotation probes).
	AudienceBase string
	// Chat and ChatConns reach the chat server (nil: no connections; a
	// rotation then needs RotateInput.Local).
	Chat      ChatServer
	ChatConns ChatConnections
	// Invitations stores operator invitations (nil: invitations are off);
	// Mailer emails them (nil: the link is only shown to the inviter);
	// InviteTTL is a link's lifetime (0: 7 days); PublicURL is the base of
	// the link.
	Invitations Invitations
	Mailer      Mailer
	InviteTTL   time.Duration
	PublicURL   string
	// ChatJobs is the chat-server sync outbox (ban sync, rotations not
	// stored; chatsync.go). nil: blocks are not synced.
	ChatJobs ChatJobs
	// ChatSyncBackoff is the wait after n failed sync attempts (nil:
	// DefaultChatSyncBackoff).
	ChatSyncBackoff func(attempts int) time.Duration
	// Rotations stores scheduled-rotation policies (nil: none).
	Rotations RotationPolicies
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// TOTP keeps operators' second factor and TenantTOTP the tenants'
	// enforcement; RequireTOTP enforces it platform-wide (totp.go).
	TOTP        TOTPStore
	TenantTOTP  TenantTOTPPolicy
	RequireTOTP bool
}

// Service performs admin operations. Create it with New.
type Service struct {
	d  Deps
	cs *chatSync // chatsync.go
}

// New returns the service.
func New(d Deps) *Service {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.ProjectChanged == nil {
		d.ProjectChanged = func(string) {}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.InviteTTL <= 0 {
		d.InviteTTL = 7 * 24 * time.Hour
	}
	s := &Service{d: d, cs: newChatSync()}
	if d.Modes != nil && d.ChatJobs != nil {
		d.Modes.SetOverrideSync(s) // every override change, from every transport, reaches the ban sync
	}
	return s
}

// Modes is the verification-mode admin (nil when modes are off).
func (s *Service) Modes() *bridge.Admin { return s.d.Modes }

// record writes an audit event as actor. A failed audit write is logged,
// not returned: the change it describes is already committed.
func (s *Service) record(ctx context.Context, a Actor, e audit.Event) {
	e.Actor = a.Email
	if err := s.d.Audit.Record(ctx, e); err != nil {
		s.d.Log.ErrorContext(ctx, "audit record failed", "action", e.Action, "error", err.Error())
	}
}

// endRefresh revokes an end-user's refresh credentials after a change that
// makes them invalid (disable, password reset). Failure is logged only: the
// refresh endpoint checks the user's state at every use as well.
func (s *Service) endRefresh(ctx context.Context, projectID, userID, reason string) {
	if s.d.Refresh == nil {
		return
	}
	if _, err := s.d.Refresh.RevokeUser(ctx, projectID, userID, reason); err != nil {
		s.d.Log.ErrorContext(ctx, "revoking refresh credentials failed", "project_id", projectID, "user_id", userID, "reason", reason, "error", err.Error())
	}
}

// AuditEvents lists audit events matching q. The transport scopes q to what
// the actor may read (its tenants, a project it may read). A project query
// always names a tenant too: without one it is narrowed to the project's
// current tenant (an unknown project lists nothing), so the events of an
// earlier project under the same id, in another tenant, never show.
func (s *Service) AuditEvents(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	if q.ProjectID != "" && q.TenantIDs == nil {
		p, err := s.d.Projects.Get(ctx, q.ProjectID)
		switch {
		case errors.Is(err, apperr.ErrNotFound):
			return []audit.Event{}, nil
		case err != nil:
			return nil, err
		}
		q.TenantIDs = []string{p.TenantID}
	}
	return s.d.Audit.List(ctx, q)
}
