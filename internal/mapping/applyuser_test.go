package mapping

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/token"
)

// claimChoices are claim paths a fuzzed mapping picks from (index by a byte;
// past the end: the fuzzed string itself).
var claimChoices = []string{"sub", "id", "user.id", "email", "user.email", "username", "firstname", "lastname", "phone",
	"phone_number", "given_name", "roles", "user.roles", "attributes", "attributes.plan", "attributes.nested.x", "user",
	"user.attributes.plan", "user.user", "user.sub", "sub.x", "roles.0", "attributes.", ".user", "user.", "plan", "nested"}

func pick(b byte, s string) string {
	if int(b) < len(claimChoices) {
		return claimChoices[b]
	}
	if b == 255 {
		return ""
	}
	return s
}

// fuzzUser builds a User and a Mapping from fuzzed input.
func fuzzUser(sel []byte, id, email, first, last, phone, roles, attrKey, attrVal, claim string) (User, Mapping) {
	at := func(i int) byte {
		if i < len(sel) {
			return sel[i]
		}
		return 255
	}
	u := User{ID: id, Email: email, Username: attrVal, Firstname: first, Lastname: last, Phone: phone}
	if at(0)&1 != 0 {
		u.Roles = strings.Split(roles, ",")
	} else if at(0)&2 != 0 {
		u.Roles = []string{}
	}
	if at(0)&4 != 0 {
		u.Attributes = map[string]any{}
		if attrKey != "" {
			u.Attributes[attrKey] = attrVal
		}
		if at(0)&8 != 0 {
			u.Attributes["plan"] = "gold"
			u.Attributes["nested"] = map[string]any{"x": attrVal, "n": float64(len(attrVal))}
		}
		if at(0)&16 != 0 {
			u.Attributes["exp"] = float64(1) // reserved: never copied
		}
		if at(0)&32 != 0 {
			u.Attributes["sub"] = "forged"
			u.Attributes["n"] = float64(len(id))
			u.Attributes["r"] = []any{"a", 1.0, roles}
		}
	}
	m := Mapping{IDClaim: pick(at(1), claim), Prefix: pick(at(2), "p|"), FirstnameClaim: pick(at(3), claim),
		LastnameClaim: pick(at(4), claim), EmailClaim: pick(at(5), claim), RolesClaim: pick(at(6), claim)}
	if m.IDClaim == "" {
		m.IDClaim = "sub"
	}
	if m.Prefix == "" || at(2) >= 200 {
		m.Prefix = ""
	}
	for i := 7; i < len(sel) && i < 12; i++ {
		switch c := sel[i]; {
		case c < 40:
			m.Attributes = append(m.Attributes, "*")
		case c < 80:
			m.Attributes = append(m.Attributes, pick(c-40, attrKey))
		case c < 160:
			m.Attributes = append(m.Attributes, "x="+pick(c-80, claim))
		default:
			m.Attributes = append(m.Attributes, attrKey+"="+pick(c-160, claim))
		}
	}
	return u, m
}

// checkApplyUser compares ApplyUser, Apply(u.Doc()) and the reference.
func checkApplyUser(t *testing.T, u User, m Mapping) {
	t.Helper()
	want, wantErr := m.applyReference(u.Doc())
	for _, own := range []bool{false, true} {
		u := u
		u.OwnAttributes = own
		if own && u.Attributes != nil {
			u.Attributes = cloneMap(u.Attributes) // handed on: a copy per call
		}
		got, err := m.ApplyUser(&u)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("ApplyUser(%+v) with %+v: err %v, reference %v", u, m, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ApplyUser(%+v) with %+v (own %v):\n got %#v\nwant %#v", u, m, own, got, want)
		}
	}
	got, err := m.Apply(u.Doc())
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("Apply(%+v) with %+v: %#v %v, reference %#v %v", u.Doc(), m, got, err, want, wantErr)
	}
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestApplyUserMatchesDoc: ApplyUser is Apply(u.Doc()), for the mappings
// and users of the fuzz seeds.
func TestApplyUserMatchesDoc(t *testing.T) {
	t.Parallel()
	for _, s := range applyUserSeeds {
		u, m := fuzzUser(s.sel, s.id, s.email, s.first, s.last, s.phone, s.roles, s.attrKey, s.attrVal, s.claim)
		checkApplyUser(t, u, m)
	}
	// The default mapping on a typical server-mode user: the body's map is
	// handed on, not copied; a shared one is copied.
	attrs := map[string]any{"plan": "gold"}
	m := Default("p")
	r, err := m.ApplyUser(&User{ID: "42", Attributes: attrs, OwnAttributes: true})
	if err != nil || reflect.ValueOf(r.Identity.Attributes).UnsafePointer() != reflect.ValueOf(attrs).UnsafePointer() {
		t.Fatalf("owned attributes copied (%v)", err)
	}
	r, _ = m.ApplyUser(&User{ID: "42", Attributes: attrs})
	if reflect.ValueOf(r.Identity.Attributes).UnsafePointer() == reflect.ValueOf(attrs).UnsafePointer() {
		t.Fatal("shared attributes handed on")
	}
}

var applyUserSeeds = []struct {
	sel                                                           []byte
	id, email, first, last, phone, roles, attrKey, attrVal, claim string
}{
	{[]byte{4 | 8, 0, 255, 255, 255, 255, 255, 0}, "42", "ann@example.com", "Ann", "", "", "", "", "", ""},
	{[]byte{1 | 4 | 8 | 16 | 32, 2, 1, 3, 4, 5, 6, 0, 45, 90, 170}, "42", "A@B.co", " Ann ", "Lee", "+1 555 0100", "a,b", "color", "red", "attributes.color"},
	{[]byte{4 | 32, 255, 255, 255, 255, 255, 255, 0, 0}, "", "x", "", "", "", "", "", "", ""},
	{[]byte{2 | 4, 16, 255, 255, 255, 255, 11, 96, 100, 56}, " 7 ", "", "", "", "12", "vip", "user", "v", "user"},
	{[]byte{1, 26, 255, 255, 255, 255, 255, 60, 66}, "9", "", "", "", "", "a b", "plan", "\xff", "plan"},
	{[]byte{4 | 8 | 32, 100, 255, 100, 100, 100, 100, 200, 210, 39}, "1", "", "", "", "", "", "n", "3", "attributes.n"},
	{[]byte{4 | 8, 100, 255, 255, 255, 255, 255, 0}, "1", "", "", "", "", "", "", "", "attributes.nested.n"},
}

func FuzzApplyUser(f *testing.F) {
	for _, s := range applyUserSeeds {
		f.Add(s.sel, s.id, s.email, s.first, s.last, s.phone, s.roles, s.attrKey, s.attrVal, s.claim)
	}
	f.Fuzz(func(t *testing.T, sel []byte, id, email, first, last, phone, roles, attrKey, attrVal, claim string) {
		u, m := fuzzUser(sel, id, email, first, last, phone, roles, attrKey, attrVal, claim)
		checkApplyUser(t, u, m)
	})
}

// The reference: Apply and its helpers before ApplyUser, unchanged.

func (d Doc) refStr(paths ...string) string {
	for _, p := range paths {
		if v, ok := d.Lookup(p); ok {
			if s, ok := v.(string); ok && s != "" && len(s) <= maxNameLen && utf8.ValidString(s) {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

// applyReference is Apply as it was before ApplyUser (the definition).
func (m *Mapping) applyReference(d Doc) (Result, error) {
	var r Result
	v, ok := d.Lookup(m.IDClaim)
	if !ok {
		return r, apperr.Unauthorized(fmt.Sprintf("the identity has no %q claim to use as the user id", truncate(m.IDClaim, 60)))
	}
	ext, ok := idString(v)
	if !ok {
		return r, apperr.Unauthorized(fmt.Sprintf("the identity's %q claim is not a string or integer", truncate(m.IDClaim, 60)))
	}
	if err := validID(ext); err != nil {
		return r, apperr.Unauthorized(fmt.Sprintf("the identity's user id %s", err))
	}
	if len(m.Prefix)+len(ext) > MaxIDLen+MaxPrefixLen {
		return r, apperr.Unauthorized("the identity's user id is too long")
	}
	r.ExternalID = ext
	r.Identity.ID = m.Prefix + ext
	r.Identity.Firstname = d.refStr(refOrDefault(m.FirstnameClaim, "firstname", "given_name")...)
	r.Identity.Lastname = d.refStr(refOrDefault(m.LastnameClaim, "lastname", "family_name")...)
	if e := d.refStr(refOrDefault(m.EmailClaim, "email")...); e != "" {
		if n, err := enduser.NormalizeEmail(e); err == nil {
			r.Identity.Email = n
		}
	}
	if ph := d.refStr("phone", "phone_number"); ValidPhone(ph) {
		r.Identity.Phone = ph
	}
	r.Roles = refRoles(d, refOrDefault(m.RolesClaim, "roles"))
	r.Identity.Attributes = m.refAttributes(d)
	return r, nil
}
func refOrDefault(configured string, defaults ...string) []string {
	if configured != "" {
		return []string{configured}
	}
	return defaults
}
func refRoles(d Doc, paths []string) []string {
	for _, p := range paths {
		v, ok := d.Lookup(p)
		if !ok {
			continue
		}
		switch x := v.(type) {
		case string:
			return strings.Fields(x)
		case []string:
			return x
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return nil
}
func (m *Mapping) refAttributes(d Doc) map[string]any {
	if len(m.Attributes) == 0 {
		return nil
	}
	var src map[string]any
	if v, ok := d.Lookup("attributes"); ok {
		src, _ = v.(map[string]any)
	}
	out := map[string]any{}
	for _, a := range m.Attributes {
		if a == "*" {
			for k, v := range src {
				if !token.IsReserved(k) {
					out[k] = v
				}
			}
			continue
		}
		name, path, hasPath := strings.Cut(a, "=")
		if token.IsReserved(name) {
			continue
		}
		if hasPath {
			if v, ok := d.Lookup(path); ok {
				out[name] = v
			}
			continue
		}
		if v, ok := src[name]; ok {
			out[name] = v
		} else if v, ok := d.Lookup(name); ok && name != "attributes" && name != "user" {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
