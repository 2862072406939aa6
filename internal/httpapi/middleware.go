package httpapi

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIDKey = "request_id"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the request's id.
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// requestID assigns each request an id (reusing a sane X-Request-ID).
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			// 64 random bits as 16 hex digits. The id correlates logs and
			// responses; it is not a secret, so the runtime's per-thread
			// ChaCha8 generator (math/rand/v2, seeded from the OS) does
			// instead of a crypto/rand read per request: the same odds of
			// a collision, and nothing sequential to reveal request counts.
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], rand.Uint64())
			id = hex.EncodeToString(b[:])
		}
		c.Set(requestIDKey, id)
		// = c.Header("X-Request-ID", id) without canonicalizing the name
		// (an allocation) on every request.
		c.Writer.Header()["X-Request-Id"] = []string{id}
		c.Next()
	}
}

// accessLog logs one line per request. It never logs bodies, query strings or headers.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		log.LogAttrs(c.Request.Context(), level, "http request",
			slog.String("request_id", RequestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", c.ClientIP()),
		)
	}
}

// recovery turns a panic into a JSON 500 instead of a dropped connection.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.ErrorContext(c.Request.Context(), "panic", "request_id", RequestID(c), "panic", fmt.Sprint(r))
				WriteError(c, nil, fmt.Errorf("panic: %v", r))
			}
		}()
		c.Next()
	}
}
