package httpapi

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

// referenceFlexID is the plain definition of a flexID: a JSON string, or a
// JSON number that is an int64, kept as its digits. The decoder's fast
// paths must agree with it on every valid JSON value.
func referenceFlexID(b []byte) (string, error) {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return n.String(), nil
		}
	}
	return "", errors.New("id must be a string or an integer")
}

func TestFlexID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`"42"`, "42", true},
		{`42`, "42", true},
		{`-7`, "-7", true},
		{`"a\u00e9\n"`, "aé\n", true},
		{`"caf` + "\xc3\xa9" + `"`, "café", true},
		{`"bad` + "\xff" + `"`, "bad\ufffd", true}, // invalid UTF-8 is replaced, as encoding/json does
		{`""`, "", true},
		{`null`, "", true},
		{`9223372036854775808`, "", false}, // overflows int64
		{`1.5`, "", false},
		{`1e3`, "", false},
		{`true`, "", false},
		{`{"a":1}`, "", false},
	} {
		var f flexID
		err := f.UnmarshalJSON([]byte(tc.in))
		if (err == nil) != tc.ok || string(f) != tc.want {
			t.Errorf("flexID(%s) = %q, %v; want %q, ok=%v", tc.in, f, err, tc.want, tc.ok)
		}
		ref, rerr := referenceFlexID([]byte(tc.in))
		if (rerr == nil) != (err == nil) || ref != string(f) {
			t.Errorf("flexID(%s) = %q, %v; reference %q, %v", tc.in, f, err, ref, rerr)
		}
	}
}

func FuzzFlexID(f *testing.F) {
	for _, s := range []string{`"42"`, `42`, `-0`, `"\u0041"`, `"\\"`, "\"\xff\"", `1e3`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // the decoder hands UnmarshalJSON valid JSON values only
		}
		var got flexID
		err := got.UnmarshalJSON(b)
		want, werr := referenceFlexID(b)
		if (err == nil) != (werr == nil) || string(got) != want {
			t.Fatalf("flexID(%q) = %q, %v; reference %q, %v", b, got, err, want, werr)
		}
	})
}
