package httpkit

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"regexp"

	"github.com/gin-gonic/gin"
)

const requestIDKey = "request_id"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the request's id.
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// RequestIDs is middleware that assigns each request an id (reusing a sane
// X-Request-ID) and echoes it in the X-Request-ID response header.
func RequestIDs() gin.HandlerFunc {
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
