package secret

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// MasterKeySize is the AES-256 key size.
const MasterKeySize = 32

// LoadMasterKey returns the sealing key: from envValue (base64 of 32 bytes)
// when set, else from file, which is generated with 0600 permissions on
// first use. A key file readable by group or others is refused.
func LoadMasterKey(envValue, file string) ([]byte, error) {
	if envValue != "" {
		return decodeKey(envValue, "PINGAUTH_MASTER_KEY")
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: read master key file: %w", err)
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("secret: stat master key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret: master key file %s has permissions %o; it must be 0600 (chmod 600 %s)", file, st.Mode().Perm(), file)
	}
	return decodeKey(strings.TrimSpace(string(b)), file)
}

func decodeKey(s, from string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == MasterKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("secret: %s must be base64 of exactly %d bytes (generate one with: openssl rand -base64 32)", from, MasterKeySize)
}

func createKeyFile(file string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("secret: create key dir: %w", err)
	}
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race
		return LoadMasterKey("", file)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: create master key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret: write master key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secret: write master key file: %w", err)
	}
	return k, nil
}

// sealedRow is one encrypted version in sealed_secrets.
type sealedRow struct {
	ProjectID  string `gorm:"primaryKey"`
	Version    int    `gorm:"primaryKey"`
	Nonce      []byte
	Ciphertext []byte
	CreatedAt  time.Time
}

func (sealedRow) TableName() string { return "sealed_secrets" }

// Sealed is the embedded Backend: values are sealed with AES-256-GCM under a
// master key and stored as ciphertext in the SQL database. The project id and
// version are bound as additional data, so rows cannot be swapped.
type Sealed struct {
	db   *store.DB
	aead cipher.AEAD
}

// NewSealed returns the embedded backend.
func NewSealed(db *store.DB, masterKey []byte) (*Sealed, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("secret: master key must be %d bytes", MasterKeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealed{db: db, aead: aead}, nil
}

// Name implements Backend.
func (s *Sealed) Name() string { return "sealed" }

func aad(projectID string, version int) []byte {
	return []byte("pingauth/sealed/v1|" + projectID + "|" + strconv.Itoa(version))
}

// Write implements Backend.
func (s *Sealed) Write(ctx context.Context, projectID string, value []byte) (int, error) {
	var version int
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var latest *int
		if err := tx.Model(&sealedRow{}).Where("project_id = ?", projectID).Select("MAX(version)").Scan(&latest).Error; err != nil {
			return err
		}
		version = 1
		if latest != nil {
			version = *latest + 1
		}
		nonce := make([]byte, s.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		row := sealedRow{
			ProjectID:  projectID,
			Version:    version,
			Nonce:      nonce,
			Ciphertext: s.aead.Seal(nil, nonce, value, aad(projectID, version)),
			CreatedAt:  time.Now().UTC(),
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			return 0, apperr.Conflict("concurrent secret write for project %s; retry", projectID)
		}
		return 0, fmt.Errorf("sealed: write: %w", err)
	}
	return version, nil
}

// Read implements Backend.
func (s *Sealed) Read(ctx context.Context, projectID string, version int) ([]byte, error) {
	row, err := store.First[sealedRow](ctx, s.db.DB, "sealed: read", apperr.NotFound("secret version %d of project %s not found", version, projectID),
		"project_id = ? AND version = ?", projectID, version)
	if err != nil {
		return nil, err
	}
	v, err := s.aead.Open(nil, row.Nonce, row.Ciphertext, aad(projectID, version))
	if err != nil {
		// Wrong master key or tampered row. Never include ciphertext here.
		return nil, fmt.Errorf("sealed: cannot unseal version %d of project %s (wrong PINGAUTH_MASTER_KEY or tampered data)", version, projectID)
	}
	return v, nil
}

// ReadVersions implements VersionsReader: the given versions in one query.
func (s *Sealed) ReadVersions(ctx context.Context, projectID string, versions []int) (map[int][]byte, error) {
	var rows []sealedRow
	if err := s.db.WithContext(ctx).Where("project_id = ? AND version IN ?", projectID, versions).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("sealed: read: %w", err)
	}
	out := make(map[int][]byte, len(rows))
	for _, row := range rows {
		v, err := s.aead.Open(nil, row.Nonce, row.Ciphertext, aad(projectID, row.Version))
		if err != nil {
			return nil, fmt.Errorf("sealed: cannot unseal version %d of project %s (wrong PINGAUTH_MASTER_KEY or tampered data)", row.Version, projectID)
		}
		out[row.Version] = v
	}
	for _, v := range versions {
		if _, ok := out[v]; !ok {
			return nil, apperr.NotFound("secret version %d of project %s not found", v, projectID)
		}
	}
	return out, nil
}

// Delete implements Backend.
func (s *Sealed) Delete(ctx context.Context, projectID string) error {
	if err := s.db.WithContext(ctx).Delete(&sealedRow{}, "project_id = ?", projectID).Error; err != nil {
		return fmt.Errorf("sealed: delete: %w", err)
	}
	return nil
}

// Ping implements Backend.
func (s *Sealed) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
