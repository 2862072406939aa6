package logging

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// AccessMessage is the message of an access-log line.
const AccessMessage = "http request"

// Access is one access-log line: one per HTTP request, never bodies, query
// strings or headers.
type Access struct {
	RequestID, Method, Route, Path string
	Status                         int
	Duration                       time.Duration
	Remote                         string
}

// attrs are a's attributes as logged (the definition of the line).
func (a *Access) attrs() [7]slog.Attr {
	return [...]slog.Attr{
		slog.String("request_id", a.RequestID),
		slog.String("method", a.Method),
		slog.String("route", a.Route),
		slog.String("path", a.Path),
		slog.Int("status", a.Status),
		slog.Float64("duration_ms", float64(a.Duration.Microseconds())/1000),
		slog.String("remote", a.Remote),
	}
}

// LogAccess logs a at level with the message AccessMessage, at time now.
// On a logger built by Redact(SplitJSON(...)) it formats the line itself
// (what the JSON handler would write, byte for byte, the strings scrubbed as
// Redact scrubs them: FuzzAccessLine) and hands it to the queue, without a
// slog.Record; on any other logger it is l.LogAttrs with the same
// attributes.
func LogAccess(ctx context.Context, l *slog.Logger, level slog.Level, now time.Time, a *Access) {
	if r, ok := l.Handler().(*redactor); ok && r.logAccess(ctx, level, now, a) {
		return
	}
	as := a.attrs()
	l.LogAttrs(ctx, level, AccessMessage, as[:]...)
}

// logAccess writes a through the fast path of the handler inside, if it has
// one, with every string value scrubbed (the keys are safeKeys and the
// message is constant: nothing else would change). It reports whether it
// did.
func (r *redactor) logAccess(ctx context.Context, level slog.Level, now time.Time, a *Access) bool {
	s, ok := r.inner.(*splitLevel)
	if !ok || !s.json {
		return false
	}
	if !s.low.Enabled(ctx, level) {
		return true
	}
	if y := now.Year(); y < 0 || y >= 10000 {
		return false // the JSON handler writes an error value: let it
	}
	d := a.Duration.Microseconds()
	ms := float64(d) / 1000
	if math.Abs(ms) < 1e-6 && ms != 0 || math.Abs(ms) >= 1e21 {
		return false // json.Marshal would use the exponent form: let the handler format it
	}
	bp := lineBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = now.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendJSONString(b, level.String())
	b = append(b, `,"msg":"`+AccessMessage+`","request_id":`...)
	b = appendJSONString(b, Scrub(a.RequestID))
	b = append(b, `,"method":`...)
	b = appendJSONString(b, Scrub(a.Method))
	b = append(b, `,"route":`...)
	b = appendJSONString(b, Scrub(a.Route))
	b = append(b, `,"path":`...)
	b = appendJSONString(b, Scrub(a.Path))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(a.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, ms, 'f', -1, 64) // = json.Marshal in [1e-6, 1e21) and 0
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, Scrub(a.Remote))
	b = append(b, "}\n"...)
	if level >= slog.LevelWarn {
		_, _ = s.q.Direct().Write(b)
	} else {
		_, _ = s.q.Buffered().Write(b) // copied into the queue (or dropped and counted)
	}
	if cap(b) <= 4<<10 {
		*bp = b
		lineBufs.Put(bp)
	}
	return true
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendJSONString appends s quoted as log/slog's JSON handler writes it
// (encoding/json's escaping without HTML escaping: control characters,
// quotes and backslashes escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c < 0x80 {
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
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
