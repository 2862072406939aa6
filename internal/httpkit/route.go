package httpkit

import "github.com/gin-gonic/gin"

// AdminRoute is one project-scoped admin API route served by a package other
// than the console (the verification-mode routes of internal/httpapi). The
// console's access table (internal/web) mounts it behind its
// authentication/Casbin guard: Credential routes manage API keys
// (secret-like), the others project settings (modes, mapping, IdP, role
// rules).
type AdminRoute struct {
	Method, Path string
	Write        bool
	Credential   bool
	Handler      gin.HandlerFunc
}
