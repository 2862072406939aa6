package config_test

import (
	"net/netip"
	"slices"
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
	if o := c.Outbound; o.AllowHTTPLoopback || o.AllowCIDRs != nil || o.AllowHosts != nil {
		t.Fatalf("outbound defaults = %+v, want the strict policy", o)
	}
	if c.RedisURL != "" {
		t.Fatalf("RedisURL default %q, want empty (per-process limits)", c.RedisURL)
	}
	if c.CacheEntries != 100_000 {
		t.Fatalf("CacheEntries default %d, want 100000", c.CacheEntries)
	}
}

func TestRedisURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"rediss://:s3cret@redis.internal:6380/2", true},
		{"redis://", false},
		{"127.0.0.1:6379", false},
		{"http://127.0.0.1:6379", false},
	} {
		c, err := config.FromEnv(func(k string) string {
			if k == "PINGAUTH_REDIS_URL" {
				return tc.in
			}
			return ""
		})
		if (err == nil) != tc.ok {
			t.Errorf("PINGAUTH_REDIS_URL=%q: err = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error echoes the URL's password: %v", err)
		}
		if tc.ok && c.RedisURL != tc.in {
			t.Errorf("RedisURL = %q", c.RedisURL)
		}
	}
}

func TestLogQueueBytes(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int{"": 1 << 20, "0": 0, "65536": 65536, "4194304": 4 << 20} {
		c, err := config.FromEnv(func(k string) string {
			if k == "PINGAUTH_LOG_QUEUE_BYTES" {
				return v
			}
			return ""
		})
		if err != nil || c.LogQueueBytes != want {
			t.Errorf("PINGAUTH_LOG_QUEUE_BYTES=%q: %d, %v; want %d", v, c.LogQueueBytes, err, want)
		}
	}
	for _, v := range []string{"-1", "65535", "1MiB", "268435457"} {
		if _, err := config.FromEnv(func(k string) string {
			if k == "PINGAUTH_LOG_QUEUE_BYTES" {
				return v
			}
			return ""
		}); err == nil {
			t.Errorf("PINGAUTH_LOG_QUEUE_BYTES=%q accepted", v)
		}
	}
}

func TestValidationNamesTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]string{
		"PINGAUTH_TOKEN_TTL":                    {"PINGAUTH_TOKEN_TTL": "1s"},
		"PINGAUTH_SECRET_GRACE":                 {"PINGAUTH_SECRET_GRACE": "soon"},
		"PINGAUTH_AUDIENCE_BASE":                {"PINGAUTH_AUDIENCE_BASE": "tiledesk.com"},
		"PINGAUTH_SECRET_BACKEND":               {"PINGAUTH_SECRET_BACKEND": "s3"},
		"VAULT_ADDR":                            {"PINGAUTH_SECRET_BACKEND": "vault", "VAULT_TOKEN": "x"},
		"VAULT_TOKEN":                           {"PINGAUTH_SECRET_BACKEND": "vault", "VAULT_ADDR": "http://127.0.0.1:8200"},
		"PINGAUTH_LOG_FORMAT":                   {"PINGAUTH_LOG_FORMAT": "xml"},
		"PINGAUTH_DATABASE_URL":                 {"PINGAUTH_DATABASE_URL": "mysql://x"},
		"PINGAUTH_REDIS_URL":                    {"PINGAUTH_REDIS_URL": "memcached://127.0.0.1:11211"},
		"PINGAUTH_CACHE_ENTRIES":                {"PINGAUTH_CACHE_ENTRIES": "10"},
		"PINGAUTH_LOG_QUEUE_BYTES":              {"PINGAUTH_LOG_QUEUE_BYTES": "1000"},
		"PINGAUTH_HASH_WORKERS":                 {"PINGAUTH_HASH_WORKERS": "-1"},
		"PINGAUTH_HASH_COOLDOWN_PCT":            {"PINGAUTH_HASH_COOLDOWN_PCT": "lots"},
		"PINGAUTH_OUTBOUND_ALLOW":               {"PINGAUTH_OUTBOUND_ALLOW": "https://idp.corp.example"},
		"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": {"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "maybe"},
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

func TestOutbound(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(func(k string) string {
		return map[string]string{
			"PINGAUTH_OUTBOUND_ALLOW":               "10.0.0.0/8, idp.corp.example., 192.168.1.10 ,fd00::/8,IdP.VPC.example,10.1.2.3/16",
			"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "true",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	o := c.Outbound
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("10.1.0.0/16")}
	if !slices.Equal(o.AllowCIDRs, want) || !slices.Equal(o.AllowHosts, []string{"idp.corp.example", "idp.vpc.example"}) || !o.AllowHTTPLoopback {
		t.Fatalf("outbound = %+v", o)
	}
	if o.CheckAddr("idp.vpc.example", netip.MustParseAddr("172.16.0.1")) != nil || o.CheckAddr("x", netip.MustParseAddr("10.9.9.9")) != nil ||
		o.CheckAddr("x", netip.MustParseAddr("172.16.0.1")) == nil {
		t.Fatal("the parsed policy does not admit what was listed, and only that")
	}
	for _, bad := range []string{"0.0.0.0/0", "::/0", "10.0.0.0/33", "https://idp.corp.example", "idp_corp.example", "-idp.example", "1.2.3", "*.corp.example", "idp..example"} {
		_, err := config.FromEnv(func(k string) string {
			if k == "PINGAUTH_OUTBOUND_ALLOW" {
				return bad
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "PINGAUTH_OUTBOUND_ALLOW") {
			t.Errorf("PINGAUTH_OUTBOUND_ALLOW=%q: err = %v", bad, err)
		}
	}
	for v, on := range map[string]bool{"": false, "false": false, "0": false, "off": false, "TRUE": true, "1": true, "yes": true} {
		c, err := config.FromEnv(func(k string) string {
			if k == "PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK" {
				return v
			}
			return ""
		})
		if err != nil || c.Outbound.AllowHTTPLoopback != on {
			t.Errorf("PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK=%q: %v %v", v, c.Outbound.AllowHTTPLoopback, err)
		}
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
