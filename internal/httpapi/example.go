package httpapi

import (
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/web"
)

var exampleTmpl = template.Must(template.ParseFS(web.Example, "example/index.html"))

// exampleData feeds web/example/index.html.
type exampleData struct {
	ProjectID string
	AuthURL   string
	AuthPath  string
	// Ticket lets the sandboxed page call AuthPath (exampleticket.go); "" when
	// the project has no shared secret yet.
	Ticket       string
	WidgetScript string
	// SDKPath and SDKIntegrity load the widget session kit (sdk.go).
	SDKPath      string
	SDKIntegrity string
}

// example serves the example widget page for a project: widget settings with
// the project id and autoStart false, and the widget session kit (sdk.go)
// signing the visitor in from a login form (or an exchange-mode ID token or
// a server-mode answer pasted into the page) with signInWithCustomToken and
// the "JWT <token>" form.
//
// The page runs a third-party script (the widget loader) on the host that
// also serves the operator console and /api/v1, so it must not run in this
// origin: a script there could read /api/v1/me with the operator's session
// cookie, take the CSRF token and mint an operator API token. It is therefore
// served under a CSP sandbox without allow-same-origin (ExampleSandbox in
// headers.go): the browser gives the document an opaque origin, so
// document.cookie throws, no SameSite cookie goes with its requests, and every
// request it makes is cross-origin with "Origin: null" — the admin API and the
// console send no CORS headers, so nothing they answer is readable there, and
// writes need the CSRF token that only same-origin reads reveal. (A separate
// origin for the page would do too, but needs a second listener or host name
// in every deployment; the sandbox works with one listener.) The page's own
// POST to /auth, sent without credentials, still works: cors (auth.go) answers
// "Access-Control-Allow-Origin: null" to it because it carries the page's
// example ticket (exampleticket.go). Trade-off: storage (localStorage,
// IndexedDB) throws in an opaque origin, so a widget that keeps its session
// there cannot, and the kit keeps its refresh credential in memory (a reload
// asks for the password again); the page shows the sign-in flow, real sites
// embed the snippet. The refresh routes honour the same ticket (refresh.go).
func (s *Server) example(c *gin.Context) {
	p, err := s.loadProject(c)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_ = exampleTmpl.Execute(c.Writer, exampleData{
		ProjectID:    p.ID,
		AuthURL:      s.d.PublicURL + "/auth/" + p.ID,
		AuthPath:     "/auth/" + p.ID,
		Ticket:       s.exampleTicket(c, p.ID),
		WidgetScript: s.d.WidgetScript,
		SDKPath:      web.SDK().Path,
		SDKIntegrity: web.SDK().Integrity,
	})
}
