package paging

import (
	"errors"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit, cursor string
		want          int
		field         string
	}{
		{"", "", DefaultLimit, ""},
		{"1", "", 1, ""},
		{"200", "", 200, ""},
		{"0", "", 0, "limit"},
		{"201", "", 0, "limit"},
		{"x", "", 0, "limit"},
		{"-3", "", 0, "limit"},
		{"", string(make([]byte, maxCursor+1)), 0, "cursor"},
	} {
		r, err := Parse(tc.limit, tc.cursor)
		if tc.field != "" {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Field != tc.field || !errors.Is(err, apperr.ErrInvalid) {
				t.Errorf("Parse(%q): err %v, want invalid %s", tc.limit, err, tc.field)
			}
			continue
		}
		if err != nil || r.Limit != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want limit %d", tc.limit, r, err, tc.want)
		}
	}
}

func TestCursorRoundTripAndRejects(t *testing.T) {
	t.Parallel()
	c := Encode("acme", "a,b\x00\"c", "")
	keys, err := Request{Cursor: c}.Keys(3)
	if err != nil || len(keys) != 3 || keys[0] != "acme" || keys[1] != "a,b\x00\"c" || keys[2] != "" {
		t.Fatalf("Keys = %q, %v", keys, err)
	}
	if k, err := (Request{}).Keys(2); k != nil || err != nil {
		t.Fatalf("empty cursor: %q %v", k, err)
	}
	for _, bad := range []string{c + "!", "bm90LWpzb24", Encode("one")} {
		if _, err := (Request{Cursor: bad}).Keys(3); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("cursor %q: err %v, want invalid", bad, err)
		}
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	key := func(s *string) []string { return []string{*s} }
	p := Cut([]string{"a", "b", "c"}, 2, key)
	if len(p.Items) != 2 || p.Next == "" {
		t.Fatalf("page %+v", p)
	}
	if k, _ := (Request{Cursor: p.Next}).Keys(1); k[0] != "b" {
		t.Fatalf("next resumes after %q, want b", k)
	}
	if p := Cut([]string{"a", "b"}, 2, key); p.Next != "" || len(p.Items) != 2 {
		t.Fatalf("last page %+v", p)
	}
	if p := Cut[string](nil, 2, key); p.Items == nil || p.Next != "" {
		t.Fatalf("empty page %+v", p)
	}
}

func TestAfterAndBound(t *testing.T) {
	t.Parallel()
	if got := After("email", "id"); got != "(email, id) > (?, ?)" {
		t.Fatalf("After = %q", got)
	}
	if b := Bound(1001, 1000); b.Exact || b.String() != "1000+" {
		t.Fatalf("Bound over = %+v %s", b, b)
	}
	if b := Bound(7, 1000); !b.Exact || b.String() != "7" {
		t.Fatalf("Bound under = %+v", b)
	}
	if r := (Request{Limit: 5000}).Bounded(); r.Limit != MaxLimit {
		t.Fatalf("Bounded = %d", r.Limit)
	}
}
