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
	// TenantID limits the token to one tenant ("": every tenant its
	// operator has a role in).
	TenantID string `json:"tenant_id,omitempty"`
	// ReadOnly tokens may only read (GET and HEAD requests).
	ReadOnly bool `json:"read_only"`
}

// TableName binds Token to operator_tokens.
func (Token) TableName() string { return "operator_tokens" }

// TokenPrefix starts every API token.
const TokenPrefix = "pat_"

// Default lifetimes (PINGAUTH_SESSION_MAX, PINGAUTH_SESSION_IDLE,
// PINGAUTH_OPERATOR_TOKEN_TTL, PINGAUTH_OPERATOR_TOKEN_MAX_TTL).
const (
	// DefaultSessionTTL is the absolute lifetime of a console session.
	DefaultSessionTTL = 12 * time.Hour
	// DefaultSessionIdle ends a session not used for this long.
	DefaultSessionIdle = 30 * time.Minute
	// DefaultTokenTTL is the lifetime of an API token created without one.
	DefaultTokenTTL = 90 * 24 * time.Hour
	// DefaultTokenMaxTTL is the longest lifetime an API token may have.
	DefaultTokenMaxTTL = 365 * 24 * time.Hour
	// MinTokenTTL is the shortest lifetime an API token may have.
	MinTokenTTL = time.Minute
	// touchEvery bounds how often a token's last use is written: at most
	// once a minute per token, never a write per request.
	touchEvery = time.Minute
)

// Limits are the lifetimes of sessions and API tokens; zero fields keep
// the defaults.
type Limits struct {
	SessionIdle time.Duration // a session unused this long ends
	SessionMax  time.Duration // absolute session lifetime
	TokenTTL    time.Duration // lifetime of a token created without one
	TokenMaxTTL time.Duration // longest token lifetime (also ends tokens stored without an expiry)
	// Now is the clock (nil: the current one).
	Now func() time.Time
}

// Repo stores operators, sessions and tokens.
type Repo struct {
	db       *store.DB
	hasher   *enduser.Hasher
	now      func() time.Time
	ttl      time.Duration
	idle     time.Duration
	tokenTTL time.Duration
	tokenMax time.Duration
}

// NewRepo returns a repository; hasher is shared with end-users (argon2id, bounded pool).
func NewRepo(db *store.DB, hasher *enduser.Hasher) *Repo {
	return &Repo{db: db, hasher: hasher, now: func() time.Time { return time.Now().UTC() }, ttl: DefaultSessionTTL,
		idle: DefaultSessionIdle, tokenTTL: DefaultTokenTTL, tokenMax: DefaultTokenMaxTTL}
}

// Configure sets the lifetimes (call before serving).
func (r *Repo) Configure(l Limits) {
	if l.SessionIdle > 0 {
		r.idle = l.SessionIdle
	}
	if l.SessionMax > 0 {
		r.ttl = l.SessionMax
	}
	if l.TokenTTL > 0 {
		r.tokenTTL = l.TokenTTL
	}
	if l.TokenMaxTTL > 0 {
		r.tokenMax = l.TokenMaxTTL
	}
	if l.Now != nil {
		now := l.Now
		r.now = func() time.Time { return now().UTC() }
	}
}

// SessionTTL returns the absolute session lifetime.
func (r *Repo) SessionTTL() time.Duration { return r.ttl }

// SessionIdle returns the idle timeout of sessions.
func (r *Repo) SessionIdle() time.Duration { return r.idle }

// TokenLifetimes returns the default and the maximum API token lifetime.
func (r *Repo) TokenLifetimes() (def, maxTTL time.Duration) { return r.tokenTTL, r.tokenMax }

// sessionTouchEvery is how often a session's last activity is written: at
// most once a minute, more often only for idle timeouts under 4 minutes.
func (r *Repo) sessionTouchEvery() time.Duration { return min(time.Minute, r.idle/4) }

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

// SetPassword replaces an operator's password, ends their sessions except
// keepSession (a raw session token; "" ends every one) and revokes every API
// token, in one transaction. It returns the revoked tokens (for the audit).
func (r *Repo) SetPassword(ctx context.Context, id, password, keepSession string) ([]Token, error) {
	if err := enduser.ValidatePassword(password); err != nil {
		return nil, err
	}
	h, err := r.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	var revoked []Token
	err = r.db.InTx(ctx, func(ctx context.Context) error {
		if err := r.update(ctx, id, map[string]any{"password_hash": h}); err != nil {
			return err
		}
		if err := r.RevokeOtherSessions(ctx, id, keepSession); err != nil {
			return err
		}
		revoked, err = r.RevokeTokens(ctx, id, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// CheckPassword verifies an operator's current password (a wrong one is an
// invalid current_password).
func (r *Repo) CheckPassword(ctx context.Context, id, password string) error {
	o, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	if len(password) > enduser.MaxPasswordLen {
		return apperr.Invalid("current_password", "the current password is wrong")
	}
	if _, err := r.hasher.Verify(ctx, o.PasswordHash, password); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return apperr.Invalid("current_password", "the current password is wrong")
	}
	return nil
}

// SetDisabled disables or re-enables an operator. Disabling ends every
// session and revokes every API token (re-enabling brings none back); the
// revoked tokens are returned.
func (r *Repo) SetDisabled(ctx context.Context, id string, disabled bool) ([]Token, error) {
	var revoked []Token
	err := r.db.InTx(ctx, func(ctx context.Context) error {
		if err := r.update(ctx, id, map[string]any{"disabled": disabled}); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		if err := r.RevokeAll(ctx, id); err != nil {
			return err
		}
		var err error
		revoked, err = r.RevokeTokens(ctx, id, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
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
	// Opportunistic cleanup of expired and idle sessions.
	r.db.WithContext(ctx).Where("expires_at < ? OR last_seen_at < ?", now, now.Add(-r.idle)).Delete(&Session{})
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
	now := r.now()
	if s.Pending { // half signed in (the second factor is due): grants nothing
		return nil, nil, ErrNoSession
	}
	// Absolute lifetime (also a shorter PINGAUTH_SESSION_MAX set after the
	// session began) and idle timeout.
	if !now.Before(s.ExpiresAt) || !now.Before(s.CreatedAt.Add(r.ttl)) || !now.Before(s.LastSeenAt.Add(r.idle)) {
		r.db.WithContext(ctx).Delete(&Session{}, "token_hash = ?", s.TokenHash)
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
	if now.Sub(s.LastSeenAt) >= r.sessionTouchEvery() {
		// Activity is written at most once a minute, not per request; a
		// failed write only shortens the session.
		if err := r.db.WithContext(ctx).Model(&Session{}).Where("token_hash = ?", s.TokenHash).Update("last_seen_at", now).Error; err == nil {
			s.LastSeenAt = now
		}
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

// RevokeOtherSessions ends every session of an operator but keep (a raw
// session token; "" ends them all).
func (r *Repo) RevokeOtherSessions(ctx context.Context, operatorID, keep string) error {
	if keep == "" {
		return r.RevokeAll(ctx, operatorID)
	}
	if err := r.db.Change(ctx, store.KindOperator, operatorID, func(ctx context.Context) error {
		return r.db.WithContext(ctx).Delete(&Session{}, "operator_id = ? AND token_hash <> ?", operatorID, Digest(keep)).Error
	}); err != nil {
		return fmt.Errorf("revoke other sessions: %w", err)
	}
	return nil
}

// TokenSpec is a new API token.
type TokenSpec struct {
	Name string
	// TTL is the lifetime (0: the default; at most the maximum).
	TTL time.Duration
	// TenantID limits the token to one tenant ("": none).
	TenantID string
	// ReadOnly tokens may only read.
	ReadOnly bool
}

// FormatLifetime writes a lifetime in days when it is whole days (90d),
// otherwise as a Go duration.
func FormatLifetime(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// NewToken creates an API token; the raw value is returned once. Every
// token expires: spec.TTL 0 takes the default lifetime, and none may exceed
// the maximum.
func (r *Repo) NewToken(ctx context.Context, operatorID string, spec TokenSpec) (string, *Token, error) {
	name := strings.TrimSpace(spec.Name)
	if name == "" || len(name) > 100 {
		return "", nil, apperr.Invalid("name", "token name is required (at most 100 characters)")
	}
	ttl := spec.TTL
	if ttl == 0 {
		ttl = r.tokenTTL
	}
	if ttl < MinTokenTTL || ttl > r.tokenMax {
		return "", nil, apperr.Invalid("ttl_seconds", "token lifetime must be between %d and %d seconds (%s, PINGAUTH_OPERATOR_TOKEN_MAX_TTL); 0 or absent takes the default, %s",
			int64(MinTokenTTL/time.Second), int64(r.tokenMax/time.Second), FormatLifetime(r.tokenMax), FormatLifetime(r.tokenTTL))
	}
	raw := TokenPrefix + randomToken(32)
	now := r.now()
	exp := now.Add(ttl)
	t := &Token{ID: "tok_" + randomToken(9), OperatorID: operatorID, Name: name, TokenHash: Digest(raw), CreatedAt: now,
		ExpiresAt: &exp, TenantID: spec.TenantID, ReadOnly: spec.ReadOnly}
	if err := r.db.WithContext(ctx).Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return raw, t, nil
}

// Expiry is when t stops working: its expires_at, or for a token stored
// without one (before lifetimes existed) its creation plus the maximum
// lifetime.
func (r *Repo) Expiry(t *Token) time.Time {
	if t.ExpiresAt != nil {
		return *t.ExpiresAt
	}
	return t.CreatedAt.Add(r.tokenMax)
}

// RevokeTokens deletes an operator's API tokens — only those limited to
// tenantID when it is not "" — and returns them (never their values).
func (r *Repo) RevokeTokens(ctx context.Context, operatorID, tenantID string) ([]Token, error) {
	var out []Token
	err := r.db.Change(ctx, store.KindOperator, operatorID, func(ctx context.Context) error {
		q := func() *gorm.DB {
			q := r.db.WithContext(ctx).Where("operator_id = ?", operatorID)
			if tenantID != "" {
				q = q.Where("tenant_id = ?", tenantID)
			}
			return q
		}
		if err := q().Order("created_at").Find(&out).Error; err != nil {
			return err
		}
		return q().Delete(&Token{}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("revoke tokens: %w", err)
	}
	return out, nil
}

// ListTokens lists an operator's API tokens (never their values).
func (r *Repo) ListTokens(ctx context.Context, operatorID string) ([]Token, error) {
	var out []Token
	if err := r.db.WithContext(ctx).Where("operator_id = ?", operatorID).Order("created_at DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	for i := range out {
		exp := r.Expiry(&out[i])
		out[i].ExpiresAt = &exp
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

// ErrBadToken is returned for every refused API token, whatever the reason.
var ErrBadToken = apperr.Unauthorized("invalid or expired API token")

// LookupToken resolves a raw API token to its enabled operator and the
// token row. It reads SQL on every call (nothing is cached), so a revoked
// token is refused by every instance at once. Its last use is written at
// most once a minute.
func (r *Repo) LookupToken(ctx context.Context, raw string) (*Operator, *Token, error) {
	if !strings.HasPrefix(raw, TokenPrefix) || len(raw) > 128 {
		return nil, nil, ErrBadToken
	}
	var t Token
	err := r.db.WithContext(ctx).First(&t, "token_hash = ?", Digest(raw)).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrBadToken
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lookup token: %w", err)
	}
	now := r.now()
	if !now.Before(r.Expiry(&t)) {
		return nil, nil, ErrBadToken
	}
	o, err := r.Get(ctx, t.OperatorID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, nil, ErrBadToken
		}
		return nil, nil, err
	}
	if o.Disabled {
		return nil, nil, ErrBadToken
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		if err := r.db.WithContext(ctx).Model(&Token{}).Where("id = ?", t.ID).Update("last_used_at", now).Error; err == nil {
			t.LastUsedAt = &now
		}
	}
	return o, &t, nil
}
