package httpkit_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/httpkit"
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
		err := httpkit.DecodeStrictJSON([]byte(tc.in), &b)
		switch {
		case tc.trailing:
			if !errors.Is(err, httpkit.ErrTrailingData) {
				t.Errorf("%q: err = %v, want ErrTrailingData", tc.in, err)
			}
		case tc.fail:
			if err == nil || errors.Is(err, httpkit.ErrTrailingData) {
				t.Errorf("%q: err = %v, want a decode error", tc.in, err)
			}
		default:
			if err != nil || b.A != tc.want {
				t.Errorf("%q: got %q, %v; want %q", tc.in, b.A, err, tc.want)
			}
		}
	}
}

// TestDecodeStrictJSONRejectsCaseDuplicatesAndInvalidUTF8: the three rules
// encoding/json did not enforce, each a *JSONError naming the member.
func TestDecodeStrictJSONRejectsCaseDuplicatesAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	type inner struct {
		ID    string         `json:"id"`
		Attrs map[string]any `json:"attrs"`
		Tags  []string       `json:"tags"`
	}
	type body struct {
		A     string `json:"a"`
		Inner *inner `json:"inner"`
	}
	cases := []struct {
		name, in, field string
	}{
		{"case of a top-level name", `{"A":"x"}`, "A"},
		{"case of a nested name", `{"inner":{"Id":"x"}}`, "inner.Id"},
		{"duplicate top-level name", `{"a":"x","a":"y"}`, "a"},
		{"duplicate nested name", `{"inner":{"id":"x","id":"y"}}`, "inner.id"},
		{"duplicate map key", `{"inner":{"attrs":{"k":1,"k":1}}}`, "inner.attrs.k"},
		{"duplicate key inside an any value", `{"inner":{"attrs":{"o":[{"k":1,"k":2}]}}}`, "inner.attrs.o.0.k"},
		{"duplicate through an escape", `{"a":"x","\u0061":"y"}`, "a"},
		{"invalid UTF-8 value", "{\"a\":\"\xff\xfe\"}", "a"},
		{"invalid UTF-8 other order", "{\"a\":\"\xfe\xff\"}", "a"},
		{"truncated UTF-8 sequence", "{\"inner\":{\"id\":\"caf\xc3\"}}", "inner.id"},
		{"invalid UTF-8 in an array", "{\"inner\":{\"tags\":[\"ok\",\"\xed\xa0\x80\"]}}", "inner.tags.1"},
		{"lone surrogate escape", `{"a":"\udc00"}`, "a"},
		{"invalid UTF-8 in a map value", "{\"inner\":{\"attrs\":{\"k\":\"\xff\"}}}", "inner.attrs.k"},
		{"invalid UTF-8 in a name", "{\"\xff\":1}", "body"},
		{"type mismatch", `{"inner":{"id":5}}`, "inner.id"},
		{"not an object", `"x"`, "body"},
		{"malformed", `{"a":`, "a"},
		{"empty", ``, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b body
			err := httpkit.DecodeStrictJSON([]byte(tc.in), &b)
			var je *httpkit.JSONError
			if !errors.As(err, &je) || je.Field != tc.field || je.Reason == "" {
				t.Fatalf("DecodeStrictJSON(%q) = %v (%#v), want a JSONError naming %q", tc.in, err, je, tc.field)
			}
			ie := httpkit.InvalidJSON(err, "hint")
			var ae *apperr.Error
			if !errors.As(ie, &ae) || !errors.Is(ie, apperr.ErrInvalid) || ae.Field != tc.field || !strings.HasSuffix(ae.Message, "; hint") {
				t.Fatalf("InvalidJSON = %#v", ie)
			}
			if st, _ := httpkit.Status(ie); st != 400 {
				t.Fatalf("status %d", st)
			}
		})
	}
}

// TestDecodeStrictJSONKeepsEncodingJSONTypes: `any` values decode to the
// types encoding/json gave them (float64 numbers), and a null member leaves a
// pre-filled field as it was (update endpoints rely on it).
func TestDecodeStrictJSONKeepsEncodingJSONTypes(t *testing.T) {
	t.Parallel()
	var v struct {
		Name  string         `json:"name"`
		N     *int           `json:"n"`
		Attrs map[string]any `json:"attrs"`
	}
	v.Name = "kept"
	one := 1
	v.N = &one
	if err := httpkit.DecodeStrictJSON([]byte(`{"name":null,"n":null,"attrs":{"i":3,"f":1.5,"s":"x","b":true,"z":null,"o":{"a":[1,"b"]}}}`), &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"i": float64(3), "f": 1.5, "s": "x", "b": true, "z": nil, "o": map[string]any{"a": []any{float64(1), "b"}}}
	if !reflect.DeepEqual(v.Attrs, want) || v.Name != "kept" || v.N != nil {
		t.Fatalf("decoded %#v (name %q, n %v), want attrs %#v, name kept, n nil", v.Attrs, v.Name, v.N, want)
	}
	if !errors.Is(httpkit.DecodeStrictJSON([]byte(`{"name":"x"} {"name":"y"}`), &v), httpkit.ErrTrailingData) {
		t.Fatal("a second value is not ErrTrailingData")
	}
}
