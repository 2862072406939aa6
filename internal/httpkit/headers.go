package httpkit

import "github.com/gin-gonic/gin"

// ConsoleCSP is the Content-Security-Policy for pages that load only their
// own assets (the operator console): no inline script, no framing.
const ConsoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

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
