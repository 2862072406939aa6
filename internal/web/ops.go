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

// importUsers runs admin.ImportUsers for an upload. The guard already gave
// the request the import deadlines (extendImportDeadlines); they are
// renewed here, once the upload has been received, for the import itself.
func (c *Console) importUsers(g *gin.Context, p *project.Project, r io.Reader) (*admin.ImportReport, error) {
	if err := extendImportDeadlines(g); err != nil {
		return nil, err
	}
	return c.d.Admin.ImportUsers(g.Request.Context(), c.actor(g), p, r)
}

// isImportRoute reports whether a route's requests get the import deadlines.
func isImportRoute(method, path string) bool {
	return method == http.MethodPost &&
		(path == "/console/projects/:projectId/users/import" || path == "/api/v1/projects/:projectId/users/import")
}

// extendImportDeadlines replaces the server's read and write timeouts of an
// import request with importTimeout. The upload may take longer than the
// read timeout to arrive, and the import (every password through the
// bounded hash pool) longer than the write timeout. Without this, the body
// was cut at the read timeout (a partial file), and once the body was read
// the same deadline cancelled the request's context mid-import; a cut
// connection showed an error for an import that went on. (A writer without
// deadlines, as in handler unit tests, has none to extend.)
func extendImportDeadlines(g *gin.Context) error {
	rc := http.NewResponseController(g.Writer)
	until := time.Now().Add(importTimeout)
	if err := rc.SetReadDeadline(until); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("import: extend read deadline: %w", err)
	}
	if err := rc.SetWriteDeadline(until); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("import: extend write deadline: %w", err)
	}
	return nil
}

// auditQuery builds an audit query limited to what the operator may read.
func (c *Console) auditQuery(g *gin.Context, projectID string, limit int, before int64) (audit.Query, error) {
	return c.d.Admin.AuditQuery(g.Request.Context(), projectID, limit, before, c.scope(g), func(tenant string) bool {
		return c.can(g, tenant, rbac.ObjAudit, rbac.ActRead)
	})
}
