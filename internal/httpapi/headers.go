package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/httpkit"
)

// ExampleSandbox is the CSP sandbox of the example page: scripts, its login
// form and popups run, but without allow-same-origin the document gets an
// opaque origin, so the third-party widget script on it shares nothing with
// the console on this origin (see example.go).
const ExampleSandbox = "sandbox allow-scripts allow-forms allow-popups"

// exampleCSP lets the example page run its inline bootstrap script and the
// Pingstreams widget (scripts, frames and websockets from https origins),
// while still forbidding plugins, <base> hijacking and being framed, and
// sandboxes it into an opaque origin (ExampleSandbox).
const exampleCSP = "default-src 'self'; script-src 'self' 'unsafe-inline' https:; style-src 'self' 'unsafe-inline' https:; " +
	"img-src 'self' data: https:; font-src 'self' data: https:; connect-src 'self' https: wss:; frame-src https:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; " + ExampleSandbox

// HTMLSecurity is httpkit.SecurityHeaders with httpkit.ConsoleCSP and HSTS when the public
// URL is https: the policy for the operator console.
func (s *Server) HTMLSecurity() gin.HandlerFunc {
	return httpkit.SecurityHeaders(httpkit.HeaderPolicy{CSP: httpkit.ConsoleCSP, HSTS: s.httpsPublic()})
}

func (s *Server) exampleHeaders() gin.HandlerFunc {
	return httpkit.SecurityHeaders(httpkit.HeaderPolicy{CSP: exampleCSP, HSTS: s.httpsPublic()})
}

func (s *Server) httpsPublic() bool {
	return strings.HasPrefix(strings.ToLower(s.d.PublicURL), "https://")
}

// Header values set on every /auth response, shared by all responses: a
// header map only ever replaces a value slice (Header.Set) or appends to it,
// and append copies a slice whose length is its capacity, so these are never
// written to. Setting them directly saves an allocation each (and a
// canonicalization: the names are already canonical).
var (
	headerVaryOrigin = []string{"Origin"}
	headerNoStore    = []string{"no-store"}
	headerJSONUTF8   = []string{"application/json; charset=utf-8"}
)
