package apperr

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// Retry tells a client when to try again; it rides in the error chain of
// RateLimited and TooLarge errors so the HTTP layer can send Retry-After.
type Retry struct {
	After time.Duration
	// Reason is a short machine-readable cause ("rate_limited", "locked").
	Reason string
}

func (r *Retry) Error() string { return r.Reason + ": retry after " + r.After.String() }

// Seconds is the Retry-After value: whole seconds, rounded up, at least 1.
func (r *Retry) Seconds() int {
	s := int(math.Ceil(r.After.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// Header is Seconds as a header value.
func (r *Retry) Header() string { return strconv.Itoa(r.Seconds()) }

// RateLimited returns an ErrRateLimited error asking the client to wait.
// reason is a metrics/log label such as "rate_limited" or "locked".
func RateLimited(msg, reason string, after time.Duration) error {
	return &Error{Kind: ErrRateLimited, Message: msg, Err: &Retry{After: after, Reason: reason}}
}

// RetryOf returns the Retry carried by err, if any.
func RetryOf(err error) (*Retry, bool) {
	var r *Retry
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// TooLarge returns an ErrTooLarge error with a client-safe message.
func TooLarge(msg string) error { return &Error{Kind: ErrTooLarge, Message: msg} }
