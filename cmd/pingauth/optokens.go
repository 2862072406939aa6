package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
)

// operatorTokens lists an operator's API tokens (never their values).
func (c *cli) operatorTokens(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("operator tokens")
	email := fs.String("email", "", "operator email")
	if err := parse(fs, args, "email"); err != nil {
		return err
	}
	o, err := a.Operators.GetByEmail(ctx, *email)
	if err != nil {
		return err
	}
	ts, err := a.Admin.OperatorTokens(ctx, o.ID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tTENANT\tREAD-ONLY\tEXPIRES\tLAST USED")
	for _, t := range ts {
		tenant, last := t.TenantID, "never"
		if tenant == "" {
			tenant = "*"
		}
		if t.LastUsedAt != nil {
			last = t.LastUsedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\n", t.ID, t.Name, tenant, t.ReadOnly, t.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), last)
	}
	return w.Flush()
}

// operatorRevokeToken revokes one API token of an operator (audited).
func (c *cli) operatorRevokeToken(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("operator revoke-token")
	email := fs.String("email", "", "operator email")
	id := fs.String("id", "", "token id (tok_..., from operator tokens)")
	if err := parse(fs, args, "email", "id"); err != nil {
		return err
	}
	o, err := a.Operators.GetByEmail(ctx, *email)
	if err != nil {
		return err
	}
	if err := a.Admin.RevokeOperatorToken(ctx, admin.CLI(), o.ID, *id); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "token %s of %s revoked\n", *id, o.Email)
	return nil
}
