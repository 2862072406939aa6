package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/rotation"
)

// rotationCommands: scheduled rotation of a project's secret.
func (c *cli) rotationCommands() map[string]func(context.Context, *app.App, []string) error {
	return map[string]func(context.Context, *app.App, []string) error{
		"secret schedule": c.secretSchedule,
	}
}

// everyDays reads "30d" or "30" as whole days.
func everyDays(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "d"))
	if err != nil {
		return 0, usageError{fmt.Sprintf("-every %q is not a number of days like 30d", s)}
	}
	return n, nil
}

func (c *cli) secretSchedule(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("secret schedule")
	pid := fs.String("project", "", "project id")
	every := fs.String("every", "", "rotate every N days (30d)")
	window := fs.String("window", "02-04", "daily window in UTC hours, from-to (22-02 wraps past midnight)")
	off := fs.Bool("off", false, "turn scheduled rotation off")
	show := fs.Bool("show", false, "only show the schedule, last rotation and next due")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	p, err := a.Projects.Get(ctx, *pid)
	if err != nil {
		return err
	}
	switch {
	case *off:
		if err := a.Admin.DeleteRotationPolicy(ctx, admin.CLI(), p); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "scheduled rotation of project %s turned off\n", p.ID)
		return nil
	case *show || *every == "":
		if !*show {
			return usageError{"give -every 30d (with -window 02-04), -off or -show"}
		}
		st, err := a.Admin.RotationStatus(ctx, p)
		if err != nil {
			return err
		}
		c.printSchedule(p.ID, st)
		return nil
	}
	n, err := everyDays(*every)
	if err != nil {
		return err
	}
	start, end, err := rotation.ParseWindow(*window)
	if err != nil {
		return err
	}
	st, err := a.Admin.SetRotationPolicy(ctx, admin.CLI(), p, admin.RotationPolicyInput{EveryDays: n, WindowStartHour: &start, WindowEndHour: &end})
	if err != nil {
		return err
	}
	c.printSchedule(p.ID, st)
	fmt.Fprintln(c.stdout, "running `pingauth serve` instances rotate it on the chat server in the window (one of them per rotation)")
	return nil
}

func (c *cli) printSchedule(projectID string, st admin.RotationStatus) {
	last := "never"
	if st.LastRotation != nil {
		last = st.LastRotation.UTC().Format(time.RFC3339)
	}
	if st.Policy == nil {
		fmt.Fprintf(c.stdout, "project %s: scheduled rotation off; last rotation %s\n", projectID, last)
		return
	}
	due := st.NextDue.UTC().Format(time.RFC3339)
	if st.Overdue {
		due += " (OVERDUE)"
	}
	fmt.Fprintf(c.stdout, "project %s: rotated every %d days between %s; last rotation %s; next due %s\n",
		projectID, st.Policy.EveryDays, st.Policy.Window(), last, due)
	if st.Policy.LastOutcome != "" {
		fmt.Fprintf(c.stdout, "last scheduled attempt: %s %s\n", st.Policy.LastOutcome, st.Policy.LastError)
	}
}

// secretRotateTenant is `secret rotate -tenant T`: every project of the
// tenant, one line per project as it finishes, then a summary.
func (c *cli) secretRotateTenant(ctx context.Context, a *app.App, tenant string, grace *int) error {
	fmt.Fprintf(c.stdout, "rotating every project of tenant %s on the chat server (%d at a time)...\n", tenant, admin.TenantRotationConcurrency)
	rep, err := a.Admin.RotateTenant(ctx, admin.CLI(), tenant, admin.TenantRotateInput{GraceSeconds: grace}, func(r admin.ProjectRotation) {
		line := fmt.Sprintf("%-8s %s", r.Outcome, r.ProjectID)
		if r.Version != 0 {
			line += fmt.Sprintf(" v%d", r.Version)
		}
		if r.Reason != "" {
			line += ": " + r.Reason
		}
		fmt.Fprintln(c.stdout, line)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "tenant %s: %d rotated, %d failed, %d skipped\n", tenant, rep.OK, rep.Failed, rep.Skipped)
	fmt.Fprintln(c.stdout, "the grace window of the old versions applies only to pingauth's /verify: the chat server accepts only the new secrets")
	if rep.Failed > 0 {
		return errors.New("some projects were not rotated (see above); rotate them again once the reason is fixed")
	}
	return nil
}
