package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/ratelimit"
)

func env(m map[string]string) config.Getenv { return func(k string) string { return m[k] } }

func TestSecurityDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Security
	if s.TrustedProxies != nil || s.JWTLeeway != 30*time.Second || s.MaxBodyBytes != 64<<10 || !s.Metrics || s.MetricsToken != "" ||
		s.AuthPerIP != (ratelimit.Rate{Limit: 5, Burst: 20}) || !s.AuthPerLogin.Enabled() || !s.VerifyPerIP.Enabled() ||
		s.Lockout.Threshold != 5 || s.Lockout.Base != 30*time.Second || s.Lockout.Max != 15*time.Minute || s.ShutdownTimeout != 15*time.Second ||
		!s.MetricsProjectLabels || !s.LoopbackOnly {
		t.Fatalf("defaults = %+v", s)
	}
}

func TestSecurityParsing(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(map[string]string{
		"PINGAUTH_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.10,::1", "PINGAUTH_RATE_AUTH_IP": "off", "PINGAUTH_RATE_AUTH_LOGIN": "3/m:3",
		"PINGAUTH_JWT_LEEWAY": "0s", "PINGAUTH_MAX_BODY_BYTES": "8192", "PINGAUTH_METRICS": "off", "PINGAUTH_LOCKOUT_THRESHOLD": "0",
		"PINGAUTH_METRICS_PROJECT_LABELS": "off", "PINGAUTH_ADDR": "0.0.0.0:8080",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Security
	if strings.Join(s.TrustedProxies, "|") != "10.0.0.0/8|192.168.1.10|::1" || s.AuthPerIP.Enabled() || s.AuthPerLogin != (ratelimit.Rate{Limit: 0.05, Burst: 3}) ||
		s.JWTLeeway != 0 || s.MaxBodyBytes != 8192 || s.Metrics || s.Lockout.Enabled() || s.MetricsProjectLabels || s.LoopbackOnly {
		t.Fatalf("parsed = %+v", s)
	}
}

func TestSecurityErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	for k, v := range map[string]string{
		"PINGAUTH_RATE_AUTH_IP": "fast", "PINGAUTH_RATE_LOGIN_USER": "1/s:0", "PINGAUTH_JWT_LEEWAY": "6m", "PINGAUTH_MAX_BODY_BYTES": "100000000",
		"PINGAUTH_TRUSTED_PROXIES": "10.0.0.0/33", "PINGAUTH_LOCKOUT_MAX": "1s", "PINGAUTH_METRICS": "sometimes", "PINGAUTH_METRICS_TOKEN": "abc",
		"PINGAUTH_RATE_MAX_KEYS": "ten", "PINGAUTH_SHUTDOWN_TIMEOUT": "1h", "PINGAUTH_METRICS_PROJECT_LABELS": "sometimes",
	} {
		_, err := config.FromEnv(env(map[string]string{k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: err %v does not name the variable", k, v, err)
		}
	}
}

// TestLoopbackAddr: /metrics may go without a token only on these listen addresses.
func TestLoopbackAddr(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true}, {"127.0.0.2:1", true}, {"[::1]:8080", true}, {"localhost:8080", true}, {"LocalHost:0", true},
		{"0.0.0.0:8080", false}, {":8080", false}, {"[::]:8080", false}, {"192.168.1.5:8080", false}, {"example.com:80", false},
		{"localhost.example.com:80", false}, {"127.0.0.1", false}, {"", false}, {"[::ffff:10.0.0.1]:80", false},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			if got := config.LoopbackAddr(tc.addr); got != tc.want {
				t.Fatalf("LoopbackAddr(%q) = %v, want %v", tc.addr, got, tc.want)
			}
			c, err := config.FromEnv(env(map[string]string{"PINGAUTH_ADDR": tc.addr, "PINGAUTH_PUBLIC_URL": "http://pingauth.test"}))
			if err == nil && tc.addr != "" && c.Security.LoopbackOnly != tc.want { // "": the default 127.0.0.1:8080
				t.Fatalf("PINGAUTH_ADDR=%q: LoopbackOnly = %v", tc.addr, c.Security.LoopbackOnly)
			}
		})
	}
}

// FuzzFromEnv: arbitrary values never panic, and an accepted configuration
// satisfies the invariants the service relies on.
func FuzzFromEnv(f *testing.F) {
	f.Add("5/s:20", "10/m", "30s", "65536", "10.0.0.0/8", "5", "15m", "on", "900s", "https://tiledesk.com")
	f.Add("off", "0", "0s", "1024", "", "0", "1s", "off", "30s", "http://x")
	f.Add("1e400/s", "NaN/m", "-1s", "0x10", "::1/129", "-5", "1e9h", "ON", "25h", "ftp://x")
	f.Fuzz(func(t *testing.T, ipRate, loginRate, leeway, body, proxies, threshold, lockMax, metrics, ttl, aud string) {
		c, err := config.FromEnv(env(map[string]string{
			"PINGAUTH_RATE_AUTH_IP": ipRate, "PINGAUTH_RATE_AUTH_LOGIN": loginRate, "PINGAUTH_JWT_LEEWAY": leeway, "PINGAUTH_MAX_BODY_BYTES": body,
			"PINGAUTH_TRUSTED_PROXIES": proxies, "PINGAUTH_LOCKOUT_THRESHOLD": threshold, "PINGAUTH_LOCKOUT_MAX": lockMax, "PINGAUTH_METRICS": metrics,
			"PINGAUTH_TOKEN_TTL": ttl, "PINGAUTH_AUDIENCE_BASE": aud,
		}))
		if err != nil {
			if !strings.Contains(err.Error(), "PINGAUTH_") {
				t.Fatalf("error names no variable: %v", err)
			}
			return
		}
		s := c.Security
		for _, r := range []ratelimit.Rate{s.AuthPerIP, s.AuthPerLogin} {
			if r.Enabled() && (r.Limit <= 0 || r.Limit > 1e6 || r.Burst < 1 || r.Burst > 1e6) {
				t.Fatalf("accepted rate %+v", r)
			}
		}
		if s.JWTLeeway < 0 || s.JWTLeeway > 5*time.Minute || s.MaxBodyBytes < 1024 || s.MaxBodyBytes > 10<<20 ||
			c.DefaultTTL < 30*time.Second || c.DefaultTTL > 24*time.Hour || s.Lockout.Threshold < 0 ||
			(s.Lockout.Enabled() && (s.Lockout.Max < s.Lockout.Base || s.Lockout.Max > 24*time.Hour)) {
			t.Fatalf("accepted invalid config %+v", s)
		}
	})
}
