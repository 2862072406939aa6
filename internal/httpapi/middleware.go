package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/logging"
)

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
		now := time.Now()
		logging.LogAccess(c.Request.Context(), log, level, now, &logging.Access{
			RequestID: httpkit.RequestID(c), Method: c.Request.Method, Route: route, Path: c.Request.URL.Path,
			Status: status, Duration: now.Sub(start), Remote: httpkit.ClientIP(c),
		})
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
				log.ErrorContext(c.Request.Context(), "panic", "request_id", httpkit.RequestID(c), "panic", fmt.Sprint(r))
				httpkit.WriteError(c, nil, fmt.Errorf("panic: %v", r))
			}
		}()
		c.Next()
	}
}
