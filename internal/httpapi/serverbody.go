package httpapi

import (
	"strconv"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/httpkit"
)

// serverUser is the "user" object of a server-mode body.
type serverUser struct {
	ID         flexID         `json:"id"`
	Email      string         `json:"email"`
	Username   string         `json:"username"`
	Firstname  string         `json:"firstname"`
	Lastname   string         `json:"lastname"`
	Phone      string         `json:"phone"`
	Roles      []string       `json:"roles"`
	Attributes map[string]any `json:"attributes"`
}

type serverBody struct {
	User *serverUser `json:"user"`
}

// decodeServerBodyReference is the definition of a valid server-mode body:
// httpkit.DecodeStrictJSON (names matched case-sensitively, unknown, repeated names
// and invalid UTF-8 rejected at any depth, nothing but whitespace after the
// object; its errors are returned as they are). user is nil when the body
// has no user (or "user":null).
func decodeServerBodyReference(data []byte) (*serverUser, error) {
	var b serverBody
	if err := httpkit.DecodeStrictJSON(data, &b); err != nil {
		return nil, err
	}
	return b.User, nil
}

// decodeServerBodyFast decodes the usual shape of a server-mode body without
// reflection: {"user":{...}} with the known field names spelled exactly, each
// at most once, strings without escapes (valid UTF-8), an id that is such a
// string or a plain integer, roles an array of such strings, attributes an
// object of such strings or booleans, nothing but whitespace after it.
// Whenever the input is anything else (a name in another case, a repeated
// name in user or attributes, invalid UTF-8, an escape...), ok is false and
// the caller must use decodeServerBodyReference, which decides (and refuses
// the first three); when ok is true the result is
// what decodeServerBodyReference returns (FuzzServerBodyFast checks this).
// All strings share one copy of data.
func decodeServerBodyFast(data []byte) (u *serverUser, ok bool) {
	p := fastParser{s: string(data)}
	if !p.consume('{') {
		return nil, false
	}
	if key, ok := p.key(); !ok || key != "user" {
		return nil, false
	}
	u = &serverUser{}
	if !p.user(u) || !p.consume('}') {
		return nil, false
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, false
	}
	return u, true
}

type fastParser struct {
	s string
	i int
}

func (p *fastParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then c.
func (p *fastParser) consume(c byte) bool {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek skips whitespace and reports whether the next byte is c (not consumed).
func (p *fastParser) peek(c byte) bool {
	p.skipSpace()
	return p.i < len(p.s) && p.s[p.i] == c
}

// str reads a string without escapes or control characters that is valid UTF-8.
func (p *fastParser) str() (string, bool) {
	if !p.consume('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// key reads `"name":`.
func (p *fastParser) key() (string, bool) {
	k, ok := p.str()
	if !ok || !p.consume(':') {
		return "", false
	}
	return k, true
}

// object calls member for each key of an object; member reads the value.
func (p *fastParser) object(member func(key string) bool) bool {
	if !p.consume('{') {
		return false
	}
	if p.peek('}') {
		p.i++
		return true
	}
	for {
		k, ok := p.key()
		if !ok || !member(k) {
			return false
		}
		if p.consume(',') {
			continue
		}
		return p.consume('}')
	}
}

func (p *fastParser) user(u *serverUser) bool {
	var seen uint8
	return p.object(func(k string) bool {
		var bit uint8
		var ok bool
		switch k {
		case "id":
			bit = 1
			ok = p.id(&u.ID)
		case "email":
			bit = 2
			u.Email, ok = p.str()
		case "username":
			bit = 4
			u.Username, ok = p.str()
		case "firstname":
			bit = 8
			u.Firstname, ok = p.str()
		case "lastname":
			bit = 16
			u.Lastname, ok = p.str()
		case "roles":
			bit = 32
			u.Roles, ok = p.roles()
		case "attributes":
			bit = 64
			u.Attributes, ok = p.attributes()
		default:
			return false
		}
		if seen&bit != 0 {
			return false // a repeated field: the reference decides (and refuses it)
		}
		seen |= bit
		return ok
	})
}

// id reads a string (as str) or an integer: -?(0|[1-9][0-9]*) within int64.
func (p *fastParser) id(f *flexID) bool {
	if p.peek('"') {
		s, ok := p.str()
		*f = flexID(s)
		return ok
	}
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n := p.s[start:p.i]
	if p.i == digits || p.s[digits] == '0' && p.i-digits > 1 {
		return false
	}
	if _, err := strconv.ParseInt(n, 10, 64); err != nil {
		return false
	}
	*f = flexID(n)
	return true
}

func (p *fastParser) roles() ([]string, bool) {
	if !p.consume('[') {
		return nil, false
	}
	out := make([]string, 0, 4)
	if p.peek(']') {
		p.i++
		return out, true
	}
	for {
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if p.consume(',') {
			continue
		}
		return out, p.consume(']')
	}
}

func (p *fastParser) attributes() (map[string]any, bool) {
	out := make(map[string]any, 4)
	ok := p.object(func(k string) bool {
		if _, dup := out[k]; dup {
			return false
		}
		p.skipSpace()
		switch {
		case p.peek('"'):
			v, ok := p.str()
			out[k] = v
			return ok
		case len(p.s)-p.i >= 4 && p.s[p.i:p.i+4] == "true":
			p.i += 4
			out[k] = true
		case len(p.s)-p.i >= 5 && p.s[p.i:p.i+5] == "false":
			p.i += 5
			out[k] = false
		default:
			return false
		}
		// "truex" and the like: the next byte must end the value.
		return p.peek(',') || p.peek('}')
	})
	return out, ok
}
