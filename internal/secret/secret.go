// Package secret keeps every project's Pingstreams shared secret.
//
// Values live in a Backend: the embedded "sealed" backend (AES-256-GCM
// ciphertext in the SQL database) or HashiCorp Vault KV v2. Metadata about
// each version (who, when, grace window) lives in the secret_versions table,
// never the value. Manager implements SecretStore on top of a Backend; Cache
// wraps a SecretStore so the /auth hot path never calls the backend per request.
package secret

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"
)

// Backend stores secret values by project and version.
type Backend interface {
	// Name identifies the backend in metadata ("sealed", "vault").
	Name() string
	// Write stores value as the newest version and returns its version number (>= 1).
	Write(ctx context.Context, projectID string, value []byte) (int, error)
	// Read returns one version's value; it wraps apperr.ErrNotFound when absent.
	Read(ctx context.Context, projectID string, version int) ([]byte, error)
	// Delete removes every version of the project's secret.
	Delete(ctx context.Context, projectID string) error
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
}

// VersionsReader is implemented by backends that read several versions of
// a project's secret in one round trip (the sealed store: one query); the
// Manager then loads a keyring with its metadata query and one read.
type VersionsReader interface {
	ReadVersions(ctx context.Context, projectID string, versions []int) (map[int][]byte, error)
}

// Version is one secret version. Value is never serialised.
type Version struct {
	Version int    `json:"version"`
	Value   []byte `json:"-"`
	// ValidUntil is nil for the current version; for a rotated-out version it
	// is the end of its grace window.
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// Keyring is what verification and signing need: the current version and the
// previous versions still inside their grace window.
type Keyring struct {
	ProjectID string
	Current   Version
	Previous  []Version
}

// Lookup returns the key of version v if it may verify at time now.
func (k *Keyring) Lookup(v int, now time.Time) ([]byte, bool) {
	if k.Current.Version == v {
		return k.Current.Value, true
	}
	for _, p := range k.Previous {
		if p.Version == v && p.ValidUntil != nil && now.Before(*p.ValidUntil) {
			return p.Value, true
		}
	}
	return nil, false
}

// Verifying returns every version that may verify at time now, current first.
func (k *Keyring) Verifying(now time.Time) []Version {
	out := []Version{k.Current}
	for _, p := range k.Previous {
		if p.ValidUntil != nil && now.Before(*p.ValidUntil) {
			out = append(out, p)
		}
	}
	return out
}

// Meta describes a stored version without its value.
type Meta struct {
	ProjectID    string     `gorm:"primaryKey" json:"project_id"`
	Version      int        `gorm:"primaryKey" json:"version"`
	Backend      string     `json:"backend"`
	Source       string     `json:"source"` // generated | pasted
	CreatedBy    string     `json:"created_by"`
	CreatedAt    time.Time  `json:"created_at"`
	SupersededAt *time.Time `json:"superseded_at,omitempty"`
	GraceUntil   *time.Time `json:"grace_until,omitempty"`
}

// TableName binds Meta to secret_versions.
func (Meta) TableName() string { return "secret_versions" }

// Sources of a secret version.
const (
	SourceGenerated = "generated"
	SourcePasted    = "pasted"
)

// Value length limits (bytes) for pasted secrets.
const (
	MinValueLen = 16
	MaxValueLen = 512
)

// WriteOptions qualify Put and Rotate.
type WriteOptions struct {
	// Actor is recorded in metadata and the audit log.
	Actor string
	// Grace overrides the configured grace window for the version being
	// replaced; 0 revokes it at once (compromised secret).
	Grace *time.Duration
}

// SecretStore is the domain interface over project secrets.
type SecretStore interface {
	// Put stores an operator-supplied value (pasted from the Pingstreams
	// dashboard) as the new current version; the previous one keeps verifying
	// for the grace window.
	Put(ctx context.Context, projectID string, value []byte, opts WriteOptions) (Meta, error)
	// Rotate generates a new random 256-bit secret, makes it current and
	// returns it (to be shown once).
	Rotate(ctx context.Context, projectID string, opts WriteOptions) (Meta, []byte, error)
	// Get returns the current key and previous keys still in grace.
	Get(ctx context.Context, projectID string) (*Keyring, error)
	// Versions lists metadata of all versions, newest first.
	Versions(ctx context.Context, projectID string) ([]Meta, error)
	// Delete removes every version (project deletion).
	Delete(ctx context.Context, projectID string, actor string) error
}

// Generate returns a fresh random secret: 32 bytes of entropy, base64url
// encoded (the shared secret is used as a UTF-8 string key by JWT libraries).
func Generate() ([]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(b)))
	base64.RawURLEncoding.Encode(out, b[:])
	return out, nil
}
