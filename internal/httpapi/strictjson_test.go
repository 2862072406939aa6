package httpapi_test

import (
	"errors"
	"testing"

	"github.com/pingstreams/pingauth/internal/httpapi"
)

func TestDecodeStrictJSON(t *testing.T) {
	t.Parallel()
	type body struct {
		A string `json:"a"`
	}
	for _, tc := range []struct {
		in       string
		want     string
		trailing bool
		fail     bool
	}{
		{in: `{"a":"x"}`, want: "x"},
		{in: " \t\r\n{\"a\":\"x\"} \t\r\n", want: "x"},
		{in: `{"a":"x"} }`, trailing: true},
		{in: `{"a":"x"}]`, trailing: true},
		{in: `{"a":"x"}{}`, trailing: true},
		{in: `{"a":"x"} x`, trailing: true},
		{in: "{\"a\":\"x\"}\v", trailing: true}, // not JSON whitespace
		{in: `{"a":"x","b":1}`, fail: true},     // unknown field
		{in: `{"a":`, fail: true},
		{in: ``, fail: true},
	} {
		var b body
		err := httpapi.DecodeStrictJSON([]byte(tc.in), &b)
		switch {
		case tc.trailing:
			if !errors.Is(err, httpapi.ErrTrailingData) {
				t.Errorf("%q: err = %v, want ErrTrailingData", tc.in, err)
			}
		case tc.fail:
			if err == nil || errors.Is(err, httpapi.ErrTrailingData) {
				t.Errorf("%q: err = %v, want a decode error", tc.in, err)
			}
		default:
			if err != nil || b.A != tc.want {
				t.Errorf("%q: got %q, %v; want %q", tc.in, b.A, err, tc.want)
			}
		}
	}
}
