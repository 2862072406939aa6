package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// ConsoleCSP is the Content-Security-Policy for pages that load only their
// own assets (the operator console): no inline script, no framing.
const ConsoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

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

// HeaderPolicy configures SecurityHeaders.
type HeaderPolicy struct {
	// CSP is the Content-Security-Policy ("" uses ConsoleCSP).
	CSP string
	// HSTS adds Strict-Transport-Security (only sensible over https).
	HSTS bool
}

// SecurityHeaders is middleware for HTML responses: CSP, X-Frame-Options
// DENY, X-Content-Type-Options nosniff, Referrer-Policy, a restrictive
// Permissions-Policy and, when p.HSTS, Strict-Transport-Security. Routes adopt
// it with one line, e.g. console.Use(srv.HTMLSecurity()).
func SecurityHeaders(p HeaderPolicy) gin.HandlerFunc {
	if p.CSP == "" {
		p.CSP = ConsoleCSP
	}
	// Values are built once and shared; handlers only ever replace them.
	set := map[string][]string{
		"Content-Security-Policy":    {p.CSP},
		"X-Frame-Options":            {"DENY"},
		"X-Content-Type-Options":     {"nosniff"},
		"Referrer-Policy":            {"strict-origin-when-cross-origin"},
		"Permissions-Policy":         {"camera=(), microphone=(), geolocation=(), payment=()"},
		"Cross-Origin-Opener-Policy": {"same-origin"},
	}
	if p.HSTS {
		set["Strict-Transport-Security"] = []string{"max-age=63072000; includeSubDomains"}
	}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		for k, v := range set {
			h[k] = v
		}
		c.Next()
	}
}

// HTMLSecurity is SecurityHeaders with ConsoleCSP and HSTS when the public
// URL is https: the policy for the operator console.
func (s *Server) HTMLSecurity() gin.HandlerFunc {
	return SecurityHeaders(HeaderPolicy{CSP: ConsoleCSP, HSTS: s.httpsPublic()})
}

func (s *Server) exampleHeaders() gin.HandlerFunc {
	return SecurityHeaders(HeaderPolicy{CSP: exampleCSP, HSTS: s.httpsPublic()})
}

func (s *Server) httpsPublic() bool {
	return strings.HasPrefix(strings.ToLower(s.d.PublicURL), "https://")
}
