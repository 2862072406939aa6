// Package logging holds slog helpers; Redact wraps a handler so that
// secrets never reach the log output even when a caller logs them by mistake.
package logging

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// Redacted replaces sensitive values.
const Redacted = "[REDACTED]"

// sensitiveParts are substrings of attribute keys whose values are dropped.
var sensitiveParts = []string{"password", "passwd", "secret", "token", "authorization", "api_key", "apikey", "api-key", "cookie", "jwt", "credential", "private_key", "master_key"}

// sensitiveKeys are whole keys (case-insensitive) whose values are dropped.
var sensitiveKeys = map[string]bool{"value": true, "pw": true, "pass": true, "key": true, "x-api-key": true}

// jwtPattern matches a compact JWS (header.payload.signature) anywhere in a string.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// refreshPattern matches a refresh credential (internal/refresh) anywhere in a string.
var refreshPattern = regexp.MustCompile(`prt_[a-z2-7]{26}_[A-Za-z0-9_-]{43}`)

// bearerPattern matches credentials after an HTTP auth scheme.
var bearerPattern = regexp.MustCompile(`(?i)\b(bearer|basic|jwt)\s+[A-Za-z0-9._~+/=-]{8,}`)

// IsSensitiveKey reports whether values logged under key are redacted.
func IsSensitiveKey(key string) bool {
	k := strings.ToLower(key)
	if sensitiveKeys[k] {
		return true
	}
	for _, p := range sensitiveParts {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

// Scrub removes JWTs, refresh credentials and bearer credentials from free
// text (error messages).
func Scrub(s string) string {
	if strings.Contains(s, "eyJ") {
		s = jwtPattern.ReplaceAllString(s, Redacted)
	}
	if strings.Contains(s, "prt_") {
		s = refreshPattern.ReplaceAllString(s, Redacted)
	}
	if strings.ContainsAny(s, " \t") && (strings.Contains(s, "earer") || strings.Contains(s, "asic") || strings.Contains(s, "JWT") || strings.Contains(s, "jwt")) {
		s = bearerPattern.ReplaceAllString(s, "$1 "+Redacted)
	}
	return s
}

// Redact returns a handler that drops the values of sensitive attributes
// (keys containing password, secret, token, authorization, api_key, cookie,
// jwt, ...; or named value/key) at any group depth, and scrubs JWTs and
// bearer credentials out of messages and string or error values.
func Redact(h slog.Handler) slog.Handler { return &redactor{inner: h} }

type redactor struct{ inner slog.Handler }

func (r *redactor) Enabled(ctx context.Context, l slog.Level) bool { return r.inner.Enabled(ctx, l) }

func (r *redactor) Handle(ctx context.Context, rec slog.Record) error {
	msg := Scrub(rec.Message)
	if msg == rec.Message && !needsRedaction(rec) {
		return r.inner.Handle(ctx, rec) // nothing to change: no copy
	}
	out := slog.NewRecord(rec.Time, rec.Level, msg, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.inner.Handle(ctx, out)
}

// needsRedaction reports whether redactAttr would change any attribute of
// rec: a sensitive key, a group, a value to resolve or to scrub.
func needsRedaction(rec slog.Record) bool {
	needs := false
	rec.Attrs(func(a slog.Attr) bool {
		needs = attrNeedsRedaction(a)
		return !needs
	})
	return needs
}

func attrNeedsRedaction(a slog.Attr) bool {
	if a.Key != "" && !safeKeys[a.Key] && IsSensitiveKey(a.Key) {
		return true
	}
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		return Scrub(s) != s
	case slog.KindGroup, slog.KindLogValuer, slog.KindAny:
		return true
	}
	return false
}

// safeKeys are keys logged on every request that IsSensitiveKey passes
// (TestSafeKeysAreNotSensitive), looked up before the full check.
var safeKeys = map[string]bool{"request_id": true, "method": true, "route": true, "path": true, "status": true, "duration_ms": true, "remote": true}

// queue is the Queue of the handler inside, if any (QueueOf).
func (r *redactor) queue() *Queue {
	if h, ok := r.inner.(queued); ok {
		return h.queue()
	}
	return nil
}

func (r *redactor) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return &redactor{inner: r.inner.WithAttrs(red)}
}

func (r *redactor) WithGroup(name string) slog.Handler {
	return &redactor{inner: r.inner.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if a.Key != "" && IsSensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	switch v.Kind() {
	case slog.KindGroup:
		as := v.Group()
		red := make([]slog.Attr, len(as))
		for i, g := range as {
			red[i] = redactAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindString:
		return slog.String(a.Key, Scrub(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Scrub(x.Error()))
		case []byte:
			return slog.String(a.Key, Scrub(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
