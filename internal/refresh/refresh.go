// Package refresh stores the refresh credentials that let a returning
// visitor of a password-mode project get a new widget token without sending
// the password again (POST /auth/<projectId>/refresh).
//
// A credential looks like prt_<id>_<secret>: the id (26 base32 characters,
// 128 bits) is public and selects the row; the secret carries 256 random
// bits and only its SHA-256 is stored, compared in constant time. A fast hash
// is right for a random 256-bit secret (there is no dictionary to attack).
//
// Credentials come in families: a password sign-in starts one, and every use
// rotates it — the presented row is marked used and its successor inserted,
// in one transaction. Presenting a row that was already used means two
// parties hold the family (the visitor and whoever copied the credential),
// so the whole family is revoked (reuse detection). Every row of a family
// keeps the family's expiry: the project's refresh TTL counts from the
// password sign-in, not from the last use.
//
// The credential value is returned once, by Issue and Rotate, and is never
// logged or audited; rows carry only ids, times and the revocation reason.
package refresh

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// Prefix starts every credential, so leaked ones are recognisable.
const Prefix = "prt_"

const (
	idLen     = 26 // base32 characters of 16 random bytes
	secretLen = 43 // base64url characters of 32 random bytes
	// MaxLen is the length of every well-formed credential.
	MaxLen = len(Prefix) + idLen + 1 + secretLen
)

// Revocation reasons stored with revoked rows.
const (
	ReasonReuse           = "reuse_detected"
	ReasonUserDisabled    = "user_disabled"
	ReasonUserMissing     = "user_deleted"
	ReasonPasswordChanged = "password_changed"
	ReasonProjectDisabled = "project_disabled"
	ReasonOperator        = "operator"
	ReasonLogout          = "logout"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Errors of Lookup and Rotate, all 401s for the HTTP layer.
var (
	// ErrInvalid: malformed, unknown, other project's or wrong secret.
	ErrInvalid = apperr.Unauthorized("invalid refresh token")
	// ErrRevoked: the credential's family was revoked.
	ErrRevoked = apperr.Unauthorized("refresh token revoked; sign in again")
	// ErrExpired: the family's lifetime (the project's refresh TTL) is over.
	ErrExpired = apperr.Unauthorized("refresh token expired; sign in again")
	// ErrReused: the credential had already been used; its family is now revoked.
	ErrReused = apperr.Unauthorized("refresh token already used; every credential of this sign-in is revoked, sign in again")
)

// Token is one stored credential (never its value).
type Token struct {
	ID        string     `gorm:"primaryKey" json:"-"`
	FamilyID  string     `json:"family_id"`
	ProjectID string     `json:"project_id"`
	EndUserID string     `json:"end_user_id"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}

// TableName binds Token to refresh_tokens.
func (Token) TableName() string { return "refresh_tokens" }

// Issued is a freshly issued credential: Credential is shown to the client
// once and never stored.
type Issued struct {
	Credential string
	ID         string
	FamilyID   string
	ExpiresAt  time.Time
}

// Family summarises one remembered sign-in of an end-user (for operators).
type Family struct {
	FamilyID   string     `json:"family_id"`
	SignedInAt time.Time  `json:"signed_in_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt  time.Time  `json:"expires_at"`
	Uses       int        `json:"uses"`
}

// Store keeps refresh credentials in SQL.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// New returns a Store over db.
func New(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// clock is the time in UTC to the microsecond (what PostgreSQL stores).
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// generate returns a new credential's id, value and secret hash.
func generate() (id, full, hash string, err error) {
	var idb [16]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", "", err
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return "", "", "", err
	}
	id = idEncoding.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	return id, Prefix + id + "_" + secret, hashSecret(secret), nil
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func newFamilyID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Parse splits a well-formed credential into its id and secret.
func Parse(credential string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(credential, Prefix)
	if !found || len(rest) != idLen+1+secretLen || rest[idLen] != '_' {
		return "", "", false
	}
	id, secret = rest[:idLen], rest[idLen+1:]
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", "", false
		}
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", false
		}
	}
	return id, secret, true
}

// Issue starts a new family for an end-user of a project, valid for ttl.
func (s *Store) Issue(ctx context.Context, projectID, endUserID string, ttl time.Duration) (Issued, error) {
	if ttl <= 0 {
		return Issued{}, apperr.Invalid("refresh", "refresh credentials are off for this project")
	}
	fam, err := newFamilyID()
	if err != nil {
		return Issued{}, fmt.Errorf("refresh: %w", err)
	}
	now := s.clock()
	return s.insert(s.db.DB.WithContext(ctx), fam, projectID, endUserID, now, now.Add(ttl))
}

func (s *Store) insert(tx *gorm.DB, familyID, projectID, endUserID string, now, expires time.Time) (Issued, error) {
	id, full, hash, err := generate()
	if err != nil {
		return Issued{}, fmt.Errorf("refresh: %w", err)
	}
	t := Token{ID: id, FamilyID: familyID, ProjectID: projectID, EndUserID: endUserID, Hash: hash, CreatedAt: now, ExpiresAt: expires.UTC()}
	if err := tx.Create(&t).Error; err != nil {
		return Issued{}, fmt.Errorf("refresh: store credential: %w", err)
	}
	return Issued{Credential: full, ID: id, FamilyID: familyID, ExpiresAt: t.ExpiresAt}, nil
}

// Lookup returns the stored row of a credential presented to projectID, in
// whatever state it is (used, revoked, expired: see Check). Malformed,
// unknown, other projects' credentials and wrong secrets are ErrInvalid.
func (s *Store) Lookup(ctx context.Context, projectID, credential string) (*Token, error) {
	id, secret, ok := Parse(credential)
	if !ok {
		return nil, ErrInvalid
	}
	t, err := store.First[Token](ctx, s.db.DB, "refresh: lookup", ErrInvalid, "id = ? AND project_id = ?", id, projectID)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(t.Hash)) != 1 {
		return nil, ErrInvalid
	}
	return t, nil
}

// Check reports why t can no longer be exchanged: ErrRevoked, ErrReused (the
// caller then revokes the family with RevokeFamily) or ErrExpired; nil
// means it may be rotated.
func (s *Store) Check(t *Token) error {
	switch {
	case t.RevokedAt != nil:
		return ErrRevoked
	case t.UsedAt != nil:
		return ErrReused
	case !s.clock().Before(t.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// Rotate exchanges t for its successor in one transaction: t is marked used
// (only if it is still unused and not revoked) and a new credential of the
// same family, with the same expiry, is inserted. If t was used or revoked
// in the meantime (two presentations racing) it returns ErrReused, and the
// caller must revoke the family (RevokeFamily with ReasonReuse), as for a
// Check that reports ErrReused.
func (s *Store) Rotate(ctx context.Context, t *Token) (Issued, error) {
	if err := s.Check(t); err != nil {
		return Issued{}, err
	}
	now := s.clock()
	var out Issued
	lost := false
	err := s.db.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Token{}).Where("id = ? AND used_at IS NULL AND revoked_at IS NULL", t.ID).Update("used_at", now)
		if res.Error != nil {
			return fmt.Errorf("refresh: mark used: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			lost = true
			return nil
		}
		var err error
		out, err = s.insert(tx, t.FamilyID, t.ProjectID, t.EndUserID, now, t.ExpiresAt)
		return err
	})
	if err != nil {
		return Issued{}, err
	}
	if lost {
		// Another request used or revoked it first: either way this
		// presentation is a second use of one credential.
		return Issued{}, ErrReused
	}
	return out, nil
}

// RevokeFamily revokes every live credential of a family and returns how
// many rows it revoked. The update is repeated until it finds no row, so a
// successor inserted by a rotation that committed meanwhile is revoked too.
func (s *Store) RevokeFamily(ctx context.Context, familyID, reason string) (int64, error) {
	return s.revoke(ctx, reason, "family_id = ?", familyID)
}

// RevokeUser revokes every remembered sign-in of an end-user and returns how
// many families were live.
func (s *Store) RevokeUser(ctx context.Context, projectID, endUserID, reason string) (int, error) {
	fams, err := s.Families(ctx, projectID, endUserID)
	if err != nil {
		return 0, err
	}
	if _, err := s.revoke(ctx, reason, "project_id = ? AND end_user_id = ?", projectID, endUserID); err != nil {
		return 0, err
	}
	return len(fams), nil
}

// RevokeProject revokes every credential of a project.
func (s *Store) RevokeProject(ctx context.Context, projectID, reason string) (int64, error) {
	return s.revoke(ctx, reason, "project_id = ?", projectID)
}

func (s *Store) revoke(ctx context.Context, reason, where string, args ...any) (int64, error) {
	var total int64
	for i := 0; i < 3; i++ {
		res := s.db.DB.WithContext(ctx).Model(&Token{}).Where("revoked_at IS NULL AND "+where, args...).
			Updates(map[string]any{"revoked_at": s.clock(), "reason": reason})
		if res.Error != nil {
			return total, fmt.Errorf("refresh: revoke: %w", res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected == 0 {
			break
		}
	}
	return total, nil
}

// Families lists an end-user's live (unrevoked, unexpired) families.
func (s *Store) Families(ctx context.Context, projectID, endUserID string) ([]Family, error) {
	var rows []Token
	err := s.db.DB.WithContext(ctx).Where("project_id = ? AND end_user_id = ? AND revoked_at IS NULL", projectID, endUserID).
		Order("created_at").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("refresh: list: %w", err)
	}
	return summarise(rows, s.clock()), nil
}

// LiveCounts returns, for each of the given end-users of a project, how many
// live families it has (users without any are absent).
func (s *Store) LiveCounts(ctx context.Context, projectID string, endUserIDs []string) (map[string]int, error) {
	out := map[string]int{}
	if len(endUserIDs) == 0 {
		return out, nil
	}
	var rows []Token
	err := s.db.DB.WithContext(ctx).Where("project_id = ? AND end_user_id IN ? AND revoked_at IS NULL", projectID, endUserIDs).
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("refresh: count: %w", err)
	}
	byUser := map[string][]Token{}
	for _, r := range rows {
		byUser[r.EndUserID] = append(byUser[r.EndUserID], r)
	}
	now := s.clock()
	for u, rs := range byUser {
		if n := len(summarise(rs, now)); n > 0 {
			out[u] = n
		}
	}
	return out, nil
}

// summarise groups unrevoked rows into unexpired families, oldest first.
func summarise(rows []Token, now time.Time) []Family {
	var out []Family
	idx := map[string]int{}
	for _, r := range rows {
		if !now.Before(r.ExpiresAt) {
			continue
		}
		i, ok := idx[r.FamilyID]
		if !ok {
			i = len(out)
			idx[r.FamilyID] = i
			out = append(out, Family{FamilyID: r.FamilyID, SignedInAt: r.CreatedAt, ExpiresAt: r.ExpiresAt})
		}
		f := &out[i]
		if r.CreatedAt.Before(f.SignedInAt) {
			f.SignedInAt = r.CreatedAt
		}
		if r.UsedAt != nil {
			f.Uses++
			if f.LastUsedAt == nil || r.UsedAt.After(*f.LastUsedAt) {
				u := *r.UsedAt
				f.LastUsedAt = &u
			}
		}
	}
	return out
}

// Purge deletes rows whose family expired before cutoff (expired families
// cannot be used; keeping them a while longer lets operators see them).
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.db.DB.WithContext(ctx).Where("expires_at < ?", cutoff.UTC()).Delete(&Token{})
	if res.Error != nil {
		return 0, fmt.Errorf("refresh: purge: %w", res.Error)
	}
	return res.RowsAffected, nil
}
