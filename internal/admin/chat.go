package admin

import (
	"context"
	"errors"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/token"
)

// ChatServer is the chat-server client (*chatserver.Client).
type ChatServer interface {
	Session(ctx context.Context, base string, cred chatserver.Credential) (string, error)
	Role(ctx context.Context, base, session, projectID string) (string, error)
	Generate(ctx context.Context, base, session, projectID string) ([]byte, error)
	TestAuth(ctx context.Context, base, widgetToken string) (bool, error)
	Bans(ctx context.Context, base, session, projectID string) ([]chatserver.Ban, error)
	Ban(ctx context.Context, base, session, projectID, visitorID string) (string, error)
	Unban(ctx context.Context, base, session, projectID, banID string) error
}

// ChatConnections stores chat-server connections (*chatserver.Repo).
type ChatConnections interface {
	Put(ctx context.Context, c *chatserver.Connection, cred chatserver.Credential, actor string) error
	Get(ctx context.Context, scope, scopeID string) (*chatserver.Connection, error)
	For(ctx context.Context, projectID, tenantID string) (*chatserver.Connection, error)
	Credential(ctx context.Context, c *chatserver.Connection) (chatserver.Credential, error)
	Delete(ctx context.Context, scope, scopeID string) error
}

// ChatConnectionInput sets a tenant's or a project's chat-server
// connection: the base URL and a dashboard user of the project(s) — email
// and password, or a session token.
type ChatConnectionInput struct {
	BaseURL  string `json:"base_url"`
	Email    string `json:"email"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

func (s *Service) chat() (ChatServer, ChatConnections, error) {
	if s.d.Chat == nil || s.d.ChatConns == nil {
		return nil, nil, apperr.Unavailable("chat-server connections are not configured on this server", nil)
	}
	return s.d.Chat, s.d.ChatConns, nil
}

// SetChatConnection stores the connection of a tenant (scope
// chatserver.ScopeTenant) or of one project (chatserver.ScopeProject). The
// credential goes to the secret backend; the audit event names the user,
// never the password or token.
func (s *Service) SetChatConnection(ctx context.Context, a Actor, scope, scopeID, tenantID string, in ChatConnectionInput) (*chatserver.Connection, error) {
	_, conns, err := s.chat()
	if err != nil {
		return nil, err
	}
	if in.BaseURL == "" {
		in.BaseURL = chatserver.DefaultBaseURL
	}
	c := &chatserver.Connection{Scope: scope, ScopeID: scopeID, BaseURL: in.BaseURL}
	if err := conns.Put(ctx, c, chatserver.Credential{Email: in.Email, Password: in.Password, Token: in.Token}, a.Email); err != nil {
		return nil, err
	}
	s.wakeChatSync(ctx, scope, scopeID)
	e := audit.Event{TenantID: tenantID, Action: audit.ChatConnectionSet, Target: scope + " " + scopeID,
		Details: map[string]any{"base_url": c.BaseURL, "auth": c.Auth, "email": c.Email}}
	if scope == chatserver.ScopeProject {
		e.ProjectID = scopeID
	}
	s.record(ctx, a, e)
	return c, nil
}

// ChatConnection returns a scope's own connection.
func (s *Service) ChatConnection(ctx context.Context, scope, scopeID string) (*chatserver.Connection, error) {
	_, conns, err := s.chat()
	if err != nil {
		return nil, err
	}
	return conns.Get(ctx, scope, scopeID)
}

// ChatConnectionFor is the connection the project uses (its own, else its
// tenant's); nil when it has none or connections are not configured.
func (s *Service) ChatConnectionFor(ctx context.Context, p *project.Project) (*chatserver.Connection, error) {
	_, conns, err := s.chat()
	if err != nil {
		return nil, nil //nolint:nilerr // no connections configured: the project has none
	}
	c, err := conns.For(ctx, p.ID, p.TenantID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, nil
	}
	return c, err
}

// DeleteChatConnection removes a scope's connection and its credential.
func (s *Service) DeleteChatConnection(ctx context.Context, a Actor, scope, scopeID, tenantID string) error {
	_, conns, err := s.chat()
	if err != nil {
		return err
	}
	if err := conns.Delete(ctx, scope, scopeID); err != nil {
		return err
	}
	e := audit.Event{TenantID: tenantID, Action: audit.ChatConnectionDelete, Target: scope + " " + scopeID}
	if scope == chatserver.ScopeProject {
		e.ProjectID = scopeID
	}
	s.record(ctx, a, e)
	return nil
}

// ChatTest is the outcome of "test connection" for a project.
type ChatTest struct {
	OK      bool   `json:"ok"`
	BaseURL string `json:"base_url"`
	// Scope is whose connection the project uses ("project" or "tenant").
	Scope string `json:"scope"`
	Role  string `json:"role,omitempty"`
	// CanRotate: the user may regenerate the secret (agent or above);
	// CanBan: it may ban visitors (admin or owner).
	CanRotate bool   `json:"can_rotate"`
	CanBan    bool   `json:"can_ban"`
	Message   string `json:"message"`
}

// TestChatConnection signs in with the project's connection and checks
// that the project exists there and the user's role on it.
func (s *Service) TestChatConnection(ctx context.Context, p *project.Project) (ChatTest, error) {
	chat, conns, err := s.chat()
	if err != nil {
		return ChatTest{}, err
	}
	c, err := conns.For(ctx, p.ID, p.TenantID)
	if err != nil {
		return ChatTest{}, err
	}
	out := ChatTest{BaseURL: c.BaseURL, Scope: c.Scope}
	cred, err := conns.Credential(ctx, c)
	if err != nil {
		return out, err
	}
	session, err := chat.Session(ctx, c.BaseURL, cred)
	if err != nil {
		out.Message = apperr.Message(err)
		return out, nil
	}
	role, err := chat.Role(ctx, c.BaseURL, session, p.ID)
	if err != nil {
		out.Message = apperr.Message(err)
		return out, nil
	}
	out.Role, out.CanRotate, out.CanBan = role, chatserver.MayRegenerate(role), chatserver.MayBan(role)
	switch {
	case role == "":
		out.Message = "signed in, but the user is not a member of project " + p.ID + " on the chat server (or the project does not exist there)"
	case !out.CanRotate:
		out.Message = "signed in as " + role + ": regenerating the secret needs agent or above"
	default:
		out.OK = true
		out.Message = "signed in as " + role + " of project " + p.ID
		if !out.CanBan {
			out.Message += "; banning visitors needs admin or owner"
		}
	}
	return out, nil
}

// RotateInput asks for a new shared secret.
type RotateInput struct {
	// GraceSeconds: how long the replaced version still verifies on
	// pingauth's own /verify (the chat server has no grace window).
	GraceSeconds *int `json:"grace_seconds"`
	// Local generates the secret here instead of on the chat server. The
	// public chat server never accepts such a secret: only for deployments
	// whose tokens are verified by pingauth's /verify alone.
	Local bool `json:"local"`
}

// Rotation is the outcome of a rotation.
type Rotation struct {
	Version secret.Meta `json:"version"`
	// Value is returned once, for a local rotation only (the chat server's
	// secret stays between the chat server and the secret store).
	Value []byte `json:"-"`
	// ChatServer: regenerated on the chat server and stored here.
	ChatServer bool `json:"chat_server"`
	// ProbeOK: a token signed with the new secret passed the chat server's
	// GET /testauth.
	ProbeOK bool `json:"probe_ok"`
	// WindowMillis is how long new tokens signed by this instance still
	// used the old secret after the chat server switched (from the chat
	// server's answer to the stored version).
	WindowMillis int64  `json:"window_ms"`
	Warning      string `json:"warning,omitempty"`
}

// ErrNoChatConnection explains why a rotation needs a chat-server
// connection.
const noConnection = "project %s has no chat-server connection. The chat server accepts only secrets it generates " +
	"itself, so pingauth rotates by having it regenerate the secret: set a connection for the tenant or project " +
	"(console, `pingauth chat connect`, PUT /api/v1/tenants/{t}/chat-connection). Or regenerate the secret in the " +
	"Pingstreams dashboard and paste it here (`pingauth secret set`, PUT …/secret). A secret generated by pingauth " +
	"itself (local: true, `secret rotate -local`) is never accepted by the public chat server."

// LocalRotationWarning is shown with every locally generated secret.
const LocalRotationWarning = "this secret was generated by pingauth: the public chat server will not accept tokens signed with it"

// storeAttempts and storeBackoff bound the retries of storing a secret the
// chat server already switched to.
const (
	storeAttempts = 5
	storeBackoff  = 100 * time.Millisecond
)

// RotateSecret gives the project a new shared secret. With a chat-server
// connection (the project's or its tenant's) the chat server regenerates
// it (keys/generate), pingauth stores it as the new current version (every
// instance drops its cached keyring through the change event) and proves
// it by having the chat server verify a probe token (GET /testauth). With
// in.Local the secret is generated here (see RotateInput.Local).
func (s *Service) RotateSecret(ctx context.Context, a Actor, p *project.Project, in RotateInput) (Rotation, error) {
	grace, err := graceOption(in.GraceSeconds)
	if err != nil {
		return Rotation{}, err
	}
	if in.Local {
		meta, value, err := s.d.Secrets.Rotate(ctx, p.ID, secret.WriteOptions{Actor: a.Email, Grace: grace})
		if err != nil {
			return Rotation{}, err
		}
		return Rotation{Version: meta, Value: value, Warning: LocalRotationWarning}, nil
	}
	chat, conns, err := s.chat()
	if err != nil {
		return Rotation{}, err
	}
	c, err := conns.For(ctx, p.ID, p.TenantID)
	if errors.Is(err, apperr.ErrNotFound) {
		return Rotation{}, apperr.Conflict(noConnection, p.ID)
	}
	if err != nil {
		return Rotation{}, err
	}
	aud, err := p.Audience(s.d.AudienceBase)
	if err != nil {
		return Rotation{}, err
	}
	cred, err := conns.Credential(ctx, c)
	if err != nil {
		return Rotation{}, err
	}
	from := 0 // the current version, for the audit event
	if info, err := s.SecretInfo(ctx, p.ID); err == nil {
		from = info.Version
	}
	session, err := chat.Session(ctx, c.BaseURL, cred)
	if err != nil {
		s.recordRotation(ctx, a, p, c, from, 0, "sign_in_failed", false, 0)
		return Rotation{}, err
	}
	value, err := chat.Generate(ctx, c.BaseURL, session, p.ID)
	if err != nil {
		s.recordRotation(ctx, a, p, c, from, 0, "chat_server_refused", false, 0)
		return Rotation{}, err
	}
	switched := s.d.Now()
	// The chat server has switched: store until it sticks (the old secret
	// no longer verifies there; every token pingauth signs meanwhile fails).
	meta, err := s.storeRotated(ctx, p.ID, value, secret.WriteOptions{Actor: a.Email, Grace: grace, Source: secret.SourceChatServer})
	window := s.d.Now().Sub(switched).Milliseconds()
	if err != nil {
		s.recordRotation(ctx, a, p, c, from, 0, "store_failed", false, window)
		s.d.Log.ErrorContext(ctx, "the chat server switched to a new secret but storing it failed: tokens of this project fail until it is stored; retrying in the background",
			"project_id", p.ID, "error", err.Error())
		// Kept in this process's memory only (never SQL) and retried by the
		// chat-sync worker; the project is degraded until it is stored.
		s.holdRotation(ctx, p.TenantID, p.ID, value, secret.WriteOptions{Actor: a.Email, Grace: grace, Source: secret.SourceChatServer}, from, err)
		return Rotation{}, apperr.Unavailable("the chat server regenerated the secret but pingauth could not store it; "+
			"tokens of this project fail on the chat server until it is stored. pingauth keeps retrying in the background "+
			"(the project shows as degraded meanwhile); if this server restarts first, rotate again", err)
	}
	probe, err := token.Sign(aud, token.Key{Version: meta.Version, Value: value}, token.Identity{ID: "pingauth-rotation-probe"}, time.Minute, s.d.Now())
	ok := false
	if err == nil {
		ok, err = chat.TestAuth(ctx, c.BaseURL, probe.Raw)
	}
	outcome := "ok"
	if err != nil || !ok {
		outcome = "probe_failed"
	}
	s.recordRotation(ctx, a, p, c, from, meta.Version, outcome, ok, window)
	return Rotation{Version: meta, ChatServer: true, ProbeOK: ok, WindowMillis: window}, nil
}

func (s *Service) recordRotation(ctx context.Context, a Actor, p *project.Project, c *chatserver.Connection, from, to int, outcome string, probeOK bool, windowMS int64) {
	s.record(ctx, a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.SecretChatRotate, Target: p.ID,
		Details: map[string]any{"from_version": from, "to_version": to, "outcome": outcome, "probe_ok": probeOK,
			"window_ms": windowMS, "base_url": c.BaseURL, "connection": c.Scope}})
}

// storeRotated stores a secret the chat server already switched to,
// retrying with backoff while the secret store is unavailable.
// A stored secret ends any pending background store of the project (it
// is newer).
func (s *Service) storeRotated(ctx context.Context, projectID string, value []byte, opts secret.WriteOptions) (secret.Meta, error) {
	s.cs.store.Lock()
	defer s.cs.store.Unlock()
	for attempt := 1; ; attempt++ {
		meta, err := s.d.Secrets.Put(ctx, projectID, value, opts)
		if err == nil {
			s.dropRotation(ctx, projectID)
		}
		if err == nil || attempt == storeAttempts || !errors.Is(err, apperr.ErrUnavailable) {
			return meta, err
		}
		t := time.NewTimer(storeBackoff << (attempt - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return meta, err
		case <-t.C:
		}
	}
}

// wakeChatSync makes the scope's ban jobs that waited for a connection due.
func (s *Service) wakeChatSync(ctx context.Context, scope, scopeID string) {
	if s.d.ChatJobs == nil {
		return
	}
	if err := s.d.ChatJobs.Wake(ctx, scope, scopeID, s.d.Now()); err != nil {
		s.d.Log.WarnContext(ctx, "waking chat-server sync jobs failed (they are retried later)", "scope", scope, "scope_id", scopeID, "error", err.Error())
	}
}
