package secret_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
	"github.com/pingstreams/pingauth/internal/secret/vaulttest"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func newAppRoleVault(t *testing.T, srv *vaulttest.Server, ttl, maxTTL time.Duration) (*secret.Vault, string) {
	t.Helper()
	prefix := vaulttest.Prefix(t)
	mount, roleID, secretID := srv.AppRole(t, prefix, ttl, maxTTL)
	b, err := secret.NewVault(context.Background(), secret.VaultConfig{
		Addr: srv.Addr, Mount: "secret", Prefix: prefix, RoleID: roleID, SecretID: secretID, AppRoleMount: mount,
	})
	if err != nil {
		t.Fatalf("NewVault with approle: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, mount
}

// The whole backend contract holds with an AppRole token restricted by a
// policy to the backend's own paths.
func TestVaultAppRoleBackendContract(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	secrettest.RunBackendContract(t, func(t *testing.T) secret.Backend {
		b, _ := newAppRoleVault(t, srv, time.Hour, 2*time.Hour)
		return b
	})
}

func TestVaultStoresValueAtProjectPathUnderDataKey(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	b := newVault(t, srv)
	ctx := context.Background()
	pid := secrettest.RandomID("p")
	val := secrettest.Value(43)
	for range 2 {
		if _, err := b.Write(ctx, pid, val); err != nil {
			t.Fatal(err)
		}
	}
	root := srv.Client(t)
	s, err := root.KVv2("secret").GetVersion(ctx, b.Path(pid), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Data[secret.VaultDataKey].(string); got != string(val) || len(s.Data) != 1 {
		t.Errorf("KV v2 data at %s = %v, want only %q", b.Path(pid), s.Data, secret.VaultDataKey)
	}
	if !strings.HasSuffix(b.Path(pid), "/projects/"+pid) || !strings.HasPrefix(b.Path(pid), "pingauth-test/") {
		t.Errorf("path %q", b.Path(pid))
	}
	// Delete removes the metadata, i.e. every version.
	if err := b.Delete(ctx, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := root.KVv2("secret").GetMetadata(ctx, b.Path(pid)); !errors.Is(err, vault.ErrSecretNotFound) {
		t.Errorf("metadata after delete: %v", err)
	}
}

func TestVaultReadOfDeletedVersionIsNotFound(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	b := newVault(t, srv)
	ctx := context.Background()
	pid := secrettest.RandomID("p")
	for range 2 {
		if _, err := b.Write(ctx, pid, secrettest.Value(20)); err != nil {
			t.Fatal(err)
		}
	}
	// Someone soft-deletes v1 in Vault directly.
	if err := srv.Client(t).KVv2("secret").DeleteVersions(ctx, b.Path(pid), []int{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(ctx, pid, 1); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("read of deleted version = %v, want ErrNotFound", err)
	}
	if _, err := b.Read(ctx, pid, 2); err != nil {
		t.Errorf("read of live version: %v", err)
	}
}

func TestVaultRejectsUnsafeProjectIDs(t *testing.T) {
	t.Parallel()
	b := newVault(t, vaults.Server(t))
	for _, id := range []string{"", "../other", "a/b", "x?version=1", "p:../x", "p:a:b", "p:", strings.Repeat("a", 200)} {
		if _, err := b.Write(context.Background(), id, secrettest.Value(20)); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("Write(%q) = %v, want ErrInvalid", id, err)
		}
	}
}

func TestVaultAppRoleBadCredentialsFailStartup(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	mount, roleID, _ := srv.AppRole(t, vaulttest.Prefix(t), time.Hour, time.Hour)
	_, err := secret.NewVault(context.Background(), secret.VaultConfig{
		Addr: srv.Addr, RoleID: roleID, SecretID: "00000000-0000-0000-0000-000000000000", AppRoleMount: mount,
	})
	if err == nil || !strings.Contains(err.Error(), "approle login") {
		t.Errorf("NewVault with a wrong secret_id = %v, want an approle login error", err)
	}
}

func TestVaultAppRoleLogsInAgainWhenTokenIsRevoked(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	b, mount := newAppRoleVault(t, srv, time.Hour, 2*time.Hour)
	ctx := context.Background()
	pid := secrettest.RandomID("p")
	val := secrettest.Value(30)
	if _, err := b.Write(ctx, pid, val); err != nil {
		t.Fatal(err)
	}
	if b.Logins() != 1 {
		t.Fatalf("logins = %d", b.Logins())
	}
	// Revoke every token issued by this AppRole mount.
	if err := srv.Client(t).Sys().RevokePrefixWithContext(ctx, "auth/"+mount+"/login"); err != nil {
		t.Fatal(err)
	}
	got, err := b.Read(ctx, pid, 1)
	if err != nil || !bytes.Equal(got, val) {
		t.Fatalf("read after revocation = %q, %v", got, err)
	}
	if b.Logins() != 2 {
		t.Errorf("logins = %d, want 2 (one re-login)", b.Logins())
	}
	if err := b.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func TestVaultAppRoleRenewsAndLogsInAgainBeforeMaxTTL(t *testing.T) {
	t.Parallel()
	srv := vaults.Server(t)
	// Tokens live 2s, renewable up to 4s: the background loop must renew,
	// then log in again, without any request hitting a 403 first.
	b, _ := newAppRoleVault(t, srv, 2*time.Second, 4*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for b.Logins() < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if b.Logins() < 2 {
		t.Fatalf("no background re-login within 15s (logins=%d)", b.Logins())
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Errorf("ping after re-login: %v", err)
	}
}

// With a real Vault server stopped: cached keyrings keep serving, writes fail
// with ErrUnavailable (503) in bounded time, readiness reports the outage.
func TestVaultDownServesCacheAndFailsWrites(t *testing.T) {
	t.Parallel()
	srv := vaulttest.Private(t)
	ctx := context.Background()
	b, err := secret.NewVault(ctx, secret.VaultConfig{Addr: srv.Addr, Token: srv.Token, Prefix: vaulttest.Prefix(t), MaxRetries: -1, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	db := storetest.Open(t, store.SQLite)
	h := secrettest.NewHarness(t, secrettest.Env{DB: db, Backend: b}, time.Hour)
	var (
		now   = time.Now()
		clock = func() time.Time { return now }
	)
	cache := secret.NewCache(h.Manager, cacheTTL, nil, secret.WithCacheClock(clock))
	t.Cleanup(func() { _ = cache.Close() })
	_, val, err := cache.Rotate(ctx, h.ProjectID, secret.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get(ctx, h.ProjectID); err != nil {
		t.Fatal(err)
	}

	srv.Stop()

	if err := b.Ping(ctx); err == nil {
		t.Error("Ping succeeded with Vault stopped")
	}
	start := time.Now()
	_, _, err = cache.Rotate(ctx, h.ProjectID, secret.WriteOptions{})
	if !errors.Is(err, apperr.ErrUnavailable) {
		t.Errorf("rotate with Vault stopped = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("rotate took %s to fail", d)
	}
	if _, err := cache.Put(ctx, h.ProjectID, secrettest.Value(30), secret.WriteOptions{}); !errors.Is(err, apperr.ErrUnavailable) {
		t.Errorf("put with Vault stopped = %v, want ErrUnavailable", err)
	}
	now = now.Add(cacheTTL + time.Second) // expired, and the refresh fails
	for range 2 {
		kr, err := cache.Get(ctx, h.ProjectID)
		if err != nil || !bytes.Equal(kr.Current.Value, val) {
			t.Fatalf("cached keyring with Vault stopped = %v, %v", kr, err)
		}
		_ = cache.Close()
	}
	if vs, _ := h.Manager.Versions(ctx, h.ProjectID); len(vs) != 1 {
		t.Errorf("failed writes recorded metadata: %+v", vs)
	}
}
