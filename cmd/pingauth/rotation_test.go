package main

import (
	"strings"
	"testing"
)

// secret schedule sets, shows and removes a project's schedule, refusing
// bad input by name; secret rotate -tenant prints a line per project and a
// summary (here: skipped, no connection) and says where the grace window
// applies.
func TestCLIScheduleAndTenantRotate(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir()}
	for _, s := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"project", "add", "-id", "shop-a", "-name", "A"}, 0, "created"},
		{[]string{"project", "add", "-id", "shop-b", "-name", "B"}, 0, "created"},
		{[]string{"secret", "schedule", "-project", "shop-a", "-every", "0d"}, 1, "every_days must be between 1 and 365"},
		{[]string{"secret", "schedule", "-project", "shop-a", "-every", "30d", "-window", "2to4"}, 1, `window "2to4" is not like 02-04`},
		{[]string{"secret", "schedule", "-project", "shop-a", "-every", "thirty"}, 2, "is not a number of days"},
		{[]string{"secret", "schedule", "-project", "shop-a"}, 2, "give -every 30d"},
		{[]string{"secret", "schedule", "-project", "shop-a", "-every", "30d", "-window", "22-02"}, 0, "rotated every 30 days between 22:00–02:00 UTC; last rotation never; next due"},
		{[]string{"secret", "schedule", "-project", "shop-a", "-show"}, 0, "rotated every 30 days"},
		{[]string{"secret", "schedule", "-project", "shop-a", "-off"}, 0, "turned off"},
		{[]string{"secret", "schedule", "-project", "shop-a", "-show"}, 0, "scheduled rotation off"},
		{[]string{"secret", "rotate", "-project", "shop-a", "-tenant", "default"}, 2, "exactly one of -project and -tenant"},
		{[]string{"secret", "rotate", "-tenant", "default", "-local"}, 2, "-local rotates one project only"},
		{[]string{"secret", "rotate", "-tenant", "nope"}, 1, "not found"},
		{[]string{"secret", "rotate", "-tenant", "default"}, 0, "skipped  shop-b: no chat-server connection"},
		{[]string{"secret", "rotate", "-h"}, 2, "pingauth's own /verify only — the chat server switches at once"},
	} {
		r := runCLI(t, env, "", s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("%v: code %d stdout %q stderr %q; want %d and %q", s.args, r.code, r.stdout, r.stderr, s.code, s.want)
		}
	}
	r := runCLI(t, env, "", "secret", "rotate", "-tenant", "default")
	if !strings.Contains(r.stdout, "skipped  shop-a") || !strings.Contains(r.stdout, "tenant default: 0 rotated, 0 failed, 2 skipped") {
		t.Fatalf("tenant rotation report: %q", r.stdout)
	}
}
