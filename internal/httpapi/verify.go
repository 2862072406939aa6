package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/token"
)

const verifyActiveKey = "pingauth.verify_active"

// VerifyRequest is the body of POST /auth/<projectId>/verify.
type VerifyRequest struct {
	// Token is the raw JWT or its "JWT <token>" widget form.
	Token string `json:"token"`
}

// VerifyResponse follows RFC 7662 (token introspection): 200 with active
// true and the claims, or 200 with active false and a short reason. Errors
// about the request itself (malformed body, unknown project, rate limit,
// outage) are ordinary 4xx/5xx JSON errors.
type VerifyResponse struct {
	Active bool           `json:"active"`
	Claims map[string]any `json:"claims,omitempty"`
	KeyID  string         `json:"kid,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// DecodeVerifyRequest parses {"token": "..."} (or form token=...) strictly
// and returns the raw JWT with any "JWT " / "Bearer " prefix removed.
func DecodeVerifyRequest(contentType string, body io.Reader, limit int64) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		if httpkit.IsMaxBytes(err) {
			return "", apperr.TooLarge("request body too large")
		}
		return "", apperr.Invalid("body", "could not read request body")
	}
	if int64(len(data)) > limit {
		return "", apperr.TooLarge("request body too large")
	}
	var req VerifyRequest
	switch mt {
	case "application/json", "":
		if err := httpkit.DecodeStrictJSON(data, &req); err != nil {
			return "", httpkit.InvalidJSON(err, `the body must be a JSON object {"token": "..."}`)
		}
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil || len(vals) != 1 || len(vals["token"]) != 1 {
			return "", apperr.Invalid("body", "form body must have exactly one field: token")
		}
		req.Token = vals.Get("token")
	default:
		return "", apperr.Invalid("content-type", "content type must be application/json or application/x-www-form-urlencoded")
	}
	raw := strings.TrimSpace(req.Token)
	for _, scheme := range []string{"JWT", "Bearer"} {
		if strings.EqualFold(raw, scheme) {
			raw = ""
		} else if len(raw) > len(scheme) && strings.EqualFold(raw[:len(scheme)], scheme) && (raw[len(scheme)] == ' ' || raw[len(scheme)] == '\t') {
			raw = strings.TrimSpace(raw[len(scheme):])
		}
	}
	if raw == "" {
		return "", apperr.Invalid("token", "token is required")
	}
	if len(raw) > token.MaxTokenLen {
		return "", apperr.Invalid("token", "token too long")
	}
	return raw, nil
}

// verify is POST /auth/<projectId>/verify: token introspection for site
// backends, with the project's current key and the previous ones still in
// their grace window.
func (s *Server) verify(c *gin.Context) {
	p, err := s.loadProject(c)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	raw, err := DecodeVerifyRequest(c.GetHeader("Content-Type"), c.Request.Body, s.d.MaxBodyBytes)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if !p.Active() {
		c.JSON(http.StatusOK, VerifyResponse{Error: "project is disabled"})
		return
	}
	kr, err := s.d.Keyrings.Get(c.Request.Context(), p.ID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			c.JSON(http.StatusOK, VerifyResponse{Error: "project has no shared secret configured"})
			return
		}
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	aud, err := s.audience(c, p)
	if err != nil {
		httpkit.WriteError(c, s.d.Log, err)
		return
	}
	now := s.d.Now()
	versions := kr.Verifying(now)
	keys := make([]token.Key, 0, len(versions))
	for _, v := range versions {
		keys = append(keys, token.Key{Version: v.Version, Value: v.Value})
	}
	claims, err := token.Verify(raw, token.VerifyOptions{Audience: aud, Keys: keys, Leeway: s.d.Security.JWTLeeway, Now: s.d.Now})
	if err != nil {
		c.JSON(http.StatusOK, VerifyResponse{Error: token.Reason(err)})
		return
	}
	c.Set(verifyActiveKey, true)
	c.JSON(http.StatusOK, VerifyResponse{Active: true, Claims: claims, KeyID: token.HeaderKeyID(raw)})
}
