package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
)

func TestOperatorAddAndBootstrap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"PINGAUTH_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	runCLI := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: getenv, hashParams: &enduser.TestParams}
		err := c.admin(context.Background(), args)
		code := 0
		if err != nil {
			code = 1
			errb.WriteString(err.Error())
		}
		return code, out.String(), errb.String()
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		ok    bool
	}{
		{"platform admin", "first-admin-pass\n", []string{"operator", "add", "-email", "Root@Example.com", "-role", "platform-admin", "-password-stdin"}, true},
		{"duplicate", "first-admin-pass\n", []string{"operator", "add", "-email", "root@example.com", "-role", "platform-admin", "-password-stdin"}, false},
		{"no password flag", "", []string{"operator", "add", "-email", "x@example.com", "-role", "platform-admin"}, false},
		{"tenant role without tenant", "pass-12345\n", []string{"operator", "add", "-email", "x@example.com", "-role", "tenant-admin", "-password-stdin"}, false},
		{"unknown tenant", "pass-12345\n", []string{"operator", "add", "-email", "x@example.com", "-role", "tenant-admin", "-tenant", "nope", "-password-stdin"}, false},
		{"short password", "short\n", []string{"operator", "add", "-email", "y@example.com", "-role", "platform-admin", "-password-stdin"}, false},
	}
	for _, tc := range cases {
		code, out, errOut := runCLI(tc.stdin, tc.args...)
		if (code == 0) != tc.ok {
			t.Errorf("%s: code %d out %q err %q", tc.name, code, out, errOut)
		}
		if strings.Contains(out+errOut, "first-admin-pass") || strings.Contains(out+errOut, "pass-12345") {
			t.Errorf("%s: password echoed", tc.name)
		}
	}
	_, out, _ := runCLI("", "operator", "list")
	if !strings.Contains(out, "root@example.com") || !strings.Contains(out, "platform-admin@*") {
		t.Errorf("operator list = %q", out)
	}

	// Bootstrap from env creates nothing once operators exist, and never logs the password.
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var logs bytes.Buffer
	c := &cli{getenv: func(k string) string {
		return map[string]string{"PINGAUTH_BOOTSTRAP_ADMIN_EMAIL": "boot@example.com", "PINGAUTH_BOOTSTRAP_ADMIN_PASSWORD": "boot-secret-pass"}[k]
	}}
	if err := c.bootstrapAdmin(context.Background(), a, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Operators.GetByEmail(context.Background(), "boot@example.com"); err == nil {
		t.Error("bootstrap admin created although an operator exists")
	}
	// Fresh database: bootstrap creates a platform-admin.
	cfg2, _ := config.FromEnv(func(k string) string { return map[string]string{"PINGAUTH_DATA_DIR": t.TempDir()}[k] })
	b, err := app.Open(context.Background(), cfg2, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := c.bootstrapAdmin(context.Background(), b, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	o, err := b.Operators.GetByEmail(context.Background(), "boot@example.com")
	if err != nil {
		t.Fatalf("bootstrap admin not created: %v", err)
	}
	if all, _ := b.RBAC.Scope(o.ID); !all {
		t.Error("bootstrap admin is not platform-admin")
	}
	if strings.Contains(logs.String(), "boot-secret-pass") {
		t.Error("bootstrap logged the password")
	}
	// Without bootstrap variables, a database with no operator gets a hint
	// on how to create the first one; one with operators does not.
	none := &cli{getenv: func(string) string { return "" }}
	cfg3, _ := config.FromEnv(func(k string) string { return map[string]string{"PINGAUTH_DATA_DIR": t.TempDir()}[k] })
	empty, err := app.Open(context.Background(), cfg3, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	for _, tc := range []struct {
		a    *app.App
		hint bool
	}{{empty, true}, {b, false}} {
		var out bytes.Buffer
		if err := none.bootstrapAdmin(context.Background(), tc.a, slog.New(slog.NewTextHandler(&out, nil))); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "pingauth operator add"); got != tc.hint {
			t.Errorf("first-operator hint logged = %v, want %v: %s", got, tc.hint, out.String())
		}
	}
}
