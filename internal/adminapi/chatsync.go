package adminapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/project"
)

// ProjectChatSync serves GET /api/v1/projects/:projectId/chat-sync: the
// project's ban sync jobs (blocked end-users on the chat server; outstanding
// first), their counts by state, and a rotation whose secret is not stored.
func (h *ConsoleAPI) ProjectChatSync(g *gin.Context, p *project.Project) {
	st, err := h.d.Admin.ChatSync(g.Request.Context(), p.ID, p.TenantID)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, st)
}
