package main

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
)

// invite create prints the one-time link once; list shows the pending
// invitation without it; revoke makes the link unusable.
func TestInviteCommands(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir(), "PINGAUTH_PUBLIC_URL": "https://auth.example.com"}
	if r := runCLI(t, env, "", "tenant", "add", "-id", "globex"); r.code != 0 {
		t.Fatalf("tenant add: %+v", r)
	}
	for _, bad := range [][]string{
		{"invite", "create", "-tenant", "globex", "-email", "x@globex.test"},
		{"invite", "create", "-tenant", "nope", "-email", "x@globex.test", "-role", "tenant-admin"},
		{"invite", "create", "-tenant", "globex", "-email", "x@globex.test", "-role", "platform-admin"},
		{"invite", "create", "-tenant", "globex", "-email", "not-an-email", "-role", "tenant-admin"},
	} {
		if r := runCLI(t, env, "", bad...); r.code == 0 {
			t.Errorf("%v succeeded: %+v", bad, r)
		}
	}
	r := runCLI(t, env, "", "invite", "create", "-tenant", "globex", "-email", "CFO@globex.test", "-role", "tenant-admin")
	link := regexp.MustCompile(`https://auth\.example\.com/console/invite/[A-Za-z0-9_-]{43}`).FindString(r.stdout)
	id := regexp.MustCompile(`inv_[0-9a-f]{24}`).FindString(r.stdout)
	if r.code != 0 || link == "" || id == "" || !strings.Contains(r.stdout, "cfo@globex.test") || !strings.Contains(r.stdout, "emailed: false") {
		t.Fatalf("invite create: %+v", r)
	}
	l := runCLI(t, env, "", "invite", "list", "-tenant", "globex")
	if l.code != 0 || !strings.Contains(l.stdout, id) || strings.Contains(l.stdout, admin.InviteLinkToken(link)) {
		t.Errorf("invite list: %+v", l)
	}
	if r := runCLI(t, env, "", "invite", "revoke", "-tenant", "globex", "-id", id); r.code != 0 {
		t.Fatalf("invite revoke: %+v", r)
	}
	if r := runCLI(t, env, "", "invite", "revoke", "-tenant", "globex", "-id", id); r.code == 0 {
		t.Error("revoked twice")
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Admin.AcceptInvitationNew(context.Background(), admin.InviteLinkToken(link), "cfo-pass-123"); err == nil {
		t.Error("a revoked link created an account")
	}
}
