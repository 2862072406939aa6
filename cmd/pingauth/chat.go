package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/chatserver"
)

// chatCommands manage chat-server connections: how pingauth regenerates a
// project's secret on the chat server (the only secret it accepts).
func (c *cli) chatCommands() map[string]func(context.Context, *app.App, []string) error {
	return map[string]func(context.Context, *app.App, []string) error{
		"chat connect":    c.chatConnect,
		"chat show":       c.chatShow,
		"chat test":       c.chatTest,
		"chat disconnect": c.chatDisconnect,
	}
}

// chatScope reads -tenant or -project (exactly one) and the tenant it
// belongs to.
func chatScope(ctx context.Context, a *app.App, tenant, projectID string) (scope, id, tenantID string, err error) {
	switch {
	case (tenant == "") == (projectID == ""):
		return "", "", "", usageError{"give exactly one of -tenant and -project"}
	case tenant != "":
		if _, err := a.Admin.Tenant(ctx, tenant); err != nil {
			return "", "", "", err
		}
		return chatserver.ScopeTenant, tenant, tenant, nil
	default:
		p, err := a.Projects.Get(ctx, projectID)
		if err != nil {
			return "", "", "", err
		}
		return chatserver.ScopeProject, p.ID, p.TenantID, nil
	}
}

func (c *cli) chatConnect(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("chat connect")
	tenant := fs.String("tenant", "", "tenant whose projects use this connection")
	pid := fs.String("project", "", "or one project (overrides its tenant's connection)")
	base := fs.String("url", chatserver.DefaultBaseURL, "chat server base URL")
	email := fs.String("email", "", "a dashboard user of the project(s) (agent or above; admin to ban visitors); its password is read from stdin")
	tokenStdin := fs.Bool("token-stdin", false, "read a session token (JWT ...) from stdin instead of a password")
	if err := parse(fs, args); err != nil {
		return err
	}
	scope, id, tid, err := chatScope(ctx, a, *tenant, *pid)
	if err != nil {
		return err
	}
	line, err := c.stdinLine(4096, "credential")
	if err != nil {
		return err
	}
	in := admin.ChatConnectionInput{BaseURL: *base}
	if *tokenStdin {
		in.Token = strings.TrimSpace(line)
	} else {
		in.Email, in.Password = *email, line
	}
	conn, err := a.Admin.SetChatConnection(ctx, admin.CLI(), scope, id, tid, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "chat-server connection of %s %s set: %s (%s)\n", scope, id, conn.BaseURL, conn.Auth)
	fmt.Fprintf(c.stdout, "check it with: pingauth chat test -project <id>\n")
	return nil
}

func (c *cli) chatShow(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("chat show")
	tenant := fs.String("tenant", "", "tenant")
	pid := fs.String("project", "", "or project")
	if err := parse(fs, args); err != nil {
		return err
	}
	scope, id, _, err := chatScope(ctx, a, *tenant, *pid)
	if err != nil {
		return err
	}
	conn, err := a.Admin.ChatConnection(ctx, scope, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s %s: %s, %s %s, set by %s at %s\n", scope, id, conn.BaseURL, conn.Auth, conn.Email, conn.UpdatedBy, conn.UpdatedAt.Format("2006-01-02T15:04:05Z07:00"))
	return nil
}

func (c *cli) chatTest(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("chat test")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	p, err := a.Projects.Get(ctx, *pid)
	if err != nil {
		return err
	}
	res, err := a.Admin.TestChatConnection(ctx, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s (%s connection, %s)\n", res.Message, res.Scope, res.BaseURL)
	if !res.OK {
		return fmt.Errorf("chat-server connection of project %s is not usable for rotation", p.ID)
	}
	return nil
}

func (c *cli) chatDisconnect(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("chat disconnect")
	tenant := fs.String("tenant", "", "tenant")
	pid := fs.String("project", "", "or project")
	if err := parse(fs, args); err != nil {
		return err
	}
	scope, id, tid, err := chatScope(ctx, a, *tenant, *pid)
	if err != nil {
		return err
	}
	if err := a.Admin.DeleteChatConnection(ctx, admin.CLI(), scope, id, tid); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "chat-server connection of %s %s removed\n", scope, id)
	return nil
}
