package httpapi

import (
	"reflect"
	"strings"
	"testing"
)

// serverBodySeeds are bodies the fast decoder must handle itself (fast) and
// bodies it must leave to encoding/json (slow); the fuzz target starts from all.
var serverBodySeeds = []struct {
	body string
	fast bool
}{
	{`{"user":{"id":"42","email":"ann@example.com","firstname":"Ann","attributes":{"plan":"gold"}}}`, true},
	{` { "user" : { "id" : 42 , "roles" : [ "a" , "b" ] , "attributes" : { "vip" : true , "x" : false } } } ` + "\n", true},
	{`{"user":{"id":-0,"username":"zoë","lastname":"日本","roles":[],"attributes":{}}}`, true},
	{`{"user":{}}`, true},
	{`{"user":{"id":"1","attributes":{"Plan":"a","plan":"b"}}}`, true}, // distinct names: case matters
	{`{"user":{"id":"1","Email":"a@b.c"}}`, false},
	{`{"user":{"id":"1","attributes":{"a":true,"a":true}}}`, false},
	{`{"user":{"id":"1"},"user":{"id":"2"}}`, false},
	{"{\"user\":{\"id\":\"\xff\xfe\"}}", false},
	{"{\"user\":{\"id\":\"\xfe\xff\"}}", false},
	{"{\"user\":{\"id\":\"1\",\"attributes\":{\"\xff\":\"x\"}}}", false},
	{`{"user":{"id":"\ud800"}}`, false},
	{`{"user":{"id":"1","id":"2"}}`, false},
	{`{"user":{"ID":"1"}}`, false},
	{`{"User":{"id":"1"}}`, false},
	{`{"user":{"id":"\u0041"}}`, false},
	{`{"user":{"id":1.0}}`, false},
	{`{"user":{"id":01}}`, false},
	{`{"user":{"id":9223372036854775808}}`, false},
	{`{"user":{"id":"1","email":null}}`, false},
	{`{"user":{"id":"1","attributes":{"n":1,"o":{"a":[1,null]}}}}`, false},
	{`{"user":{"id":"1","attributes":{"a":"x","a":"y"}}}`, false},
	{`{"user":{"id":"1","attributes":null}}`, false},
	{`{"user":{"id":"1","roles":null}}`, false},
	{`{"user":{"id":"1","roles":["a",null]}}`, false},
	{`{"user":{"id":"1"}} }`, false},
	{`{"user":{"id":"1"}} {}`, false},
	{`{"user":{"id":"1"},"extra":1}`, false},
	{`{"user":null}`, false},
	{`{}`, false},
	{"{\"user\":{\"id\":\"\xff\"}}", false},
	{`{"user":{"id":"1","attributes":{"t":truex}}}`, false},
	{``, false},
}

func TestServerBodyFastPathTaken(t *testing.T) {
	t.Parallel()
	for _, s := range serverBodySeeds {
		u, ok := decodeServerBodyFast([]byte(s.body))
		if ok != s.fast {
			t.Errorf("decodeServerBodyFast(%s): ok = %v, want %v", s.body, ok, s.fast)
			continue
		}
		checkServerBodyAgainstReference(t, []byte(s.body), u, ok)
	}
}

// checkServerBodyAgainstReference: when the fast decoder decides (ok), the
// reference decoder must accept the body and decode the same values.
func checkServerBodyAgainstReference(t *testing.T, data []byte, u *serverUser, ok bool) {
	t.Helper()
	if !ok {
		return
	}
	ref, err := decodeServerBodyReference(data)
	if err != nil {
		t.Fatalf("fast decoder accepted %q, reference rejects it: %v", data, err)
	}
	if !reflect.DeepEqual(u, ref) {
		t.Fatalf("decode %q: fast %#v, reference %#v", data, u, ref)
	}
}

func FuzzServerBodyFast(f *testing.F) {
	for _, s := range serverBodySeeds {
		f.Add([]byte(s.body))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, ok := decodeServerBodyFast(data)
		checkServerBodyAgainstReference(t, data, u, ok)
	})
}

// TestDecodeServerRequestTrailing: a server-mode body followed by anything
// but whitespace is refused with the trailing-data message, including a
// stray "}" or "]" that json.Decoder.More does not report.
func TestDecodeServerRequestTrailing(t *testing.T) {
	t.Parallel()
	for _, tail := range []string{" }", "]", " {}", "x"} {
		_, err := DecodeServerRequest("application/json", strings.NewReader(`{"user":{"id":"1"}}`+tail), 1<<16)
		if err == nil || !strings.Contains(err.Error(), "unexpected data after JSON object") {
			t.Errorf("tail %q: err = %v, want the trailing-data error", tail, err)
		}
	}
	if _, err := DecodeServerRequest("application/json", strings.NewReader(`{"user":{"id":"1"}}`+" \n"), 1<<16); err != nil {
		t.Errorf("trailing whitespace refused: %v", err)
	}
}
