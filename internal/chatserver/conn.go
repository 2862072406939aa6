package chatserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// Scopes of a connection: a tenant's (used by all its projects) or one
// project's override.
const (
	ScopeTenant  = "tenant"
	ScopeProject = "project"
)

// Connection is how pingauth reaches the chat server for one tenant or
// project. The credential itself lives in the secret backend (never in SQL).
type Connection struct {
	Scope             string    `gorm:"primaryKey" json:"scope"`
	ScopeID           string    `gorm:"primaryKey;column:scope_id" json:"scope_id"`
	BaseURL           string    `gorm:"column:base_url" json:"base_url"`
	Auth              string    `json:"auth"`            // "password" or "token"
	Email             string    `json:"email,omitempty"` // the dashboard user (password auth)
	CredentialVersion int       `gorm:"column:credential_version" json:"-"`
	UpdatedBy         string    `json:"updated_by"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// TableName binds Connection to chat_connections.
func (Connection) TableName() string { return "chat_connections" }

// CredentialID is the secret-backend id of a connection's credential.
func CredentialID(scope, scopeID string) string { return scopeID + ":chat-" + scope }

// SecretBackend stores credentials (the project secrets' backend).
type SecretBackend interface {
	Write(ctx context.Context, id string, value []byte) (int, error)
	Read(ctx context.Context, id string, version int) ([]byte, error)
	Delete(ctx context.Context, id string) error
}

// Repo stores connections. Create it with NewRepo.
type Repo struct {
	db      *store.DB
	secrets SecretBackend
}

// NewRepo returns a repository over db and the secret backend.
func NewRepo(db *store.DB, secrets SecretBackend) *Repo { return &Repo{db: db, secrets: secrets} }

// Put stores c (BaseURL validated) with cred, replacing the scope's
// connection.
func (r *Repo) Put(ctx context.Context, c *Connection, cred Credential, actor string) error {
	if c.Scope != ScopeTenant && c.Scope != ScopeProject {
		return apperr.Invalid("scope", "scope must be tenant or project")
	}
	u, err := ValidateBaseURL(c.BaseURL)
	if err != nil {
		return err
	}
	if err := cred.Validate(); err != nil {
		return err
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("chatserver: encode credential: %w", err)
	}
	v, err := r.secrets.Write(ctx, CredentialID(c.Scope, c.ScopeID), raw)
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return err
		}
		return apperr.Unavailable("secret store unavailable; try again later", err)
	}
	c.BaseURL, c.Auth, c.Email, c.CredentialVersion = u, cred.Kind(), cred.Email, v
	c.UpdatedBy, c.UpdatedAt = actor, time.Now().UTC()
	if err := r.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "scope"}, {Name: "scope_id"}}, UpdateAll: true}).Create(c).Error; err != nil {
		return fmt.Errorf("chatserver: put connection: %w", err)
	}
	return nil
}

// Get returns the scope's own connection.
func (r *Repo) Get(ctx context.Context, scope, scopeID string) (*Connection, error) {
	return store.First[Connection](ctx, r.db.DB, "chatserver: get connection",
		apperr.NotFound("no chat-server connection for %s %s", scope, scopeID), "scope = ? AND scope_id = ?", scope, scopeID)
}

// For returns the connection a project uses: its own, else its tenant's.
func (r *Repo) For(ctx context.Context, projectID, tenantID string) (*Connection, error) {
	c, err := r.Get(ctx, ScopeProject, projectID)
	if err == nil || !errors.Is(err, apperr.ErrNotFound) {
		return c, err
	}
	c, err = r.Get(ctx, ScopeTenant, tenantID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, apperr.NotFound("project %s has no chat-server connection (neither its own nor its tenant's)", projectID)
	}
	return c, err
}

// Credential reads c's credential from the secret backend.
func (r *Repo) Credential(ctx context.Context, c *Connection) (Credential, error) {
	raw, err := r.secrets.Read(ctx, CredentialID(c.Scope, c.ScopeID), c.CredentialVersion)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return Credential{}, apperr.Conflict("the chat-server connection's credential is missing from the secret store: set the connection again")
		}
		return Credential{}, apperr.Unavailable("secret store unavailable; try again later", err)
	}
	var cred Credential
	if err := json.Unmarshal(raw, &cred); err != nil {
		return Credential{}, fmt.Errorf("chatserver: decode credential: %w", err)
	}
	return cred, nil
}

// Delete removes the scope's connection and its credential.
func (r *Repo) Delete(ctx context.Context, scope, scopeID string) error {
	res := r.db.WithContext(ctx).Delete(&Connection{}, "scope = ? AND scope_id = ?", scope, scopeID)
	if res.Error != nil {
		return fmt.Errorf("chatserver: delete connection: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFound("no chat-server connection for %s %s", scope, scopeID)
	}
	if err := r.secrets.Delete(ctx, CredentialID(scope, scopeID)); err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return apperr.Unavailable("the connection was removed but its credential could not be deleted from the secret store", err)
	}
	return nil
}
