// Package enduser stores the end-users of each project (the site's visitors
// who may authenticate) and verifies their passwords.
package enduser

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// Password length limits (bytes). The upper bound keeps hashing cost bounded.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

var (
	externalIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:@|+-]{1,128}$`)
	usernamePattern   = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,128}$`)
)

// User is an end-user of one project.
type User struct {
	ID           string         `gorm:"primaryKey" json:"id"`
	ProjectID    string         `json:"project_id"`
	ExternalID   string         `json:"external_id"`
	Email        string         `json:"email,omitempty"`
	Username     string         `json:"username,omitempty"`
	Firstname    string         `json:"firstname,omitempty"`
	Lastname     string         `json:"lastname,omitempty"`
	PasswordHash string         `json:"-"`
	Attributes   map[string]any `gorm:"serializer:json" json:"attributes,omitempty"`
	Roles        []string       `gorm:"serializer:json" json:"roles"`
	Enabled      bool           `json:"enabled"`
	// PasswordChangedAt is when SetPassword last replaced the password (a
	// transparent rehash does not count); refresh credentials issued before
	// it are refused.
	PasswordChangedAt *time.Time `json:"password_changed_at,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// TableName binds User to end_users.
func (User) TableName() string { return "end_users" }

// HasPassword reports whether the user can log in with a password.
func (u *User) HasPassword() bool { return u.PasswordHash != "" }

// NormalizeEmail lower-cases and validates an e-mail address ("" allowed).
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if len(s) <= 254 && plainAddress(s) {
		return s, nil // what mail.ParseAddress accepts unchanged (FuzzPlainAddress)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", apperr.Invalid("email", "email %q is not a valid address", truncate(s, 60))
	}
	return s, nil
}

// plainAddress reports whether s is a lower-case address of the everyday
// shape local@domain: local made of [a-z0-9_+-] and domain of [a-z0-9-]
// runs, each joined by single dots (no leading, trailing or double dot).
// Such an address is a valid RFC 5322 dot-atom addr-spec that
// mail.ParseAddress returns unchanged, so it needs no parsing; anything
// else (quotes, comments, display names, other characters) is parsed.
func plainAddress(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && dotAtom(local, true) && dotAtom(domain, false)
}

// dotAtom reports whether s is non-empty runs of [a-z0-9-] (plus '_' and
// '+' when local) separated by single dots.
func dotAtom(s string, local bool) bool {
	prevDot := true // no leading dot
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', local && (c == '_' || c == '+'):
			prevDot = false
		case c == '.' && !prevDot:
			prevDot = true
		default:
			return false
		}
	}
	return !prevDot // non-empty, no trailing dot
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ValidatePassword enforces the password policy.
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return apperr.Invalid("password", "password must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	}
	if !utf8.ValidString(pw) {
		return apperr.Invalid("password", "password must be valid UTF-8")
	}
	return nil
}

// validate normalises u before storage.
func (u *User) validate() error {
	var err error
	if u.Email, err = NormalizeEmail(u.Email); err != nil {
		return err
	}
	u.Username = strings.TrimSpace(u.Username)
	if u.Username != "" && !usernamePattern.MatchString(u.Username) {
		return apperr.Invalid("username", "username must be 1-128 letters, digits or ._@+-")
	}
	if u.ExternalID == "" {
		switch {
		case u.Email != "":
			u.ExternalID = u.Email
		case u.Username != "":
			u.ExternalID = u.Username
		default:
			return apperr.Invalid("external_id", "an end-user needs an email, a username or an external_id")
		}
	}
	if !externalIDPattern.MatchString(u.ExternalID) {
		return apperr.Invalid("external_id", "external_id must be 1-128 characters of letters, digits or ._:@|+-")
	}
	u.Firstname = strings.TrimSpace(u.Firstname)
	u.Lastname = strings.TrimSpace(u.Lastname)
	if len(u.Firstname) > 100 || len(u.Lastname) > 100 {
		return apperr.Invalid("firstname", "names must be at most 100 characters")
	}
	if len(u.Attributes) > 32 {
		return apperr.Invalid("attributes", "at most 32 custom attributes")
	}
	for k := range u.Attributes {
		if k == "" || len(k) > 64 {
			return apperr.Invalid("attributes", "attribute names must be 1-64 characters")
		}
	}
	if err := token.CheckAttributesIn("attributes", u.Attributes); err != nil {
		return err
	}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	for _, r := range u.Roles {
		if !usernamePattern.MatchString(r) {
			return apperr.Invalid("roles", "role %q is not valid", truncate(r, 40))
		}
	}
	if u.Attributes == nil {
		u.Attributes = map[string]any{}
	}
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Repo stores end-users and authenticates them.
type Repo struct {
	db     *store.DB
	hasher *Hasher
	log    *slog.Logger
	deny   token.EmailDenyList
}

// RepoOption configures NewRepo.
type RepoOption func(*Repo)

// WithDenyEmails refuses to store end-users whose email is on the
// deployment's deny-list (tenants' lists are read from the database).
func WithDenyEmails(l token.EmailDenyList) RepoOption { return func(r *Repo) { r.deny = l } }

// NewRepo returns a repository.
func NewRepo(db *store.DB, hasher *Hasher, log *slog.Logger, opts ...RepoOption) *Repo {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Repo{db: db, hasher: hasher, log: log}
	for _, o := range opts {
		o(r)
	}
	return r
}

// checkEmail refuses an email on the deployment's or the project's
// tenant's deny-list: it could never appear in a token.
func (r *Repo) checkEmail(ctx context.Context, u *User) error {
	if u.Email == "" {
		return nil
	}
	denied := r.deny.Denies(u.Email)
	if !denied {
		l, err := project.LoadTenantEmailDenyList(ctx, r.db, u.ProjectID)
		if err != nil {
			return err
		}
		denied = l.Denies(u.Email)
	}
	if denied {
		return apperr.Invalid("email", "this email may never appear in a token (it is on the deployment's or tenant's deny-list)")
	}
	return nil
}

// Hasher returns the password hasher.
func (r *Repo) Hasher() *Hasher { return r.hasher }

// Create stores u; password may be empty for users who never log in with one
// (server-to-server or token-exchange modes).
func (r *Repo) Create(ctx context.Context, u *User, password string) error {
	if err := u.validate(); err != nil {
		return err
	}
	if err := r.checkEmail(ctx, u); err != nil {
		return err
	}
	if password != "" {
		if err := ValidatePassword(password); err != nil {
			return err
		}
		h, err := r.hasher.Hash(ctx, password)
		if err != nil {
			return err
		}
		u.PasswordHash = h
	}
	if u.ID == "" {
		u.ID = newID()
	}
	if err := r.db.WithContext(ctx).Create(u).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return apperr.Conflict("an end-user with this email, username or external_id already exists in project %s", u.ProjectID)
		}
		return fmt.Errorf("create end-user: %w", err)
	}
	return nil
}

// Get loads one end-user of a project.
func (r *Repo) Get(ctx context.Context, projectID, id string) (*User, error) {
	return store.First[User](ctx, r.db.DB, "get end-user", apperr.NotFound("end-user not found"), "project_id = ? AND id = ?", projectID, id)
}

// FindByLogin finds a user of the project by email (case-insensitive) or username.
func (r *Repo) FindByLogin(ctx context.Context, projectID, login string) (*User, error) {
	login = strings.TrimSpace(login)
	if login == "" {
		return nil, apperr.NotFound("end-user not found")
	}
	var users []User
	err := r.db.WithContext(ctx).Where("project_id = ? AND (email = ? OR username = ?)", projectID, strings.ToLower(login), login).
		Limit(2).Find(&users).Error
	if err != nil {
		return nil, fmt.Errorf("find end-user: %w", err)
	}
	if len(users) == 0 {
		return nil, apperr.NotFound("end-user not found")
	}
	for i := range users { // prefer an exact email match
		if users[i].Email == strings.ToLower(login) {
			return &users[i], nil
		}
	}
	return &users[0], nil
}

// FindByExternalID finds a user by the site's own id.
func (r *Repo) FindByExternalID(ctx context.Context, projectID, externalID string) (*User, error) {
	return store.First[User](ctx, r.db.DB, "find end-user", apperr.NotFound("end-user not found"), "project_id = ? AND external_id = ?", projectID, externalID)
}

// Update saves profile fields, roles and enabled flag of an existing user.
func (r *Repo) Update(ctx context.Context, u *User) error {
	if err := u.validate(); err != nil {
		return err
	}
	if err := r.checkEmail(ctx, u); err != nil {
		return err
	}
	res := r.db.WithContext(ctx).Model(&User{}).Where("project_id = ? AND id = ?", u.ProjectID, u.ID).Updates(map[string]any{
		"external_id": u.ExternalID, "email": u.Email, "username": u.Username,
		"firstname": u.Firstname, "lastname": u.Lastname,
		"attributes": mustJSON(u.Attributes), "roles": mustJSON(u.Roles),
		"enabled": u.Enabled, "updated_at": time.Now().UTC(),
	})
	if res.Error != nil {
		if store.IsUniqueViolation(res.Error) {
			return apperr.Conflict("an end-user with this email, username or external_id already exists")
		}
		return fmt.Errorf("update end-user: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFound("end-user not found")
	}
	return nil
}

// SetPassword replaces the user's password and records when
// (PasswordChangedAt): refresh credentials issued before are refused.
func (r *Repo) SetPassword(ctx context.Context, projectID, id, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	h, err := r.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return r.setHash(ctx, projectID, id, h, true)
}

// setHash stores a password hash; changed says the password itself changed
// (not a rehash of the same password with other parameters).
func (r *Repo) setHash(ctx context.Context, projectID, id, hash string, changed bool) error {
	now := time.Now().UTC()
	fields := map[string]any{"password_hash": hash, "updated_at": now}
	if changed {
		fields["password_changed_at"] = now
	}
	res := r.db.WithContext(ctx).Model(&User{}).Where("project_id = ? AND id = ?", projectID, id).
		Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("set password: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFound("end-user not found")
	}
	return nil
}

// SetEnabled enables or disables a user.
func (r *Repo) SetEnabled(ctx context.Context, projectID, id string, enabled bool) error {
	res := r.db.WithContext(ctx).Model(&User{}).Where("project_id = ? AND id = ?", projectID, id).
		Updates(map[string]any{"enabled": enabled, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("set enabled: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFound("end-user not found")
	}
	return nil
}

// Delete removes a user.
func (r *Repo) Delete(ctx context.Context, projectID, id string) error {
	res := r.db.WithContext(ctx).Delete(&User{}, "project_id = ? AND id = ?", projectID, id)
	if res.Error != nil {
		return fmt.Errorf("delete end-user: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFound("end-user not found")
	}
	return nil
}

// ErrBadCredentials is returned for every failed password login, whatever the
// reason (unknown user, wrong password, disabled, no password), so responses
// do not reveal which users exist.
var ErrBadCredentials = apperr.Unauthorized("invalid credentials")

// Authenticate verifies login (email or username) and password for a project.
// Unknown users cost the same hashing work as known ones.
func (r *Repo) Authenticate(ctx context.Context, projectID, login, password string) (*User, error) {
	if len(password) > MaxPasswordLen {
		return nil, apperr.Invalid("password", "password too long")
	}
	u, err := r.FindByLogin(ctx, projectID, login)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			r.hasher.VerifyDummy(ctx, password)
			return nil, ErrBadCredentials
		}
		return nil, err
	}
	needsRehash, err := r.hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, ErrBadCredentials
	}
	if !u.Enabled {
		return nil, ErrBadCredentials
	}
	if needsRehash {
		if h, err := r.hasher.Hash(ctx, password); err == nil {
			if err := r.setHash(ctx, projectID, u.ID, h, false); err != nil {
				r.log.WarnContext(ctx, "password rehash failed", "project_id", projectID, "user_id", u.ID, "error", err.Error())
			} else {
				u.PasswordHash = h
			}
		}
	}
	return u, nil
}
