package web

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/secret"
)

// The operations below are shared by console pages and the JSON API; each
// state change records an audit event with the operator's email as actor.

func (c *Console) createTenant(g *gin.Context, id, name string) (*project.Tenant, error) {
	t := &project.Tenant{ID: strings.TrimSpace(id), Name: name}
	if err := c.d.Projects.CreateTenant(g.Request.Context(), t); err != nil {
		return nil, err
	}
	c.record(g, audit.Event{TenantID: t.ID, Action: "tenant.create", Target: t.ID})
	return t, nil
}

// createProject stores a new project; refreshTTL nil gives the default
// refresh credential lifetime (project.DefaultRefreshTTL).
func (c *Console) createProject(g *gin.Context, p *project.Project, refreshTTL *int) error {
	p.TenantID = g.Param("tenantId")
	if p.TokenTTLSeconds == 0 {
		p.TokenTTLSeconds = int(c.d.DefaultTTL.Seconds())
	}
	p.RefreshTTLSeconds = int(project.DefaultRefreshTTL.Seconds())
	if refreshTTL != nil {
		p.RefreshTTLSeconds = *refreshTTL
	}
	if err := c.d.Projects.Create(g.Request.Context(), p); err != nil {
		return err
	}
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "project.create", Target: p.ID, Details: p.CreateDetails()})
	return nil
}

// updateProject saves p; disabling the project revokes its refresh
// credentials (they would be refused at their next use anyway).
func (c *Console) updateProject(g *gin.Context, p *project.Project) error {
	if err := c.d.Projects.Update(g.Request.Context(), p); err != nil {
		return err
	}
	c.d.ProjectChanged(p.ID)
	if !p.Active() && c.d.Refresh != nil {
		if _, err := c.d.Refresh.RevokeProject(g.Request.Context(), p.ID, refresh.ReasonProjectDisabled); err != nil {
			c.d.Log.ErrorContext(g.Request.Context(), "revoking refresh credentials of a disabled project failed", "project_id", p.ID, "error", err.Error())
		}
	}
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "project.update", Target: p.ID,
		Details: map[string]any{"name": p.Name, "allowed_origins": p.AllowedOrigins, "token_ttl_seconds": p.TokenTTLSeconds,
			"refresh_ttl_seconds": p.RefreshTTLSeconds, "status": p.Status}})
	return nil
}

// endRefresh revokes an end-user's refresh credentials after a change that
// makes them invalid (disable, password reset). Failure is logged only: the
// refresh endpoint checks the user's state at every use as well.
func (c *Console) endRefresh(g *gin.Context, p *project.Project, userID, reason string) {
	if c.d.Refresh == nil {
		return
	}
	if _, err := c.d.Refresh.RevokeUser(g.Request.Context(), p.ID, userID, reason); err != nil {
		c.d.Log.ErrorContext(g.Request.Context(), "revoking refresh credentials failed", "project_id", p.ID, "user_id", userID, "reason", reason, "error", err.Error())
	}
}

// revokeUserRefresh is the operator action "revoke remembered sign-ins":
// every refresh credential of the end-user stops working at once (the
// visitor's current widget token lives until it expires). Audited.
func (c *Console) revokeUserRefresh(g *gin.Context, p *project.Project, id string) (int, error) {
	u, err := c.d.Users.Get(g.Request.Context(), p.ID, id)
	if err != nil {
		return 0, err
	}
	if c.d.Refresh == nil {
		return 0, apperr.NotFound("refresh credentials are not enabled on this server")
	}
	n, err := c.d.Refresh.RevokeUser(g.Request.Context(), p.ID, u.ID, refresh.ReasonOperator)
	if err != nil {
		return 0, err
	}
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "enduser.refresh_revoke", Target: u.ExternalID,
		Details: map[string]any{"sign_ins": n}})
	return n, nil
}

func (c *Console) deleteProject(g *gin.Context, p *project.Project) error {
	ctx := g.Request.Context()
	actor := operatorOf(g).Email
	if vs, err := c.d.Secrets.Versions(ctx, p.ID); err == nil && len(vs) > 0 {
		if err := c.d.Secrets.Delete(ctx, p.ID, actor); err != nil {
			return err
		}
	}
	if c.d.Modes != nil {
		// The exchange mode's HS secret lives in the secret backend under its
		// own id; remove it with the project.
		if err := c.d.Modes.DeleteIdP(ctx, actor, p.ID); err != nil && !errors.Is(err, apperr.ErrNotFound) {
			return err
		}
	}
	if err := c.d.Projects.Delete(ctx, p.ID); err != nil {
		return err
	}
	c.d.ProjectChanged(p.ID)
	_ = c.d.RBAC.SetEndUserRoles(ctx, p.TenantID, p.ID, nil)
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "project.delete", Target: p.ID})
	return nil
}

func graceOption(seconds *int) (*time.Duration, error) {
	if seconds == nil {
		return nil, nil
	}
	if *seconds < 0 || *seconds > 30*24*3600 {
		return nil, apperr.Invalid("grace_seconds", "grace_seconds must be between 0 and 2592000")
	}
	d := time.Duration(*seconds) * time.Second
	return &d, nil
}

// The secret manager records secret.create / secret.rotate audit events itself.
func (c *Console) putSecret(g *gin.Context, p *project.Project, value string, graceSeconds *int) (secret.Meta, error) {
	grace, err := graceOption(graceSeconds)
	if err != nil {
		return secret.Meta{}, err
	}
	value = strings.TrimSpace(value)
	return c.d.Secrets.Put(g.Request.Context(), p.ID, []byte(value), secret.WriteOptions{Actor: operatorOf(g).Email, Grace: grace})
}

func (c *Console) rotateSecret(g *gin.Context, p *project.Project, graceSeconds *int) (secret.Meta, []byte, error) {
	grace, err := graceOption(graceSeconds)
	if err != nil {
		return secret.Meta{}, nil, err
	}
	return c.d.Secrets.Rotate(g.Request.Context(), p.ID, secret.WriteOptions{Actor: operatorOf(g).Email, Grace: grace})
}

// secretSummary is what pages and the API show about a project's secret.
type secretSummary struct {
	Configured   bool          `json:"configured"`
	Version      int           `json:"version,omitempty"`
	Source       string        `json:"source,omitempty"`
	Backend      string        `json:"backend,omitempty"`
	LastRotation *time.Time    `json:"last_rotation,omitempty"`
	RotatedBy    string        `json:"rotated_by,omitempty"`
	Versions     []secret.Meta `json:"versions"`
}

func (c *Console) secretInfo(ctx context.Context, projectID string) (secretSummary, error) {
	vs, err := c.d.Secrets.Versions(ctx, projectID)
	if err != nil {
		return secretSummary{}, err
	}
	s := secretSummary{Versions: vs}
	if s.Versions == nil {
		s.Versions = []secret.Meta{}
	}
	for _, v := range vs {
		if v.SupersededAt == nil {
			at := v.CreatedAt
			s.Configured, s.Version, s.Source, s.Backend, s.LastRotation, s.RotatedBy = true, v.Version, v.Source, v.Backend, &at, v.CreatedBy
			break
		}
	}
	return s, nil
}

// userInput is the editable part of an end-user.
type userInput struct {
	Email      string         `json:"email"`
	Username   string         `json:"username"`
	ExternalID string         `json:"external_id"`
	Firstname  string         `json:"firstname"`
	Lastname   string         `json:"lastname"`
	Password   string         `json:"password"`
	Roles      []string       `json:"roles"`
	Attributes map[string]any `json:"attributes"`
	Enabled    *bool          `json:"enabled"`
}

func (c *Console) createUser(g *gin.Context, p *project.Project, in userInput) (*enduser.User, error) {
	u := &enduser.User{ProjectID: p.ID, Email: in.Email, Username: in.Username, ExternalID: in.ExternalID,
		Firstname: in.Firstname, Lastname: in.Lastname, Roles: in.Roles, Attributes: in.Attributes, Enabled: true}
	if in.Enabled != nil {
		u.Enabled = *in.Enabled
	}
	if err := c.d.Users.Create(g.Request.Context(), u, in.Password); err != nil {
		return nil, err
	}
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "enduser.create", Target: u.ExternalID})
	return u, nil
}

func (c *Console) setUserEnabled(g *gin.Context, p *project.Project, id string, enabled bool) error {
	u, err := c.d.Users.Get(g.Request.Context(), p.ID, id)
	if err != nil {
		return err
	}
	if err := c.d.Users.SetEnabled(g.Request.Context(), p.ID, id, enabled); err != nil {
		return err
	}
	action := "enduser.disable"
	if enabled {
		action = "enduser.enable"
	} else {
		c.endRefresh(g, p, u.ID, refresh.ReasonUserDisabled)
	}
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: action, Target: u.ExternalID})
	return nil
}

func (c *Console) setUserPassword(g *gin.Context, p *project.Project, id, password string) error {
	u, err := c.d.Users.Get(g.Request.Context(), p.ID, id)
	if err != nil {
		return err
	}
	if err := c.d.Users.SetPassword(g.Request.Context(), p.ID, id, password); err != nil {
		return err
	}
	c.endRefresh(g, p, u.ID, refresh.ReasonPasswordChanged)
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "enduser.password_reset", Target: u.ExternalID})
	return nil
}

// ImportRow is the outcome of one CSV data row.
type ImportRow struct {
	Line       int    `json:"line"`
	ExternalID string `json:"external_id,omitempty"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

// ImportReport summarises a CSV import.
type ImportReport struct {
	Created int         `json:"created"`
	Failed  int         `json:"failed"`
	Rows    []ImportRow `json:"rows"`
}

var importColumns = map[string]bool{"email": true, "username": true, "external_id": true, "firstname": true,
	"lastname": true, "password": true, "roles": true, "enabled": true}

// importUsers reads a CSV with a header row. Known columns: email, username,
// external_id, firstname, lastname, password, roles (separated by ';'),
// enabled (true/false); columns named attr.<name> become custom attributes.
// Each row is created independently; failures are reported per row and
// never stop the other rows.
func (c *Console) importUsers(g *gin.Context, p *project.Project, r io.Reader) (*ImportReport, error) {
	// Without this the connection would be cut at the server's write timeout
	// while the rows kept being created: the operator would see an error
	// for an import that went on to succeed, with no report.
	// (A writer without deadlines, as in handler unit tests, has none to extend.)
	err := http.NewResponseController(g.Writer).SetWriteDeadline(time.Now().Add(importWriteTimeout))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, fmt.Errorf("import: extend write deadline: %w", err)
	}
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, apperr.Invalid("file", "the CSV file is empty")
	}
	if err != nil {
		return nil, apperr.Invalid("file", "cannot read the CSV header: %v", err)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !importColumns[h] && !strings.HasPrefix(h, "attr.") {
			return nil, apperr.Invalid("file", "unknown column %q in the header (allowed: email, username, external_id, firstname, lastname, password, roles, enabled, attr.<name>)", truncate(h, 40))
		}
		if seen[h] {
			return nil, apperr.Invalid("file", "column %q appears twice in the header", h)
		}
		seen[h] = true
		cols[i] = h
	}
	if !seen["email"] && !seen["username"] && !seen["external_id"] {
		return nil, apperr.Invalid("file", "the header needs at least one of email, username, external_id")
	}
	rep := &ImportReport{Rows: []ImportRow{}}
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if n >= maxImportRows {
			return nil, apperr.Invalid("file", "at most %d rows per import; split the file", maxImportRows)
		}
		row := ImportRow{Line: line}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				row.Line = pe.Line
			}
			row.Error = "malformed CSV: " + err.Error()
			rep.Failed++
			rep.Rows = append(rep.Rows, row)
			if pe == nil {
				break
			}
			continue
		}
		if len(rec) != len(cols) {
			row.Error = fmt.Sprintf("expected %d fields, found %d", len(cols), len(rec))
			rep.Failed++
			rep.Rows = append(rep.Rows, row)
			continue
		}
		in := userInput{Attributes: map[string]any{}}
		var rowErr error
		for i, col := range cols {
			v := strings.TrimSpace(rec[i])
			switch col {
			case "email":
				in.Email = v
			case "username":
				in.Username = v
			case "external_id":
				in.ExternalID = v
			case "firstname":
				in.Firstname = v
			case "lastname":
				in.Lastname = v
			case "password":
				in.Password = rec[i]
			case "roles":
				in.Roles = splitList(v, ";")
			case "enabled":
				if v != "" {
					b, err := strconv.ParseBool(v)
					if err != nil {
						rowErr = apperr.Invalid("enabled", "enabled must be true or false, not %q", truncate(v, 20))
					}
					in.Enabled = &b
				}
			default:
				if v != "" {
					in.Attributes[strings.TrimPrefix(col, "attr.")] = v
				}
			}
		}
		row.ExternalID = firstNonEmpty(in.ExternalID, strings.ToLower(in.Email), in.Username)
		if rowErr == nil {
			var u *enduser.User
			u, rowErr = c.createUserQuiet(g.Request.Context(), p, in)
			if rowErr == nil {
				row.ExternalID = u.ExternalID
			}
		}
		if rowErr != nil {
			row.Error = publicError(rowErr)
			rep.Failed++
		} else {
			row.OK = true
			rep.Created++
		}
		rep.Rows = append(rep.Rows, row)
	}
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "enduser.import",
		Details: map[string]any{"created": rep.Created, "failed": rep.Failed}})
	return rep, nil
}

func (c *Console) createUserQuiet(ctx context.Context, p *project.Project, in userInput) (*enduser.User, error) {
	u := &enduser.User{ProjectID: p.ID, Email: in.Email, Username: in.Username, ExternalID: in.ExternalID,
		Firstname: in.Firstname, Lastname: in.Lastname, Roles: in.Roles, Attributes: in.Attributes, Enabled: true}
	if in.Enabled != nil {
		u.Enabled = *in.Enabled
	}
	if err := c.d.Users.Create(ctx, u, in.Password); err != nil {
		return nil, err
	}
	return u, nil
}

// publicError returns the client-safe message of err.
func publicError(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "internal error"
}

func splitList(s, sep string) []string {
	out := []string{}
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// addMember gives an operator (created when the email is new and a password
// is given) a tenant role.
func (c *Console) addMember(g *gin.Context, tenant, email, password, role string) (*operator.Operator, error) {
	ctx := g.Request.Context()
	if _, err := c.d.Projects.GetTenant(ctx, tenant); err != nil {
		return nil, err
	}
	if err := rbac.ValidateAssignment(tenant, role); err != nil {
		return nil, err
	}
	o, err := c.d.Operators.GetByEmail(ctx, email)
	created := false
	if errors.Is(err, apperr.ErrNotFound) {
		if password == "" {
			return nil, apperr.Invalid("password", "no operator with this email yet: give an initial password to create the account")
		}
		o, err = c.d.Operators.Create(ctx, email, "", password)
		created = true
	}
	if err != nil {
		return nil, err
	}
	if err := c.d.RBAC.Assign(ctx, o.ID, tenant, role); err != nil {
		return nil, err
	}
	if created {
		c.record(g, audit.Event{TenantID: tenant, Action: "operator.create", Target: o.Email})
	}
	c.record(g, audit.Event{TenantID: tenant, Action: "operator.role_grant", Target: o.Email, Details: map[string]any{"role": role}})
	return o, nil
}

func (c *Console) removeMember(g *gin.Context, tenant, operatorID string) error {
	ctx := g.Request.Context()
	o, err := c.d.Operators.Get(ctx, operatorID)
	if err != nil {
		return err
	}
	has := false
	for _, a := range c.d.RBAC.Assignments(o.ID) {
		if a.Tenant == tenant {
			has = true
		}
	}
	if !has {
		return apperr.NotFound("operator has no role in this tenant")
	}
	if err := c.d.RBAC.RevokeTenant(ctx, o.ID, tenant); err != nil {
		return err
	}
	c.record(g, audit.Event{TenantID: tenant, Action: "operator.role_revoke", Target: o.Email})
	return nil
}

func (c *Console) createOperator(g *gin.Context, email, name, password string, platformAdmin bool) (*operator.Operator, error) {
	ctx := g.Request.Context()
	o, err := c.d.Operators.Create(ctx, email, name, password)
	if err != nil {
		return nil, err
	}
	c.record(g, audit.Event{Action: "operator.create", Target: o.Email})
	if platformAdmin {
		if err := c.d.RBAC.Assign(ctx, o.ID, rbac.AllTenants, rbac.RolePlatformAdmin); err != nil {
			return nil, err
		}
		c.record(g, audit.Event{Action: "operator.role_grant", Target: o.Email, Details: map[string]any{"role": rbac.RolePlatformAdmin}})
	}
	return o, nil
}

func (c *Console) setOperatorDisabled(g *gin.Context, id string, disabled bool) error {
	if id == operatorOf(g).ID {
		return apperr.Invalid("operator", "you cannot disable your own account")
	}
	o, err := c.d.Operators.Get(g.Request.Context(), id)
	if err != nil {
		return err
	}
	if err := c.d.Operators.SetDisabled(g.Request.Context(), id, disabled); err != nil {
		return err
	}
	action := "operator.enable"
	if disabled {
		action = "operator.disable"
	}
	c.record(g, audit.Event{Action: action, Target: o.Email})
	return nil
}

func (c *Console) setOperatorPassword(g *gin.Context, id, password string) error {
	o, err := c.d.Operators.Get(g.Request.Context(), id)
	if err != nil {
		return err
	}
	if err := c.d.Operators.SetPassword(g.Request.Context(), id, password); err != nil {
		return err
	}
	c.record(g, audit.Event{Action: "operator.password_reset", Target: o.Email})
	return nil
}

func (c *Console) setMapping(g *gin.Context, p *project.Project, roles []string) error {
	if err := c.d.RBAC.SetEndUserRoles(g.Request.Context(), p.TenantID, p.ID, roles); err != nil {
		return err
	}
	c.record(g, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: "mapping.update", Target: p.ID,
		Details: map[string]any{"enduser_roles": c.d.RBAC.EndUserRoles(p.ID)}})
	return nil
}

// auditQuery builds an audit query limited to what the operator may read.
func (c *Console) auditQuery(g *gin.Context, projectID string, limit int, before int64) (audit.Query, error) {
	q := audit.Query{ProjectID: projectID, Limit: limit, BeforeID: before}
	if projectID != "" {
		p, err := c.d.Projects.Get(g.Request.Context(), projectID)
		if err != nil || !c.can(g, p.TenantID, rbac.ObjAudit, rbac.ActRead) {
			return q, apperr.Forbidden("you cannot read the audit log of this project")
		}
		return q, nil
	}
	if ts := c.scope(g); ts != nil {
		var readable []string
		for _, t := range ts {
			if c.can(g, t, rbac.ObjAudit, rbac.ActRead) {
				readable = append(readable, t)
			}
		}
		q.TenantIDs = append([]string{}, readable...)
	}
	return q, nil
}
