package main

import (
	"context"
	"fmt"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
)

// operatorTOTPReset removes an operator's TOTP second factor and ends their
// sessions (audited as totp.reset by "cli"): the way back in when the only
// platform admin lost their device and recovery codes.
func (c *cli) operatorTOTPReset(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("operator totp-reset")
	email := fs.String("email", "", "operator email")
	if err := parse(fs, args, "email"); err != nil {
		return err
	}
	o, err := a.Operators.GetByEmail(ctx, *email)
	if err != nil {
		return err
	}
	if err := a.Admin.ResetTOTP(ctx, admin.CLI(), o.ID); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "TOTP of %s removed; they enrol again at their next sign-in\n", o.Email)
	return nil
}
