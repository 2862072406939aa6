package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/operator"
)

// loginScope separates operator logins from end-user logins in the guard.
const loginScope = "console"

// login checks credentials, starts a server-side session and sets the
// cookie. For an operator with TOTP enrolled the session is only
// half-signed-in (due: the code step must follow, totp.go).
func (c *Console) login(g *gin.Context, email, password string) (_ *operator.Operator, _ string, due bool, _ error) {
	ctx := g.Request.Context()
	var o *operator.Operator
	err := c.d.LoginGuard.Attempt(g.ClientIP(), loginScope, email, func() (err error) {
		o, err = c.d.Operators.Authenticate(ctx, email, password)
		return err
	})
	if err != nil {
		return nil, "", false, err
	}
	enrolled, err := c.d.Admin.TOTPEnrolled(ctx, o.ID)
	if err != nil {
		return nil, "", false, err
	}
	if enrolled {
		raw, err := c.d.Operators.NewPendingSession(ctx, o.ID)
		if err != nil {
			return nil, "", false, err
		}
		return o, raw, true, nil
	}
	raw, _, err := c.d.Operators.NewSession(ctx, o.ID)
	if err != nil {
		return nil, "", false, err
	}
	c.setSessionCookie(g, raw, int(c.d.Operators.SessionTTL().Seconds()))
	_ = c.d.Audit.Record(ctx, audit.Event{Actor: o.Email, Action: audit.OperatorLogin, Target: o.Email})
	return o, raw, false, nil
}

// endSession revokes the current session (server side) and clears the cookie.
func (c *Console) endSession(g *gin.Context) {
	if raw := g.GetString(ctxSessionRaw); raw != "" {
		if err := c.d.Operators.RevokeSession(g.Request.Context(), raw); err != nil {
			c.d.Log.ErrorContext(g.Request.Context(), "logout failed", "error", err.Error())
		}
		_ = c.d.Audit.Record(g.Request.Context(), audit.Event{Actor: operatorOf(g).Email, Action: audit.OperatorLogout, Target: operatorOf(g).Email})
	}
	c.setSessionCookie(g, "", -1)
}

func randomString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// loginCSRF issues the pre-session (double-submit) token that protects the
// login form against login CSRF.
func (c *Console) loginCSRF(g *gin.Context) string {
	v := randomString()
	http.SetCookie(g.Writer, &http.Cookie{Name: loginCSRFCookie, Value: v, Path: consoleLoginPath, MaxAge: 3600,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	return v
}

type loginData struct {
	Next  string
	Email string
}

// safeNext keeps redirects after login inside the console.
func safeNext(s string) string {
	if strings.HasPrefix(s, "/console/") && !strings.HasPrefix(s, "//") && !strings.ContainsAny(s, "\\\r\n") {
		return s
	}
	return "/console/"
}

func (c *Console) loginPage(g *gin.Context) {
	// Already signed in: go straight to the console.
	if raw, err := g.Cookie(c.cookie); err == nil {
		if _, _, err := c.d.Operators.LookupSession(g.Request.Context(), raw); err == nil {
			g.Redirect(http.StatusSeeOther, safeNext(g.Query("next")))
			return
		}
	}
	c.renderLogin(g, http.StatusOK, loginData{Next: safeNext(g.Query("next"))}, "")
}

func (c *Console) renderLogin(g *gin.Context, status int, d loginData, errMsg string) {
	c.renderWith(g, status, "login", "Sign in", d, pageOpts{csrf: c.loginCSRF(g), err: errMsg})
}

func (c *Console) loginSubmit(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	d := loginData{Next: safeNext(g.PostForm("next")), Email: g.PostForm("email")}
	want, _ := g.Cookie(loginCSRFCookie)
	got := g.PostForm(csrfFormField)
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		c.renderLogin(g, http.StatusForbidden, d, "Your sign-in form expired. Please try again.")
		return
	}
	_, raw, due, err := c.login(g, d.Email, g.PostForm("password"))
	if err != nil {
		status, _ := statusOf(err)
		msg := apperr.Message(err)
		if status >= 500 {
			msg = "Sign-in is temporarily unavailable."
		}
		c.renderLogin(g, status, d, msg)
		return
	}
	if due {
		// The half-signed-in cookie: it opens only the code step.
		c.setSessionCookie(g, raw, int(operator.PendingSessionTTL.Seconds()))
		g.Redirect(http.StatusSeeOther, consoleTOTPLogin+"?next="+url.QueryEscape(d.Next))
		return
	}
	http.SetCookie(g.Writer, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: consoleLoginPath, MaxAge: -1, HttpOnly: true, Secure: c.secure})
	g.Redirect(http.StatusSeeOther, d.Next)
}

func (c *Console) logout(g *gin.Context) {
	c.endSession(g)
	g.Redirect(http.StatusSeeOther, consoleLoginPath)
}

var _ = apperr.ErrInvalid
