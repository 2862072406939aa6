package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

// TestMintRefusesAnAudienceThatIsNotExactlyProjectsID: a project stored with
// an audience_base from before strict validation (or a bad default base)
// gets an error naming audience_base on /auth and /auth/<id>/verify, never a
// token whose aud URL parsers read as another project.
func TestMintRefusesAnAudienceThatIsNotExactlyProjectsID(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, projectBase, defaultBase string }{
		{"fragment naming another project", "https://tiledesk.com/projects/OTHER#", "https://tiledesk.com"},
		{"query", "https://tiledesk.com?x=", "https://tiledesk.com"},
		{"path", "https://tiledesk.com/api", "https://tiledesk.com"},
		{"bad default base", "", "https://tiledesk.com/projects/OTHER#"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httpapi.New(httpapi.Deps{
				Projects:     memProjects{&project.Project{ID: projA, TenantID: "acme", Name: "A", TokenTTLSeconds: 600, Status: project.StatusActive, AudienceBase: tc.projectBase}},
				EndUsers:     memUsers{&enduser.User{ExternalID: "u1", Email: "u1@example.com"}},
				Keyrings:     memKeys{&secret.Keyring{ProjectID: projA, Current: secret.Version{Version: 1, Value: []byte(secretA)}}},
				AudienceBase: tc.defaultBase,
			})
			for _, path := range []string{"/auth/" + projA, "/auth/" + projA + "/verify"} {
				body := `{"email":"u1@example.com","password":"correct horse battery"}`
				if strings.HasSuffix(path, "/verify") {
					body = `{"token":"a.b.c"}`
				}
				req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				var out httpkit.ErrorBody
				_ = json.Unmarshal(w.Body.Bytes(), &out)
				if w.Code != http.StatusConflict || out.Error.Field != "audience_base" || strings.Contains(w.Body.String(), "token\"") {
					t.Fatalf("POST %s: %d %s, want 409 naming audience_base", path, w.Code, w.Body)
				}
			}
		})
	}
}
