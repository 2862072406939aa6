package logging

import (
	"strings"
	"testing"
)

// TestScrubRefreshCredentials: a refresh credential inside a message or an
// error is replaced, the text around it kept.
func TestScrubRefreshCredentials(t *testing.T) {
	cred := "prt_" + strings.Repeat("a2", 13) + "_" + strings.Repeat("Zz9-_", 8) + "abc"
	got := Scrub("refresh failed for " + cred + " (revoked)")
	if strings.Contains(got, cred) || got != "refresh failed for "+Redacted+" (revoked)" {
		t.Fatalf("Scrub = %q", got)
	}
	if s := "prt_short and print_this"; Scrub(s) != s {
		t.Fatalf("ordinary text changed: %q", Scrub(s))
	}
}
