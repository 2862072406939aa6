package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
)

// tenantRotateWriteTimeout is the write deadline of a tenant-wide rotation
// (each project is a few chat-server round trips, four at a time).
const tenantRotateWriteTimeout = 10 * time.Minute

// hourField reads an optional UTC hour of the schedule form.
func hourField(g *gin.Context, name string) (*int, error) {
	v := strings.TrimSpace(g.PostForm(name))
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v, ":00"))
	if err != nil {
		return nil, apperr.Invalid(name, "%s must be a UTC hour (0–24)", name)
	}
	return &n, nil
}

// rotationPolicyUpdate saves (or, with off=1, removes) the project's
// rotation schedule.
func (c *Console) rotationPolicyUpdate(g *gin.Context, p *project.Project) {
	back := "/console/projects/" + url.PathEscape(p.ID)
	fail := func(err error) {
		c.projectFormError(g, p, err, func(d *projectPage, msg string) { d.RotationError = msg })
	}
	if g.PostForm("off") == "1" {
		err := c.d.Admin.DeleteRotationPolicy(g.Request.Context(), c.actor(g), p)
		if err != nil && !errors.Is(err, apperr.ErrNotFound) {
			fail(err)
			return
		}
		redirect(g, back, "rotation_policy_off")
		return
	}
	in := admin.RotationPolicyInput{}
	every := strings.TrimSuffix(strings.TrimSpace(g.PostForm("every_days")), "d")
	n, err := strconv.Atoi(every)
	if err != nil {
		fail(apperr.Invalid("every_days", "every_days must be a whole number of days"))
		return
	}
	in.EveryDays = n
	if in.WindowStartHour, err = hourField(g, "window_start_hour"); err != nil {
		fail(err)
		return
	}
	if in.WindowEndHour, err = hourField(g, "window_end_hour"); err != nil {
		fail(err)
		return
	}
	if _, err := c.d.Admin.SetRotationPolicy(g.Request.Context(), c.actor(g), p, in); err != nil {
		fail(err)
		return
	}
	redirect(g, back, "rotation_policy")
}

type rotationReportPage struct {
	Tenant *project.Tenant
	Report admin.TenantRotation
}

// tenantSecretsRotate is the tenant settings page's "Rotate every project"
// button: every project rotated on the chat server, then the report.
func (c *Console) tenantSecretsRotate(g *gin.Context) {
	ctx := g.Request.Context()
	t, err := c.d.Projects.GetTenant(ctx, g.Param("tenantId"))
	if err != nil {
		c.fail(g, err)
		return
	}
	if err := http.NewResponseController(g.Writer).SetWriteDeadline(time.Now().Add(tenantRotateWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		c.fail(g, fmt.Errorf("tenant rotation: extend write deadline: %w", err))
		return
	}
	var in admin.TenantRotateInput
	if g.PostForm("revoke_now") == "1" {
		zero := 0
		in.GraceSeconds = &zero
	}
	rep, err := c.d.Admin.RotateTenant(ctx, c.actor(g), t.ID, in, nil)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, http.StatusOK, "rotation_report", "Rotation of "+t.Name, rotationReportPage{Tenant: t, Report: rep})
}
