package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/web"
)

// sdkRoute serves the browser SDK (web/sdk): GET /sdk/v1/pingauth.js.
const sdkRoute = "/sdk/:version/pingauth.js"

// sdk serves one version of the widget session kit. A version's bytes never
// change, so it is cacheable for a year; it is readable cross-origin (CORS
// *) because pages load it from their own origin with an integrity
// attribute, which browsers check only on CORS responses.
func (s *Server) sdk(c *gin.Context) {
	f := web.SDKVersion(c.Param("version"))
	if f == nil {
		httpkit.WriteError(c, s.d.Log, apperr.NotFound("no such SDK version"))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("ETag", f.ETag)
	h.Set("X-Pingauth-Integrity", f.Integrity)
	if c.GetHeader("If-None-Match") == f.ETag {
		c.Status(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.Body)))
	c.Status(http.StatusOK)
	if c.Request.Method != http.MethodHead {
		_, _ = c.Writer.Write(f.Body)
	}
}
