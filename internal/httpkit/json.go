package httpkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// ErrTrailingData is DecodeStrictJSON's error when something other than
// whitespace follows the JSON value.
var ErrTrailingData = errors.New("unexpected data after JSON object")

// strictJSON are DecodeStrictJSON's options. Most are the library's
// defaults, spelled out because each is a security property: names match
// struct tags exactly (encoding/json let {"Email":...} through as "email"),
// a repeated name is an error (encoding/json kept the last one), so is
// invalid UTF-8 anywhere (encoding/json replaced it by U+FFFD, so distinct
// ids collapsed into one), and so is a name no field has. A JSON null leaves
// a non-pointer field as it was, as encoding/json did (update endpoints
// pre-fill the fields an omitted or null member keeps).
var strictJSON = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
	jsonv1.MergeWithLegacySemantics(true),
)

// DecodeStrictJSON decodes data, which must hold exactly one JSON value,
// into v. Object member names must match the struct tags exactly (case
// included) and at most once per object; a name that matches no field, a
// repeated name (in any object, maps included) and invalid UTF-8 in any
// string are errors. Anything but JSON whitespace after the value is
// ErrTrailingData. Every other error is a *JSONError naming the offending
// member; InvalidJSON turns both into the client's 400. Decoded `any`
// values have encoding/json's types (float64 numbers, map[string]any,
// []any, string, bool, nil).
func DecodeStrictJSON(data []byte, v any) error {
	dec := jsontext.NewDecoder(bytes.NewReader(data), strictJSON)
	if err := json.UnmarshalDecode(dec, v); err != nil {
		return newJSONError(err)
	}
	for _, c := range data[dec.InputOffset():] {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return ErrTrailingData
		}
	}
	return nil
}

// JSONError is why DecodeStrictJSON refused a body, in client-safe words.
type JSONError struct {
	// Field is the path of the offending member ("user.id", "email"), or
	// "body" when the problem is not within a member.
	Field string
	// Reason is a short client-safe sentence naming Field.
	Reason string
	// syntactic errors (malformed JSON, repeated names, invalid UTF-8) do
	// not depend on the Go type decoded into.
	syntactic bool
	Err       error
}

func (e *JSONError) Error() string { return e.Reason }

func (e *JSONError) Unwrap() error { return e.Err }

// Syntactic reports whether the body is not valid strict JSON at all
// (malformed, a repeated name, invalid UTF-8) rather than JSON of the wrong
// shape for the value decoded into.
func (e *JSONError) Syntactic() bool { return e.syntactic }

// InvalidJSON turns a DecodeStrictJSON error into the client's 400
// (apperr.ErrInvalid): for trailing data "unexpected data after JSON
// object", else the reason with Field naming the member; hint, when given,
// says what the body should look like.
func InvalidJSON(err error, hint string) error {
	if errors.Is(err, ErrTrailingData) {
		return apperr.Invalid("body", "unexpected data after JSON object")
	}
	field, reason := "body", "invalid JSON body"
	var je *JSONError
	if errors.As(err, &je) {
		field, reason = je.Field, je.Reason
	}
	if hint != "" {
		reason += "; " + hint
	}
	return &apperr.Error{Kind: apperr.ErrInvalid, Field: field, Message: reason, Err: err}
}

const maxFieldPath = 80

// fieldPath renders a JSON pointer as a dotted member path ("/user/id" →
// "user.id"), "body" for the whole document.
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
		if b.Len() > maxFieldPath {
			return Truncate(b.String(), maxFieldPath)
		}
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

func newJSONError(err error) *JSONError {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.Is(err, io.EOF):
		return &JSONError{Field: "body", Reason: "the body is empty: a JSON object is required", syntactic: true, Err: err}
	case errors.As(err, &syn):
		field := fieldPath(syn.JSONPointer)
		je := &JSONError{Field: field, syntactic: true, Err: err}
		msg := ""
		if syn.Err != nil {
			msg = syn.Err.Error()
		}
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			je.Reason = fmt.Sprintf("%s is given more than once", strconv.Quote(field))
		case msg == "invalid UTF-8" || strings.Contains(msg, "surrogate"):
			if field == "body" {
				je.Reason = "the body contains invalid UTF-8"
			} else {
				je.Reason = fmt.Sprintf("%s contains invalid UTF-8", strconv.Quote(field))
			}
		case field == "body":
			je.Reason = fmt.Sprintf("malformed JSON at byte %d: %s", syn.ByteOffset, Truncate(msg, 80))
		default:
			je.Reason = fmt.Sprintf("malformed JSON at byte %d, in %s: %s", syn.ByteOffset, strconv.Quote(field), Truncate(msg, 80))
		}
		return je
	case errors.As(err, &sem):
		field := fieldPath(sem.JSONPointer)
		je := &JSONError{Field: field, Err: err}
		switch {
		case errors.Is(sem.Err, json.ErrUnknownName):
			je.Reason = fmt.Sprintf("unknown field %s (field names are case-sensitive)", strconv.Quote(field))
		case sem.JSONPointer == "" && sem.JSONKind != '{':
			je.Reason = "the body must be a JSON object"
		case sem.Err != nil && sem.GoType != nil && sem.GoType.PkgPath() != "" && sem.GoType.Name() != "":
			// A type's own UnmarshalJSON (flexID): its message is for clients.
			je.Reason = fmt.Sprintf("%s: %s", strconv.Quote(field), Truncate(sem.Err.Error(), 80))
		case sem.Err != nil && sem.Err.Error() == "value out of range":
			je.Reason = fmt.Sprintf("%s is out of range", strconv.Quote(field))
		default:
			je.Reason = fmt.Sprintf("%s must be %s%s", strconv.Quote(field), expectedKind(sem.GoType), gotKind(sem.JSONKind))
		}
		return je
	}
	return &JSONError{Field: "body", Reason: "invalid JSON body", Err: err}
}

// expectedKind names the JSON a Go type takes, for error messages.
func expectedKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a different JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a different JSON value"
}

func gotKind(k jsontext.Kind) string {
	switch k {
	case 'n':
		return " (got null)"
	case 'f', 't':
		return " (got a boolean)"
	case '"':
		return " (got a string)"
	case '0':
		return " (got a number)"
	case '{':
		return " (got an object)"
	case '[':
		return " (got an array)"
	}
	return ""
}

// DecodeJSONRequest is the one rule for admin JSON request bodies (the
// console's JSON API and the verification-mode admin routes alike): the
// Content-Type must be application/json, the body at most limit bytes, and
// it is decoded by DecodeStrictJSON; every refusal is a 4xx naming the field.
func DecodeJSONRequest(r *http.Request, limit int64, v any, hint string) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return apperr.Invalid("content-type", "content type must be application/json")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		if IsMaxBytes(err) {
			return &apperr.Error{Kind: apperr.ErrTooLarge, Message: "request body too large"}
		}
		return apperr.Invalid("body", "could not read request body")
	}
	if int64(len(data)) > limit {
		return &apperr.Error{Kind: apperr.ErrTooLarge, Message: "request body too large"}
	}
	if err := DecodeStrictJSON(data, v); err != nil {
		return InvalidJSON(err, hint)
	}
	return nil
}

// Truncate shortens s to at most n bytes followed by "…" (for echoing client
// input in error messages).
func Truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
