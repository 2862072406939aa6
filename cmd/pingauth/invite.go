package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
)

// inviteUsage documents the invitation commands (appended to usage).
const inviteUsage = `  pingauth invite create -tenant ID -email EMAIL -role tenant-admin|tenant-operator   (prints the one-time link once)
  pingauth invite list -tenant ID
  pingauth invite revoke -tenant ID -id INVITATION_ID
`

func (c *cli) inviteCommands() map[string]func(context.Context, *app.App, []string) error {
	return map[string]func(context.Context, *app.App, []string) error{
		"invite create": c.inviteCreate,
		"invite list":   c.inviteList,
		"invite revoke": c.inviteRevoke,
	}
}

func (c *cli) inviteCreate(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("invite create")
	tenant := fs.String("tenant", "", "tenant id")
	email := fs.String("email", "", "invitee email")
	role := fs.String("role", "", "tenant-admin | tenant-operator")
	if err := parse(fs, args, "tenant", "email", "role"); err != nil {
		return err
	}
	inv, err := a.Admin.Invite(ctx, admin.CLI(), *tenant, *email, *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "invitation %s: %s as %s of tenant %s, expires %s (emailed: %v)\n", inv.Invitation.ID, inv.Invitation.Email,
		inv.Invitation.Role, inv.Invitation.TenantID, inv.Invitation.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), inv.Emailed)
	fmt.Fprintf(c.stdout, "one-time link (shown once; give it to the invitee only):\n%s\n", inv.Link)
	return nil
}

func (c *cli) inviteList(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("invite list")
	tenant := fs.String("tenant", "", "tenant id")
	if err := parse(fs, args, "tenant"); err != nil {
		return err
	}
	invs, err := a.Admin.Invitations(ctx, *tenant)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tROLE\tINVITED BY\tEXPIRES")
	for _, i := range invs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", i.ID, i.Email, i.Role, i.InvitedBy, i.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return w.Flush()
}

func (c *cli) inviteRevoke(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("invite revoke")
	tenant := fs.String("tenant", "", "tenant id")
	id := fs.String("id", "", "invitation id (invite list)")
	if err := parse(fs, args, "tenant", "id"); err != nil {
		return err
	}
	if err := a.Admin.RevokeInvitation(ctx, admin.CLI(), *tenant, *id); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "invitation %s revoked\n", *id)
	return nil
}
