// Package apikey issues and verifies the per-project API keys a site's
// backend uses for the `server` verification mode (server-to-server minting).
//
// A key looks like pa_live_<keyid>_<secret>: the key id (12 base32
// characters) is public and selects the row; the secret carries 256 random
// bits. Only the SHA-256 of the whole key is stored; a fast hash is right
// here because the key is high-entropy (no dictionary to attack), and it
// keeps verification in the microsecond range. Keys are shown once.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// Prefix starts every key, so leaked keys are recognisable (secret scanners).
const Prefix = "pa_live_"

const (
	idLen     = 12 // base32 characters: 60 bits, unique per key
	secretLen = 43 // base64url characters of 32 random bytes
	// MaxPerProject bounds the active keys of one project.
	MaxPerProject = 50
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is a stored API key (never its value).
type Key struct {
	ID         string     `gorm:"primaryKey" json:"id"`
	ProjectID  string     `json:"project_id"`
	Name       string     `json:"name"`
	SecretHash string     `json:"-"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"`
}

// TableName binds Key to api_keys.
func (Key) TableName() string { return "api_keys" }

// Active reports whether the key has not been revoked.
func (k *Key) Active() bool { return k.RevokedAt == nil }

// Generate returns a fresh key id and the full key value.
func Generate() (id, full string, err error) {
	var idb [8]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return "", "", err
	}
	id = idEncoding.EncodeToString(idb[:])[:idLen]
	return id, Prefix + id + "_" + base64.RawURLEncoding.EncodeToString(sec[:]), nil
}

// ParseID returns the key id of a well-formed key.
func ParseID(full string) (string, bool) {
	rest, ok := strings.CutPrefix(full, Prefix)
	if !ok || len(rest) != idLen+1+secretLen || rest[idLen] != '_' {
		return "", false
	}
	id := rest[:idLen]
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", false
		}
	}
	return id, true
}

// LooksLikeKey reports whether s has the API key prefix.
func LooksLikeKey(s string) bool { return strings.HasPrefix(s, Prefix) }

// Hash returns the stored form of a full key.
func Hash(full string) string {
	h := sha256.Sum256([]byte(full))
	return hex.EncodeToString(h[:])
}

func hashBytes(stored string) ([32]byte, bool) {
	var out [32]byte
	b, err := hex.DecodeString(stored)
	if err != nil || len(b) != 32 {
		return out, false
	}
	copy(out[:], b)
	return out, true
}

// equalHash compares sha256(full) with want in constant time.
func equalHash(full string, want [32]byte) bool {
	got := sha256.Sum256([]byte(full))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// Repo stores keys.
type Repo struct{ db *store.DB }

// NewRepo returns a key repository.
func NewRepo(db *store.DB) *Repo { return &Repo{db: db} }

// Create makes a new key for projectID and returns it with its full value,
// which is not stored and must be shown to the operator once.
func (r *Repo) Create(ctx context.Context, projectID, name, actor string) (*Key, string, error) {
	name = strings.TrimSpace(name)
	if len(name) > 100 {
		return nil, "", apperr.Invalid("name", "name must be at most 100 characters")
	}
	var active int64
	if err := r.db.WithContext(ctx).Model(&Key{}).Where("project_id = ? AND revoked_at IS NULL", projectID).Count(&active).Error; err != nil {
		return nil, "", fmt.Errorf("apikey: count: %w", err)
	}
	if active >= MaxPerProject {
		return nil, "", apperr.Conflict("project %s already has %d active API keys; revoke one first", projectID, active)
	}
	for attempt := 0; ; attempt++ {
		id, full, err := Generate()
		if err != nil {
			return nil, "", fmt.Errorf("apikey: generate: %w", err)
		}
		k := &Key{ID: id, ProjectID: projectID, Name: name, SecretHash: Hash(full), CreatedBy: actor, CreatedAt: time.Now().UTC()}
		err = r.db.Change(ctx, store.KindAPIKey, id, func(ctx context.Context) error { return r.db.WithContext(ctx).Create(k).Error })
		if err == nil {
			return k, full, nil
		}
		if store.IsUniqueViolation(err) && attempt < 3 {
			continue // key id collision: astronomically unlikely, retry
		}
		if strings.Contains(err.Error(), "FOREIGN KEY") || strings.Contains(err.Error(), "23503") || errors.Is(err, gorm.ErrForeignKeyViolated) {
			return nil, "", apperr.NotFound("project %s not found", projectID)
		}
		return nil, "", fmt.Errorf("apikey: create: %w", err)
	}
}

// List returns the project's keys, newest first (revoked ones included).
func (r *Repo) List(ctx context.Context, projectID string) ([]Key, error) {
	var out []Key
	if err := r.db.WithContext(ctx).Where("project_id = ?", projectID).Order("created_at DESC, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("apikey: list: %w", err)
	}
	return out, nil
}

// Get loads a key by id.
func (r *Repo) Get(ctx context.Context, id string) (*Key, error) {
	return store.First[Key](ctx, r.db.DB, "apikey: get", apperr.NotFound("API key not found"), "id = ?", id)
}

// Revoke marks a key of projectID as revoked. Revoking twice is not an error.
func (r *Repo) Revoke(ctx context.Context, projectID, id, actor string) (*Key, error) {
	k, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.ProjectID != projectID {
		return nil, apperr.NotFound("API key not found")
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	now := time.Now().UTC()
	if err := r.db.Change(ctx, store.KindAPIKey, id, func(ctx context.Context) error {
		return r.db.WithContext(ctx).Model(&Key{}).Where("id = ? AND revoked_at IS NULL", id).
			Updates(map[string]any{"revoked_at": now, "revoked_by": actor}).Error
	}); err != nil {
		return nil, fmt.Errorf("apikey: revoke: %w", err)
	}
	k.RevokedAt, k.RevokedBy = &now, actor
	return k, nil
}

// TouchMany records t as the last use of the keys ids (one statement;
// never moves a last use back).
func (r *Repo) TouchMany(ctx context.Context, ids []string, t time.Time) error {
	return r.db.WithContext(ctx).Model(&Key{}).Where("id IN ? AND (last_used_at IS NULL OR last_used_at < ?)", ids, t).
		Update("last_used_at", t.UTC()).Error
}
