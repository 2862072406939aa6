package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/operator"
)

// TestOperatorTOTPReset: the CLI removes an enrolled operator's TOTP (the
// store no longer has it) and refuses an operator without one.
func TestOperatorTOTPReset(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir()}
	runCLI := func(stdin string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }, hashParams: &enduser.TestParams}
		err := c.admin(context.Background(), args)
		return out.String(), err
	}
	if _, err := runCLI("operator-pass-1\n", "operator", "add", "-email", "root@example.com", "-role", "platform-admin", "-password-stdin"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI("", "operator", "totp-reset", "-email", "root@example.com"); err == nil || !strings.Contains(err.Error(), "no TOTP") {
		t.Fatalf("reset without TOTP: %v", err)
	}
	c := &cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(k string) string { return env[k] }, hashParams: &enduser.TestParams}
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := a.Operators.GetByEmail(ctx, "root@example.com")
	key, err := a.TOTP.Begin(ctx, o.ID)
	if err == nil {
		_, err = a.TOTP.Confirm(ctx, o.ID, operator.TOTPCode(key, time.Now()))
	}
	_ = a.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCLI("", "operator", "totp-reset", "-email", "root@example.com")
	if err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("reset: %q %v", out, err)
	}
	a, err = c.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if ok, _ := a.TOTP.Enrolled(ctx, o.ID); ok {
		t.Fatal("still enrolled after the CLI reset")
	}
}
