package token

// The claims policy: what a pingauth token may carry, decided here once for
// every path that produces one (password, server and exchange modes, with
// stored end-user attributes, overrides and CSV imports feeding them). It
// follows what the real chat server does with each claim (shared/PROTOCOL.md):
//
//   - Top-level claims are exactly Claims: _id, sub ("userexternal"), aud,
//     iat, exp, jti, and firstname, lastname, email, phone when known, plus
//     one `attributes` object. Sign builds the payload from Identity's fixed
//     fields, so no input can add another top-level claim (`role`,
//     `id_project`, `_doc`, `iss`, …: each selects a dashboard session,
//     another identity or another secret on the chat server).
//   - Custom data lives inside `attributes` (the chat server stores it as the
//     lead's attributes). There, keys the chat server treats as privileged
//     (isSuperadmin) and keys unsafe for JavaScript consumers (__proto__,
//     constructor, prototype) are never emitted, at any depth.
//
// Callers that control their input (server-mode body, admin writes, CSV,
// overrides) use CheckAttributes and answer 400 naming the field; callers
// relaying a third party's data (IdP claims) use FilterAttributes and count
// what was dropped. Sign applies FilterAttributes itself as a last line.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// Claims are the only top-level claims Sign ever emits.
var Claims = []string{"_id", "attributes", "aud", "email", "exp", "firstname", "iat", "jti", "lastname", "phone", "sub"}

// Reasons an attribute key is refused (metric label values).
const (
	// ReasonPrivileged: the chat server grants rights for this key.
	ReasonPrivileged = "privileged"
	// ReasonUnsafeKey: the key alters JavaScript objects (prototype pollution).
	ReasonUnsafeKey = "unsafe_key"
	// ReasonDeniedEmail: the email is on a deny-list.
	ReasonDeniedEmail = "denied_email"
	// ReasonUnverifiedEmail: the IdP did not say the email is verified.
	ReasonUnverifiedEmail = "unverified_email"
)

// MaxAttributeDepth bounds how deeply attribute values may nest.
const MaxAttributeDepth = 8

// ReasonTooDeep is the reason for an attribute value that nests deeper than
// MaxAttributeDepth.
const ReasonTooDeep = "too_deep"

// AttributeKeyReason returns why key may never appear inside `attributes`
// (at any depth), or "" when it may. Matching ignores case: no spelling of
// isSuperadmin or __proto__ passes.
func AttributeKeyReason(key string) string {
	// EqualFold, not ToLower: no allocation for keys with capitals.
	switch {
	case strings.EqualFold(key, "isSuperadmin"):
		return ReasonPrivileged
	case strings.EqualFold(key, "__proto__"), strings.EqualFold(key, "constructor"), strings.EqualFold(key, "prototype"):
		return ReasonUnsafeKey
	}
	return ""
}

// AttributeError names a refused attribute: Path is the dotted path inside
// `attributes` (e.g. "isSuperadmin", "prefs.__proto__").
type AttributeError struct {
	Path   string
	Reason string
}

func (e *AttributeError) Error() string {
	switch e.Reason {
	case ReasonPrivileged:
		return fmt.Sprintf("attribute %q is privileged on the chat server and is never put into a token", e.Path)
	case ReasonTooDeep:
		return fmt.Sprintf("attribute %q nests deeper than %d levels", e.Path, MaxAttributeDepth)
	default:
		return fmt.Sprintf("attribute %q is not a safe key for JavaScript consumers and is never put into a token", e.Path)
	}
}

// CheckAttributes returns an *AttributeError for the first refused key of
// attrs (keys in sorted order, depth first), or nil.
func CheckAttributes(attrs map[string]any) error {
	if clean(attrs, 1) {
		return nil // the usual case, without walkAttributes' sorted key lists
	}
	var first *AttributeError
	walkAttributes(attrs, "", 1, func(path, reason string) bool {
		first = &AttributeError{Path: path, Reason: reason}
		return false
	})
	if first != nil {
		return first
	}
	return nil
}

// CheckAttributesIn is CheckAttributes for input a caller controls: a
// refused key is a 400 naming it under field, e.g.
// "user.attributes.isSuperadmin" for field "user.attributes".
func CheckAttributesIn(field string, attrs map[string]any) error {
	err := CheckAttributes(attrs)
	if err == nil {
		return nil // without the errors.As target escaping on the hot path
	}
	var ae *AttributeError
	if errors.As(err, &ae) {
		return apperr.Invalid(field+"."+ae.Path, "%s", ae.Error())
	}
	return nil
}

// FilterAttributes returns attrs without refused keys, at any depth. It
// returns attrs itself when nothing is refused (no copy: the common case on
// the hot path), else a filtered copy; attrs is never modified. drop, when
// not nil, is called with each refused path and its reason.
func FilterAttributes(attrs map[string]any, drop func(path, reason string)) map[string]any {
	if clean(attrs, 1) {
		return attrs // the hot path: checked without allocating
	}
	if drop != nil {
		walkAttributes(attrs, "", 1, func(path, reason string) bool {
			drop(path, reason)
			return true
		})
	}
	out, _ := filterValue(attrs, 1).(map[string]any)
	return out
}

// clean reports whether walkAttributes would visit nothing in v: no
// refused key and nothing nested too deep. It allocates nothing.
func clean(v any, depth int) bool {
	switch x := v.(type) {
	case map[string]any:
		if depth > MaxAttributeDepth {
			return false
		}
		for k, e := range x {
			if AttributeKeyReason(k) != "" || !clean(e, depth+1) {
				return false
			}
		}
	case []any:
		if depth > MaxAttributeDepth {
			return false
		}
		for _, e := range x {
			if !clean(e, depth+1) {
				return false
			}
		}
	}
	return true
}

// walkAttributes visits v's refused keys; visit returns false to stop. It
// returns false when stopped.
func walkAttributes(v any, prefix string, depth int, visit func(path, reason string) bool) bool {
	switch x := v.(type) {
	case map[string]any:
		if depth > MaxAttributeDepth {
			return visit(strings.TrimSuffix(prefix, "."), ReasonTooDeep)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if r := AttributeKeyReason(k); r != "" {
				if !visit(prefix+k, r) {
					return false
				}
				continue
			}
			if !walkAttributes(x[k], prefix+k+".", depth+1, visit) {
				return false
			}
		}
	case []any:
		if depth > MaxAttributeDepth {
			return visit(strings.TrimSuffix(prefix, "."), ReasonTooDeep)
		}
		for _, e := range x {
			if !walkAttributes(e, prefix, depth+1, visit) {
				return false
			}
		}
	}
	return true
}

// filterValue copies v without refused keys; values nested too deep are
// dropped (nil).
func filterValue(v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if depth > MaxAttributeDepth {
			return nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if AttributeKeyReason(k) != "" {
				continue
			}
			if f := filterValue(e, depth+1); f != nil || e == nil {
				out[k] = f
			}
		}
		return out
	case []any:
		if depth > MaxAttributeDepth {
			return nil
		}
		out := make([]any, 0, len(x))
		for _, e := range x {
			if f := filterValue(e, depth+1); f != nil || e == nil {
				out = append(out, f)
			}
		}
		return out
	}
	return v
}
