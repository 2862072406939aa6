package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

type memProjects struct{ p *project.Project }

func (m memProjects) Get(_ context.Context, id string) (*project.Project, error) {
	if id == m.p.ID {
		return m.p, nil
	}
	return nil, apperr.NotFound("project not found")
}

type memUsers struct{ u *enduser.User }

func (m memUsers) Authenticate(context.Context, string, string, string) (*enduser.User, error) {
	return m.u, nil
}

type memKeys struct{ kr *secret.Keyring }

func (m memKeys) Get(context.Context, string) (*secret.Keyring, error) { return m.kr, nil }

// BenchmarkAuthHotPath measures POST /auth/<id> with in-memory dependencies,
// with the hardening layer at its defaults (limits, metrics, body limit) and
// with it disabled, to show its per-request cost.
func BenchmarkAuthHotPath(b *testing.B) {
	cfg, err := config.FromEnv(func(k string) string {
		// Limits on (default algorithm) but high enough never to trigger here.
		return map[string]string{"PINGAUTH_RATE_AUTH_IP": "1000000/s:1000000", "PINGAUTH_RATE_AUTH_LOGIN": "1000000/s:1000000"}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	deps := func(sec config.Security) httpapi.Deps {
		return httpapi.Deps{
			Projects: memProjects{&project.Project{ID: projA, TenantID: "acme", Name: "A", TokenTTLSeconds: 600, Status: project.StatusActive}},
			EndUsers: memUsers{&enduser.User{ExternalID: "u1", Email: "u1@example.com"}},
			Keyrings: memKeys{&secret.Keyring{ProjectID: projA, Current: secret.Version{Version: 1, Value: []byte(secretA)}}},
			Security: sec, MaxBodyBytes: sec.MaxBodyBytes, AudienceBase: cfg.AudienceBase,
		}
	}
	body := `{"email":"u1@example.com","password":"correct horse battery"}`
	for _, bc := range []struct {
		name string
		sec  config.Security
	}{{"hardened", cfg.Security}, {"bare", config.Security{}}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httpapi.New(deps(bc.sec))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/auth/"+projA, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.RemoteAddr = "192.0.2." + strconv.Itoa(i&255) + ":1234"
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
					i++
				}
			})
		})
	}
}
