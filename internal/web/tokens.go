package web

import (
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/operator"
)

// tokenOf returns the API token of a guarded request (nil: a session).
func tokenOf(g *gin.Context) *operator.Token {
	if v, ok := g.Get(ctxToken); ok {
		if t, ok := v.(*operator.Token); ok {
			return t
		}
	}
	return nil
}

// tokenMethodAllowed refuses every state change made with a read-only API
// token (only GET and HEAD pass); part of the guard.
func tokenMethodAllowed(t *operator.Token, method string) error {
	if t.ReadOnly && !safeMethod(method) {
		return apperr.Forbidden("this API token is read-only")
	}
	return nil
}

// tokenDomainAllowed keeps a tenant-limited API token inside its tenant:
// platform-wide routes and other tenants are refused, whatever roles the
// operator holds elsewhere; part of the guard.
func tokenDomainAllowed(t *operator.Token, scope Scope, domain string) error {
	if t == nil || t.TenantID == "" {
		return nil
	}
	if scope == ScopeGlobal || domain != t.TenantID {
		return apperr.Forbidden("this API token is limited to tenant " + t.TenantID)
	}
	return nil
}

// limitScope is the tenant filter of a request made with a token limited to
// tenant: that tenant if the operator's roles reach it, else none.
func limitScope(all bool, tenants []string, tenant string) []string {
	if all || slices.Contains(tenants, tenant) {
		return []string{tenant}
	}
	return []string{}
}
