// Package operator stores the people who run pingauth (operators): their
// accounts with argon2id password hashes, their server-side console sessions
// and their API tokens. Only SHA-256 digests of session and API tokens are
// stored, so a database leak does not hand out live sessions.
package operator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/store"
)

// Operator is a console / admin API user.
type Operator struct {
	ID           string     `gorm:"primaryKey" json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name,omitempty"`
	PasswordHash string     `json:"-"`
	Disabled     bool       `json:"disabled"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	LastLoginAt  *time.Time `json:"last_login_at,omitempty"`
}

// Session is a server-side console session; the cookie carries the raw token.
type Session struct {
	TokenHash  string `gorm:"primaryKey"`
	OperatorID string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	// SecondFactor: the session passed the second factor (totp.go).
	SecondFactor bool
	// Pending: password checked, second factor not yet; LookupSession
	// refuses such a session (only the code step reads it).
	Pending bool
}

// TableName binds Session to operator_sessions.
func (Session) TableName() string { return "operator_sessions" }

// Token is an operator API token (Authorization: Bearer pat_...).
type Token struct {
	ID         string     `gorm:"primaryKey" json:"id"`
	OperatorID string     `json:"operator_id"`
	Name       string     `json:"name"`
	TokenHash  string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// TableName binds Token to operator_tokens.
func (Token) TableName() string { return "operator_tokens" }

// TokenPrefix starts every API token.
const TokenPrefix = "pat_"

// DefaultSessionTTL is the absolute lifetime of a console session.
const DefaultSessionTTL = 12 * time.Hour

// Repo stores operators, sessions and tokens.
type Repo struct {
	db     *store.DB
	hasher *enduser.Hasher
	now    func() time.Time
	ttl    time.Duration
}

// NewRepo returns a repository; hasher is shared with end-users (argon2id, bounded pool).
func NewRepo(db *store.DB, hasher *enduser.Hasher) *Repo {
	return &Repo{db: db, hasher: hasher, now: func() time.Time { return time.Now().UTC() }, ttl: DefaultSessionTTL}
}

// SessionTTL returns the session lifetime.
func (r *Repo) SessionTTL() time.Duration { return r.ttl }

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "op_" + hex.EncodeToString(b[:])
}

// Digest returns the stored form (hex SHA-256) of a session or API token.
func Digest(raw string) string {
	s := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(s[:])
}

// CSRFToken derives the synchronizer CSRF token of a session from its raw
// token. It cannot be computed from the stored digest, and it changes with
// every session.
func CSRFToken(rawSession string) string {
	s := sha256.Sum256([]byte("pingauth-csrf\x00" + rawSession))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// Create stores a new operator with a password.
func (r *Repo) Create(ctx context.Context, email, name, password string) (*Operator, error) {
	email, err := enduser.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if email == "" {
		return nil, apperr.Invalid("email", "email is required")
	}
	name = strings.TrimSpace(name)
	if len(name) > 100 {
		return nil, apperr.Invalid("name", "name must be at most 100 characters")
	}
	if err := enduser.ValidatePassword(password); err != nil {
		return nil, err
	}
	h, err := r.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := r.now()
	o := &Operator{ID: newID(), Email: email, Name: name, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	if err := r.db.WithContext(ctx).Create(o).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return nil, apperr.Conflict("an operator with email %s already exists", email)
		}
		return nil, fmt.Errorf("create operator: %w", err)
	}
	return o, nil
}

// Count returns the number of operators.
func (r *Repo) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := r.db.WithContext(ctx).Model(&Operator{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count operators: %w", err)
	}
	return n, nil
}

// Get loads an operator by id.
func (r *Repo) Get(ctx context.Context, id string) (*Operator, error) {
	return store.First[Operator](ctx, r.db.DB, "get operator", apperr.NotFound("operator not found"), "id = ?", id)
}

// GetByEmail loads an operator by email (case-insensitive).
func (r *Repo) GetByEmail(ctx context.Context, email string) (*Operator, error) {
	return store.First[Operator](ctx, r.db.DB, "get operator", apperr.NotFound("operator not found"), "email = ?", strings.ToLower(strings.TrimSpace(email)))
}

// List returns operators ordered by email; ids limits the result when non-nil.
func (r *Repo) List(ctx context.Context, ids []string) ([]Operator, error) {
	q := r.db.WithContext(ctx).Order("email")
	if ids != nil {
		if len(ids) == 0 {
			return []Operator{}, nil
		}
		q = q.Where("id IN ?", ids)
	}
	var out []Operator
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return out, nil
}

// SetPassword replaces an operator's password and ends all their sessions.
func (r *Repo) SetPassword(ctx context.Context, id, password string) error {
	if err := enduser.ValidatePassword(password); err != nil {
		return err
	}
	h, err := r.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return r.db.InTx(ctx, func(ctx context.Context) error {
		if err := r.update(ctx, id, map[string]any{"password_hash": h}); err != nil {
			return err
		}
		return r.RevokeAll(ctx, id)
	})
}

// SetDisabled disables (and logs out) or re-enables an operator.
func (r *Repo) SetDisabled(ctx context.Context, id string, disabled bool) error {
	return r.db.InTx(ctx, func(ctx context.Context) error {
		if err := r.update(ctx, id, map[string]any{"disabled": disabled}); err != nil {
			return err
		}
		if disabled {
			return r.RevokeAll(ctx, id)
		}
		return nil
	})
}

func (r *Repo) update(ctx context.Context, id string, fields map[string]any) error {
	fields["updated_at"] = r.now()
	return r.db.Change(ctx, store.KindOperator, id, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Model(&Operator{}).Where("id = ?", id).Updates(fields)
		if res.Error != nil {
			return fmt.Errorf("update operator: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("operator not found")
		}
		return nil
	})
}

// Delete removes an operator (sessions and tokens cascade).
func (r *Repo) Delete(ctx context.Context, id string) error {
	return r.db.Change(ctx, store.KindOperator, id, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Delete(&Operator{}, "id = ?", id)
		if res.Error != nil {
			return fmt.Errorf("delete operator: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("operator not found")
		}
		return nil
	})
}

// ErrBadCredentials is returned for every failed login, whatever the reason.
var ErrBadCredentials = apperr.Unauthorized("invalid email or password")

// Authenticate checks email and password. Unknown emails cost the same work.
func (r *Repo) Authenticate(ctx context.Context, email, password string) (*Operator, error) {
	if len(password) > enduser.MaxPasswordLen || len(email) > 254 {
		return nil, ErrBadCredentials
	}
	o, err := r.GetByEmail(ctx, email)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			r.hasher.VerifyDummy(ctx, password)
			return nil, ErrBadCredentials
		}
		return nil, err
	}
	needsRehash, err := r.hasher.Verify(ctx, o.PasswordHash, password)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, ErrBadCredentials
	}
	if o.Disabled {
		return nil, ErrBadCredentials
	}
	fields := map[string]any{"last_login_at": r.now()}
	if needsRehash {
		if h, err := r.hasher.Hash(ctx, password); err == nil {
			fields["password_hash"] = h
		}
	}
	_ = r.update(ctx, o.ID, fields)
	return o, nil
}

// NewSession starts a session for an operator and returns the raw token for the cookie.
func (r *Repo) NewSession(ctx context.Context, operatorID string) (string, *Session, error) {
	raw := randomToken(32)
	now := r.now()
	s := &Session{TokenHash: Digest(raw), OperatorID: operatorID, CreatedAt: now, ExpiresAt: now.Add(r.ttl), LastSeenAt: now}
	if err := r.db.WithContext(ctx).Create(s).Error; err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	// Opportunistic cleanup of expired sessions.
	r.db.WithContext(ctx).Where("expires_at < ?", now).Delete(&Session{})
	return raw, s, nil
}

// ErrNoSession means the cookie names no live session.
var ErrNoSession = apperr.Unauthorized("not signed in or session expired")

// LookupSession returns the live session and enabled operator of a raw cookie token.
func (r *Repo) LookupSession(ctx context.Context, raw string) (*Session, *Operator, error) {
	if raw == "" || len(raw) > 128 {
		return nil, nil, ErrNoSession
	}
	var s Session
	err := r.db.WithContext(ctx).First(&s, "token_hash = ?", Digest(raw)).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lookup session: %w", err)
	}
	if !r.now().Before(s.ExpiresAt) || s.Pending {
		return nil, nil, ErrNoSession
	}
	o, err := r.Get(ctx, s.OperatorID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, nil, ErrNoSession
		}
		return nil, nil, err
	}
	if o.Disabled {
		return nil, nil, ErrNoSession
	}
	return &s, o, nil
}

// RevokeSession ends one session (logout).
func (r *Repo) RevokeSession(ctx context.Context, raw string) error {
	if err := r.db.WithContext(ctx).Delete(&Session{}, "token_hash = ?", Digest(raw)).Error; err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// RevokeAll ends every session of an operator.
func (r *Repo) RevokeAll(ctx context.Context, operatorID string) error {
	if err := r.db.Change(ctx, store.KindOperator, operatorID, func(ctx context.Context) error {
		return r.db.WithContext(ctx).Delete(&Session{}, "operator_id = ?", operatorID).Error
	}); err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}

// NewToken creates an API token; the raw value is returned once.
func (r *Repo) NewToken(ctx context.Context, operatorID, name string, ttl time.Duration) (string, *Token, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, apperr.Invalid("name", "token name is required (at most 100 characters)")
	}
	if ttl < 0 || ttl > 366*24*time.Hour {
		return "", nil, apperr.Invalid("ttl", "token lifetime must be between 0 (no expiry) and 366 days")
	}
	raw := TokenPrefix + randomToken(32)
	now := r.now()
	t := &Token{ID: "tok_" + randomToken(9), OperatorID: operatorID, Name: name, TokenHash: Digest(raw), CreatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		t.ExpiresAt = &exp
	}
	if err := r.db.WithContext(ctx).Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return raw, t, nil
}

// ListTokens lists an operator's API tokens (never their values).
func (r *Repo) ListTokens(ctx context.Context, operatorID string) ([]Token, error) {
	var out []Token
	if err := r.db.WithContext(ctx).Where("operator_id = ?", operatorID).Order("created_at DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken revokes an API token of an operator.
func (r *Repo) DeleteToken(ctx context.Context, operatorID, id string) error {
	return r.db.Change(ctx, store.KindOperator, operatorID, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Delete(&Token{}, "operator_id = ? AND id = ?", operatorID, id)
		if res.Error != nil {
			return fmt.Errorf("delete token: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("token not found")
		}
		return nil
	})
}

// LookupToken resolves a raw API token to its enabled operator.
func (r *Repo) LookupToken(ctx context.Context, raw string) (*Operator, error) {
	bad := apperr.Unauthorized("invalid or expired API token")
	if !strings.HasPrefix(raw, TokenPrefix) || len(raw) > 128 {
		return nil, bad
	}
	var t Token
	err := r.db.WithContext(ctx).First(&t, "token_hash = ?", Digest(raw)).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, fmt.Errorf("lookup token: %w", err)
	}
	now := r.now()
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return nil, bad
	}
	o, err := r.Get(ctx, t.OperatorID)
	if err != nil || o.Disabled {
		return nil, bad
	}
	r.db.WithContext(ctx).Model(&Token{}).Where("id = ?", t.ID).Update("last_used_at", now)
	return o, nil
}
