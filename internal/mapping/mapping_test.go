package mapping

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
)

func TestApply(t *testing.T) {
	t.Parallel()
	claims := Doc{"sub": "auth0|1", "email": "ZOE@Example.com", "given_name": "Zoe", "family_name": "Ng", "plan": "pro",
		"https://shop.example/tier": "gold", "app_metadata": map[string]any{"org": "acme"}, "uid": float64(12345), "roles": "customer vip",
		"attributes": map[string]any{"color": "red", "sub": "forged"}}
	server := UserDoc("42", "a@b.co", "ann", "Ann", "Lee", []string{"customer"}, map[string]any{"plan": "gold", "exp": 1})
	cases := []struct {
		name    string
		m       Mapping
		doc     Doc
		wantID  string
		wantExt string
		attrs   map[string]any
		roles   []string
		err     error
	}{
		{name: "default on IdP claims", m: Default("p"), doc: claims, wantID: "auth0|1", wantExt: "auth0|1", attrs: map[string]any{"color": "red"}, roles: []string{"customer", "vip"}},
		{name: "prefix and allow-list", m: Mapping{IDClaim: "sub", Prefix: "shopA|", Attributes: []string{"plan", "tier=https://shop.example/tier", "org=app_metadata.org", "missing"}},
			doc: claims, wantID: "shopA|auth0|1", wantExt: "auth0|1", attrs: map[string]any{"plan": "pro", "tier": "gold", "org": "acme"}, roles: []string{"customer", "vip"}},
		{name: "email as id", m: Mapping{IDClaim: "email"}, doc: claims, wantID: "ZOE@Example.com", wantExt: "ZOE@Example.com", roles: []string{"customer", "vip"}},
		{name: "numeric id", m: Mapping{IDClaim: "uid"}, doc: claims, wantID: "12345", wantExt: "12345", roles: []string{"customer", "vip"}},
		{name: "server doc via user.id", m: Mapping{IDClaim: "user.id", Attributes: []string{"*"}}, doc: server, wantID: "42", wantExt: "42", attrs: map[string]any{"plan": "gold"}, roles: []string{"customer"}},
		{name: "server doc via sub", m: Mapping{IDClaim: "sub", Attributes: []string{}}, doc: server, wantID: "42", wantExt: "42", roles: []string{"customer"}},
		{name: "missing id claim", m: Mapping{IDClaim: "oid"}, doc: claims, err: apperr.ErrUnauthorized},
		{name: "object id claim", m: Mapping{IDClaim: "app_metadata"}, doc: claims, err: apperr.ErrUnauthorized},
		{name: "fractional id", m: Mapping{IDClaim: "x"}, doc: Doc{"x": 1.5}, err: apperr.ErrUnauthorized},
		{name: "blank id", m: Mapping{IDClaim: "x"}, doc: Doc{"x": "  "}, err: apperr.ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.m.Apply(tc.doc)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Identity.ID != tc.wantID || r.ExternalID != tc.wantExt {
				t.Fatalf("id %q ext %q, want %q %q", r.Identity.ID, r.ExternalID, tc.wantID, tc.wantExt)
			}
			if !reflect.DeepEqual(r.Identity.Attributes, tc.attrs) && !(len(r.Identity.Attributes) == 0 && len(tc.attrs) == 0) {
				t.Fatalf("attributes %v, want %v", r.Identity.Attributes, tc.attrs)
			}
			if !reflect.DeepEqual(r.Roles, tc.roles) && !(len(r.Roles) == 0 && len(tc.roles) == 0) {
				t.Fatalf("roles %v, want %v", r.Roles, tc.roles)
			}
		})
	}
	def := Default("p")
	r, _ := def.Apply(claims)
	if r.Identity.Email != "zoe@example.com" || r.Identity.Firstname != "Zoe" || r.Identity.Lastname != "Ng" {
		t.Fatalf("standard claims not mapped: %+v", r.Identity)
	}
}

func TestValidateMappingAndOverrides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m  Mapping
		ok bool
	}{
		{Mapping{}, true},
		{Mapping{IDClaim: "user.id", Prefix: "shopA|", Attributes: []string{"plan", "tier=a.b", "*"}}, true},
		{Mapping{Attributes: []string{"sub"}}, false},
		{Mapping{Attributes: []string{"_id=x"}}, false},
		{Mapping{Attributes: []string{"iat"}}, false},
		{Mapping{Prefix: "has space"}, false},
		{Mapping{Prefix: "0123456789012345678901234567890123"}, false},
		{Mapping{IDClaim: "a b"}, false},
		{Mapping{Attributes: []string{"x=bad path"}}, false},
	} {
		if err := tc.m.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.m, err, tc.ok)
		}
	}
	if PrefixesOverlap("shopA|", "shopB|") || !PrefixesOverlap("shop", "shopA|") || !PrefixesOverlap("a|", "a|") || PrefixesOverlap("", "x") {
		t.Fatal("PrefixesOverlap")
	}
	for _, tc := range []struct {
		o  Override
		ok bool
	}{
		{Override{ExternalID: "u1", Blocked: true}, true},
		{Override{ExternalID: "u1", ForceID: "legacy-1"}, true},
		{Override{ExternalID: "u1"}, false},
		{Override{ExternalID: "", Blocked: true}, false},
		{Override{ExternalID: "u1", Attributes: map[string]any{"aud": "x"}}, false},
	} {
		if err := tc.o.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.o, err, tc.ok)
		}
	}
	r := Result{}
	r.Identity.ID = "x"
	if err := ApplyOverride(&r, &Override{Blocked: true}); !errors.Is(err, apperr.ErrForbidden) {
		t.Fatalf("blocked override: %v", err)
	}
	if err := ApplyOverride(&r, &Override{Attributes: map[string]any{"sub": "forged", "tier": "gold"}}); err != nil || r.Identity.Attributes["sub"] != nil || r.Identity.Attributes["tier"] != "gold" {
		t.Fatalf("override attributes: %v %v", err, r.Identity.Attributes)
	}
}

func TestValidateModes(t *testing.T) {
	t.Parallel()
	got, err := ValidateModes([]string{" Server", "password", "server", ""})
	if err != nil || !reflect.DeepEqual(got, []string{"server", "password"}) {
		t.Fatalf("ValidateModes = %v %v", got, err)
	}
	for _, bad := range [][]string{nil, {""}, {"sso"}} {
		if _, err := ValidateModes(bad); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("ValidateModes(%v) = %v", bad, err)
		}
	}
}

// TestUserDocShape pins the document: the user object under "user", its
// non-empty fields also at the top level, "sub" = the id when there is one.
func TestUserDocShape(t *testing.T) {
	t.Parallel()
	roles, attrs := []string{"customer"}, map[string]any{"plan": "gold"}
	full := map[string]any{"id": "42", "email": "a@b.co", "username": "ann", "firstname": "Ann", "lastname": "Lee", "roles": roles, "attributes": attrs}
	want := Doc{"user": full, "sub": "42"}
	for k, v := range full {
		want[k] = v
	}
	if got := UserDoc("42", "a@b.co", "ann", "Ann", "Lee", roles, attrs); !reflect.DeepEqual(got, want) {
		t.Errorf("full UserDoc = %#v, want %#v", got, want)
	}
	if got, want := UserDoc("", "", "ann", "", "", nil, nil), (Doc{"user": map[string]any{"username": "ann"}, "username": "ann"}); !reflect.DeepEqual(got, want) {
		t.Errorf("sparse UserDoc = %#v, want %#v", got, want)
	}
	if got, want := UserDoc("7", "", "", "", "", []string{}, map[string]any{}), (Doc{"user": map[string]any{"id": "7", "roles": []string{}, "attributes": map[string]any{}},
		"id": "7", "sub": "7", "roles": []string{}, "attributes": map[string]any{}}); !reflect.DeepEqual(got, want) {
		t.Errorf("empty-collection UserDoc = %#v, want %#v", got, want)
	}
}

func BenchmarkUserDoc(b *testing.B) {
	attrs := map[string]any{"plan": "gold"}
	b.ReportAllocs()
	for b.Loop() {
		_ = UserDoc("42", "ann@example.com", "", "Ann", "", nil, attrs)
	}
}
