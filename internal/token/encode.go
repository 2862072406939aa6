package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// sign is Sign's implementation. It writes the same header and claims that
// jwt.NewWithClaims(jwt.SigningMethodHS256, claims) + SignedString would, but
// encodes them directly (no map of claims, no reflection over it): minting
// is the server mode's hot path. token_test.go and pinning tests verify the
// result with golang-jwt.
func sign(audience string, key Key, id Identity, ttl time.Duration, now time.Time) (Issued, error) {
	return signWith(audience, key, id, ttl, now, nil)
}

// signWith is sign with the HMAC state from signer (nil: a new one).
func signWith(audience string, key Key, id Identity, ttl time.Duration, now time.Time, signer *Signer) (Issued, error) {
	if id.ID == "" {
		return Issued{}, errors.New("token: identity has no _id")
	}
	if len(key.Value) == 0 {
		return Issued{}, errors.New("token: empty signing key")
	}
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return Issued{}, err
	}
	jti := hex.EncodeToString(rnd[:])
	iat := now.Truncate(time.Second)
	exp := iat.Add(ttl)

	// The members are exactly token.Claims, in sorted order; only Identity's
	// fixed fields reach the top level (claims.go).
	var pbuf [512]byte
	payload := pbuf[:0]
	payload = append(payload, '{')
	payload = appendStringMember(payload, "_id", id.ID)
	if attrs := FilterAttributes(id.Attributes, nil); len(attrs) > 0 {
		var err error
		if payload, err = appendMember(payload, "attributes", attrs); err != nil {
			return Issued{}, fmt.Errorf("token: attributes: %w", err)
		}
	}
	payload = appendStringMember(payload, "aud", audience)
	if id.Email != "" {
		payload = appendStringMember(payload, "email", id.Email)
	}
	payload = append(payload, `"exp":`...)
	payload = strconv.AppendInt(payload, exp.Unix(), 10)
	payload = append(payload, ',')
	if id.Firstname != "" {
		payload = appendStringMember(payload, "firstname", id.Firstname)
	}
	payload = append(payload, `"iat":`...)
	payload = strconv.AppendInt(payload, iat.Unix(), 10)
	payload = append(payload, ',')
	payload = appendStringMember(payload, "jti", jti)
	if id.Lastname != "" {
		payload = appendStringMember(payload, "lastname", id.Lastname)
	}
	if id.Phone != "" {
		payload = appendStringMember(payload, "phone", id.Phone)
	}
	payload = appendStringMember(payload, "sub", Subject)
	payload[len(payload)-1] = '}' // replace the trailing comma

	// {"alg":"HS256","kid":"v<version>","typ":"JWT"}: the kid needs no
	// escaping (strconv.Quote(key.KeyID()) would only add the quotes).
	var hbuf [64]byte
	header := append(hbuf[:0], `{"alg":"HS256","kid":"v`...)
	header = strconv.AppendInt(header, int64(key.Version), 10)
	header = append(header, `","typ":"JWT"}`...)
	enc := base64.RawURLEncoding
	hl, pl := enc.EncodedLen(len(header)), enc.EncodedLen(len(payload))
	out := make([]byte, hl+1+pl, hl+1+pl+1+enc.EncodedLen(sha256.Size))
	enc.Encode(out, header)
	out[hl] = '.'
	enc.Encode(out[hl+1:], payload)
	out = append(out, '.')
	if signer != nil {
		m, macs := signer.mac(key.Value)
		m.h.Write(out[:len(out)-1])
		out = enc.AppendEncode(out, m.h.Sum(m.sum[:0]))
		macs.put(m)
	} else {
		mac := hmac.New(sha256.New, key.Value)
		mac.Write(out[:len(out)-1])
		var sum [sha256.Size]byte
		out = enc.AppendEncode(out, mac.Sum(sum[:0]))
	}
	return Issued{Raw: string(out), ID: jti, IssuedAt: iat, ExpiresAt: exp}, nil
}

// appendStringMember appends `"name":"<s escaped>",` (no boxing of s into
// an interface, which appendMember's parameter would allocate).
func appendStringMember(b []byte, name, s string) []byte {
	b = AppendJSONString(b, name)
	b = append(b, ':')
	b = AppendJSONString(b, s)
	return append(b, ',')
}

// appendMember appends `"name":<json value>,`.
func appendMember(b []byte, name string, v any) ([]byte, error) {
	b = AppendJSONString(b, name)
	b = append(b, ':')
	if s, ok := v.(string); ok {
		b = AppendJSONString(b, s)
		return append(b, ','), nil
	}
	if m, ok := v.(map[string]any); ok {
		if out, ok := appendFlatObject(b, m); ok {
			return append(out, ','), nil
		}
	}
	vb, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	b = append(b, vb...)
	return append(b, ','), nil
}

const hexDigits = "0123456789abcdef"

// jsonSafeASCII[c] is '1' when ASCII byte c needs no escaping in a JSON
// string as encoding/json writes it: not a control character, '"', '\\',
// '<', '>' or '&' (DEL, 0x7f, is written as is).
const jsonSafeASCII = "" +
	"00000000000000000000000000000000" + // 0x00-0x1f: control characters
	"11011101111111111111111111110101" + // 0x20-0x3f: '"', '&', '<', '>'
	"11111111111111111111111111110111" + // 0x40-0x5f: '\\'
	"11111111111111111111111111111111" //   0x60-0x7f

// AppendJSONString appends s as a JSON string, escaping like encoding/json
// (quotes, backslashes, control characters, <, >, &, U+2028, U+2029; invalid
// UTF-8 becomes U+FFFD).
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	// Fast path: skip the prefix that needs no escaping with one table
	// lookup per byte. A JWT, a base64url string, is all such bytes.
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && jsonSafeASCII[s[i]] == '1' {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafeASCII[c] == '1' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// maxFlatObject bounds the objects appendFlatObject encodes (keys sorted on
// the stack).
const maxFlatObject = 16

// appendFlatObject appends m as json.Marshal would (keys sorted, strings
// escaped alike) when m is small and holds only strings without control
// characters, booleans and nulls; ok is false otherwise, with b unchanged.
// FuzzFlatObject checks it against json.Marshal.
func appendFlatObject(b []byte, m map[string]any) ([]byte, bool) {
	if len(m) > maxFlatObject {
		return b, false
	}
	var kbuf [maxFlatObject]string
	keys := kbuf[:0]
	for k, v := range m {
		switch x := v.(type) {
		case string:
			if hasControl(x) {
				return b, false
			}
		case bool, nil:
		default:
			return b, false
		}
		if hasControl(k) {
			return b, false
		}
		keys = append(keys, k)
	}
	sortStrings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		switch x := m[k].(type) {
		case string:
			b = AppendJSONString(b, x)
		case bool:
			b = strconv.AppendBool(b, x)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}'), true
}

// hasControl reports whether s has a byte below 0x20 (json.Marshal writes
// \b and \f where AppendJSONString writes \u0008 and \u000c).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}

// sortStrings is an insertion sort (at most maxFlatObject strings, in
// place, no allocation), in the byte order json.Marshal sorts map keys.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
