package web

import (
	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/project"
)

// chatSyncState is the project's chat-server sync state for its page; a
// read failure is logged and shows nothing (the page still renders).
func (c *Console) chatSyncState(g *gin.Context, p *project.Project) admin.ChatSyncState {
	st, err := c.d.Admin.ChatSync(g.Request.Context(), p.ID, p.TenantID)
	if err != nil {
		c.d.Log.WarnContext(g.Request.Context(), "reading the chat-server sync state failed", "project_id", p.ID, "error", err.Error())
	}
	return st
}

// degradedRotations lists, for the dashboard banner, the projects of the
// operator's tenants (scope; nil: all) whose new chat-server secret is not
// stored.
func (c *Console) degradedRotations(g *gin.Context, scope []string) []admin.RotationDegraded {
	if all, _ := c.d.RBAC.Scope(operatorOf(g).ID); !all && scope == nil {
		scope = []string{} // no tenant: nothing (nil would mean every tenant)
	}
	rs, err := c.d.Admin.DegradedRotations(g.Request.Context(), scope)
	if err != nil {
		c.d.Log.WarnContext(g.Request.Context(), "reading degraded rotations failed", "error", err.Error())
	}
	return rs
}
