package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/operator"
)

// bind decodes a JSON body strictly (unknown fields and trailing data are errors).
func bind(g *gin.Context, v any) error {
	return httpkit.DecodeJSONRequest(g.Request, maxFormBytes, v, "")
}

func (c *Console) ok(g *gin.Context, status int, v any) { g.JSON(status, v) }

// --- session ---

func (c *Console) apiLogin(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := bind(g, &in); err != nil {
		c.fail(g, err)
		return
	}
	o, raw, err := c.login(g, in.Email, in.Password)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.ok(g, http.StatusOK, gin.H{"operator": o, "csrf_token": operator.CSRFToken(raw), "roles": c.d.RBAC.Assignments(o.ID)})
}

func (c *Console) apiLogout(g *gin.Context) {
	c.endSession(g)
	g.Status(http.StatusNoContent)
}
