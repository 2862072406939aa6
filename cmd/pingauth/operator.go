package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/pingstreams/pingauth/internal/admin"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/rbac"
)

func (c *cli) operatorAdd(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("operator add")
	email := fs.String("email", "", "operator email (login)")
	role := fs.String("role", "", "platform-admin | tenant-admin | tenant-operator")
	tenant := fs.String("tenant", "", "tenant of a tenant role (not for platform-admin)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from stdin (required)")
	if err := parse(fs, args, "email", "role"); err != nil {
		return err
	}
	if !*pwStdin {
		return usageError{"-password-stdin is required (passwords are never taken from flags)"}
	}
	t := *tenant
	if *role == rbac.RolePlatformAdmin {
		if t != "" && t != rbac.AllTenants {
			return usageError{"platform-admin applies to all tenants; omit -tenant"}
		}
		t = rbac.AllTenants
	} else if t == "" {
		return usageError{"-tenant is required for " + *role}
	}
	password, err := c.stdinLine(2048, "password")
	if err != nil {
		return err
	}
	if password == "" {
		return usageError{"-password-stdin given but stdin was empty"}
	}
	if _, err := a.Admin.CreateOperatorWithRole(ctx, admin.CLI(), *email, password, *role, t); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "operator %s added as %s", strings.ToLower(strings.TrimSpace(*email)), *role)
	if t != rbac.AllTenants {
		fmt.Fprintf(c.stdout, " of tenant %s", t)
	}
	fmt.Fprintln(c.stdout)
	return nil
}

func (c *cli) operatorList(ctx context.Context, a *app.App, args []string) error {
	if err := parse(c.flags("operator list"), args); err != nil {
		return err
	}
	ops, err := a.Operators.List(ctx, nil)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EMAIL\tROLES\tDISABLED")
	for _, o := range ops {
		var roles []string
		for _, as := range a.RBAC.Assignments(o.ID) {
			roles = append(roles, as.Role+"@"+as.Tenant)
		}
		fmt.Fprintf(w, "%s\t%s\t%v\n", o.Email, strings.Join(roles, ","), o.Disabled)
	}
	return w.Flush()
}

// bootstrapAdmin creates the first platform-admin from
// PINGAUTH_BOOTSTRAP_ADMIN_EMAIL / PINGAUTH_BOOTSTRAP_ADMIN_PASSWORD when no
// operator exists yet. The password is never logged.
func (c *cli) bootstrapAdmin(ctx context.Context, a *app.App, log *slog.Logger) error {
	email := strings.TrimSpace(c.getenv("PINGAUTH_BOOTSTRAP_ADMIN_EMAIL"))
	password := c.getenv("PINGAUTH_BOOTSTRAP_ADMIN_PASSWORD")
	if email == "" && password == "" {
		if n, err := a.Operators.Count(ctx); err == nil && n == 0 {
			log.Warn("no console operator yet: create one with `pingauth operator add -email EMAIL -role platform-admin -password-stdin`, " +
				"or set PINGAUTH_BOOTSTRAP_ADMIN_EMAIL and PINGAUTH_BOOTSTRAP_ADMIN_PASSWORD")
		}
		return nil
	}
	if email == "" || password == "" {
		return fmt.Errorf("PINGAUTH_BOOTSTRAP_ADMIN_EMAIL and PINGAUTH_BOOTSTRAP_ADMIN_PASSWORD must be set together")
	}
	created, err := a.BootstrapAdmin(ctx, email, password)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if created {
		log.Info("bootstrap platform-admin created", "email", strings.ToLower(email))
	} else {
		log.Info("operators exist; bootstrap admin variables ignored")
	}
	return nil
}
