package httpapi

import (
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/web"
)

var exampleTmpl = template.Must(template.ParseFS(web.Example, "example/index.html"))

// exampleData feeds web/example/index.html.
type exampleData struct {
	ProjectID    string
	AuthURL      string
	AuthPath     string
	WidgetScript string
}

// example serves the example widget page for a project: widget settings with
// the project id and autoStart false, a login form posting to /auth/<id>, and
// signInWithCustomToken with the "JWT <token>" form.
func (s *Server) example(c *gin.Context) {
	p, err := s.loadProject(c)
	if err != nil {
		WriteError(c, s.d.Log, err)
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_ = exampleTmpl.Execute(c.Writer, exampleData{
		ProjectID:    p.ID,
		AuthURL:      s.d.PublicURL + "/auth/" + p.ID,
		AuthPath:     "/auth/" + p.ID,
		WidgetScript: s.d.WidgetScript,
	})
}
