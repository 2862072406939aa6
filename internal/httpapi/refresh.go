package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/token"
)

// Refresh credentials (internal/refresh) let a returning visitor of a
// password-mode project get a new widget token without the password:
//
//   - POST /auth/<projectId> with {"email","password","refresh":true} answers
//     the usual token plus refresh_token and refresh_expires_at (only when
//     asked, and only when the project's refresh_ttl_seconds is not 0);
//   - POST /auth/<projectId>/refresh {"refresh_token":"prt_..."} answers a
//     new token and the rotated credential (the presented one is spent);
//   - POST /auth/<projectId>/refresh/revoke {"refresh_token":"prt_..."} ends
//     the sign-in (the SDK's logout): 204 whatever the credential was.
//
// Both routes take the /auth code paths: the same project lookup and CORS
// policy (cors, so also the example page's ticket), the same per-IP bucket
// (limits.go: every /auth/<id> route without an API key), body limits and
// security headers. Every refusal is a 401 and, when the credential was
// genuine, revokes its family: a used credential (reuse), a disabled,
// deleted or blocked user, a password changed since the sign-in, password
// mode turned off, a role the gate refuses, or a disabled project.

// Refresher stores refresh credentials (*refresh.Store).
type Refresher interface {
	Issue(ctx context.Context, projectID, endUserID string, ttl time.Duration) (refresh.Issued, error)
	Lookup(ctx context.Context, projectID, credential string) (*refresh.Token, error)
	Check(t *refresh.Token) error
	Rotate(ctx context.Context, t *refresh.Token) (refresh.Issued, error)
	RevokeFamily(ctx context.Context, familyID, reason string) (int64, error)
}

// UserByID loads an end-user by its pingauth id (*enduser.Repo).
type UserByID interface {
	Get(ctx context.Context, projectID, id string) (*enduser.User, error)
}

// Auditor records audit events (*audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

const (
	refreshRoute       = "/auth/:projectId/refresh"
	refreshRevokeRoute = "/auth/:projectId/refresh/revoke"
)

// refreshRequest is the body of the refresh routes.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// newRefresh returns the refresh credential minter of a password login that
// asked for one (want), or nil: not asked, refresh off for the project, or
// no store wired.
func (s *Server) newRefresh(c *gin.Context, p *project.Project, u *enduser.User, want bool) refreshMint {
	if !want || u == nil || u.ID == "" || s.d.Refresh == nil || p.RefreshTTL() <= 0 {
		return nil
	}
	return func() (refresh.Issued, error) {
		return s.d.Refresh.Issue(c.Request.Context(), p.ID, u.ID, p.RefreshTTL())
	}
}

func (s *Server) decodeRefresh(c *gin.Context) (string, error) {
	data, err := readBody(c.Request.Body, s.d.MaxBodyBytes, c.Request.ContentLength)
	if err != nil {
		return "", err
	}
	var req refreshRequest
	if err := httpkit.DecodeStrictJSON(data, &req); errors.Is(err, httpkit.ErrTrailingData) {
		return "", apperr.Invalid("body", "unexpected data after JSON object")
	} else if err != nil {
		return "", apperr.Invalid("body", `body must be a JSON object {"refresh_token": "prt_..."}`)
	}
	if req.RefreshToken == "" {
		return "", apperr.Invalid("refresh_token", "refresh_token is required")
	}
	if len(req.RefreshToken) > refresh.MaxLen {
		return "", refresh.ErrInvalid
	}
	return req.RefreshToken, nil
}

// refresh is POST /auth/<projectId>/refresh.
func (s *Server) refresh(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.corsProject(c)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	cred, err := s.decodeRefresh(c)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	tok, err := s.d.Refresh.Lookup(ctx, p.ID, cred)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	if err := s.d.Refresh.Check(tok); err != nil {
		if errors.Is(err, refresh.ErrReused) {
			s.revokeFamily(ctx, p, tok, refresh.ReasonReuse, nil)
		}
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	if !p.Active() {
		s.refuse(c, p, tok, refresh.ReasonProjectDisabled, nil, apperr.Unauthorized("refresh token revoked: project is disabled"))
		return
	}
	u, err := s.d.RefreshUsers.Get(ctx, p.ID, tok.EndUserID)
	switch {
	case errors.Is(err, apperr.ErrNotFound):
		s.refuse(c, p, tok, refresh.ReasonUserMissing, nil, apperr.Unauthorized("refresh token revoked: the end-user no longer exists"))
		return
	case err != nil:
		httpkit.WriteError(c, s.d.Log, err)
		return
	case !u.Enabled:
		s.refuse(c, p, tok, refresh.ReasonUserDisabled, u, apperr.Unauthorized("refresh token revoked: the end-user is disabled"))
		return
	case u.PasswordChangedAt != nil && !u.PasswordChangedAt.Before(tok.CreatedAt):
		s.refuse(c, p, tok, refresh.ReasonPasswordChanged, u, apperr.Unauthorized("refresh token revoked: the password changed since this sign-in"))
		return
	}
	var id token.Identity
	if s.d.Bridge != nil {
		id, err = s.d.Bridge.AuthenticateEndUser(ctx, p, u)
		var refused *bridge.RefusedError
		if errors.As(err, &refused) {
			s.refuse(c, p, tok, refused.Reason, u, apperr.Unauthorized("refresh token revoked: "+publicText(refused.Err)))
			return
		}
		if err != nil {
			httpkit.WriteError(c, s.d.Log, err)
			return
		}
	} else {
		id = endUserIdentity(u)
	}
	s.issueWith(c, p, id, func() (refresh.Issued, error) {
		next, err := s.d.Refresh.Rotate(ctx, tok)
		if errors.Is(err, refresh.ErrReused) {
			// Two presentations raced: the loser revokes the family.
			s.revokeFamily(ctx, p, tok, refresh.ReasonReuse, u)
		}
		return next, err
	})
}

// publicText is the client-safe message of err.
func publicText(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "sign-in refused"
}

// refuse revokes tok's family for reason and answers err (a 401).
func (s *Server) refuse(c *gin.Context, p *project.Project, tok *refresh.Token, reason string, u *enduser.User, err error) {
	s.revokeFamily(c.Request.Context(), p, tok, reason, u)
	httpkit.WriteError(c, s.d.Log, err)
}

// revokeFamily revokes a family (never logging or auditing the credential)
// and records why: a warning for reuse, an audit event for every reason.
func (s *Server) revokeFamily(ctx context.Context, p *project.Project, tok *refresh.Token, reason string, u *enduser.User) {
	ctx = context.WithoutCancel(ctx)
	n, err := s.d.Refresh.RevokeFamily(ctx, tok.FamilyID, reason)
	if err != nil {
		s.d.Log.ErrorContext(ctx, "refresh: revoking a family failed", "project_id", p.ID, "family_id", tok.FamilyID, "reason", reason, "error", err.Error())
		return
	}
	if reason == refresh.ReasonReuse {
		s.d.Log.WarnContext(ctx, "refresh: a used refresh credential was presented again; its sign-in is revoked",
			"project_id", p.ID, "family_id", tok.FamilyID, "end_user_id", tok.EndUserID)
	}
	if n == 0 || s.d.Audit == nil {
		return // already revoked: recorded then
	}
	if u == nil {
		u, _ = s.d.RefreshUsers.Get(ctx, p.ID, tok.EndUserID) // best effort: name the user as operators know it
	}
	target := tok.EndUserID
	if u != nil {
		target = u.ExternalID
	}
	if err := s.d.Audit.Record(ctx, audit.Event{Actor: "pingauth", TenantID: p.TenantID, ProjectID: p.ID, Action: audit.RefreshRevoke,
		Target: target, Details: map[string]any{"reason": reason, "family_id": tok.FamilyID}}); err != nil {
		s.d.Log.ErrorContext(ctx, "audit record failed", "action", "refresh.revoke", "error", err.Error())
	}
}

// refreshRevoke is POST /auth/<projectId>/refresh/revoke: the SDK's logout.
// It answers 204 for any well-formed request, so it reveals nothing about
// the credential; a genuine one has its family revoked.
func (s *Server) refreshRevoke(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.corsProject(c)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	cred, err := s.decodeRefresh(c)
	if err != nil && !errors.Is(err, apperr.ErrUnauthorized) {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	if err == nil {
		if tok, err := s.d.Refresh.Lookup(ctx, p.ID, cred); err == nil {
			if _, err := s.d.Refresh.RevokeFamily(ctx, tok.FamilyID, refresh.ReasonLogout); err != nil {
				httpkit.WriteError(c, s.d.Log, err)
				return
			}
		} else if !errors.Is(err, apperr.ErrUnauthorized) {
			httpkit.WriteError(c, s.d.Log, err)
			return
		}
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusNoContent)
}
