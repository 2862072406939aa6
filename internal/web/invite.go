package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/operator"
)

// inviteCSRFCookie is the double-submit token of the invitation form of a
// visitor who is not signed in (a signed-in one uses the session's token).
const inviteCSRFCookie = "pingauth_invite"

// invitePageData is the invitation page.
type invitePageData struct {
	Token      string
	Email      string
	TenantName string
	Role       string
	Invitation *operator.Invitation
	// SignedInAs is the email of the current session ("" when none);
	// Matches says it is the invited account.
	SignedInAs string
	Matches    bool
	LoginURL   string
}

// inviteSession returns the operator and raw token of the request's live
// session, if any, and records them for the layout (nav, CSRF).
func (c *Console) inviteSession(g *gin.Context) (*operator.Operator, string) {
	raw, err := g.Cookie(c.cookie)
	if err != nil || raw == "" {
		return nil, ""
	}
	_, o, err := c.d.Operators.LookupSession(g.Request.Context(), raw)
	if err != nil {
		return nil, ""
	}
	g.Set(ctxOperator, o)
	g.Set(ctxSessionRaw, raw)
	return o, raw
}

func (c *Console) inviteData(tok string, p *admin.PendingInvitation, o *operator.Operator) *invitePageData {
	d := &invitePageData{Token: tok, Email: p.Invitation.Email, TenantName: p.TenantName, Role: p.Invitation.Role, Invitation: p.Invitation,
		LoginURL: consoleLoginPath + "?next=" + url.QueryEscape(admin.InvitePath+tok)}
	if o != nil {
		d.SignedInAs = o.Email
		d.Matches = o.Email == p.Invitation.Email
	}
	return d
}

// renderInvite renders the invitation page; a visitor without a session
// gets a fresh double-submit token.
func (c *Console) renderInvite(g *gin.Context, status int, d *invitePageData, raw, errMsg string) {
	o := pageOpts{err: errMsg}
	if raw == "" {
		v := randomString()
		http.SetCookie(g.Writer, &http.Cookie{Name: inviteCSRFCookie, Value: v, Path: admin.InvitePath, MaxAge: 3600,
			HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
		o.csrf = v
	}
	c.renderWith(g, status, "invite", "Invitation", d, o)
}

// invitePage serves GET /console/invite/:token. The page is the same for a
// new email and an existing account (set a password, or sign in as the
// invited email); a session of the invited account sees an Accept button.
func (c *Console) invitePage(g *gin.Context) {
	g.Header("Referrer-Policy", "no-referrer") // the path is the capability
	tok := g.Param("token")
	o, raw := c.inviteSession(g)
	p, err := c.d.Admin.InvitationByToken(g.Request.Context(), tok)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.renderInvite(g, http.StatusOK, c.inviteData(tok, p, o), raw, "")
}

// inviteAccept serves POST /console/invite/:token: action=accept (signed
// in as the invited account) or a new password (+ confirmation) that
// creates the invitee's account, then signs it in.
func (c *Console) inviteAccept(g *gin.Context) {
	g.Header("Referrer-Policy", "no-referrer")
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	tok := g.Param("token")
	o, raw := c.inviteSession(g)
	want := ""
	if raw != "" {
		want = operator.CSRFToken(raw)
	} else {
		want, _ = g.Cookie(inviteCSRFCookie)
	}
	if got := g.PostForm(csrfFormField); want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		c.fail(g, apperr.Forbidden("your form expired or the CSRF token is invalid; reload the invitation link and try again"))
		return
	}
	ctx := g.Request.Context()
	p, err := c.d.Admin.InvitationByToken(ctx, tok)
	if err != nil {
		c.fail(g, err)
		return
	}
	d := c.inviteData(tok, p, o)
	rerender := func(err error) {
		c.formError(g, err, func(msg string, status int) { c.renderInvite(g, status, d, raw, msg) })
	}
	if g.PostForm("action") == "accept" {
		if o == nil {
			rerender(apperr.Unauthorized("sign in as " + p.Invitation.Email + " to accept this invitation"))
			return
		}
		if err := c.d.Admin.AcceptInvitationSignedIn(ctx, c.actor(g), tok); err != nil {
			rerender(err)
			return
		}
		redirect(g, "/console/", "invite_accepted")
		return
	}
	pw := g.PostForm("password")
	if pw != g.PostForm("password_confirm") {
		rerender(apperr.Invalid("password_confirm", "the two passwords differ"))
		return
	}
	created, err := c.d.Admin.AcceptInvitationNew(ctx, tok, pw)
	if err != nil {
		rerender(err)
		return
	}
	if _, _, _, err := c.login(g, created.Email, pw); err != nil { // a new account has no second factor yet
		// The account exists and holds the role; only the automatic
		// sign-in failed (rate limit, outage).
		if errors.Is(err, apperr.ErrRateLimited) || errors.Is(err, apperr.ErrUnavailable) {
			g.Redirect(http.StatusSeeOther, consoleLoginPath)
			return
		}
		c.fail(g, err)
		return
	}
	redirect(g, "/console/", "invite_accepted")
}

// invitationRevoke serves the members page's Revoke button.
func (c *Console) invitationRevoke(g *gin.Context) {
	t := g.Param("tenantId")
	if err := c.d.Admin.RevokeInvitation(g.Request.Context(), c.actor(g), t, g.Param("invitationId")); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/tenants/"+url.PathEscape(t)+"/operators", "invite_revoked")
}
