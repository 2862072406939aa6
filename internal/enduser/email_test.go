package enduser

import (
	"net/mail"
	"testing"
)

var addressSeeds = []struct {
	s     string
	plain bool
}{
	{"ann@example.com", true},
	{"first.last+tag_x@mail-1.example.co.uk", true},
	{"a@b", true},
	{"0@0", true},
	{".ann@example.com", false},
	{"ann.@example.com", false},
	{"a..b@example.com", false},
	{"ann@example..com", false},
	{"ann@.example.com", false},
	{"ann@example.com.", false},
	{"ann@ex_ample.com", false},
	{"@example.com", false},
	{"ann@", false},
	{"ann@b@c", false},
	{"Ann@example.com", false},
	{`"a b"@example.com`, false},
	{"ann@[127.0.0.1]", false},
	{"Ann <ann@example.com>", false},
	{"zoë@example.com", false},
	{"ann@example.com (comment)", false},
}

func TestPlainAddress(t *testing.T) {
	t.Parallel()
	for _, a := range addressSeeds {
		if got := plainAddress(a.s); got != a.plain {
			t.Errorf("plainAddress(%q) = %v, want %v", a.s, got, a.plain)
		}
		checkPlainAddress(t, a.s)
	}
}

// checkPlainAddress: an address plainAddress accepts must be one that
// mail.ParseAddress accepts and returns unchanged (the slow path's test).
func checkPlainAddress(t *testing.T, s string) {
	t.Helper()
	if !plainAddress(s) {
		return
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		t.Fatalf("plainAddress(%q) but mail.ParseAddress gives %v, %v", s, a, err)
	}
}

func FuzzPlainAddress(f *testing.F) {
	for _, a := range addressSeeds {
		f.Add(a.s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkPlainAddress(t, s)
	})
}
