package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/project"
)

// --- scheduled and tenant-wide rotation ---

// RotationPolicy serves GET /api/v1/projects/:projectId/rotation-policy:
// the schedule (policy null: off), last rotation, next due, overdue.
func (h *ConsoleAPI) RotationPolicy(g *gin.Context, p *project.Project) {
	st, err := h.d.Admin.RotationStatus(g.Request.Context(), p)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, st)
}

// RotationPolicyPut serves PUT /api/v1/projects/:projectId/rotation-policy.
func (h *ConsoleAPI) RotationPolicyPut(g *gin.Context, p *project.Project) {
	var in admin.RotationPolicyInput
	if err := h.bind(g, &in); err != nil {
		h.fail(g, err)
		return
	}
	st, err := h.d.Admin.SetRotationPolicy(g.Request.Context(), h.d.Access.Actor(g), p, in)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, st)
}

// RotationPolicyDelete serves DELETE /api/v1/projects/:projectId/rotation-policy.
func (h *ConsoleAPI) RotationPolicyDelete(g *gin.Context, p *project.Project) {
	if err := h.d.Admin.DeleteRotationPolicy(g.Request.Context(), h.d.Access.Actor(g), p); err != nil {
		h.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// TenantSecretsRotate serves POST /api/v1/tenants/:tenantId/secrets/rotate:
// every project of the tenant rotated on the chat server; the answer is the
// per-project report (200 even when some failed: see each outcome).
func (h *ConsoleAPI) TenantSecretsRotate(g *gin.Context) {
	var in admin.TenantRotateInput
	if g.Request.ContentLength != 0 {
		if err := h.bind(g, &in); err != nil {
			h.fail(g, err)
			return
		}
	}
	// Each project is a few chat-server round trips (four at a time): more
	// than the server's write timeout for a large tenant.
	if err := http.NewResponseController(g.Writer).SetWriteDeadline(time.Now().Add(10 * time.Minute)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		h.fail(g, fmt.Errorf("tenant rotation: extend write deadline: %w", err))
		return
	}
	rep, err := h.d.Admin.RotateTenant(g.Request.Context(), h.d.Access.Actor(g), g.Param("tenantId"), in, nil)
	if err != nil {
		h.fail(g, err)
		return
	}
	h.ok(g, http.StatusOK, rep)
}
