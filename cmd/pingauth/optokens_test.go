package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
)

func TestOperatorTokensCLI(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	run := func(stdin string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: getenv, hashParams: &enduser.TestParams}
		err := c.admin(context.Background(), args)
		return out.String() + errb.String(), err
	}
	if _, err := run("operator-pass-123\n", "operator", "add", "-email", "ops@example.com", "-role", "platform-admin", "-password-stdin"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	o, err := a.Operators.GetByEmail(context.Background(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, tok, err := a.Admin.CreateToken(context.Background(), admin.Actor{OperatorID: o.ID, Email: o.Email, SecondFactor: true}, admin.TokenInput{Name: "ci", TenantID: "", ReadOnly: true})
	_ = a.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := run("", "operator", "tokens", "-email", "ops@example.com")
	if err != nil || !strings.Contains(out, tok.ID) || !strings.Contains(out, "never") || strings.Contains(out, raw) {
		t.Fatalf("operator tokens: %v\n%s", err, out)
	}
	if _, err := run("", "operator", "revoke-token", "-email", "ops@example.com", "-id", "tok_nope"); err == nil {
		t.Error("revoking an unknown token succeeded")
	}
	if out, err := run("", "operator", "revoke-token", "-email", "ops@example.com", "-id", tok.ID); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke-token: %v %s", err, out)
	}
	if out, _ := run("", "operator", "tokens", "-email", "ops@example.com"); strings.Contains(out, tok.ID) {
		t.Errorf("revoked token still listed:\n%s", out)
	}
}
