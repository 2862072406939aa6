package web

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
)

// The operator's second factor (TOTP) in the console:
//
//   - sign-in: an operator with TOTP enrolled gets, after the password, a
//     half-signed-in (pending) session that grants nothing but the code step
//     (/console/login/totp); a valid code or recovery code replaces it with
//     a session that passed the second factor. The JSON API takes the code
//     in POST /api/v1/session's "code".
//   - enrolment on /console/account/totp: start (QR code, otpauth URI and
//     manual key, shown once), confirm with a code (recovery codes shown
//     once); the session then counts as having passed the second factor and
//     the operator's other sessions end. Disabling needs a current code.
//   - enforcement (guard): platform-wide (PINGAUTH_REQUIRE_TOTP) or per
//     tenant (tenant settings), a session that did not pass the second
//     factor is sent to enrolment for everything but enrolment and sign-out.
//   - operator API tokens are created only by sessions that passed the
//     second factor (admin.Actor.SecondFactor, checked by admin.CreateToken).
//
// Codes go through Deps.TOTPGuard (per IP, per operator, lockout after
// consecutive wrong codes), like passwords through LoginGuard.

const (
	ctxSecondFactor  = "web.second_factor"
	totpScope        = "totp"
	consoleTOTPLogin = "/console/login/totp"
	accountTOTPPath  = "/console/account/totp"
)

// totpExempt are the routes a session that did not pass a required second
// factor may still use: enrolment, sign-out, who am I.
func totpExempt(r Route) bool {
	switch r.Method + " " + r.Path {
	case "GET " + accountTOTPPath, "POST " + accountTOTPPath + "/start", "POST " + accountTOTPPath + "/confirm",
		"POST /console/logout", "DELETE /api/v1/session", "GET /api/v1/me":
		return true
	}
	return false
}

// secondFactorOK enforces TOTP for the guarded request (tenant is the
// route's tenant, "" for none). It writes the refusal (a redirect to
// enrolment for console pages) and returns false when the request may not
// go on.
func (c *Console) secondFactorOK(g *gin.Context, r Route, op *operator.Operator, viaToken bool, tenant string) bool {
	if g.GetBool(ctxSecondFactor) || totpExempt(r) {
		return true
	}
	ctx := g.Request.Context()
	required, err := c.d.Admin.SecondFactorRequired(ctx, op.ID, tenant)
	if err != nil {
		c.fail(g, err)
		return false
	}
	if !required {
		return true
	}
	if viaToken {
		// Tokens are created only by sessions that passed the second factor;
		// the operator must still have it.
		enrolled, err := c.d.Admin.TOTPEnrolled(ctx, op.ID)
		if err != nil {
			c.fail(g, err)
			return false
		}
		if enrolled {
			return true
		}
	}
	if !isAPI(g) && safeMethod(g.Request.Method) {
		g.Redirect(http.StatusSeeOther, accountTOTPPath+"?required=1")
		g.Abort()
		return false
	}
	c.fail(g, apperr.Forbidden("a TOTP second factor is required: enrol it on "+accountTOTPPath+" and sign in with a code"))
	return false
}

// checkCode runs one second-factor check of o under the TOTP guard and
// audits refusals the check itself did not see (rate limit, lockout).
func (c *Console) checkCode(g *gin.Context, o *operator.Operator, check func() error) error {
	ran := false
	err := c.d.TOTPGuard.Attempt(g.ClientIP(), totpScope, o.ID, func() error {
		ran = true
		return check()
	})
	if err != nil && !ran && errors.Is(err, apperr.ErrRateLimited) {
		c.d.Admin.SecondFactorFailed(g.Request.Context(), admin.Actor{OperatorID: o.ID, Email: o.Email}, "rate limited or locked out")
	}
	return err
}

// completeSignIn checks the code of a half-signed-in session and, when it
// passes, replaces the session with one that passed the second factor.
func (c *Console) completeSignIn(g *gin.Context, o *operator.Operator, pendingRaw, code string) (string, error) {
	ctx := g.Request.Context()
	a := admin.Actor{OperatorID: o.ID, Email: o.Email}
	if err := c.checkCode(g, o, func() error { return c.d.Admin.VerifySecondFactor(ctx, a, code) }); err != nil {
		return "", err
	}
	raw, err := c.d.Operators.CompleteSecondFactor(ctx, pendingRaw)
	if err != nil {
		return "", err
	}
	c.setSessionCookie(g, raw, int(c.d.Operators.SessionTTL().Seconds()))
	_ = c.d.Audit.Record(ctx, audit.Event{Actor: o.Email, Action: audit.OperatorLogin, Target: o.Email, Details: map[string]any{"second_factor": true}})
	return raw, nil
}

type totpLoginData struct {
	Next  string
	Email string
}

// pendingOf returns the half-signed-in session of the request's cookie.
func (c *Console) pendingOf(g *gin.Context) (*operator.Operator, string, bool) {
	raw, err := g.Cookie(c.cookie)
	if err != nil {
		return nil, "", false
	}
	_, o, err := c.d.Operators.LookupPending(g.Request.Context(), raw)
	if err != nil {
		return nil, "", false
	}
	return o, raw, true
}

func (c *Console) totpLoginPage(g *gin.Context) {
	o, _, ok := c.pendingOf(g)
	if !ok {
		g.Redirect(http.StatusSeeOther, consoleLoginPath+"?next="+url.QueryEscape(safeNext(g.Query("next"))))
		return
	}
	c.renderWith(g, http.StatusOK, "login_totp", "Second factor", totpLoginData{Next: safeNext(g.Query("next")), Email: o.Email},
		pageOpts{csrf: c.loginCSRF(g)})
}

func (c *Console) totpLoginSubmit(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	next := safeNext(g.PostForm("next"))
	o, pendingRaw, ok := c.pendingOf(g)
	if !ok {
		c.renderLogin(g, http.StatusUnauthorized, loginData{Next: next}, "Your sign-in expired. Please sign in again.")
		return
	}
	d := totpLoginData{Next: next, Email: o.Email}
	want, _ := g.Cookie(loginCSRFCookie)
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(g.PostForm(csrfFormField))) != 1 {
		c.renderWith(g, http.StatusForbidden, "login_totp", "Second factor", d, pageOpts{csrf: c.loginCSRF(g), err: "Your sign-in form expired. Please try again."})
		return
	}
	if _, err := c.completeSignIn(g, o, pendingRaw, g.PostForm("code")); err != nil {
		status, _ := statusOf(err)
		msg := apperr.Message(err)
		if status >= 500 {
			msg = "Sign-in is temporarily unavailable."
		}
		c.renderWith(g, status, "login_totp", "Second factor", d, pageOpts{csrf: c.loginCSRF(g), err: msg})
		return
	}
	http.SetCookie(g.Writer, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: consoleLoginPath, MaxAge: -1, HttpOnly: true, Secure: c.secure})
	g.Redirect(http.StatusSeeOther, next)
}

// guardedCode runs a signed-in operator's code check (enrolment, disable)
// under the TOTP guard: a wrong code (the admin service answers
// apperr.ErrInvalid, a form error) counts towards the lockout too. It
// returns the check's own error, or the guard's refusal.
func (c *Console) guardedCode(g *gin.Context, check func() error) error {
	var inner error
	err := c.checkCode(g, operatorOf(g), func() error {
		inner = check()
		if errors.Is(inner, apperr.ErrInvalid) {
			return operator.ErrBadCode
		}
		return inner
	})
	if err != nil && inner != nil {
		return inner
	}
	return err
}

// --- account page ---

type accountTOTPPage struct {
	Status   admin.TOTPStatus
	Required bool // sent here by the enforcement
	// Passed: this session passed the second factor.
	Passed bool
	// Enrolment is set right after "start" (the only time the secret is
	// shown); QR is its otpauth URI as a PNG data: URL.
	Enrolment *admin.TOTPEnrolment
	QR        template.URL
	// Confirming: an enrolment is started (the code form is shown).
	Confirming bool
	// Codes are the recovery codes, shown once after confirmation.
	Codes []string
}

func (c *Console) accountTOTPData(g *gin.Context) (*accountTOTPPage, error) {
	st, err := c.d.Admin.TOTPStatus(g.Request.Context(), c.actor(g))
	if err != nil {
		return nil, err
	}
	return &accountTOTPPage{Status: st, Required: g.Query("required") == "1", Passed: g.GetBool(ctxSecondFactor)}, nil
}

func (c *Console) accountTOTPRender(g *gin.Context, status int, d *accountTOTPPage, errMsg string) {
	c.renderWith(g, status, "account_totp", "Two-factor authentication", d, pageOpts{err: errMsg})
}

func (c *Console) accountTOTPPage(g *gin.Context) {
	d, err := c.accountTOTPData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.accountTOTPRender(g, http.StatusOK, d, "")
}

func (c *Console) accountTOTPStart(g *gin.Context) {
	en, err := c.d.Admin.StartTOTP(g.Request.Context(), c.actor(g))
	if err != nil {
		c.accountTOTPError(g, err, false)
		return
	}
	png, err := qrcode.Encode(en.URI, qrcode.Medium, 256)
	if err != nil {
		c.fail(g, err)
		return
	}
	d, err := c.accountTOTPData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.Enrolment, d.Confirming = en, true
	// A PNG data: URL (the console CSP allows img-src data:); html/template
	// would refuse a plain string here.
	d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	c.accountTOTPRender(g, http.StatusOK, d, "")
}

// accountTOTPError re-renders the account page with a 4xx message
// (confirming: keep the code form of a started enrolment).
func (c *Console) accountTOTPError(g *gin.Context, err error, confirming bool) {
	c.formError(g, err, func(msg string, status int) {
		d, derr := c.accountTOTPData(g)
		if derr != nil {
			c.fail(g, derr)
			return
		}
		d.Confirming = confirming
		c.accountTOTPRender(g, status, d, msg)
	})
}

func (c *Console) accountTOTPConfirm(g *gin.Context) {
	ctx := g.Request.Context()
	a := c.actor(g)
	var codes []string
	err := c.guardedCode(g, func() (err error) {
		codes, err = c.d.Admin.ConfirmTOTP(ctx, a, g.PostForm("code"))
		return err
	})
	if err != nil {
		c.accountTOTPError(g, err, true)
		return
	}
	if raw := g.GetString(ctxSessionRaw); raw != "" {
		if err := c.d.Operators.MarkSecondFactor(ctx, raw, a.OperatorID); err != nil {
			c.fail(g, err)
			return
		}
		g.Set(ctxSecondFactor, true)
	}
	d, err := c.accountTOTPData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.Codes = codes
	c.accountTOTPRender(g, http.StatusOK, d, "")
}

func (c *Console) accountTOTPDisable(g *gin.Context) {
	ctx := g.Request.Context()
	if err := c.guardedCode(g, func() error { return c.d.Admin.DisableTOTP(ctx, c.actor(g), g.PostForm("code")) }); err != nil {
		c.accountTOTPError(g, err, false)
		return
	}
	redirect(g, accountTOTPPath, "totp_disabled")
}

// --- platform admin and tenant settings ---

func (c *Console) operatorResetTOTP(g *gin.Context) {
	if err := c.d.Admin.ResetTOTP(g.Request.Context(), c.actor(g), g.Param("operatorId")); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/operators", "totp_reset")
}

func (c *Console) tenantRequireTOTPUpdate(g *gin.Context) {
	t := g.Param("tenantId")
	if err := c.d.Admin.SetTenantRequireTOTP(g.Request.Context(), c.actor(g), t, g.PostForm("require_totp") == "on"); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/tenants/"+url.PathEscape(t)+"/settings", "require_totp")
}
