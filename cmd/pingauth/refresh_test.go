package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
)

// TestRefreshCommands: project add and update set the refresh credential
// lifetime (30d default, 0 off, a 400 naming the field when out of bounds);
// user revoke-refresh ends an end-user's remembered sign-ins, audited.
func TestRefreshCommands(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir()}
	const pid = "5c81593adf767b0017d1aa68"
	ok := func(want string, stdin string, args ...string) {
		t.Helper()
		r := runCLI(t, env, stdin, args...)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("%v: code %d stdout %q stderr %q; want %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	ok("created", "", "project", "add", "-id", pid, "-name", "Shop")
	ok(`"refresh_ttl_seconds": 2592000`, "", "project", "show", "-id", pid)
	ok("created", "", "project", "add", "-id", "other", "-name", "Other", "-refresh-ttl", "12h")
	ok(`"refresh_ttl_seconds": 43200`, "", "project", "show", "-id", "other")
	ok("password sign-ins remembered never", "", "project", "update", "-id", pid, "-refresh-ttl", "0")
	ok(`"refresh_ttl_seconds": 0`, "", "project", "show", "-id", pid)
	ok("remembered 168h0m0s", "", "project", "update", "-id", pid, "-refresh-ttl", "7d", "-ttl", "30m", "-name", "Shop 2")
	ok(`"token_ttl_seconds": 1800`, "", "project", "show", "-id", pid)
	if r := runCLI(t, env, "", "project", "update", "-id", pid, "-refresh-ttl", "1m"); r.code != 1 || !strings.Contains(r.stderr, "refresh_ttl_seconds") {
		t.Fatalf("refresh TTL out of bounds: %+v", r)
	}
	if r := runCLI(t, env, "", "project", "update", "-id", pid); r.code != 2 || !strings.Contains(r.stderr, "nothing to change") {
		t.Fatalf("update without changes: %+v", r)
	}
	ok("added", "visitor-pass-1\n", "user", "add", "-project", pid, "-email", "ann@example.com", "-password-stdin")

	// A remembered sign-in, as POST /auth with "refresh": true makes.
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.Users.FindByLogin(ctx, pid, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := a.Refresh.Issue(ctx, pid, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Close()

	// project add records the same details as the console does.
	if a2, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams}); err != nil {
		t.Fatal(err)
	} else {
		evs, err := a2.Audit.List(ctx, auditQuery("other", "project.create"))
		_ = a2.Close()
		if err != nil || len(evs) != 1 || evs[0].Details["name"] != "Other" || evs[0].Details["refresh_ttl_seconds"] == nil {
			t.Fatalf("project.create audit from the CLI: %+v %v", evs, err)
		}
	}
	ok("1 remembered sign-in(s) of ann@example.com revoked", "", "user", "revoke-refresh", "-project", pid, "-email", "ann@example.com")
	ok("0 remembered sign-in(s)", "", "user", "revoke-refresh", "-project", pid, "-external-id", "ann@example.com")
	if r := runCLI(t, env, "", "user", "revoke-refresh", "-project", pid); r.code != 2 {
		t.Fatalf("revoke-refresh without a user: %+v", r)
	}
	a, err = app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok, err := a.Refresh.Lookup(ctx, pid, iss.Credential)
	if err != nil || a.Refresh.Check(tok) == nil || tok.Reason != "operator" {
		t.Fatalf("credential after revoke-refresh: %+v %v", tok, err)
	}
	evs, err := a.Audit.List(ctx, auditQuery(pid, "enduser.refresh_revoke"))
	if err != nil || len(evs) != 2 || evs[0].Actor != cliActor {
		t.Fatalf("audit: %+v %v", evs, err)
	}
}

func auditQuery(projectID, action string) audit.Query {
	return audit.Query{ProjectID: projectID, Action: action}
}
