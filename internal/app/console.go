package app

import (
	"context"
	"fmt"
	"github.com/pingstreams/pingauth/internal/admin"
	"time"

	"github.com/pingstreams/pingauth/internal/adminapi"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/web"
)

// registerConsole adds the operator console and the admin API to srv.
func (a *App) registerConsole(srv *httpapi.Server) {
	c, err := web.New(web.Deps{
		Log: a.Log, Projects: a.Projects, Users: a.Users, Secrets: a.Secrets, Audit: a.Audit,
		Operators: a.Operators, RBAC: a.RBAC, PublicURL: a.Config.PublicURL,
		AudienceBase: a.Config.AudienceBase, DefaultTTL: a.Config.DefaultTTL, WidgetScript: a.Config.WidgetScript,
		LoginGuard: a.consoleLoginGuard(), TOTPGuard: a.totpGuard(), PageSecurity: srv.HTMLSecurity(),
		ExtraAPI: a.ModeAdminRoutes(), Modes: a.ModesAdmin(), ProjectChanged: a.projectChanged,
		DenyEmails: a.Config.DenyEmails, Refresh: a.refreshStore(), Admin: a.Admin,
	})
	if err != nil {
		// Templates are embedded in the binary: failing here is a build defect.
		panic(fmt.Sprintf("console templates: %v", err))
	}
	c.Register(srv.Engine())
}

// refreshStore is a.Refresh as the console's interface (nil when absent).
func (a *App) refreshStore() web.RefreshStore {
	if a.Refresh == nil {
		return nil
	}
	return a.Refresh
}

// BootstrapAdmin creates a platform-admin when no operator exists yet; it
// reports whether it did. The password is never logged.
func (a *App) BootstrapAdmin(ctx context.Context, email, password string) (bool, error) {
	n, err := a.Operators.Count(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := a.Admin.CreateOperatorWithRole(ctx, admin.Bootstrap(), email, password, rbac.RolePlatformAdmin, rbac.AllTenants); err != nil {
		return false, err
	}
	return true, nil
}

// RefreshPolicy reloads the access policy every interval until ctx ends, so
// role changes made by the CLI or another instance take effect.
func (a *App) RefreshPolicy(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.RBAC.Reload(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("policy reload failed", "error", err.Error())
			}
		}
	}
}

// ModeAdminRoutes are the verification-mode admin routes, if modes are on.
func (a *App) ModeAdminRoutes() []httpkit.AdminRoute {
	if a.Modes == nil {
		return nil
	}
	return adminapi.ModeAdminRoutes(a.Modes.Admin, web.ActorOf, a.Log)
}

// ModesAdmin is the console's verification-mode admin service (nil if modes are off).
func (a *App) ModesAdmin() web.ModesAdmin {
	if a.Modes == nil {
		return nil
	}
	return a.Modes.Admin
}

// projectChanged drops cached copies of a project row after an update.
func (a *App) projectChanged(projectID string) {
	if a.Modes != nil {
		a.Modes.Bridge.InvalidateProject(projectID)
	}
}
