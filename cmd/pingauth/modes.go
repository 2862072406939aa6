package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/mapping"
)

// modeUsage documents the verification-mode commands (appended to usage).
const modeUsage = `  pingauth apikey create -project PROJECT_ID [-name NAME]        (prints the key once)
  pingauth apikey list -project PROJECT_ID
  pingauth apikey revoke -project PROJECT_ID -id KEY_ID
  pingauth mode set -project PROJECT_ID -modes password,server,exchange
  pingauth mode show -project PROJECT_ID
  pingauth mapping set -project PROJECT_ID [-id-claim sub] [-prefix shopA|] [-attr plan]... [-firstname-claim C] [-lastname-claim C] [-email-claim C] [-roles-claim C]
  pingauth mapping show -project PROJECT_ID
  pingauth mapping override -project PROJECT_ID -external-id ID [-force-id ID] [-attr k=v]... [-block] [-note TEXT]
  pingauth mapping unset -project PROJECT_ID -external-id ID          (removes an override or block)
  pingauth idp set -project PROJECT_ID -issuer URL -audience AUD [-jwks-url URL | -hs-secret-stdin] [-alg RS256]... [-leeway 60s] [-emails-verified]
  pingauth idp show -project PROJECT_ID
  pingauth idp delete -project PROJECT_ID
  pingauth role allow|remove -project PROJECT_ID -role ROLE
  pingauth role list -project PROJECT_ID
`

func (c *cli) modeCommands() map[string]func(context.Context, *app.App, []string) error {
	return map[string]func(context.Context, *app.App, []string) error{
		"apikey create":    c.apikeyCreate,
		"apikey list":      c.apikeyList,
		"apikey revoke":    c.apikeyRevoke,
		"mode set":         c.modeSet,
		"mode show":        c.modeShow,
		"mapping set":      c.mappingSet,
		"mapping show":     c.mappingShow,
		"mapping override": c.mappingOverride,
		"mapping unset":    c.mappingUnset,
		"idp set":          c.idpSet,
		"idp show":         c.idpShow,
		"idp delete":       c.idpDelete,
		"role allow":       c.roleAllow,
		"role remove":      c.roleRemove,
		"role list":        c.roleList,
	}
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) apikeyCreate(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("apikey create")
	pid := fs.String("project", "", "project id")
	name := fs.String("name", "", "label, e.g. the site's backend")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	k, full, err := a.Admin.Modes().CreateAPIKey(ctx, cliActor, *pid, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "API key %s created for project %s; it is printed once below on stdout (only its hash is stored)\n", k.ID, *pid)
	fmt.Fprintln(c.stdout, full)
	return nil
}

func (c *cli) apikeyList(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("apikey list")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	ks, err := a.Admin.Modes().ListAPIKeys(ctx, *pid)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tCREATED\tLAST_USED\tSTATUS")
	for _, k := range ks {
		used, status := "never", "active"
		if k.LastUsedAt != nil {
			used = k.LastUsedAt.Format(time.RFC3339)
		}
		if k.RevokedAt != nil {
			status = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), used, status)
	}
	return w.Flush()
}

func (c *cli) apikeyRevoke(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("apikey revoke")
	pid := fs.String("project", "", "project id")
	id := fs.String("id", "", "key id (the part after pa_live_, see apikey list)")
	if err := parse(fs, args, "project", "id"); err != nil {
		return err
	}
	k, err := a.Admin.Modes().RevokeAPIKey(ctx, cliActor, *pid, *id)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "API key %s of project %s revoked (running servers stop accepting it at once on PostgreSQL, within PINGAUTH_CACHE_TTL on the embedded SQLite database)\n", k.ID, *pid)
	return nil
}

func (c *cli) modeSet(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("mode set")
	pid := fs.String("project", "", "project id")
	modes := fs.String("modes", "", "comma-separated: password, server, exchange")
	if err := parse(fs, args, "project", "modes"); err != nil {
		return err
	}
	ms, err := a.Admin.Modes().SetModes(ctx, cliActor, *pid, strings.Split(*modes, ","))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "project %s verification modes: %s\n", *pid, strings.Join(ms, ", "))
	return nil
}

func (c *cli) modeShow(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("mode show")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	ms, err := a.Admin.Modes().Modes(ctx, *pid)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, strings.Join(ms, ","))
	return nil
}

func (c *cli) mappingSet(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("mapping set")
	pid := fs.String("project", "", "project id")
	idClaim := fs.String("id-claim", "sub", "claim or field path that becomes _id (sub, email, user.id, ...)")
	prefix := fs.String("prefix", "", "prefix for _id, unique in the tenant (e.g. shopA|)")
	first := fs.String("firstname-claim", "", "claim for firstname (default firstname, then given_name)")
	last := fs.String("lastname-claim", "", "claim for lastname (default lastname, then family_name)")
	email := fs.String("email-claim", "", "claim for email (default email)")
	roles := fs.String("roles-claim", "", "claim for roles (default roles)")
	var attrs multi
	fs.Var(&attrs, "attr", "allowed custom attribute: name, name=claim.path, or * (repeatable; none given: no attributes)")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	m := &mapping.Mapping{ProjectID: *pid, IDClaim: *idClaim, Prefix: *prefix, FirstnameClaim: *first, LastnameClaim: *last,
		EmailClaim: *email, RolesClaim: *roles, Attributes: attrs}
	if err := a.Admin.Modes().SetMapping(ctx, cliActor, m); err != nil {
		return err
	}
	return c.printJSON(m)
}

func (c *cli) mappingShow(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("mapping show")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	m, err := a.Admin.Modes().Mapping(ctx, *pid)
	if err != nil {
		return err
	}
	ovs, err := a.Admin.Modes().Overrides(ctx, *pid)
	if err != nil {
		return err
	}
	return c.printJSON(map[string]any{"mapping": m, "overrides": ovs})
}

func (c *cli) mappingOverride(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("mapping override")
	pid := fs.String("project", "", "project id")
	ext := fs.String("external-id", "", "the user's mapped id before the prefix")
	force := fs.String("force-id", "", "issue exactly this _id (no prefix)")
	block := fs.Bool("block", false, "refuse this user (403)")
	note := fs.String("note", "", "why")
	var attrs multi
	fs.Var(&attrs, "attr", "attribute key=value added to the token (repeatable)")
	if err := parse(fs, args, "project", "external-id"); err != nil {
		return err
	}
	o := &mapping.Override{ProjectID: *pid, ExternalID: *ext, ForceID: *force, Blocked: *block, Note: *note, Attributes: map[string]any{}}
	for _, kv := range attrs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usageError{fmt.Sprintf("-attr %q must be key=value", kv)}
		}
		o.Attributes[k] = v
	}
	if err := a.Admin.Modes().PutOverride(ctx, cliActor, o); err != nil {
		return err
	}
	return c.printJSON(o)
}

func (c *cli) mappingUnset(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("mapping unset")
	pid := fs.String("project", "", "project id")
	ext := fs.String("external-id", "", "the user's mapped id before the prefix")
	if err := parse(fs, args, "project", "external-id"); err != nil {
		return err
	}
	if err := a.Admin.Modes().DeleteOverride(ctx, cliActor, *pid, *ext); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "override of %s removed from project %s\n", *ext, *pid)
	return nil
}

func (c *cli) idpSet(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("idp set")
	pid := fs.String("project", "", "project id")
	issuer := fs.String("issuer", "", "exact iss of the site's tokens")
	jwks := fs.String("jwks-url", "", "JWKS URL of the issuer (https)")
	leeway := fs.Duration("leeway", idp.DefaultLeeway, "clock skew tolerated on exp/nbf/iat")
	emailsVerified := fs.Bool("emails-verified", false, "the issuer only issues verified emails (else email is passed on only with email_verified: true)")
	hsStdin := fs.Bool("hs-secret-stdin", false, "read an HS256 shared secret from stdin instead of using a JWKS")
	var auds, algs multi
	fs.Var(&auds, "audience", "accepted aud (repeatable, at least one)")
	fs.Var(&algs, "alg", "allowed algorithm (repeatable; default RS256 with a JWKS, HS256 with a secret)")
	if err := parse(fs, args, "project", "issuer"); err != nil {
		return err
	}
	var secret []byte
	if *hsStdin {
		line, err := c.stdinLine(4096, "HS secret")
		if err != nil {
			return err
		}
		if secret = []byte(line); len(secret) == 0 {
			return usageError{"-hs-secret-stdin given but stdin was empty"}
		}
	}
	cfg := &idp.Config{ProjectID: *pid, Issuer: *issuer, JWKSURL: *jwks, Audiences: auds, Algorithms: algs, LeewaySeconds: int(leeway.Seconds()), EmailsVerified: *emailsVerified}
	if err := a.Admin.Modes().SetIdP(ctx, cliActor, cfg, secret); err != nil {
		return err
	}
	return c.printJSON(cfg)
}

func (c *cli) idpShow(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("idp show")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	cfg, err := a.Admin.Modes().IdP(ctx, *pid)
	if err != nil {
		return err
	}
	return c.printJSON(cfg)
}

func (c *cli) idpDelete(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("idp delete")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	if err := a.Admin.Modes().DeleteIdP(ctx, cliActor, *pid); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "identity provider of project %s removed\n", *pid)
	return nil
}

func (c *cli) roleFlags(name string, args []string) (pid, role string, err error) {
	fs := c.flags(name)
	p := fs.String("project", "", "project id")
	r := fs.String("role", "", "end-user role")
	if err := parse(fs, args, "project", "role"); err != nil {
		return "", "", err
	}
	return *p, *r, nil
}

func (c *cli) roleAllow(ctx context.Context, a *app.App, args []string) error {
	pid, role, err := c.roleFlags("role allow", args)
	if err != nil {
		return err
	}
	if _, err := a.Admin.Modes().AllowRole(ctx, cliActor, pid, role); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "end-users with role %s may authenticate to project %s (users without an allowed role may not)\n", role, pid)
	return nil
}

func (c *cli) roleRemove(ctx context.Context, a *app.App, args []string) error {
	pid, role, err := c.roleFlags("role remove", args)
	if err != nil {
		return err
	}
	if err := a.Admin.Modes().RemoveRole(ctx, cliActor, pid, role); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "role rule %s removed from project %s\n", role, pid)
	return nil
}

func (c *cli) roleList(ctx context.Context, a *app.App, args []string) error {
	fs := c.flags("role list")
	pid := fs.String("project", "", "project id")
	if err := parse(fs, args, "project"); err != nil {
		return err
	}
	rs, err := a.Admin.Modes().RoleRules(ctx, *pid)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		fmt.Fprintln(c.stdout, "no role rules: every end-user may authenticate")
		return nil
	}
	for _, r := range rs {
		fmt.Fprintln(c.stdout, r.Role)
	}
	return nil
}
