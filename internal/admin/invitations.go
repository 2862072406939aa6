package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/mail"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/rbac"
)

// Accounts are global and belong to their owner: a tenant admin never sets
// or learns another account's password. Adding a member is an invitation —
// a one-time link (expires, single use, revocable) shown once to the inviter
// and emailed to the invitee when SMTP is configured. A new person sets
// their own password when accepting; an existing account accepts while
// signed in as itself. The answer is the same whether or not the email
// already has an account, and nothing is looked up to build it.

// Invitations is what the service needs of the invitation store
// (*operator.Repo).
type Invitations interface {
	CreateInvitation(ctx context.Context, inv *operator.Invitation) (string, error)
	InvitationByToken(ctx context.Context, raw string) (*operator.Invitation, error)
	ClaimInvitation(ctx context.Context, id, operatorID string, now time.Time) error
	RevokeInvitation(ctx context.Context, tenant, id string, now time.Time) (*operator.Invitation, error)
	PendingInvitations(ctx context.Context, tenant string, now time.Time) ([]operator.Invitation, error)
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Mailer delivers an email (*mail.Sender).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// ErrPasswordNotYours refuses a password given by anyone below platform
// admin for another account.
var ErrPasswordNotYours = apperr.Invalid("password", "tenant admins cannot set passwords; the invitee sets their own")

// InvitePath is the console path of an invitation link (+ the raw token).
const InvitePath = "/console/invite/"

// Invited is the answer to an invitation: the same fields, whatever the
// email. Link holds the raw token and is shown once.
type Invited struct {
	Invitation *operator.Invitation `json:"invitation"`
	Link       string               `json:"link"`
	Emailed    bool                 `json:"emailed"`
}

// MemberAdded is the answer to AddMember: an invitation, or (a platform
// admin giving a password for a new email) the account created directly.
type MemberAdded struct {
	*Invited
	Operator *operator.Operator
}

// IsPlatformAdmin reports whether the actor holds platform-admin (the CLI
// and the bootstrap, acting on the database directly, count as one).
func (s *Service) IsPlatformAdmin(a Actor) bool {
	if a.OperatorID == "" {
		return true
	}
	for _, as := range s.d.Roles.Assignments(a.OperatorID) {
		if as.Tenant == rbac.AllTenants && as.Role == rbac.RolePlatformAdmin {
			return true
		}
	}
	return false
}

// AddMember gives email a role in tenant. For everyone it is an invitation
// (Invite); a platform admin may instead give a password, which creates a
// new account holding the role at once (an existing email is then a
// conflict: invite it instead). Anyone else giving a password gets
// ErrPasswordNotYours.
func (s *Service) AddMember(ctx context.Context, a Actor, tenant string, in MemberInput) (*MemberAdded, error) {
	if in.Password != "" {
		if !s.IsPlatformAdmin(a) {
			return nil, ErrPasswordNotYours
		}
		o, err := s.CreateOperatorWithRole(ctx, a, in.Email, in.Password, in.Role, tenant)
		if err != nil {
			return nil, err
		}
		return &MemberAdded{Operator: o}, nil
	}
	inv, err := s.Invite(ctx, a, tenant, in.Email, in.Role)
	if err != nil {
		return nil, err
	}
	return &MemberAdded{Invited: inv}, nil
}

// Invite creates an invitation of email to role in tenant and emails the
// link when a mailer is configured. It never looks the email up: the answer
// and its cost are the same for an existing account and a new email.
func (s *Service) Invite(ctx context.Context, a Actor, tenant, email, role string) (*Invited, error) {
	if s.d.Invitations == nil {
		return nil, apperr.Unavailable("invitations are not available", errors.New("no invitation store"))
	}
	t, err := s.d.Projects.GetTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if err := rbac.ValidateAssignment(tenant, role); err != nil {
		return nil, err
	}
	if tenant == rbac.AllTenants {
		return nil, apperr.Invalid("tenant", "invitations are to one tenant")
	}
	norm, err := enduser.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if norm == "" {
		return nil, apperr.Invalid("email", "email is required")
	}
	now := s.d.Now().UTC()
	inv := &operator.Invitation{TenantID: tenant, Email: norm, Role: role, InvitedBy: a.Email, ExpiresAt: now.Add(s.d.InviteTTL)}
	raw, err := s.d.Invitations.CreateInvitation(ctx, inv)
	if err != nil {
		return nil, err
	}
	out := &Invited{Invitation: inv, Link: s.d.PublicURL + InvitePath + raw}
	if s.d.Mailer != nil {
		err := s.d.Mailer.Send(ctx, mail.Message{To: norm, Subject: "Invitation to " + t.Name + " on pingauth", Body: inviteBody(t.Name, role, a.Email, out.Link, inv.ExpiresAt)})
		if err != nil {
			// The error names the server, never the link or the SMTP password.
			s.d.Log.WarnContext(ctx, "invitation email not sent", "tenant_id", tenant, "invitation_id", inv.ID, "error", err.Error())
		} else {
			out.Emailed = true
		}
	}
	s.record(ctx, a, audit.Event{TenantID: tenant, Action: audit.InvitationCreate, Target: norm,
		Details: map[string]any{"invitation_id": inv.ID, "role": role, "expires_at": inv.ExpiresAt, "emailed": out.Emailed}})
	return out, nil
}

func inviteBody(tenantName, role, inviter, link string, expires time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s invited you to the tenant %s on pingauth as %s.\n\n", inviter, tenantName, role)
	fmt.Fprintf(&b, "Open this link to accept:\n\n%s\n\n", link)
	b.WriteString("If you already have a pingauth account with this email, sign in to it to accept;\n")
	b.WriteString("otherwise you choose your own password on that page.\n\n")
	fmt.Fprintf(&b, "The link works once and expires on %s.\n", expires.UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("If you did not expect this invitation, ignore this email.\n")
	return b.String()
}

// Invitations lists tenant's pending invitations (never their tokens).
func (s *Service) Invitations(ctx context.Context, tenant string) ([]operator.Invitation, error) {
	if s.d.Invitations == nil {
		return []operator.Invitation{}, nil
	}
	if _, err := s.d.Projects.GetTenant(ctx, tenant); err != nil {
		return nil, err
	}
	return s.d.Invitations.PendingInvitations(ctx, tenant, s.d.Now().UTC())
}

// RevokeInvitation revokes a pending invitation of tenant.
func (s *Service) RevokeInvitation(ctx context.Context, a Actor, tenant, id string) error {
	if s.d.Invitations == nil {
		return apperr.NotFound("invitation not found")
	}
	inv, err := s.d.Invitations.RevokeInvitation(ctx, tenant, id, s.d.Now().UTC())
	if err != nil {
		return err
	}
	s.record(ctx, a, audit.Event{TenantID: tenant, Action: audit.InvitationRevoke, Target: inv.Email, Details: map[string]any{"invitation_id": inv.ID}})
	return nil
}

// PendingInvitation is an invitation as its link shows it.
type PendingInvitation struct {
	Invitation *operator.Invitation
	TenantName string
}

// InvitationByToken returns the pending invitation of a raw link token;
// a used, revoked or expired one is a conflict saying which.
func (s *Service) InvitationByToken(ctx context.Context, raw string) (*PendingInvitation, error) {
	if s.d.Invitations == nil {
		return nil, operator.ErrInvitationNotFound
	}
	inv, err := s.d.Invitations.InvitationByToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	if err := notPending(inv.State(s.d.Now().UTC())); err != nil {
		return nil, err
	}
	name := inv.TenantID
	if t, err := s.d.Projects.GetTenant(ctx, inv.TenantID); err == nil {
		name = t.Name
	}
	return &PendingInvitation{Invitation: inv, TenantName: name}, nil
}

func notPending(st operator.InvitationState) error {
	switch st {
	case operator.InvitationAccepted:
		return apperr.Conflict("this invitation link was already used")
	case operator.InvitationRevoked:
		return apperr.Conflict("this invitation was revoked")
	case operator.InvitationExpired:
		return apperr.Conflict("this invitation link has expired: ask for a new one")
	}
	return nil
}

// AcceptInvitationNew accepts an invitation for an email without an
// account: the invitee sets their own password (the usual policy), and the
// account is created holding the invited role. An email that already has an
// account must accept signed in as it (AcceptInvitationSignedIn).
func (s *Service) AcceptInvitationNew(ctx context.Context, raw, password string) (*operator.Operator, error) {
	p, err := s.InvitationByToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	inv := p.Invitation
	if _, err := s.d.Operators.GetByEmail(ctx, inv.Email); err == nil {
		return nil, apperr.Conflict("%s already has an account: sign in as it to accept this invitation", inv.Email)
	} else if !errors.Is(err, apperr.ErrNotFound) {
		return nil, err
	}
	var o *operator.Operator
	err = s.d.Invitations.InTx(ctx, func(ctx context.Context) error {
		var err error
		if o, err = s.d.Operators.Create(ctx, inv.Email, "", password); err != nil {
			if errors.Is(err, apperr.ErrConflict) {
				return apperr.Conflict("%s already has an account: sign in as it to accept this invitation", inv.Email)
			}
			return err
		}
		if err := s.d.Invitations.ClaimInvitation(ctx, inv.ID, o.ID, s.d.Now().UTC()); err != nil {
			return err
		}
		return s.d.Roles.Assign(ctx, o.ID, inv.TenantID, inv.Role)
	})
	if err != nil {
		return nil, err
	}
	invitee := Actor{OperatorID: o.ID, Email: o.Email}
	s.record(ctx, invitee, audit.Event{TenantID: inv.TenantID, Action: audit.OperatorCreate, Target: o.Email, Details: map[string]any{"invitation_id": inv.ID}})
	s.accepted(ctx, invitee, inv)
	return o, nil
}

// AcceptInvitationSignedIn accepts an invitation as the signed-in actor,
// whose account email must be the invitation's: the role replaces any role
// the account held in the tenant.
func (s *Service) AcceptInvitationSignedIn(ctx context.Context, a Actor, raw string) error {
	p, err := s.InvitationByToken(ctx, raw)
	if err != nil {
		return err
	}
	inv := p.Invitation
	if a.OperatorID == "" {
		return apperr.Unauthorized("sign in as " + inv.Email + " to accept this invitation")
	}
	o, err := s.d.Operators.Get(ctx, a.OperatorID)
	if err != nil {
		return err
	}
	if !strings.EqualFold(o.Email, inv.Email) {
		return apperr.Forbidden("this invitation is for " + inv.Email + ": sign in as that account to accept it")
	}
	err = s.d.Invitations.InTx(ctx, func(ctx context.Context) error {
		if err := s.d.Invitations.ClaimInvitation(ctx, inv.ID, o.ID, s.d.Now().UTC()); err != nil {
			return err
		}
		if err := s.d.Roles.RevokeTenant(ctx, o.ID, inv.TenantID); err != nil {
			return err
		}
		return s.d.Roles.Assign(ctx, o.ID, inv.TenantID, inv.Role)
	})
	if err != nil {
		return err
	}
	s.accepted(ctx, Actor{OperatorID: o.ID, Email: o.Email}, inv)
	return nil
}

func (s *Service) accepted(ctx context.Context, a Actor, inv *operator.Invitation) {
	s.record(ctx, a, audit.Event{TenantID: inv.TenantID, Action: audit.InvitationAccept, Target: inv.Email, Details: map[string]any{"invitation_id": inv.ID, "invited_by": inv.InvitedBy}})
	s.record(ctx, a, audit.Event{TenantID: inv.TenantID, Action: audit.OperatorRoleGrant, Target: inv.Email, Details: map[string]any{"role": inv.Role, "invitation_id": inv.ID}})
}

// InviteLinkToken extracts the raw token of an invitation link or path
// (for the CLI and tests).
func InviteLinkToken(link string) string {
	if u, err := url.Parse(link); err == nil {
		link = u.Path
	}
	_, tok, _ := strings.Cut(link, InvitePath)
	return tok
}
