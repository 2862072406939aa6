package rotation_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/rotation"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p     rotation.Policy
		field string
	}{
		{rotation.Policy{EveryDays: 30, WindowStart: 2, WindowEnd: 4}, ""},
		{rotation.Policy{EveryDays: 1, WindowStart: 0, WindowEnd: 24}, ""},
		{rotation.Policy{EveryDays: 7, WindowStart: 22, WindowEnd: 2}, ""},
		{rotation.Policy{EveryDays: 0, WindowStart: 2, WindowEnd: 4}, "every_days"},
		{rotation.Policy{EveryDays: 366, WindowStart: 2, WindowEnd: 4}, "every_days"},
		{rotation.Policy{EveryDays: 30, WindowStart: 24, WindowEnd: 4}, "window_start_hour"},
		{rotation.Policy{EveryDays: 30, WindowStart: -1, WindowEnd: 4}, "window_start_hour"},
		{rotation.Policy{EveryDays: 30, WindowStart: 2, WindowEnd: 25}, "window_end_hour"},
		{rotation.Policy{EveryDays: 30, WindowStart: 3, WindowEnd: 3}, "window_end_hour"},
	} {
		err := tc.p.Validate()
		var ae *apperr.Error
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.p, err)
		case tc.field != "" && (!errors.As(err, &ae) || ae.Field != tc.field || !errors.Is(err, apperr.ErrInvalid)):
			t.Errorf("%+v: %v, want invalid %s", tc.p, err, tc.field)
		}
	}
}

func TestWindowArithmetic(t *testing.T) {
	t.Parallel()
	night := rotation.Policy{EveryDays: 30, WindowStart: 2, WindowEnd: 4}
	wrap := rotation.Policy{EveryDays: 1, WindowStart: 22, WindowEnd: 2}
	for _, tc := range []struct {
		name      string
		p         rotation.Policy
		t         string
		in        bool
		from, end string
	}{
		{"before the window", night, "2026-12-01T01:30:00Z", false, "2026-12-01T02:00:00Z", "2026-12-01T04:00:00Z"},
		{"inside", night, "2026-12-01T03:10:00Z", true, "2026-12-01T03:10:00Z", "2026-12-01T04:00:00Z"},
		{"at the end: next day", night, "2026-12-01T04:00:00Z", false, "2026-12-02T02:00:00Z", "2026-12-02T04:00:00Z"},
		{"wrap: late evening", wrap, "2026-12-01T23:00:00Z", true, "2026-12-01T23:00:00Z", "2026-12-02T02:00:00Z"},
		{"wrap: after midnight", wrap, "2026-12-02T01:00:00Z", true, "2026-12-02T01:00:00Z", "2026-12-02T02:00:00Z"},
		{"wrap: midday", wrap, "2026-12-02T12:00:00Z", false, "2026-12-02T22:00:00Z", "2026-12-03T02:00:00Z"},
		{"other zone is read as UTC", night, "2026-12-01T04:30:00+02:00", true, "2026-12-01T02:30:00Z", "2026-12-01T04:00:00Z"},
	} {
		tm := at(tc.t)
		if got := tc.p.InWindow(tm); got != tc.in {
			t.Errorf("%s: InWindow %v", tc.name, got)
		}
		if got := tc.p.WindowFrom(tm); !got.Equal(at(tc.from)) {
			t.Errorf("%s: WindowFrom %v, want %s", tc.name, got, tc.from)
		}
		if got := tc.p.WindowEndAfter(tm); !got.Equal(at(tc.end)) {
			t.Errorf("%s: WindowEndAfter %v, want %s", tc.name, got, tc.end)
		}
	}
	if got := night.DueAfter(at("2026-11-01T15:00:00Z")); !got.Equal(at("2026-12-02T02:00:00Z")) {
		t.Errorf("DueAfter: %v", got)
	}
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in         string
		start, end int
		bad        bool
	}{
		{"02-04", 2, 4, false}, {"2-4", 2, 4, false}, {"02:00-04:00", 2, 4, false}, {"22–02", 22, 2, false},
		{"0204", 0, 0, true}, {"a-b", 0, 0, true}, {"", 0, 0, true},
	} {
		s, e, err := rotation.ParseWindow(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (s != tc.start || e != tc.end)) {
			t.Errorf("%q: %d %d %v", tc.in, s, e, err)
		}
		var ae *apperr.Error
		if tc.bad && (!errors.As(err, &ae) || ae.Field != "window") {
			t.Errorf("%q: error %v does not name window", tc.in, err)
		}
	}
}
