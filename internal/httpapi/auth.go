package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/token"
)

// AuthRequest is the body of POST /auth/<projectId> (JSON or form-encoded).
type AuthRequest struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Password string `json:"password"`
	// Refresh asks for a refresh credential with the token (password mode;
	// refresh.go). Without it the response is unchanged.
	Refresh bool `json:"refresh"`
}

// AuthUser is the user part of an AuthResponse.
type AuthUser struct {
	ID        string `json:"_id"`
	Email     string `json:"email,omitempty"`
	Firstname string `json:"firstname,omitempty"`
	Lastname  string `json:"lastname,omitempty"`
}

// AuthResponse is what the widget page receives. RefreshToken and
// RefreshExpiresAt are present only when the request asked for a refresh
// credential and the project has refresh credentials on (refresh.go).
type AuthResponse struct {
	Token            string     `json:"token"`
	JWT              string     `json:"jwt"`
	ExpiresAt        time.Time  `json:"expires_at"`
	ExpiresIn        int        `json:"expires_in"`
	User             AuthUser   `json:"user"`
	RefreshToken     string     `json:"refresh_token,omitempty"`
	RefreshExpiresAt *time.Time `json:"refresh_expires_at,omitempty"`
	// jwtOfToken: AppendJSON writes "JWT " + Token as jwt (JWT is empty).
	jwtOfToken bool
}

var authFields = map[string]bool{"email": true, "username": true, "password": true, "refresh": true}

// DecodeAuthRequest parses a JSON or form-encoded body strictly: unknown
// fields, duplicate form values, trailing data and oversize bodies are errors.
func DecodeAuthRequest(contentType string, body io.Reader, limit int64) (AuthRequest, error) {
	var req AuthRequest
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		if httpkit.IsMaxBytes(err) { // limits.go: global http.MaxBytesReader
			return req, apperr.TooLarge("request body too large")
		}
		return req, apperr.Invalid("body", "could not read request body")
	}
	if int64(len(data)) > limit {
		return req, &apperr.Error{Kind: apperr.ErrTooLarge, Message: "request body too large"}
	}
	switch mt {
	case "application/json", "":
		if err := httpkit.DecodeStrictJSON(data, &req); err != nil {
			return req, httpkit.InvalidJSON(err, "the body must be a JSON object with email or username and password")
		}
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return req, apperr.Invalid("body", "malformed form body")
		}
		for k, v := range vals {
			if !authFields[k] {
				return req, apperr.Invalid(k, "unknown field %q", httpkit.Truncate(k, 40))
			}
			if len(v) != 1 {
				return req, apperr.Invalid(k, "field %q given more than once", k)
			}
		}
		req = AuthRequest{Email: vals.Get("email"), Username: vals.Get("username"), Password: vals.Get("password")}
		if vals.Has("refresh") {
			switch vals.Get("refresh") {
			case "true", "1":
				req.Refresh = true
			case "false", "0", "":
			default:
				return req, apperr.Invalid("refresh", "refresh must be true or false")
			}
		}
	default:
		return req, apperr.Invalid("content-type", "content type must be application/json or application/x-www-form-urlencoded")
	}
	if req.Email == "" && req.Username == "" {
		return req, apperr.Invalid("email", "email or username is required")
	}
	if req.Password == "" {
		return req, apperr.Invalid("password", "password is required")
	}
	if len(req.Email) > 254 || len(req.Username) > 128 || len(req.Password) > enduser.MaxPasswordLen {
		return req, apperr.Invalid("body", "field too long")
	}
	return req, checkAuthFields(req) // input.go
}

// loadProject fetches the path's project, answering 404 for unknown ids.
func (s *Server) loadProject(c *gin.Context) (*project.Project, error) {
	p, err := s.d.Projects.Get(c.Request.Context(), c.Param("projectId"))
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, apperr.NotFound("project not found")
		}
		return nil, err
	}
	return p, nil
}

// cors applies the project's origin policy. Requests without an Origin header
// (server-to-server, curl) pass; browser requests from other origins get 403.
// "Origin: null" (an opaque-origin document) passes only with a valid example
// ticket: that is the sandboxed example page (example.go, exampleticket.go).
func (s *Server) cors(c *gin.Context, p *project.Project) error {
	origin := c.GetHeader("Origin")
	c.Header("Vary", "Origin")
	if origin == "" {
		return nil
	}
	if !p.AllowsOrigin(origin) && !s.sameOrigin(origin) && (origin != "null" || !s.validExampleTicket(c, p.ID)) {
		return &apperr.Error{Kind: apperr.ErrForbidden, Field: "origin", Message: "origin not allowed for this project"}
	}
	c.Header("Access-Control-Allow-Origin", origin)
	return nil
}

// sameOrigin reports whether origin is this service itself, as configured by
// PINGAUTH_PUBLIC_URL (Deps.PublicURL): pages we serve (the example page) may
// always call /auth. Never the request's Host header: whoever sends the
// request chooses it, so "Host: evil.test" with "Origin: http://evil.test"
// would make any origin "same origin". Without a public URL only the
// project's allowed origins count.
func (s *Server) sameOrigin(origin string) bool {
	return s.selfOrigin != "" && strings.EqualFold(origin, s.selfOrigin)
}

func (s *Server) authPreflight(c *gin.Context) {
	p, err := s.loadProject(c)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	if c.GetHeader("Origin") == "" {
		httpkit.WriteError(c, s.d.Log, apperr.Invalid("origin", "preflight without Origin header"))
		return
	}
	if err := s.cors(c, p); err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	c.Header("Access-Control-Allow-Methods", "POST, OPTIONS")
	c.Header("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Api-Key")
	c.Header("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
}

// corsProject loads the path's project of a public /auth route and applies
// its CORS policy (not its status).
func (s *Server) corsProject(c *gin.Context) (*project.Project, error) {
	p, err := s.loadProject(c)
	if err == nil {
		err = s.cors(c, p)
	}
	return p, err
}

// authProject loads the path's project for a token request and applies its
// CORS policy and status; on failure it has written the error response and
// returns nil.
func (s *Server) authProject(c *gin.Context) *project.Project {
	p, err := s.corsProject(c)
	if err == nil && !p.Active() {
		err = apperr.Forbidden("project is disabled")
	}
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return nil
	}
	return p
}

func (s *Server) authenticate(c *gin.Context) {
	if s.d.Bridge != nil {
		s.authenticateModes(c) // verification modes (auth_modes.go)
		return
	}
	ctx := c.Request.Context()
	p := s.authProject(c)
	if p == nil {
		return
	}
	req, err := DecodeAuthRequest(c.GetHeader("Content-Type"), c.Request.Body, s.d.MaxBodyBytes)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	login := req.Email
	if login == "" {
		login = req.Username
	}
	u, err := s.d.EndUsers.Authenticate(ctx, p.ID, login, req.Password)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	s.issueWith(c, p, endUserIdentity(u), s.newRefresh(c, p, u, req.Refresh))
}

// endUserIdentity is a stored end-user's token identity when no
// verification-mode bridge maps it (password-only wiring).
func endUserIdentity(u *enduser.User) token.Identity {
	return token.Identity{ID: u.ExternalID, Firstname: u.Firstname, Lastname: u.Lastname, Email: u.Email, Attributes: u.Attributes}
}

// audience returns the project's `aud`, logging (as a warning: it needs an
// operator, not a retry) an audience base that would not give exactly
// <base>/projects/<id>; the caller answers with the error instead of a token.
func (s *Server) audience(c *gin.Context, p *project.Project) (string, error) {
	if aud, ok := s.aud.get(p.AudienceBase, p.ID); ok {
		return aud, nil
	}
	aud, err := p.Audience(s.d.AudienceBase)
	if err == nil {
		s.aud.put(p.AudienceBase, p.ID, aud)
	}
	if err != nil && s.d.Log != nil {
		s.d.Log.WarnContext(c.Request.Context(), "project audience is invalid; not minting", "project_id", p.ID, "request_id", httpkit.RequestID(c), "error", err.Error())
	}
	return aud, err
}

// refreshMint produces the refresh credential returned with a token
// (refresh.go); it runs after the signing key is known to be available and
// before the token is signed.
type refreshMint func() (refresh.Issued, error)

// issueWith signs a token for id with the project's current secret and
// writes the response, with an optional refresh credential (nil: none).
func (s *Server) issueWith(c *gin.Context, p *project.Project, id token.Identity, mint refreshMint) {
	s.issueAud(c, p, "", id, mint)
}

// issueAud is issueWith with the project's `aud` when the caller has it
// (the hot cache keeps it for the server-mode path; "": build it).
func (s *Server) issueAud(c *gin.Context, p *project.Project, aud string, id token.Identity, mint refreshMint) {
	if aud == "" {
		var err error
		if aud, err = s.audience(c, p); err != nil {
			httpkit.WriteError(c, s.d.Log, err)
			return
		}
	}
	kr, err := s.d.Keyrings.Get(c.Request.Context(), p.ID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			err = apperr.Unavailable("project has no shared secret configured yet", err)
		}
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	var rt *refresh.Issued
	if mint != nil {
		// After the key check, so a project without a secret (503) never
		// consumes a refresh credential it cannot answer.
		r, err := mint()
		if err != nil {
			httpkit.WriteError(c, s.d.Log, err)
			return
		}
		rt = &r
	}
	iss, err := s.signer.Sign(aud, token.Key{Version: kr.Current.Version, Value: kr.Current.Value}, id, p.TTL(), s.d.Now())
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	c.Writer.Header()["Cache-Control"] = headerNoStore // = c.Header("Cache-Control", "no-store")
	res := AuthResponse{                               // auth_modes.go: same JSON as c.JSON, without reflection
		Token:      iss.Raw,
		jwtOfToken: true, // JWT = "JWT " + Token, written by AppendJSON without the copy
		ExpiresAt:  iss.ExpiresAt.UTC(),
		ExpiresIn:  int(p.TTL().Seconds()),
		User:       AuthUser{ID: id.ID, Email: id.Email, Firstname: id.Firstname, Lastname: id.Lastname},
	}
	if rt != nil {
		exp := rt.ExpiresAt.UTC()
		res.RefreshToken, res.RefreshExpiresAt = rt.Credential, &exp
	}
	writeAuthResponse(c, res)
}
