package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
)

// accountPage is the signed-in operator's own page: password change and API
// tokens (expiry, last use, scope).
type accountPage struct {
	Tokens  []operator.Token
	Tenants []project.Tenant
	// NewValue is a just-created token's value, shown once.
	NewValue    string
	NewToken    *operator.Token
	DefaultDays int
	MaxDays     int
	Form        tokenForm
}

type tokenForm struct {
	Name, Days, TenantID string
	ReadOnly             bool
}

func (c *Console) accountData(g *gin.Context) (*accountPage, error) {
	ctx := g.Request.Context()
	ts, err := c.d.Admin.Tokens(ctx, c.actor(g))
	if err != nil {
		return nil, err
	}
	tenants, err := c.d.Admin.ListTenants(ctx, c.scope(g))
	if err != nil {
		return nil, err
	}
	def, maxTTL := c.d.Operators.TokenLifetimes()
	return &accountPage{Tokens: ts, Tenants: tenants, DefaultDays: int(def.Hours() / 24), MaxDays: int(maxTTL.Hours() / 24)}, nil
}

func (c *Console) renderAccount(g *gin.Context, status int, d *accountPage, errMsg string) {
	c.renderWith(g, status, "account", "Your account", d, pageOpts{err: errMsg})
}

func (c *Console) accountPage(g *gin.Context) {
	d, err := c.accountData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.renderAccount(g, http.StatusOK, d, "")
}

// accountFormError re-renders the account page with a 4xx message.
func (c *Console) accountFormError(g *gin.Context, err error, form tokenForm) {
	c.formError(g, err, func(msg string, status int) {
		d, err := c.accountData(g)
		if err != nil {
			c.fail(g, err)
			return
		}
		d.Form = form
		c.renderAccount(g, status, d, msg)
	})
}

func (c *Console) accountPassword(g *gin.Context) {
	in := admin.OwnPasswordInput{CurrentPassword: g.PostForm("current_password"), NewPassword: g.PostForm("new_password")}
	if err := c.d.Admin.ChangeOwnPassword(g.Request.Context(), c.actor(g), g.GetString(ctxSessionRaw), in); err != nil {
		c.accountFormError(g, err, tokenForm{})
		return
	}
	redirect(g, "/console/account", "own_password")
}

func (c *Console) accountTokenCreate(g *gin.Context) {
	form := tokenForm{Name: g.PostForm("name"), Days: strings.TrimSpace(g.PostForm("days")), TenantID: g.PostForm("tenant_id"), ReadOnly: g.PostForm("read_only") == "1"}
	in := admin.TokenInput{Name: form.Name, TenantID: form.TenantID, ReadOnly: form.ReadOnly}
	if form.Days != "" {
		days, err := strconv.ParseInt(form.Days, 10, 64)
		if err != nil || days <= 0 || days > 100*365 {
			c.accountFormError(g, apperr.Invalid("days", "lifetime must be a whole number of days"), form)
			return
		}
		in.TTLSeconds = days * 86400
	}
	raw, t, err := c.d.Admin.CreateToken(g.Request.Context(), c.actor(g), in)
	if err != nil {
		c.accountFormError(g, err, form)
		return
	}
	d, err := c.accountData(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.NewValue, d.NewToken = raw, t
	c.renderAccount(g, http.StatusCreated, d, "")
}

func (c *Console) accountTokenRevoke(g *gin.Context) {
	if err := c.d.Admin.DeleteToken(g.Request.Context(), c.actor(g), g.Param("tokenId")); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/account", "token_revoked")
}

// operatorTokensPage lists any operator's API tokens (platform admins).
type operatorTokensPage struct {
	Operator *operator.Operator
	Tokens   []operator.Token
}

func (c *Console) operatorTokens(g *gin.Context) {
	ctx := g.Request.Context()
	o, err := c.d.Admin.Operator(ctx, g.Param("operatorId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	ts, err := c.d.Admin.OperatorTokens(ctx, o.ID)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, http.StatusOK, "operator_tokens", "API tokens of "+o.Email, operatorTokensPage{Operator: o.Operator, Tokens: ts})
}

func (c *Console) operatorTokenRevoke(g *gin.Context) {
	id := g.Param("operatorId")
	if err := c.d.Admin.RevokeOperatorToken(g.Request.Context(), c.actor(g), id, g.Param("tokenId")); err != nil {
		c.fail(g, err)
		return
	}
	redirect(g, "/console/operators/"+id+"/tokens", "token_revoked")
}
