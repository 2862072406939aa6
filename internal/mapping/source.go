package mapping

import (
	"strings"
	"unicode/utf8"
)

// User is a site-asserted (server mode) or stored (password mode) user:
// what UserDoc builds a document of, and what ApplyUser maps without
// building one.
type User struct {
	ID, Email, Username, Firstname, Lastname string
	// Phone is set as Doc.PutUserField("phone") sets it.
	Phone      string
	Roles      []string
	Attributes map[string]any
	// OwnAttributes says Attributes belongs to the caller's request alone:
	// when the mapping would copy it unchanged, ApplyUser returns it as the
	// identity's attributes instead of a copy (the caller must not use it
	// afterwards). False for shared maps (a stored end-user's).
	OwnAttributes bool
}

// Doc returns u's identity document (the definition ApplyUser follows).
func (u *User) Doc() Doc {
	d := UserDoc(u.ID, u.Email, u.Username, u.Firstname, u.Lastname, u.Roles, u.Attributes)
	d.PutUserField("phone", u.Phone)
	return d
}

// valKind is what a claim path resolves to in a source.
type valKind uint8

const (
	valAny    valKind = iota // v: a value of a Doc or of an attributes object
	valString                // s: one of the User's string fields (or sub)
	valRoles                 // roles: User.Roles
	valAttrs                 // attrs: User.Attributes
	valUser                  // the "user" object of a User's document
)

// val is a looked-up claim; unlike an any, reading a User's string field
// into it does not allocate.
type val struct {
	kind  valKind
	s     string
	v     any
	roles []string
	attrs map[string]any
}

// source is what Apply reads: a Doc, or a User read as its Doc would be.
type source struct {
	doc  Doc
	user *User
}

// lookup is Doc.Lookup: an exact top-level key first, then a dotted path.
func (d source) lookup(path string) (val, bool) {
	if d.user == nil {
		v, ok := d.doc.Lookup(path)
		return val{kind: valAny, v: v}, ok
	}
	if v, ok := d.user.field(path, true); ok {
		return v, true
	}
	if !strings.Contains(path, ".") {
		return val{}, false
	}
	cur := val{kind: valUser} // the document itself: its top level
	top := true
	for rest, more := path, true; more; {
		var part string
		part, rest, more = strings.Cut(rest, ".")
		var ok bool
		switch cur.kind {
		case valUser:
			cur, ok = d.user.field(part, top)
		case valAttrs:
			cur, ok = elem(cur.attrs, part)
		case valAny:
			m, isMap := cur.v.(map[string]any)
			if !isMap {
				return val{}, false
			}
			cur, ok = elem(m, part)
		default: // a string or the roles: not an object
			return val{}, false
		}
		if !ok {
			return val{}, false
		}
		top = false
	}
	return cur, true
}

func elem(m map[string]any, k string) (val, bool) {
	v, ok := m[k]
	return val{kind: valAny, v: v}, ok
}

// field is the value under k of the user's document (top) or of its "user"
// object: UserDoc's keys.
func (u *User) field(k string, top bool) (val, bool) {
	var s string
	switch k {
	case "id":
		s = u.ID
	case "email":
		s = u.Email
	case "username":
		s = u.Username
	case "firstname":
		s = u.Firstname
	case "lastname":
		s = u.Lastname
	case "phone":
		s = u.Phone
	case "roles":
		return val{kind: valRoles, roles: u.Roles}, u.Roles != nil
	case "attributes":
		return val{kind: valAttrs, attrs: u.Attributes}, u.Attributes != nil
	case "sub":
		if !top {
			return val{}, false
		}
		s = u.ID
	case "user":
		return val{kind: valUser}, top
	default:
		return val{}, false
	}
	return val{kind: valString, s: s}, s != ""
}

// value is v as the Doc holds it.
func (v val) value(d source) any {
	switch v.kind {
	case valString:
		return v.s
	case valRoles:
		return v.roles
	case valAttrs:
		return v.attrs
	case valUser:
		doc := d.user.Doc()
		return doc["user"]
	}
	return v.v
}

// idString is idString of the value.
func (v val) idString() (string, bool) {
	switch v.kind {
	case valString:
		return strings.TrimSpace(v.s), true
	case valAny:
		return idString(v.v)
	}
	return "", false
}

// str returns the first of the paths (configured if set, else def1 then
// def2; "" is none) that holds a non-empty string of at most maxNameLen
// bytes of valid UTF-8, trimmed.
func (d source) str(configured, def1, def2 string) string {
	paths := [...]string{configured, "", ""}
	if configured == "" {
		paths = [...]string{def1, def2, ""}
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		v, ok := d.lookup(p)
		if !ok {
			continue
		}
		var s string
		switch v.kind {
		case valString:
			s = v.s
		case valAny:
			s, ok = v.v.(string)
		default:
			ok = false
		}
		if ok && s != "" && len(s) <= maxNameLen && utf8.ValidString(s) {
			return strings.TrimSpace(s)
		}
	}
	return ""
}
