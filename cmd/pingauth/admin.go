package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/logging"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
)

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// hashParams overrides argon2 parameters (tests).
	hashParams *enduser.Params
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func (c *cli) open(ctx context.Context) (*app.App, error) {
	cfg, err := config.FromEnv(c.getenv)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	// CLI output is for humans; keep library logs quiet unless they are warnings.
	log := slog.New(logging.Redact(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	return app.Open(ctx, cfg, log, app.Options{HashParams: c.hashParams})
}

func (c *cli) admin(ctx context.Context, args []string) error {
	if len(args) < 1 {
		return usageError{"missing command"}
	}
	sub := ""
	if len(args) > 1 {
		sub = args[1]
	}
	key := args[0] + " " + sub
	cmds := map[string]func(context.Context, *app.App, []string) error{
		"tenant add":            c.tenantAdd,
		"tenant list":           c.tenantList,
		"tenant deny-emails":    c.tenantDenyEmails,
		"project add":           c.projectAdd,
		"project list":          c.projectList,
		"project show":          c.projectShow,
		"project update":        c.projectUpdate,
		"secret set":            c.secretSet,
		"secret rotate":         c.secretRotate,
		"secret versions":       c.secretVersions,
		"user add":              c.userAdd,
		"user list":             c.userList,
		"user revoke-refresh":   c.userRevokeRefresh,
		"operator add":          c.operatorAdd,
		"operator list":         c.operatorList,
		"operator tokens":       c.operatorTokens,
		"operator revoke-token": c.operatorRevokeToken,
		"operator totp-reset":   c.operatorTOTPReset,
		"migrate ": func(context.Context, *app.App, []string) error {
			fmt.Fprintln(c.stdout, "migrations applied")
			return nil
		},
	}
	for k, fn := range c.modeCommands() { // verification modes (modes.go)
		cmds[k] = fn
	}
	for k, fn := range c.chatCommands() { // chat-server connections (chat.go)
		cmds[k] = fn
	}
	for k, fn := range c.inviteCommands() { // operator invitations (invite.go)
		cmds[k] = fn
	}
	for k, fn := range c.rotationCommands() { // scheduled rotation (rotation.go)
		cmds[k] = fn
	}
	fn, ok := cmds[key]
	if !ok {
		return c.groupHelp(args[0], sub, cmds)
	}
	rest := []string{}
	if len(args) > 2 {
		rest = args[2:]
	}
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := fn(ctx, a, rest); err != nil {
		return err
	}
	if hint := runningServersHint(key); hint != "" {
		fmt.Fprintln(c.stderr, hint)
	}
	return nil
}

// runningServersHint says when a running server sees a change made by this
// CLI process (servers cache these settings; see README).
func runningServersHint(key string) string {
	switch key {
	case "mode set", "mapping set", "mapping override", "mapping unset", "idp set", "idp delete":
		return "running pingauth servers on PostgreSQL use this at once (change events); on the embedded SQLite database within PINGAUTH_CACHE_TTL (10s by default)"
	case "role allow", "role remove":
		return "running pingauth servers on PostgreSQL use this at once (change events); on the embedded SQLite database within 30s (they reload the access policy every 30s)"
	}
	return ""
}

// groupHelp answers a command that names a group (such as "mode") but none
// of its subcommands: its usage lines for -h, --help or help; otherwise a
// usage error that lists the subcommands.
func (c *cli) groupHelp(group, sub string, cmds map[string]func(context.Context, *app.App, []string) error) error {
	var subs []string
	for k := range cmds {
		if g, s, _ := strings.Cut(k, " "); g == group && s != "" {
			subs = append(subs, s)
		}
	}
	if len(subs) == 0 {
		return usageError{fmt.Sprintf("unknown command %q", strings.TrimSpace(group+" "+sub))}
	}
	slices.Sort(subs)
	switch sub {
	case "-h", "-help", "--help", "help":
		for _, line := range strings.Split(usage, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "pingauth "+group+" ") {
				fmt.Fprintln(c.stdout, line)
			}
		}
		return nil
	case "":
		return usageError{fmt.Sprintf("%q needs a subcommand: %s", group, strings.Join(subs, ", "))}
	}
	return usageError{fmt.Sprintf("unknown command %q (%q has: %s)", group+" "+sub, group, strings.Join(subs, ", "))}
}

func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (use -flags)", fs.Arg(0))}
	}
	for _, r := range required {
		if fs.Lookup(r).Value.String() == "" {
			return usageError{fmt.Sprintf("-%s is required", r)}
		}
	}
	return nil
}

const cliActor = admin.CLIName

func (c *cli) tenantAdd(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("tenant add")
	id := fs.String("id", "", "tenant id (lowercase slug)")
	name := fs.String("name", "", "display name")
	if err := parse(fs, args, "id"); err != nil {
		return err
	}
	t, err := a.Admin.CreateTenant(ctx, admin.CLI(), admin.TenantInput{ID: *id, Name: *name})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "tenant %s created\n", t.ID)
	return nil
}

func (c *cli) tenantList(ctx context.Context, a *app.App, args []string) error {
	if err := parse(c.flags("tenant list"), args); err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tPROJECTS\tCREATED")
	// Every tenant, one page (paging.MaxLimit) at a time.
	for req := (paging.Request{Limit: paging.MaxLimit}); ; {
		pg, err := a.Admin.TenantPage(ctx, nil, req)
		if err != nil {
			return err
		}
		for _, t := range pg.Items {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", t.ID, t.Name, t.Projects, t.CreatedAt.Format(time.RFC3339))
		}
		if pg.Next == "" {
			break
		}
		req.Cursor = pg.Next
	}
	return w.Flush()
}

// tenantDenyEmails shows or replaces a tenant's email deny-list.
func (c *cli) tenantDenyEmails(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("tenant deny-emails")
	id := fs.String("tenant", "", "tenant id")
	var set multi
	fs.Var(&set, "entry", "an email or domain that never appears in a token (repeatable; replaces the list)")
	clearList := fs.Bool("clear", false, "empty the list")
	if err := parse(fs, args, "tenant"); err != nil {
		return err
	}
	if len(set) == 0 && !*clearList {
		t, err := a.Projects.GetTenant(ctx, *id)
		if err != nil {
			return err
		}
		for _, e := range t.EmailDenyList {
			fmt.Fprintln(c.stdout, e)
		}
		return nil
	}
	norm, err := a.Admin.SetTenantEmailDenyList(ctx, admin.CLI(), *id, set)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "tenant %s: %d deny-list entries\n", *id, len(norm))
	fmt.Fprintf(c.stderr, "running servers apply it at once on PostgreSQL, within PINGAUTH_CACHE_TTL (%s) on the embedded SQLite database\n", a.Config.CacheTTL)
	return nil
}

func (c *cli) projectAdd(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("project add")
	id := fs.String("id", "", "Pingstreams project id")
	name := fs.String("name", "", "project name")
	tenant := fs.String("tenant", "default", "tenant id (created if missing)")
	ttl := fs.Duration("ttl", a.Config.DefaultTTL, "token lifetime (the widget's REST credential; the SDK renews it)")
	refreshTTL := days(project.DefaultRefreshTTL)
	fs.Var(&refreshTTL, "refresh-ttl", "how long password sign-ins are remembered (refresh credentials), e.g. 30d, 12h; 0 turns them off")
	aud := fs.String("audience-base", "", "override the audience base for this project")
	var origins multi
	fs.Var(&origins, "origin", "allowed widget page origin, e.g. https://shop.example.com (repeatable)")
	if err := parse(fs, args, "id", "name"); err != nil {
		return err
	}
	if _, err := a.Admin.EnsureTenant(ctx, admin.CLI(), *tenant); err != nil {
		return err
	}
	rt := int(time.Duration(refreshTTL).Seconds())
	p, err := a.Admin.CreateProject(ctx, admin.CLI(), admin.ProjectInput{ID: *id, TenantID: *tenant, Name: *name, AllowedOrigins: origins,
		TokenTTLSeconds: int(ttl.Seconds()), RefreshTTLSeconds: &rt, AudienceBase: *aud})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "project %s created in tenant %s (audience %s)\n", p.ID, p.TenantID, p.AudienceText(a.Config.AudienceBase))
	fmt.Fprintf(c.stdout, "next: set its shared secret with: pingauth secret set -project %s < secret.txt\n", p.ID)
	return nil
}

func (c *cli) projectList(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("project list")
	tenant := fs.String("tenant", "", "only this tenant")
	search := fs.String("search", "", "only projects whose id or name contains this (case-insensitive)")
	if err := parse(fs, args); err != nil {
		return err
	}
	f := project.ListFilter{Search: *search}
	if *tenant != "" {
		f.TenantIDs = []string{*tenant}
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTENANT\tNAME\tSTATUS\tTTL\tSECRET\tORIGINS")
	// Every matching project, one page (paging.MaxLimit) at a time: three
	// queries per page, however many projects there are.
	for req := (paging.Request{Limit: paging.MaxLimit}); ; {
		pg, err := a.Admin.ProjectPage(ctx, f, req)
		if err != nil {
			return err
		}
		for _, p := range pg.Items {
			sv := "none"
			if p.SecretVersion > 0 {
				sv = fmt.Sprintf("v%d", p.SecretVersion)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.TenantID, p.Name, p.Status, p.TTL(), sv, strings.Join(p.AllowedOrigins, " "))
		}
		if pg.Next == "" {
			break
		}
		req.Cursor = pg.Next
	}
	return w.Flush()
}

func (c *cli) projectShow(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("project show")
	id := fs.String("id", "", "project id")
	if err := parse(fs, args, "id"); err != nil {
		return err
	}
	p, err := a.Projects.Get(ctx, *id)
	if err != nil {
		return err
	}
	vs, err := a.Secrets.Versions(ctx, p.ID)
	if err != nil {
		return err
	}
	out := map[string]any{"project": p, "audience": p.AudienceText(a.Config.AudienceBase), "auth_url": a.Config.PublicURL + "/auth/" + p.ID, "secret_versions": vs}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// projectUpdate changes the given settings of a project; flags not given
// keep their value.
func (c *cli) projectUpdate(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("project update")
	id := fs.String("id", "", "project id")
	name := fs.String("name", "", "project name")
	ttl := fs.Duration("ttl", 0, "token lifetime (the widget's REST credential; the SDK renews it)")
	var refreshTTL days
	fs.Var(&refreshTTL, "refresh-ttl", "how long password sign-ins are remembered, e.g. 30d, 12h; 0 turns refresh credentials off")
	aud := fs.String("audience-base", "", "audience base for this project (\"-\" for the deployment default)")
	status := fs.String("status", "", "active or disabled (disabling revokes the project's refresh credentials)")
	var origins multi
	fs.Var(&origins, "origin", "allowed widget page origin (repeatable; replaces the list; \"-\" for none)")
	if err := parse(fs, args, "id"); err != nil {
		return err
	}
	p, err := a.Projects.Get(ctx, *id)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(set) == 1 {
		return usageError{"nothing to change: give -name, -ttl, -refresh-ttl, -origin, -audience-base or -status"}
	}
	if set["name"] {
		p.Name = *name
	}
	if set["ttl"] {
		p.TokenTTLSeconds = int(ttl.Seconds())
	}
	if set["refresh-ttl"] {
		p.RefreshTTLSeconds = int(time.Duration(refreshTTL).Seconds())
	}
	if set["audience-base"] {
		p.AudienceBase = strings.TrimPrefix(*aud, "-")
	}
	if set["status"] {
		p.Status = *status
	}
	if set["origin"] {
		p.AllowedOrigins = slices.DeleteFunc([]string(origins), func(o string) bool { return o == "-" })
	}
	if err := a.Admin.UpdateProject(ctx, admin.CLI(), p); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "project %s updated (token lifetime %s, password sign-ins remembered %s, %s)\n", p.ID, p.TTL(), refreshText(p), p.Status)
	return nil
}

func refreshText(p *project.Project) string {
	if p.RefreshTTLSeconds == 0 {
		return "never"
	}
	return p.RefreshTTL().String()
}

// days is a duration flag that also accepts whole days ("30d").
type days time.Duration

func (d *days) String() string { return time.Duration(*d).String() }

func (d *days) Set(v string) error {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if k, err := strconv.Atoi(n); err == nil && k >= 0 {
			*d = days(time.Duration(k) * 24 * time.Hour)
			return nil
		}
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 30d or 12h", v)
	}
	*d = days(x)
	return nil
}

// seconds is d in whole seconds (nil stays nil: the deployment default).
func seconds(d *time.Duration) *int {
	if d == nil {
		return nil
	}
	n := int(d.Seconds())
	return &n
}

func graceFlag(fs *flag.FlagSet) *string {
	return fs.String("grace", "", "how long the replaced secret keeps verifying (default PINGAUTH_SECRET_GRACE; 0s revokes it now)")
}

func graceOpt(s string) (*time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return nil, usageError{fmt.Sprintf("-grace %q is not a duration like 24h", s)}
	}
	return &d, nil
}

func (c *cli) secretSet(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("secret set")
	pid := fs.String("project", "", "project id")
	grace := graceFlag(fs)
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	g, err := graceOpt(*grace)
	if err != nil {
		return err
	}
	line, err := c.stdinLine(4096, "secret")
	if err != nil {
		return err
	}
	value := strings.TrimSpace(line)
	if value == "" {
		return usageError{"pipe the shared secret on stdin, e.g. pingauth secret set -project ID < secret.txt"}
	}
	p, err := a.Projects.Get(ctx, *pid)
	if err != nil {
		return err
	}
	meta, err := a.Admin.PutSecret(ctx, admin.CLI(), p, admin.SecretInput{Value: value, GraceSeconds: seconds(g)})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "secret of project %s stored as version %d (backend %s)\n", *pid, meta.Version, meta.Backend)
	return nil
}

func (c *cli) secretRotate(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("secret rotate")
	pid := fs.String("project", "", "project id")
	tenant := fs.String("tenant", "", "or every project of this tenant (staff left): one line per project, then a summary")
	grace := fs.String("grace", "", "how long the replaced secret keeps verifying on pingauth's own /verify only — the chat server switches at once and has no grace window (default PINGAUTH_SECRET_GRACE; 0s ends it now)")
	local := fs.Bool("local", false, "generate the secret here instead of on the chat server (the public chat server never accepts it; only for tokens checked by pingauth's /verify alone)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*pid == "") == (*tenant == "") {
		return usageError{"give exactly one of -project and -tenant"}
	}
	g, err := graceOpt(*grace)
	if err != nil {
		return err
	}
	if *tenant != "" {
		if *local {
			return usageError{"-local rotates one project only"}
		}
		return c.secretRotateTenant(ctx, a, *tenant, seconds(g))
	}
	p, err := a.Projects.Get(ctx, *pid)
	if err != nil {
		return err
	}
	rot, err := a.Admin.RotateSecret(ctx, admin.CLI(), p, admin.RotateInput{GraceSeconds: seconds(g), Local: *local})
	if err != nil {
		return err
	}
	if !rot.ChatServer {
		fmt.Fprintf(c.stderr, "WARNING: %s\n", rot.Warning)
		fmt.Fprintf(c.stderr, "secret of project %s generated locally as version %d; it is printed once below on stdout\n", *pid, rot.Version.Version)
		fmt.Fprintln(c.stdout, string(rot.Value))
		return nil
	}
	verdict := "a probe token passed the chat server's /testauth"
	if !rot.ProbeOK {
		verdict = "BUT a probe token did NOT pass the chat server's /testauth: run pingauth chat test -project " + p.ID
	}
	fmt.Fprintf(c.stdout, "secret of project %s regenerated on the chat server and stored as version %d (switch window %d ms); %s\n",
		p.ID, rot.Version.Version, rot.WindowMillis, verdict)
	fmt.Fprintln(c.stdout, "the grace window of the old version applies only to pingauth's /verify: the chat server accepts only the new secret")
	return nil
}

func (c *cli) secretVersions(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("secret versions")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	vs, err := a.Secrets.Versions(ctx, *pid)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tSOURCE\tBACKEND\tCREATED_BY\tCREATED\tGRACE_UNTIL")
	for _, v := range vs {
		gu := "current"
		if v.GraceUntil != nil {
			gu = v.GraceUntil.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "v%d\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.Source, v.Backend, v.CreatedBy, v.CreatedAt.Format(time.RFC3339), gu)
	}
	return w.Flush()
}

func (c *cli) userAdd(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("user add")
	pid := fs.String("project", "", "project id")
	email := fs.String("email", "", "email (login)")
	username := fs.String("username", "", "username (login)")
	ext := fs.String("external-id", "", "the user's id in your system: the token's _id (default: the email)")
	first := fs.String("firstname", "", "first name")
	last := fs.String("lastname", "", "last name")
	pwStdin := fs.Bool("password-stdin", false, "read the password from stdin")
	var attrs, roles multi
	fs.Var(&attrs, "attr", "custom attribute key=value (repeatable)")
	fs.Var(&roles, "role", "end-user role (repeatable)")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	in := admin.UserInput{Email: *email, Username: *username, ExternalID: *ext, Firstname: *first, Lastname: *last, Roles: roles, Attributes: map[string]any{}}
	for _, kv := range attrs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usageError{fmt.Sprintf("-attr %q must be key=value", kv)}
		}
		in.Attributes[k] = v
	}
	password := ""
	if *pwStdin {
		var err error
		if password, err = c.stdinLine(2048, "password"); err != nil {
			return err
		}
		if password == "" {
			return usageError{"-password-stdin given but stdin was empty"}
		}
	}
	p, err := a.Projects.Get(ctx, *pid)
	if err != nil {
		return err
	}
	in.Password = password
	u, err := a.Admin.CreateUser(ctx, admin.CLI(), p, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "end-user %s added to project %s (_id %s)\n", firstNonEmpty(u.Email, u.Username, u.ExternalID), *pid, u.ExternalID)
	return nil
}

func (c *cli) userList(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("user list")
	pid := fs.String("project", "", "project id")
	search := fs.String("search", "", "filter: email, username, external id or name containing it (1-2 characters: starting with it)")
	limit := fs.Int("limit", paging.DefaultLimit, fmt.Sprintf("page size (1-%d)", paging.MaxLimit))
	cursor := fs.String("cursor", "", "resume after the page that printed this next cursor")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	if *limit < 1 || *limit > paging.MaxLimit {
		return usageError{fmt.Sprintf("-limit must be 1-%d", paging.MaxLimit)}
	}
	page, total, err := a.Users.List(ctx, *pid, enduser.ListOptions{Search: *search, Page: paging.Request{Limit: *limit, Cursor: *cursor}})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EXTERNAL_ID\tEMAIL\tUSERNAME\tNAME\tROLES\tENABLED")
	for _, u := range page.Items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%v\n", u.ExternalID, u.Email, u.Username, strings.TrimSpace(u.Firstname+" "+u.Lastname), strings.Join(u.Roles, ","), u.Enabled)
	}
	fmt.Fprintf(w, "(%d of %s)\n", len(page.Items), total)
	if page.Next != "" {
		fmt.Fprintf(w, "next page: -cursor %s\n", page.Next)
	}
	return w.Flush()
}

// userRevokeRefresh revokes an end-user's remembered sign-ins (refresh
// credentials): the visitor must sign in with the password again.
func (c *cli) userRevokeRefresh(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("user revoke-refresh")
	pid := fs.String("project", "", "project id")
	email := fs.String("email", "", "the end-user's email")
	ext := fs.String("external-id", "", "or the end-user's external id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	if (*email == "") == (*ext == "") {
		return usageError{"give exactly one of -email and -external-id"}
	}
	p, err := a.Projects.Get(ctx, *pid)
	if err != nil {
		return err
	}
	var u *enduser.User
	if *email != "" {
		u, err = a.Users.FindByLogin(ctx, p.ID, *email)
	} else {
		u, err = a.Users.FindByExternalID(ctx, p.ID, *ext)
	}
	if err != nil {
		return err
	}
	n, err := a.Admin.RevokeUserRefresh(ctx, admin.CLI(), p, u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%d remembered sign-in(s) of %s revoked in project %s\n", n, u.ExternalID, p.ID)
	return nil
}

// stdinLine reads one line of at most limit bytes from stdin (secrets and
// passwords never come from flags), without its line ending.
func (c *cli) stdinLine(limit int64, what string) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(c.stdin, limit)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
