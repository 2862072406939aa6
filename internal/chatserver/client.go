// Package chatserver talks to the Pingstreams (Tiledesk-compatible) chat
// server on behalf of a dashboard user of a project: sign in, check the
// user's role on the project, regenerate the project's shared secret (the
// only secret the chat server accepts: ../shared/PROTOCOL.md) and probe a
// widget token with GET /testauth. Every call goes through the SSRF-safe
// outbound client (internal/outbound). Credentials and secrets never appear
// in errors or logs.
package chatserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/outbound"
)

// DefaultBaseURL is the public Pingstreams service.
const DefaultBaseURL = "https://tiledesk.com/api"

// Doer sends one request under the outbound policy (*outbound.Client).
type Doer interface {
	Do(ctx context.Context, req *http.Request) (*outbound.Response, error)
}

// Credential is a dashboard user of the project: an email and password
// for POST /auth/signin, or a session token ("JWT ...") used as it is.
type Credential struct {
	Email    string `json:"email,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
}

// Kind is "password" or "token".
func (c Credential) Kind() string {
	if c.Token != "" {
		return "token"
	}
	return "password"
}

// Validate checks that exactly one form is given.
func (c Credential) Validate() error {
	switch {
	case c.Token != "" && (c.Email != "" || c.Password != ""):
		return apperr.Invalid("token", "give either a session token or an email and password, not both")
	case c.Token != "":
		if len(c.Token) > 4096 {
			return apperr.Invalid("token", "the session token is longer than 4096 characters")
		}
	case c.Email == "" || c.Password == "":
		return apperr.Invalid("email", "the chat-server user needs an email and a password (or a session token)")
	case len(c.Email) > 254 || !strings.Contains(c.Email, "@"):
		return apperr.Invalid("email", "the chat-server user's email is not an email address")
	case len(c.Password) > 1024:
		return apperr.Invalid("password", "the password is longer than 1024 characters")
	}
	return nil
}

// Client calls chat servers. Create it with New.
type Client struct{ out Doer }

// New returns a client sending through out.
func New(out Doer) *Client { return &Client{out: out} }

// ValidateBaseURL checks a chat-server base URL's form (the outbound
// policy is checked again at every request).
func ValidateBaseURL(raw string) (string, error) {
	raw = strings.TrimRight(strings.TrimSpace(raw), "/")
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", apperr.Invalid("base_url", "base_url must be an absolute http(s) URL without credentials, query or fragment, e.g. %s", DefaultBaseURL)
	}
	if len(raw) > 512 {
		return "", apperr.Invalid("base_url", "base_url is longer than 512 characters")
	}
	return raw, nil
}

// call sends a JSON request; auth is the Authorization header value.
func (c *Client) call(ctx context.Context, method, base, path, auth string, body, out any) (int, error) {
	var r *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("chatserver: encode: %w", err)
		}
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return 0, apperr.Invalid("base_url", "the chat server's base URL is not usable")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.out.Do(ctx, req)
	var oe *outbound.Error
	if err != nil && errors.As(err, &oe) && errors.Is(err, outbound.ErrStatus) && res != nil {
		return res.StatusCode, nil // an answer: the caller judges the status
	}
	if err != nil {
		return 0, apperr.Unavailable("the chat server could not be reached", err)
	}
	if out != nil && len(res.Body) > 0 {
		if err := json.Unmarshal(res.Body, out); err != nil {
			return res.StatusCode, apperr.Unavailable("the chat server answered something that is not JSON", err)
		}
	}
	return res.StatusCode, nil
}

// Session returns the Authorization value of a dashboard session: the
// credential's token, or one from POST /auth/signin.
func (c *Client) Session(ctx context.Context, base string, cred Credential) (string, error) {
	if cred.Token != "" {
		if !strings.HasPrefix(cred.Token, "JWT ") {
			return "JWT " + cred.Token, nil
		}
		return cred.Token, nil
	}
	var out struct {
		Success bool   `json:"success"`
		Token   string `json:"token"`
	}
	code, err := c.call(ctx, http.MethodPost, base, "/auth/signin", "", map[string]string{"email": cred.Email, "password": cred.Password}, &out)
	switch {
	case err != nil:
		return "", err
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusBadRequest:
		return "", apperr.Conflict("the chat server refused the sign-in of %s (HTTP %d): check the connection's email and password", cred.Email, code)
	case code != http.StatusOK || out.Token == "":
		return "", apperr.Unavailable(fmt.Sprintf("the chat server's sign-in answered HTTP %d", code), nil)
	}
	return out.Token, nil
}

// Role returns the session user's role on project projectID ("" when the
// user is not a member of it).
func (c *Client) Role(ctx context.Context, base, session, projectID string) (string, error) {
	var pus []struct {
		Role      string `json:"role"`
		IDProject struct {
			ID string `json:"_id"`
		} `json:"id_project"`
	}
	code, err := c.call(ctx, http.MethodGet, base, "/projects/", session, nil, &pus)
	switch {
	case err != nil:
		return "", err
	case code == http.StatusUnauthorized:
		return "", apperr.Conflict("the chat server refused the connection's session token (HTTP 401): it may have expired")
	case code != http.StatusOK:
		return "", apperr.Unavailable(fmt.Sprintf("the chat server's project list answered HTTP %d", code), nil)
	}
	for _, pu := range pus {
		if pu.IDProject.ID == projectID {
			return pu.Role, nil
		}
	}
	return "", nil
}

// MayRegenerate reports whether a project role may regenerate the shared
// secret (agent or above); MayBan whether it may ban visitors (admin, owner).
func MayRegenerate(role string) bool {
	return role == "owner" || role == "admin" || role == "supervisor" || role == "agent"
}

// MayBan reports whether role may ban visitors.
func MayBan(role string) bool { return role == "owner" || role == "admin" }

// Generate has the chat server generate a new shared secret for the
// project (POST /<projectId>/keys/generate) and returns it. From this
// moment the previous secret no longer verifies on the chat server.
func (c *Client) Generate(ctx context.Context, base, session, projectID string) ([]byte, error) {
	var out struct {
		JWTSecret string `json:"jwtSecret"`
	}
	code, err := c.call(ctx, http.MethodPost, base, "/"+url.PathEscape(projectID)+"/keys/generate", session, nil, &out)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, apperr.Conflict("the chat server refused to regenerate the secret of project %s (HTTP %d): the connection's user needs the agent role or above on it", projectID, code)
	case code == http.StatusNotFound:
		return nil, apperr.Conflict("the chat server has no project %s", projectID)
	case code != http.StatusOK || out.JWTSecret == "":
		return nil, apperr.Unavailable(fmt.Sprintf("the chat server's keys/generate answered HTTP %d without a secret", code), nil)
	}
	return []byte(out.JWTSecret), nil
}

// TestAuth reports whether the chat server verifies widgetToken
// (GET /testauth answers {"success":true}).
func (c *Client) TestAuth(ctx context.Context, base, widgetToken string) (bool, error) {
	var out struct {
		Success bool `json:"success"`
	}
	code, err := c.call(ctx, http.MethodGet, base, "/testauth", "JWT "+widgetToken, nil, &out)
	if err != nil {
		return false, err
	}
	return code == http.StatusOK && out.Success, nil
}

// Ban is one entry of a chat-server project's bannedUsers: its own _id
// (what DELETE /projects/<id>/ban/<_id> takes) and the visitor _id.
type Ban struct {
	BanID     string `json:"_id"`
	VisitorID string `json:"id"`
}

type bannedUsers struct {
	BannedUsers []Ban `json:"bannedUsers"`
}

func banStatus(what, projectID string, code int) error {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return apperr.Conflict("the chat server refused to %s on project %s (HTTP %d): the connection's user needs the admin or owner role on it", what, projectID, code)
	case code == http.StatusNotFound:
		return apperr.Conflict("the chat server has no project %s", projectID)
	case code != http.StatusOK:
		return apperr.Unavailable(fmt.Sprintf("the chat server answered HTTP %d to %s", code, what), nil)
	}
	return nil
}

// Bans lists the project's banned visitors (GET /projects/<projectId>).
func (c *Client) Bans(ctx context.Context, base, session, projectID string) ([]Ban, error) {
	var out bannedUsers
	code, err := c.call(ctx, http.MethodGet, base, "/projects/"+url.PathEscape(projectID), session, nil, &out)
	if err != nil {
		return nil, err
	}
	if err := banStatus("read the banned visitors", projectID, code); err != nil {
		return nil, err
	}
	return out.BannedUsers, nil
}

// Ban bans visitor visitorID on the project (POST /projects/<projectId>/ban)
// and returns the new ban's _id.
func (c *Client) Ban(ctx context.Context, base, session, projectID, visitorID string) (string, error) {
	var out bannedUsers
	code, err := c.call(ctx, http.MethodPost, base, "/projects/"+url.PathEscape(projectID)+"/ban", session, map[string]string{"id": visitorID}, &out)
	if err != nil {
		return "", err
	}
	if err := banStatus("ban a visitor", projectID, code); err != nil {
		return "", err
	}
	for i := len(out.BannedUsers) - 1; i >= 0; i-- { // the chat server appends
		if b := out.BannedUsers[i]; b.VisitorID == visitorID && b.BanID != "" {
			return b.BanID, nil
		}
	}
	return "", apperr.Unavailable("the chat server accepted the ban but did not list it", nil)
}

// Unban lifts one ban (DELETE /projects/<projectId>/ban/<banId>) and
// checks the project it answers: a server whose database ignores the
// route's $pull (the FerretDB-backed test peer answers 200 and keeps the
// ban) gets the list without that ban through PUT /projects/<projectId>
// {bannedUsers} (the same admin role), and the ban must then be gone. The
// other entries are sent back exactly as the server listed them.
func (c *Client) Unban(ctx context.Context, base, session, projectID, banID string) error {
	var after struct {
		BannedUsers []map[string]any `json:"bannedUsers"`
	}
	path := "/projects/" + url.PathEscape(projectID)
	code, err := c.call(ctx, http.MethodDelete, base, path+"/ban/"+url.PathEscape(banID), session, nil, &after)
	if err != nil {
		return err
	}
	if err := banStatus("lift a ban", projectID, code); err != nil {
		return err
	}
	rest, listed := withoutBan(after.BannedUsers, banID)
	if !listed {
		return nil
	}
	after.BannedUsers = nil
	code, err = c.call(ctx, http.MethodPut, base, path, session, map[string]any{"bannedUsers": rest}, &after)
	if err != nil {
		return err
	}
	if err := banStatus("lift a ban", projectID, code); err != nil {
		return err
	}
	if _, still := withoutBan(after.BannedUsers, banID); still {
		return apperr.Unavailable("the chat server answered the unban but still lists the ban", nil)
	}
	return nil
}

// withoutBan returns bans without the one with _id banID, and whether it
// was listed.
func withoutBan(bans []map[string]any, banID string) ([]map[string]any, bool) {
	out := make([]map[string]any, 0, len(bans))
	listed := false
	for _, b := range bans {
		if id, _ := b["_id"].(string); id == banID {
			listed = true
			continue
		}
		out = append(out, b)
	}
	return out, listed
}
