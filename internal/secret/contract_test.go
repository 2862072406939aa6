package secret_test

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
	"github.com/pingstreams/pingauth/internal/secret/vaulttest"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// vaults owns the Vault server this package's tests share; TestMain creates
// it before any test runs and stops the server (if it started one) after all.
var vaults *vaulttest.Shared

func TestMain(m *testing.M) {
	vaults = vaulttest.NewShared()
	code := m.Run()
	vaults.Close()
	os.Exit(code)
}

func newSealed(t testing.TB, db *store.DB) secret.Backend {
	t.Helper()
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	b, err := secret.NewSealed(db, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newVault returns a Vault backend on srv under a prefix of its own.
func newVault(t testing.TB, srv *vaulttest.Server) *secret.Vault {
	t.Helper()
	b, err := secret.NewVault(context.Background(), secret.VaultConfig{
		Addr: srv.Addr, Token: srv.Token, Mount: "secret", Prefix: vaulttest.Prefix(t), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestSealedBackendContract(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			secrettest.RunBackendContract(t, func(t *testing.T) secret.Backend {
				return newSealed(t, storetest.Open(t, d))
			})
		})
	}
}

func TestSealedManagerContract(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			secrettest.RunManagerContract(t, func(t *testing.T) secrettest.Env {
				db := storetest.Open(t, d)
				return secrettest.Env{DB: db, Backend: newSealed(t, db)}
			})
		})
	}
}

func TestVaultBackendContract(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	secrettest.RunBackendContract(t, func(t *testing.T) secret.Backend { return newVault(t, srv) })
}

func TestVaultManagerContract(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			secrettest.RunManagerContract(t, func(t *testing.T) secrettest.Env {
				return secrettest.Env{DB: storetest.Open(t, d), Backend: newVault(t, srv)}
			})
		})
	}
}
