package secret_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestMasterKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "sub", "master.key")
	k1, err := secret.LoadMasterKey("", file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	k2, err := secret.LoadMasterKey("", file)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Fatalf("reload gave a different key: %v", err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secret.LoadMasterKey("", file); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("world-readable key file accepted: %v", err)
	}
	env := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if k, err := secret.LoadMasterKey(env, file); err != nil || k[0] != 7 {
		t.Fatalf("env key: %v", err)
	}
	if _, err := secret.LoadMasterKey("dG9vIHNob3J0", file); err == nil {
		t.Fatal("short env key accepted")
	}
}

func setup(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	pr := project.NewRepo(db)
	if _, err := pr.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2"} {
		if err := pr.Create(ctx, &project.Project{ID: id, TenantID: "acme", Name: id, TokenTTLSeconds: 60}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSealedStoresNoPlaintextAndBindsRows(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		setup(t, db)
		key := bytes.Repeat([]byte{1}, 32)
		s, err := secret.NewSealed(db, key)
		if err != nil {
			t.Fatal(err)
		}
		mgr := secret.NewManager(db, s, audit.New(db), time.Hour)
		value := []byte("very-recognisable-shared-secret-XYZ")
		if _, err := mgr.Put(ctx, "p1", value, secret.WriteOptions{Actor: "alice"}); err != nil {
			t.Fatal(err)
		}
		// Scan every text/blob column of every table for the plaintext.
		for _, table := range []string{"sealed_secrets", "secret_versions", "audit_events", "projects"} {
			var rows []map[string]any
			if err := db.WithContext(ctx).Table(table).Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				for col, v := range r {
					var b []byte
					switch x := v.(type) {
					case string:
						b = []byte(x)
					case []byte:
						b = x
					}
					if bytes.Contains(b, value) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(value))) {
						t.Fatalf("plaintext secret found in %s.%s", table, col)
					}
				}
			}
		}
		kr, err := mgr.Get(ctx, "p1")
		if err != nil || !bytes.Equal(kr.Current.Value, value) || kr.Current.Version != 1 {
			t.Fatalf("get = %+v, %v", kr, err)
		}
		// A row copied to another project must not decrypt there (AAD binding).
		if err := db.WithContext(ctx).Exec(`INSERT INTO sealed_secrets (project_id, version, nonce, ciphertext, created_at) SELECT 'p2', version, nonce, ciphertext, created_at FROM sealed_secrets WHERE project_id = 'p1'`).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(ctx, "p2", 1); err == nil {
			t.Fatal("ciphertext moved to another project decrypted")
		}
		// The wrong master key cannot read it and says so without leaking.
		other, _ := secret.NewSealed(db, bytes.Repeat([]byte{2}, 32))
		if _, err := other.Read(ctx, "p1", 1); err == nil || !strings.Contains(err.Error(), "PINGAUTH_MASTER_KEY") {
			t.Fatalf("wrong key: %v", err)
		}
		if _, err := s.Read(ctx, "p1", 9); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("missing version: %v", err)
		}
	})
}

func TestManagerRotationKeepsPreviousForGrace(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		setup(t, db)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		s, _ := secret.NewSealed(db, bytes.Repeat([]byte{1}, 32))
		log := audit.New(db)
		mgr := secret.NewManager(db, s, log, time.Hour, secret.WithClock(clock))
		if _, err := mgr.Get(ctx, "p1"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("no secret yet: %v", err)
		}
		if _, err := mgr.Put(ctx, "p1", []byte("short"), secret.WriteOptions{}); !errors.Is(err, apperr.ErrInvalid) {
			t.Fatalf("short secret: %v", err)
		}
		if _, err := mgr.Put(ctx, "nope", []byte("0123456789abcdef0123"), secret.WriteOptions{}); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("unknown project: %v", err)
		}
		m1, err := mgr.Put(ctx, "p1", []byte("first-secret-0123456789"), secret.WriteOptions{Actor: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		m2, v2, err := mgr.Rotate(ctx, "p1", secret.WriteOptions{Actor: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		if m2.Version != m1.Version+1 || len(v2) < 43 {
			t.Fatalf("rotate gave v%d (len %d)", m2.Version, len(v2))
		}
		kr, err := mgr.Get(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(kr.Current.Value, v2) || len(kr.Previous) != 1 || string(kr.Previous[0].Value) != "first-secret-0123456789" {
			t.Fatalf("keyring = %+v", kr)
		}
		if _, ok := kr.Lookup(1, now.Add(59*time.Minute)); !ok {
			t.Fatal("previous version must verify inside grace")
		}
		if _, ok := kr.Lookup(1, now.Add(61*time.Minute)); ok {
			t.Fatal("previous version must not verify after grace")
		}
		now = now.Add(2 * time.Hour)
		kr, _ = mgr.Get(ctx, "p1")
		if len(kr.Previous) != 0 {
			t.Fatalf("expired version still loaded: %+v", kr.Previous)
		}
		zero := time.Duration(0)
		if _, _, err := mgr.Rotate(ctx, "p1", secret.WriteOptions{Actor: "carol", Grace: &zero}); err != nil {
			t.Fatal(err)
		}
		if kr, _ := mgr.Get(ctx, "p1"); len(kr.Previous) != 0 {
			t.Fatal("grace 0 must revoke the previous version at once")
		}
		evs, err := log.List(ctx, audit.Query{ProjectID: "p1"})
		if err != nil || len(evs) != 3 {
			t.Fatalf("audit events = %d, %v", len(evs), err)
		}
		if evs[1].Action != "secret.rotate" || evs[1].Actor != "bob" || evs[1].TenantID != "acme" {
			t.Fatalf("rotation audit = %+v", evs[1])
		}
		if evs[1].Details["from_version"] != float64(1) || evs[1].Details["to_version"] != float64(2) {
			t.Fatalf("rotation details = %v", evs[1].Details)
		}
		if strings.Contains(evs[1].MarshalDetails(), string(v2)) {
			t.Fatal("audit details contain the secret")
		}
	})
}
