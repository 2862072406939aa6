package httpkit

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"

	"github.com/gin-gonic/gin"
)

// requestState is what the middleware of one request share: the request id
// and its response header value, and the client IP once computed. It is one
// allocation per request: RequestIDs puts it in front of the gin writer
// (c.Writer), which it embeds, instead of a gin.Context key (the key map and
// the boxed id cost three allocations per request).
type requestState struct {
	gin.ResponseWriter
	id       string
	header   [1]string // the X-Request-Id response header value
	clientIP string
	ipDone   bool
}

func stateOf(c *gin.Context) *requestState {
	st, _ := c.Writer.(*requestState)
	return st
}

// RequestID returns the request's id ("" outside RequestIDs).
func RequestID(c *gin.Context) string {
	if st := stateOf(c); st != nil {
		return st.id
	}
	return ""
}

// ClientIP is c.ClientIP(), computed once per request under RequestIDs (the
// rate limiter and the access log both need it).
func ClientIP(c *gin.Context) string {
	st := stateOf(c)
	if st == nil {
		return c.ClientIP()
	}
	if !st.ipDone {
		st.clientIP, st.ipDone = c.ClientIP(), true
	}
	return st.clientIP
}

// validRequestID reports whether an incoming X-Request-ID is kept: 1 to 64
// of [A-Za-z0-9._-] (= the regexp ^[A-Za-z0-9._-]{1,64}$).
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// RequestIDs is middleware that assigns each request an id (reusing a sane
// X-Request-ID) and echoes it in the X-Request-ID response header. Later
// middleware that replaces c.Writer must keep RequestID and ClientIP
// working (nothing in pingauth replaces it).
func RequestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		st := &requestState{ResponseWriter: c.Writer}
		// = c.GetHeader("X-Request-ID") without canonicalizing the name
		// (an allocation) on every request: net/http stores incoming
		// names canonicalized.
		if v := c.Request.Header["X-Request-Id"]; len(v) > 0 && validRequestID(v[0]) {
			st.id = v[0]
		} else {
			// 64 random bits as 16 hex digits. The id correlates logs and
			// responses; it is not a secret, so the runtime's per-thread
			// ChaCha8 generator (math/rand/v2, seeded from the OS) does
			// instead of a crypto/rand read per request: the same odds of
			// a collision, and nothing sequential to reveal request counts.
			var b [8]byte
			var h [16]byte
			binary.LittleEndian.PutUint64(b[:], rand.Uint64())
			hex.Encode(h[:], b[:])
			st.id = string(h[:])
		}
		st.header[0] = st.id
		// = c.Header("X-Request-ID", id) without canonicalizing the name
		// (an allocation) or allocating the value slice.
		c.Writer.Header()["X-Request-Id"] = st.header[:]
		c.Writer = st
		c.Next()
	}
}

// Unwrap lets http.ResponseController reach gin's writer and the
// connection beneath (the CSV imports and tenant-wide rotations extend
// their read and write deadlines through it).
func (s *requestState) Unwrap() http.ResponseWriter { return s.ResponseWriter }
