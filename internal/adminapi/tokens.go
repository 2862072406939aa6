package adminapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
)

// PasswordChange serves POST /api/v1/me/password: the signed-in operator's
// own password (other sessions end, API tokens are revoked).
func (h *ConsoleAPI) PasswordChange(g *gin.Context) {
	var in admin.OwnPasswordInput
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	if err := h.d.Admin.ChangeOwnPassword(g.Request.Context(), h.d.Access.Actor(g), h.d.Access.SessionToken(g), in); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// OperatorTokens serves GET /api/v1/operators/:operatorId/tokens (platform
// admins).
func (h *ConsoleAPI) OperatorTokens(g *gin.Context) {
	ts, err := h.d.Admin.OperatorTokens(g.Request.Context(), g.Param("operatorId"))
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, gin.H{"tokens": ts})
}

// OperatorTokenDelete serves DELETE
// /api/v1/operators/:operatorId/tokens/:tokenId (platform admins).
func (h *ConsoleAPI) OperatorTokenDelete(g *gin.Context) {
	if err := h.d.Admin.RevokeOperatorToken(g.Request.Context(), h.d.Access.Actor(g), g.Param("operatorId"), g.Param("tokenId")); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}
