package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/config"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DatabaseURL != "" || c.SecretBackend != "sealed" || c.AudienceBase != "https://tiledesk.com" ||
		c.DefaultTTL != 15*time.Minute || c.PublicURL != "http://127.0.0.1:8080" || c.MasterKeyFile != "data/master.key" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestValidationNamesTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]string{
		"PINGAUTH_TOKEN_TTL":         {"PINGAUTH_TOKEN_TTL": "1s"},
		"PINGAUTH_SECRET_GRACE":      {"PINGAUTH_SECRET_GRACE": "soon"},
		"PINGAUTH_AUDIENCE_BASE":     {"PINGAUTH_AUDIENCE_BASE": "tiledesk.com"},
		"PINGAUTH_SECRET_BACKEND":    {"PINGAUTH_SECRET_BACKEND": "s3"},
		"VAULT_ADDR":                 {"PINGAUTH_SECRET_BACKEND": "vault", "VAULT_TOKEN": "x"},
		"VAULT_TOKEN":                {"PINGAUTH_SECRET_BACKEND": "vault", "VAULT_ADDR": "http://127.0.0.1:8200"},
		"PINGAUTH_LOG_FORMAT":        {"PINGAUTH_LOG_FORMAT": "xml"},
		"PINGAUTH_DATABASE_URL":      {"PINGAUTH_DATABASE_URL": "mysql://x"},
		"PINGAUTH_HASH_WORKERS":      {"PINGAUTH_HASH_WORKERS": "-1"},
		"PINGAUTH_HASH_COOLDOWN_PCT": {"PINGAUTH_HASH_COOLDOWN_PCT": "lots"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.FromEnv(func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("err = %v, want mention of %s", err, name)
			}
		})
	}
}

// TestAudienceBaseIsSchemeHostPort: PINGAUTH_AUDIENCE_BASE goes through the
// same validator as a project's audience_base (internal/audience).
func TestAudienceBaseIsSchemeHostPort(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{ // want "": refused
		{"https://tiledesk.com", "https://tiledesk.com"},
		{"https://tiledesk.com//", "https://tiledesk.com"},
		{"HTTPS://Chat.Example.org:8443", "https://chat.example.org:8443"},
		{"https://tiledesk.com/projects/OTHER#", ""},
		{"https://tiledesk.com#", ""},
		{"https://tiledesk.com?x", ""},
		{"https://tiledesk.com/base", ""},
		{"https://user@tiledesk.com", ""},
		{"tiledesk.com", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			c, err := config.FromEnv(func(k string) string { return map[string]string{"PINGAUTH_AUDIENCE_BASE": tc.in}[k] })
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "PINGAUTH_AUDIENCE_BASE") {
					t.Fatalf("%q: err = %v, want PINGAUTH_AUDIENCE_BASE error", tc.in, err)
				}
				return
			}
			if err != nil || c.AudienceBase != tc.want {
				t.Fatalf("%q: AudienceBase = %q, %v; want %q", tc.in, c.AudienceBase, err, tc.want)
			}
		})
	}
}
