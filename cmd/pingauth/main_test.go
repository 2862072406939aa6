package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

type runResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return runResult{code, out.String(), errb.String()}
}

// TestQuickStartFlow runs the README quick-start commands against the embedded default.
func TestQuickStartFlow(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir()}
	steps := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"project", "add", "-id", "5c81593adf767b0017d1aa68", "-name", "Demo shop", "-origin", "https://shop.example.com"}, "project 5c81593adf767b0017d1aa68 created in tenant default"},
		{"my-pingstreams-shared-secret-1234\n", []string{"secret", "set", "-project", "5c81593adf767b0017d1aa68"}, "stored as version 1"},
		{"correct horse battery\n", []string{"user", "add", "-project", "5c81593adf767b0017d1aa68", "-email", "user@example.com", "-external-id", "123", "-firstname", "Andrea", "-password-stdin"}, "_id 123"},
		{"", []string{"project", "list"}, "v1"},
		{"", []string{"user", "list", "-project", "5c81593adf767b0017d1aa68"}, "user@example.com"},
		{"", []string{"secret", "versions", "-project", "5c81593adf767b0017d1aa68"}, "pasted"},
	}
	for _, s := range steps {
		r := runCLI(t, env, s.stdin, s.args...)
		if r.code != 0 || !strings.Contains(r.stdout, s.want) {
			t.Fatalf("%v: code %d stdout %q stderr %q; want %q", s.args, r.code, r.stdout, r.stderr, s.want)
		}
		if strings.Contains(r.stdout+r.stderr, "my-pingstreams-shared-secret-1234") || strings.Contains(r.stdout+r.stderr, "correct horse") {
			t.Fatalf("%v echoed a secret", s.args)
		}
	}
	r := runCLI(t, env, "", "secret", "rotate", "-project", "5c81593adf767b0017d1aa68")
	if r.code != 0 || len(strings.TrimSpace(r.stdout)) != 43 || !strings.Contains(r.stderr, "version 2") {
		t.Fatalf("rotate: %+v", r)
	}
}

func TestCLIGroupHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"mode", "-h"}, "pingauth mode set -project", "pingauth tenant"},
		{[]string{"apikey", "--help"}, "pingauth apikey revoke -project", "pingauth mode"},
		{[]string{"secret", "help"}, "pingauth secret rotate -project", "pingauth user"},
	} {
		r := runCLI(t, nil, "", tc.args...)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) || strings.Contains(r.stdout, tc.not) {
			t.Errorf("%v: code %d stdout %q; want %q and not %q", tc.args, r.code, r.stdout, tc.want, tc.not)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"unknown command", nil, "", []string{"frobnicate"}, 2, "unknown command"},
		{"group without subcommand", nil, "", []string{"mode"}, 2, `"mode" needs a subcommand: set, show`},
		{"unknown subcommand", nil, "", []string{"apikey", "rotate"}, 2, `"apikey" has: create, list, revoke`},
		{"missing flag", map[string]string{"PINGAUTH_DATA_DIR": dir}, "", []string{"project", "add", "-name", "x"}, 2, "-id is required"},
		{"stray argument", map[string]string{"PINGAUTH_DATA_DIR": dir}, "", []string{"project", "list", "extra"}, 2, "unexpected argument"},
		{"bad config", map[string]string{"PINGAUTH_DATA_DIR": dir, "PINGAUTH_TOKEN_TTL": "forever"}, "", []string{"project", "list"}, 1, "PINGAUTH_TOKEN_TTL"},
		{"bad backend", map[string]string{"PINGAUTH_DATA_DIR": dir, "PINGAUTH_SECRET_BACKEND": "s3"}, "", []string{"serve"}, 1, "PINGAUTH_SECRET_BACKEND"},
		{"invalid project id", map[string]string{"PINGAUTH_DATA_DIR": dir}, "", []string{"project", "add", "-id", "a b", "-name", "x"}, 1, "project id must be"},
		{"secret on unknown project", map[string]string{"PINGAUTH_DATA_DIR": dir}, "0123456789abcdef0123\n", []string{"secret", "set", "-project", "nope"}, 1, "not found"},
		{"empty secret", map[string]string{"PINGAUTH_DATA_DIR": dir}, "", []string{"secret", "set", "-project", "nope"}, 2, "pipe the shared secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.env, tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("code %d stderr %q; want %d %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
}
