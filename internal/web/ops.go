package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
)

// Every admin operation is a method of internal/admin's Service; what is
// left here is HTTP-specific.

// importUsers runs admin.ImportUsers for an upload. Without the longer
// write deadline the connection would be cut at the server's write timeout
// while the rows kept being created: the operator would see an error for an
// import that went on to succeed, with no report. (A writer without
// deadlines, as in handler unit tests, has none to extend.)
func (c *Console) importUsers(g *gin.Context, p *project.Project, r io.Reader) (*admin.ImportReport, error) {
	err := http.NewResponseController(g.Writer).SetWriteDeadline(time.Now().Add(importWriteTimeout))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, fmt.Errorf("import: extend write deadline: %w", err)
	}
	return c.d.Admin.ImportUsers(g.Request.Context(), c.actor(g), p, r)
}

// auditQuery builds an audit query limited to what the operator may read.
func (c *Console) auditQuery(g *gin.Context, projectID string, limit int, before int64) (audit.Query, error) {
	return c.d.Admin.AuditQuery(g.Request.Context(), projectID, limit, before, c.scope(g), func(tenant string) bool {
		return c.can(g, tenant, rbac.ObjAudit, rbac.ActRead)
	})
}
