package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/secret/secrettest"
	"github.com/pingstreams/pingauth/internal/secret/vaulttest"
	"github.com/pingstreams/pingauth/internal/store/storetest"
	"github.com/pingstreams/pingauth/internal/token"
)

// openAppFromEnv wires the app from environment-style config, as `pingauth serve` does.
func openAppFromEnv(t testing.TB, env map[string]string) *app.App {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	base := map[string]string{
		"PINGAUTH_DATA_DIR":     t.TempDir(),
		"PINGAUTH_MASTER_KEY":   base64.StdEncoding.EncodeToString(key),
		"PINGAUTH_SECRET_GRACE": "1h",
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return base[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{HashParams: &enduser.TestParams})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func postAuth(t *testing.T, url, email, password string) httpapi.AuthResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /auth: %d", resp.StatusCode)
	}
	var out httpapi.AuthResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// After a rotation /auth signs with the new version only, while tokens signed
// before it keep verifying during the grace window; for every database and
// every secret backend, wired from configuration.
func TestAuthSignsWithNewSecretAfterRotation(t *testing.T) {
	t.Parallel()
	type setup struct {
		name    string
		backend string
		env     func(t *testing.T) map[string]string
	}
	dbs := []setup{
		{name: "sqlite", env: func(*testing.T) map[string]string { return nil }},
		{name: "postgres", env: func(t *testing.T) map[string]string {
			return map[string]string{"PINGAUTH_DATABASE_URL": storetest.PostgresDSN(t)}
		}},
	}
	backends := []setup{
		{backend: "sealed", env: func(*testing.T) map[string]string { return map[string]string{"PINGAUTH_SECRET_BACKEND": "sealed"} }},
		{backend: "vault", env: func(t *testing.T) map[string]string {
			srv := vaults.Server(t)
			return map[string]string{
				"PINGAUTH_SECRET_BACKEND": "vault", "VAULT_ADDR": srv.Addr, "VAULT_TOKEN": srv.Token,
				"PINGAUTH_VAULT_PREFIX": vaulttest.Prefix(t),
			}
		}},
		{name: "approle", backend: "vault", env: func(t *testing.T) map[string]string {
			srv := vaults.Server(t)
			prefix := vaulttest.Prefix(t)
			mount, roleID, secretID := srv.AppRole(t, prefix, time.Hour, 2*time.Hour)
			return map[string]string{
				"PINGAUTH_SECRET_BACKEND": "vault", "VAULT_ADDR": srv.Addr, "PINGAUTH_VAULT_PREFIX": prefix,
				"PINGAUTH_VAULT_ROLE_ID": roleID, "PINGAUTH_VAULT_SECRET_ID": secretID, "PINGAUTH_VAULT_APPROLE_MOUNT": mount,
			}
		}},
	}
	for _, d := range dbs {
		for _, b := range backends {
			name := b.name
			if name == "" {
				name = b.backend
			}
			t.Run(d.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				env := map[string]string{}
				for _, part := range []map[string]string{d.env(t), b.env(t)} {
					for k, v := range part {
						env[k] = v
					}
				}
				a := openAppFromEnv(t, env)
				if a.Backend.Name() != b.backend {
					t.Fatalf("backend %q, want %q", a.Backend.Name(), b.backend)
				}
				ctx := context.Background()
				if _, err := a.Projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
					t.Fatal(err)
				}
				p := &project.Project{ID: secrettest.RandomID("p"), TenantID: "acme", Name: "Shop", TokenTTLSeconds: 600}
				if err := a.Projects.Create(ctx, p); err != nil {
					t.Fatal(err)
				}
				if err := a.Users.Create(ctx, &enduser.User{ProjectID: p.ID, Email: "ann@example.com", Enabled: true}, "correct horse"); err != nil {
					t.Fatal(err)
				}
				oldVal := secrettest.Value(40)
				if _, err := a.Secrets.Put(ctx, p.ID, oldVal, secret.WriteOptions{Actor: "test"}); err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(a.HTTP())
				defer srv.Close()
				url := srv.URL + "/auth/" + p.ID
				aud, err := p.Audience(a.Config.AudienceBase)
				if err != nil {
					t.Fatal(err)
				}
				verify := func(raw string, keys ...token.Key) error {
					_, err := token.Verify(raw, token.VerifyOptions{Audience: aud, Keys: keys})
					return err
				}

				before := postAuth(t, url, "ann@example.com", "correct horse")
				if kid := kidOf(t, before.Token); kid != "v1" {
					t.Fatalf("kid before rotation = %q, want v1", kid)
				}
				if err := verify(before.Token, token.Key{Version: 1, Value: oldVal}); err != nil {
					t.Fatalf("token before rotation: %v", err)
				}

				meta, newVal, err := a.Secrets.Rotate(ctx, p.ID, secret.WriteOptions{Actor: "test"})
				if err != nil {
					t.Fatal(err)
				}
				after := postAuth(t, url, "ann@example.com", "correct horse")
				if kid := kidOf(t, after.Token); kid != "v2" || meta.Version != 2 {
					t.Fatalf("kid after rotation = %q (rotated to v%d), want v2", kid, meta.Version)
				}
				if err := verify(after.Token, token.Key{Version: 2, Value: newVal}); err != nil {
					t.Errorf("new token with the new secret: %v", err)
				}
				for _, k := range []token.Key{{Version: 2, Value: oldVal}, {Version: 1, Value: oldVal}} {
					if err := verify(after.Token, k); !errors.Is(err, token.ErrInvalid) {
						t.Errorf("new token verified with the old secret as v%d", k.Version)
					}
				}
				// The pre-rotation token still verifies with the keyring (grace 1h).
				kr, err := a.Secrets.Get(ctx, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				var keys []token.Key
				for _, v := range kr.Verifying(time.Now()) {
					keys = append(keys, token.Key{Version: v.Version, Value: v.Value})
				}
				if err := verify(before.Token, keys...); err != nil {
					t.Errorf("pre-rotation token inside the grace window: %v", err)
				}
				if len(keys) != 2 {
					t.Errorf("%d verifying keys, want 2", len(keys))
				}
			})
		}
	}
}
