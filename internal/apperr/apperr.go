// Package apperr defines the error kinds that domain packages wrap (with %w)
// and that internal/httpapi maps to HTTP status codes in one place.
package apperr

import (
	"errors"
	"fmt"
)

// Kinds of failure. Domain code wraps one of these; callers test with errors.Is.
var (
	ErrInvalid      = errors.New("invalid input")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrUnavailable  = errors.New("temporarily unavailable")
	ErrRateLimited  = errors.New("rate limited")
	ErrTooLarge     = errors.New("request too large")
)

// Error carries a client-safe message plus the kind used for status mapping.
// Message must never contain secrets; it is shown to API clients.
type Error struct {
	Kind    error
	Message string
	// Field optionally names the offending input field.
	Field string
	Err   error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap exposes both the kind and the cause to errors.Is / errors.As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// Invalid returns an ErrInvalid error about field.
func Invalid(field, format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns an ErrNotFound error with a client-safe message.
func NotFound(format string, args ...any) error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns an ErrConflict error with a client-safe message.
func Conflict(format string, args ...any) error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized returns an ErrUnauthorized error with a client-safe message.
func Unauthorized(msg string) error { return &Error{Kind: ErrUnauthorized, Message: msg} }

// Forbidden returns an ErrForbidden error with a client-safe message.
func Forbidden(msg string) error { return &Error{Kind: ErrForbidden, Message: msg} }

// Unavailable wraps cause as ErrUnavailable with a client-safe message.
func Unavailable(msg string, cause error) error {
	return &Error{Kind: ErrUnavailable, Message: msg, Err: cause}
}

// Message returns the client-safe message of err: its *Error's message, or
// "internal error" for anything else (whose text may carry internals).
func Message(err error) string {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "internal error"
}
