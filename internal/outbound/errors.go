package outbound

import "errors"

// ErrFailed is what every failed Do or Get matches (errors.Is), and the
// whole of its message: callers may pass it on to end users, who learn
// nothing about our network from it.
var ErrFailed = errors.New("outbound request failed")

// The reasons of a failure, for code (errors.Is) and logs; exactly one is
// the Reason of an *Error.
var (
	ErrURL            = errors.New("URL not allowed")
	ErrScheme         = errors.New("scheme not allowed")
	ErrBlockedAddress = errors.New("destination address not allowed")
	ErrRedirect       = errors.New("redirect refused")
	ErrTooLarge       = errors.New("response too large")
	ErrTimeout        = errors.New("timed out")
	ErrCanceled       = errors.New("canceled")
	ErrStatus         = errors.New("unexpected HTTP status")
	ErrNetwork        = errors.New("network error") // DNS, connect, TLS and protocol failures
)

// Error is the error of a failed Do or Get. Error() is ErrFailed's message
// whatever happened; Reason (one of the sentinels above) and Err (the
// detail, naming hosts and addresses, for logs only) are for code.
// errors.Is matches ErrFailed, Reason and anything Err wraps.
type Error struct {
	Reason error
	Err    error
}

func (e *Error) Error() string { return ErrFailed.Error() }

// Unwrap exposes ErrFailed and the detail (which wraps Reason).
func (e *Error) Unwrap() []error { return []error{ErrFailed, e.Err} }

// reasons is the order in which a detail error is matched to its reason:
// refusals by policy before the timeouts and network errors they may carry.
var reasons = []error{ErrURL, ErrScheme, ErrBlockedAddress, ErrRedirect, ErrTooLarge, ErrStatus, ErrTimeout, ErrCanceled}

func reasonOf(err error) error {
	for _, r := range reasons {
		if errors.Is(err, r) {
			return r
		}
	}
	return ErrNetwork
}
