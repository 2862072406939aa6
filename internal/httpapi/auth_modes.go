package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/token"
)

// Bridge verifies identities in every enabled mode (*bridge.Bridge).
type Bridge interface {
	CachedProject(ctx context.Context, id string) (*project.Project, error)
	// HotProject is CachedProject with the project's `aud` for the
	// audience base base as the cache keeps it ("": build it).
	HotProject(ctx context.Context, id, base string) (*project.Project, string, error)
	Authenticate(ctx context.Context, p *project.Project, req bridge.Request) (token.Identity, error)
	// AuthenticateEndUser maps an end-user verified earlier (refresh.go).
	AuthenticateEndUser(ctx context.Context, p *project.Project, u *enduser.User) (token.Identity, error)
}

// APIKeyFromHeaders returns the API key of a server-mode request:
// `X-Api-Key: <key>` or `Authorization: Bearer <key>`.
func APIKeyFromHeaders(h func(string) string) string {
	if k := strings.TrimSpace(h("X-Api-Key")); k != "" {
		return k
	}
	a := h("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// authenticateModes dispatches POST /auth/<projectId> on what the request
// carries: an API key header selects `server`; an id_token/token field
// selects `exchange`; email/username + password selects `password`. The mode
// must be enabled for the project.
func (s *Server) authenticateModes(c *gin.Context) {
	ctx := c.Request.Context()
	if key := APIKeyFromHeaders(c.GetHeader); key != "" {
		s.authenticateServer(c, key)
		return
	}
	p := s.authProject(c)
	if p == nil {
		return
	}
	data, err := readBody(c.Request.Body, s.d.MaxBodyBytes, c.Request.ContentLength)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	ctype := c.GetHeader("Content-Type")
	var (
		req      bridge.Request
		verified *enduser.User // set when a password login asks for a refresh credential
	)
	if tok, ok, err := DecodeExchangeRequest(ctype, data); err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	} else if ok {
		req = bridge.Request{Mode: mapping.ModeExchange, Token: tok}
	} else {
		pw, err := DecodeAuthRequest(ctype, bytes.NewReader(data), s.d.MaxBodyBytes)
		if err != nil {
			httpkit.WriteError(c, s.d.Log, err)
			return
		}
		login := pw.Email
		if login == "" {
			login = pw.Username
		}
		req = bridge.Request{Mode: mapping.ModePassword, Login: login, Password: pw.Password}
		if pw.Refresh {
			verified = &enduser.User{}
			req.Verified = verified
		}
	}
	id, err := s.d.Bridge.Authenticate(ctx, p, req)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	s.issueWith(c, p, id, s.newRefresh(c, p, verified, verified != nil))
}

// authenticateServer is the server-to-server fast path: no SQL when the
// project, settings, key and secret are cached.
func (s *Server) authenticateServer(c *gin.Context, key string) {
	ctx := c.Request.Context()
	c.Writer.Header()["Vary"] = headerVaryOrigin // = c.Header("Vary", "Origin")
	if c.GetHeader("Origin") != "" {
		// A browser holding an API key means the key leaked into a page.
		httpkit.WriteError(c, s.d.Log, apperr.Forbidden("API keys are for server-to-server calls only; never send them from a browser"))
		return
	}
	p, aud, err := s.d.Bridge.HotProject(ctx, c.Param("projectId"), s.d.AudienceBase)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			err = apperr.NotFound("project not found")
		}
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	if !p.Active() {
		httpkit.WriteError(c, s.d.Log, apperr.Forbidden("project is disabled"))
		return
	}
	user, err := decodeServerRequest(c.Request.Body, s.d.MaxBodyBytes, c.Request.ContentLength)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	id, err := s.d.Bridge.Authenticate(ctx, p, bridge.Request{Mode: mapping.ModeServer, APIKey: key, User: user})
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	s.issueAud(c, p, aud, id, nil)
}

func readBody(body io.Reader, limit int64, size int64) ([]byte, error) {
	// = io.ReadAll(io.LimitReader(body, limit+1)) into a buffer of the
	// announced size (ContentLength; <= 0: unknown), without the reader and
	// growth allocations.
	most := limit + 1
	n := int64(512)
	if size > 0 {
		n = size + 1 // room to read io.EOF without growing
	}
	data := make([]byte, 0, min(n, most))
	var err error
	for int64(len(data)) < most {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		var k int
		k, err = body.Read(data[len(data):min(int64(cap(data)), most)])
		data = data[:len(data)+k]
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	if (err != nil && httpkit.IsMaxBytes(err)) || int64(len(data)) > limit {
		return nil, &apperr.Error{Kind: apperr.ErrTooLarge, Message: "request body too large"}
	}
	if err != nil {
		return nil, apperr.Invalid("body", "could not read request body")
	}
	return data, nil
}

// DecodeExchangeRequest recognises a token-exchange body: a JSON object or
// form with exactly one field, id_token or token. ok is false when the body
// is not an exchange request (it is then decoded as a password request).
func DecodeExchangeRequest(contentType string, data []byte) (tok string, ok bool, err error) {
	mt, _, perr := mime.ParseMediaType(contentType)
	if perr != nil {
		mt = ""
	}
	var fields map[string]json.RawMessage
	if mt == "application/x-www-form-urlencoded" && len(bytes.TrimSpace(data)) > 0 && bytes.TrimSpace(data)[0] == '{' {
		mt = "application/json" // curl -d '{"id_token":...}' without a Content-Type header
	}
	switch mt {
	case "application/json", "":
		if err := httpkit.DecodeStrictJSON(data, &fields); err != nil {
			if errors.Is(err, jsontext.ErrDuplicateName) {
				// {"id_token":"a","id_token":"b"}: the password decoder
				// would call id_token an unknown field.
				return "", false, httpkit.InvalidJSON(err, "")
			}
			return "", false, nil // let the password decoder report the error
		}
		_, hasID := fields["id_token"]
		_, hasTok := fields["token"]
		if !hasID && !hasTok {
			return "", false, nil
		}
		if len(fields) != 1 {
			return "", true, apperr.Invalid("body", "a token exchange body must be {\"id_token\":\"...\"} or {\"token\":\"...\"} and nothing else")
		}
		for _, raw := range fields {
			if httpkit.DecodeStrictJSON(raw, &tok) != nil {
				return "", true, apperr.Invalid("id_token", "id_token must be a string")
			}
		}
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return "", false, nil
		}
		if !vals.Has("id_token") && !vals.Has("token") {
			return "", false, nil
		}
		if len(vals) != 1 {
			return "", true, apperr.Invalid("body", "a token exchange body must carry only id_token or token")
		}
		for _, v := range vals {
			if len(v) != 1 {
				return "", true, apperr.Invalid("id_token", "id_token given more than once")
			}
			tok = v[0]
		}
	default:
		return "", false, nil
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > idp.MaxTokenLen {
		return "", true, apperr.Invalid("id_token", "id_token must be 1 to %d bytes", idp.MaxTokenLen)
	}
	return tok, true, nil
}

// flexID accepts a JSON string or integer as a user id.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	// b is one JSON value the decoder has already validated. The common
	// cases need no second decode: a string without escapes (valid UTF-8,
	// so nothing is replaced) and a plain integer.
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		*f = flexID(b[1 : n-1])
		return nil
	}
	if len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		if _, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			*f = flexID(b)
			return nil
		}
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			*f = flexID(n.String())
			return nil
		}
	}
	return errors.New("id must be a string or an integer")
}

// DecodeServerRequest parses a server-mode JSON body strictly:
// {"user":{"id":"...","email":"...","firstname":"...","lastname":"...","phone":"...","username":"...","roles":[...],"attributes":{...}}}.
func DecodeServerRequest(contentType string, body io.Reader, limit int64) (*bridge.ServerUser, error) {
	// Server mode bodies are always JSON, whatever the Content-Type says
	// (curl -d sends application/x-www-form-urlencoded by default).
	_ = contentType
	return decodeServerRequest(body, limit, -1)
}

// decodeServerRequest is DecodeServerRequest with the body's announced size
// (ContentLength, -1: unknown) as a hint.
func decodeServerRequest(body io.Reader, limit, size int64) (*bridge.ServerUser, error) {
	data, err := readBody(body, limit, size)
	if err != nil {
		return nil, err
	}
	u, ok := decodeServerBodyFast(data)
	if !ok {
		if u, err = decodeServerBodyReference(data); err != nil {
			return nil, httpkit.InvalidJSON(err, "the body must be {\"user\":{\"id\":\"...\",\"email\":...,\"firstname\":...,\"lastname\":...,\"phone\":...,\"attributes\":{...}}} (other claims cannot be set)")
		}
	}
	if u == nil {
		return nil, apperr.Invalid("user", "user is required: {\"user\":{\"id\":\"...\"}}")
	}
	switch {
	case len(u.ID) > mapping.MaxIDLen:
		return nil, apperr.Invalid("user.id", "user.id must be at most %d bytes", mapping.MaxIDLen)
	case len(u.Email) > 254, len(u.Username) > 128, len(u.Firstname) > 200, len(u.Lastname) > 200, len(u.Phone) > 64:
		return nil, apperr.Invalid("user", "user field too long")
	case len(u.Roles) > 32:
		return nil, apperr.Invalid("user.roles", "at most 32 roles")
	case len(u.Attributes) > mapping.MaxAttributes:
		return nil, apperr.Invalid("user.attributes", "at most %d attributes", mapping.MaxAttributes)
	}
	for k := range u.Attributes {
		if k == "" || len(k) > 64 {
			return nil, apperr.Invalid("user.attributes", "attribute names must be 1-64 characters")
		}
	}
	return &bridge.ServerUser{ID: string(u.ID), Email: u.Email, Username: u.Username, Firstname: u.Firstname,
		Lastname: u.Lastname, Phone: u.Phone, Roles: u.Roles, Attributes: u.Attributes}, nil
}

// AppendJSON appends r as encoding/json would encode it (same fields, order and
// escaping, except that the rare control characters \b and \f are written as
// \u0008 and \u000c, which JSON parsers read identically).
func (r *AuthResponse) AppendJSON(b []byte) []byte {
	b = append(b, `{"token":`...)
	n := len(b)
	b = token.AppendJSONString(b, r.Token)
	if r.jwtOfToken {
		// = token.AppendJSONString(b, "JWT "+r.Token): "JWT " needs no
		// escaping and escaping goes character by character, so this is
		// "JWT " and the token as just escaped (not scanned again).
		esc := b[n+1 : len(b)-1]
		b = append(b, `,"jwt":"JWT `...)
		b = append(b, esc...)
		b = append(b, '"')
	} else {
		b = append(b, `,"jwt":`...)
		b = token.AppendJSONString(b, r.JWT)
	}
	b = append(b, `,"expires_at":"`...)
	b = r.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","expires_in":`...)
	b = strconv.AppendInt(b, int64(r.ExpiresIn), 10)
	b = append(b, `,"user":{"_id":`...)
	b = token.AppendJSONString(b, r.User.ID)
	for _, f := range [...]struct{ name, v string }{{"email", r.User.Email}, {"firstname", r.User.Firstname}, {"lastname", r.User.Lastname}} {
		if f.v != "" {
			b = append(b, ',', '"')
			b = append(b, f.name...)
			b = append(b, '"', ':')
			b = token.AppendJSONString(b, f.v)
		}
	}
	b = append(b, '}')
	if r.RefreshToken != "" {
		b = append(b, `,"refresh_token":`...)
		b = token.AppendJSONString(b, r.RefreshToken)
	}
	if r.RefreshExpiresAt != nil {
		b = append(b, `,"refresh_expires_at":"`...)
		b = r.RefreshExpiresAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, '}')
}

func writeAuthResponse(c *gin.Context, r AuthResponse) {
	// = c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	// without allocating the Content-Type value.
	body := r.AppendJSON(make([]byte, 0, 2*len(r.Token)+256))
	c.Writer.Header()["Content-Type"] = headerJSONUTF8
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(body)
}
