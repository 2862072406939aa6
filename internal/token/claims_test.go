package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/token"
)

func TestAttributeKeyReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, want string }{
		{"isSuperadmin", token.ReasonPrivileged},
		{"ISSUPERADMIN", token.ReasonPrivileged},
		{"__proto__", token.ReasonUnsafeKey},
		{"constructor", token.ReasonUnsafeKey},
		{"Prototype", token.ReasonUnsafeKey},
		{"role", ""}, // inert inside attributes (contract tests check it on the chat server)
		{"plan", ""},
		{"id_project", ""},
		{"_doc", ""},
		{"proto", ""},
	} {
		if got := token.AttributeKeyReason(tc.key); got != tc.want {
			t.Errorf("AttributeKeyReason(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestCheckAttributes(t *testing.T) {
	t.Parallel()
	deep := map[string]any{"v": 1.0}
	for range token.MaxAttributeDepth {
		deep = map[string]any{"n": deep}
	}
	for _, tc := range []struct {
		name     string
		attrs    map[string]any
		path     string
		reason   string
		accepted bool
	}{
		{name: "plain", attrs: map[string]any{"plan": "gold", "role": "owner", "n": 3.0}, accepted: true},
		{name: "nil", attrs: nil, accepted: true},
		{name: "superadmin", attrs: map[string]any{"isSuperadmin": true}, path: "isSuperadmin", reason: token.ReasonPrivileged},
		{name: "nested proto", attrs: map[string]any{"prefs": map[string]any{"__proto__": map[string]any{"admin": true}}}, path: "prefs.__proto__", reason: token.ReasonUnsafeKey},
		{name: "inside array", attrs: map[string]any{"list": []any{"a", map[string]any{"constructor": "x"}}}, path: "list.constructor", reason: token.ReasonUnsafeKey},
		{name: "first in sorted order", attrs: map[string]any{"z": map[string]any{"prototype": 1}, "a": map[string]any{"isSuperadmin": 1}}, path: "a.isSuperadmin", reason: token.ReasonPrivileged},
		{name: "too deep", attrs: deep, reason: token.ReasonTooDeep},
	} {
		err := token.CheckAttributes(tc.attrs)
		if tc.accepted {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var ae *token.AttributeError
		if !errors.As(err, &ae) || ae.Reason != tc.reason || (tc.path != "" && ae.Path != tc.path) {
			t.Errorf("%s: err = %v (%+v), want %s at %q", tc.name, err, ae, tc.reason, tc.path)
			continue
		}
		if tc.path != "" && !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: message %q does not name %q", tc.name, err, tc.path)
		}
	}
}

func TestFilterAttributes(t *testing.T) {
	t.Parallel()
	clean := map[string]any{"plan": "gold", "nested": map[string]any{"ok": true}}
	got := token.FilterAttributes(clean, func(string, string) { t.Fatal("nothing to drop") })
	if reflect.ValueOf(got).Pointer() != reflect.ValueOf(clean).Pointer() {
		t.Fatal("a clean map must be returned as is (no copy on the hot path)")
	}
	dirty := map[string]any{"plan": "gold", "isSuperadmin": true, "__proto__": map[string]any{"x": 1},
		"prefs": map[string]any{"constructor": "y", "lang": "it"}, "tags": []any{map[string]any{"prototype": 1, "k": "v"}, "t"}}
	var dropped []string
	got = token.FilterAttributes(dirty, func(path, reason string) { dropped = append(dropped, path+"/"+reason) })
	want := map[string]any{"plan": "gold", "prefs": map[string]any{"lang": "it"}, "tags": []any{map[string]any{"k": "v"}, "t"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("filtered %v, want %v", got, want)
	}
	slices.Sort(dropped)
	if wantDropped := []string{"__proto__/unsafe_key", "isSuperadmin/privileged", "prefs.constructor/unsafe_key", "tags.prototype/unsafe_key"}; !slices.Equal(dropped, wantDropped) {
		t.Fatalf("dropped %v, want %v", dropped, wantDropped)
	}
	if _, ok := dirty["isSuperadmin"]; !ok {
		t.Fatal("the input map was modified")
	}
}

// TestSignEmitsOnlyTheClaimSet: whatever an Identity's attributes hold, the
// payload's top-level members are a subset of token.Claims and `attributes`
// never carries a refused key.
func TestSignEmitsOnlyTheClaimSet(t *testing.T) {
	t.Parallel()
	key := token.Key{Version: 1, Value: []byte("0123456789abcdef0123456789abcdef")}
	hostile := []map[string]any{
		{"role": "owner", "id_project": "other", "_doc": map[string]any{"_id": "admin"}, "sub": "bot", "aud": "x", "iss": "y", "nbf": 1.0},
		{"isSuperadmin": true, "__proto__": map[string]any{"isSuperadmin": true}, "constructor": map[string]any{"prototype": 1}},
		{"IsSuperAdmin": true, "deep": map[string]any{"a": map[string]any{"__PROTO__": 1}}},
	}
	for i, attrs := range hostile {
		iss, err := token.Sign("https://tiledesk.com/projects/p1", key, token.Identity{ID: "v1", Email: "a@b.test", Attributes: attrs}, time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(iss.Raw, ".")[1])
		var claims map[string]json.RawMessage
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		for k := range claims {
			if !slices.Contains(token.Claims, k) {
				t.Errorf("case %d: top-level claim %q emitted", i, k)
			}
		}
		var a map[string]any
		if raw, ok := claims["attributes"]; ok {
			_ = json.Unmarshal(raw, &a)
		}
		if err := token.CheckAttributes(a); err != nil {
			t.Errorf("case %d: emitted attributes %s: %v", i, claims["attributes"], err)
		}
		if strings.Contains(strings.ToLower(string(payload)), "superadmin") || strings.Contains(string(payload), "proto") {
			t.Errorf("case %d: payload %s", i, payload)
		}
	}
}

func TestEmailDenyList(t *testing.T) {
	t.Parallel()
	l, err := token.ParseEmailDenyList([]string{" Admin@Chat.Example ", "@agency.test", "staff.example", "", "agency.test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Entries(); !slices.Equal(got, []string{"admin@chat.example", "agency.test", "staff.example"}) {
		t.Fatalf("entries %v", got)
	}
	for email, want := range map[string]bool{
		"admin@chat.example": true, "ADMIN@chat.example": true, "other@chat.example": false,
		"ann@agency.test": true, "ann@eu.agency.test": true, "ann@notagency.test": false,
		"bob@Staff.Example": true, "bob@example.com": false, "": false,
	} {
		if got := l.Denies(email); got != want {
			t.Errorf("Denies(%q) = %v, want %v", email, got, want)
		}
	}
	for _, bad := range []string{"not an email", "a@", "@", "a@b@c", "x@.com", "x@a..b", "a,b@c.d"} {
		if _, err := token.ParseEmailDenyList([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if (token.EmailDenyList{}).Denies("a@b.c") {
		t.Fatal("the zero list denies")
	}
	many := make([]string, token.MaxDenyEntries+1)
	for i := range many {
		many[i] = "d" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + ".test"
	}
	if _, err := token.ParseEmailDenyList(many); err == nil {
		t.Error("an over-long list accepted")
	}
}

// FuzzSignClaims: for any JSON object of attributes, the signed payload's
// top-level members are within token.Claims and its `attributes` pass the
// policy (no refused key at any depth).
func FuzzSignClaims(f *testing.F) {
	for _, s := range []string{`{"plan":"gold"}`, `{"isSuperadmin":true}`, `{"a":{"__proto__":{"b":1}}}`,
		`{"role":"owner","sub":"bot","_doc":{"_id":"x"}}`, `{"l":[{"constructor":1},{"PROTOTYPE":[]}]}`} {
		f.Add(s)
	}
	key := token.Key{Version: 1, Value: []byte("0123456789abcdef0123456789abcdef")}
	f.Fuzz(func(t *testing.T, raw string) {
		var attrs map[string]any
		if json.Unmarshal([]byte(raw), &attrs) != nil {
			return
		}
		iss, err := token.Sign("https://tiledesk.com/projects/p", key, token.Identity{ID: "v", Attributes: attrs}, time.Minute, time.Now())
		if err != nil {
			return // unencodable values are refused, never emitted
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(iss.Raw, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatalf("payload is not JSON: %v", err)
		}
		for k := range claims {
			if !slices.Contains(token.Claims, k) {
				t.Fatalf("top-level claim %q emitted", k)
			}
		}
		emitted, _ := claims["attributes"].(map[string]any)
		if err := token.CheckAttributes(emitted); err != nil {
			t.Fatalf("emitted attributes refused by the policy: %v", err)
		}
	})
}
