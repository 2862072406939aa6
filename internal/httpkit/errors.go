// Package httpkit is what pingauth's HTTP packages share: the one mapping of
// apperr errors to statuses and JSON error bodies, the one strict JSON
// request decoder, request ids, and the security headers and CSP of HTML
// pages. It serves internal/httpapi (the widget endpoints) and internal/web
// (the console and /api/v1) alike, so neither imports the other; it imports
// no storage package (outage-type driver errors come from internal/dberr).
package httpkit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/dberr"
)

// ErrorReasonKey is the gin context key under which WriteError leaves the
// failure's reason (the error code, or the rate limit's reason) for metrics.
const ErrorReasonKey = "pingauth.error_reason"

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes one error.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// RetryAfter (seconds) accompanies 429 responses, like the Retry-After header.
	RetryAfter int `json:"retry_after,omitempty"`
}

// Status maps an error to its HTTP status and machine-readable code. This is
// the one place where domain errors become HTTP statuses.
func Status(err error) (int, string) {
	switch {
	case errors.Is(err, apperr.ErrInvalid):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, apperr.ErrTooLarge), IsMaxBytes(err):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, apperr.ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, apperr.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, apperr.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, apperr.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, apperr.ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	case errors.Is(err, apperr.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), dberr.IsUnavailable(err):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, context.Canceled):
		return 499, "canceled"
	}
	return http.StatusInternalServerError, "internal"
}

// publicMessage returns the client-safe message of err.
func publicMessage(err error, status int) (msg, field string) {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Message, ae.Field
	}
	switch status {
	case http.StatusInternalServerError:
		return "internal error", ""
	case http.StatusServiceUnavailable:
		return "service temporarily unavailable", ""
	}
	return http.StatusText(status), ""
}

// WriteError sends err as a JSON error response and logs server-side failures.
func WriteError(c *gin.Context, log *slog.Logger, err error) {
	status, code := Status(err)
	msg, field := publicMessage(err, status)
	rid := RequestID(c)
	if status >= 500 && log != nil {
		log.ErrorContext(c.Request.Context(), "request failed", "request_id", rid, "status", status, "error", err.Error())
	}
	c.Header("Cache-Control", "no-store")
	detail := ErrorDetail{Code: code, Message: msg, Field: field, RequestID: rid}
	reason := code
	if r, ok := apperr.RetryOf(err); ok { // rate limits: 429 with Retry-After
		c.Header("Retry-After", r.Header())
		detail.RetryAfter, reason = r.Seconds(), r.Reason
	}
	c.Set(ErrorReasonKey, reason) // httpapi metrics: failures by reason
	c.AbortWithStatusJSON(status, ErrorBody{Error: detail})
}

// IsMaxBytes reports whether err comes from http.MaxBytesReader.
func IsMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
