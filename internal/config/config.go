// Package config reads pingauth's configuration from the environment and
// validates it before anything starts.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/audience"
	"github.com/pingstreams/pingauth/internal/outbound"
	"github.com/pingstreams/pingauth/internal/token"
)

// DefaultAudienceBase is the audience base of the public Pingstreams/Tiledesk service.
const DefaultAudienceBase = "https://tiledesk.com"

// Config is the whole runtime configuration. See README "Configuration".
type Config struct {
	Addr           string        // PINGAUTH_ADDR
	PublicURL      string        // PINGAUTH_PUBLIC_URL: how browsers reach this service
	DataDir        string        // PINGAUTH_DATA_DIR
	DatabaseURL    string        // PINGAUTH_DATABASE_URL (empty: embedded SQLite in DataDir)
	RedisURL       string        // PINGAUTH_REDIS_URL: redis:// or rediss://; abuse limits shared by every instance (empty: per process)
	AudienceBase   string        // PINGAUTH_AUDIENCE_BASE
	DefaultTTL     time.Duration // PINGAUTH_TOKEN_TTL
	SecretBackend  string        // PINGAUTH_SECRET_BACKEND: sealed | vault
	MasterKey      string        // PINGAUTH_MASTER_KEY (base64, 32 bytes); else key file in DataDir
	MasterKeyFile  string        // PINGAUTH_MASTER_KEY_FILE
	SecretGrace    time.Duration // PINGAUTH_SECRET_GRACE: how long a rotated-out secret still verifies
	SecretCacheTTL time.Duration // PINGAUTH_SECRET_CACHE_TTL
	SecretCheck    time.Duration // PINGAUTH_SECRET_CHECK_INTERVAL: how often a cached secret's version is compared with SQL metadata
	WidgetScript   string        // PINGAUTH_WIDGET_SCRIPT: widget loader used by the example page
	CacheTTL       time.Duration // PINGAUTH_CACHE_TTL: API keys, modes, mappings, IdP configs, role rules, fast-path projects
	CacheEntries   int           // PINGAUTH_CACHE_ENTRIES: bound of each hot-path cache (projects, settings, API keys, IdP configs, secrets)
	// CacheSafetyTTL (PINGAUTH_CACHE_SAFETY_TTL) replaces CacheTTL and, when
	// longer, SecretCacheTTL while the instance's change listener is
	// connected (PostgreSQL): every change then arrives as an event and the
	// TTL is only a safety net.
	CacheSafetyTTL time.Duration
	LogLevel       string // PINGAUTH_LOG_LEVEL
	LogFormat      string // PINGAUTH_LOG_FORMAT: json | text
	// LogQueueBytes (PINGAUTH_LOG_QUEUE_BYTES, default 1 MiB) bounds the
	// queue of info and debug lines (the access log) written in batches by
	// a background goroutine; a line that does not fit is dropped and
	// counted (pingauth_log_dropped_lines_total and a warning). 0 writes
	// every line synchronously. Warnings and errors are never queued.
	LogQueueBytes int
	// DenyEmails: PINGAUTH_EMAIL_DENYLIST (comma-separated emails and
	// domains) plus the chat server's default admin email, which never
	// appear in a token.
	DenyEmails token.EmailDenyList
	Vault      Vault
	Security   Security // security.go
	// Outbound is the policy of server-side fetches (JWKS): outbound.go,
	// PINGAUTH_OUTBOUND_ALLOW, PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK.
	Outbound outbound.Policy
	// Operators are the session and operator API token lifetimes
	// (operators.go).
	Operators Operators
	// Invitations: PINGAUTH_SMTP_URL (mail.go) and PINGAUTH_INVITE_TTL.
	Invitations Invitations
	// RequireTOTP (PINGAUTH_REQUIRE_TOTP, off by default): every operator
	// must enrol a TOTP second factor before doing anything in the console
	// or the admin API (totp.go).
	RequireTOTP bool
}

// Vault configures the Vault KV v2 secret backend.
type Vault struct {
	Addr         string // VAULT_ADDR
	Token        string // VAULT_TOKEN
	Mount        string // PINGAUTH_VAULT_MOUNT
	Prefix       string // PINGAUTH_VAULT_PREFIX
	RoleID       string // PINGAUTH_VAULT_ROLE_ID (AppRole)
	SecretID     string // PINGAUTH_VAULT_SECRET_ID (AppRole)
	AppRoleMount string // PINGAUTH_VAULT_APPROLE_MOUNT
	Namespace    string // VAULT_NAMESPACE
}

// ChatServerDefaultAdminEmail is the chat server's ADMIN_EMAIL when its
// operator sets none: it is superadmin on several routes, so it is always on
// the email deny-list.
const ChatServerDefaultAdminEmail = "admin@tiledesk.com"

// Getenv abstracts os.Getenv so tests can pass a map.
type Getenv func(string) string

// FromEnv loads and validates configuration.
func FromEnv(getenv Getenv) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	dur := func(k string, def time.Duration) time.Duration {
		s := get(k, "")
		if s == "" {
			return def
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration like 15m or 24h", k, s))
			return def
		}
		return d
	}
	c := Config{
		Addr:           get("PINGAUTH_ADDR", "127.0.0.1:8080"),
		PublicURL:      get("PINGAUTH_PUBLIC_URL", ""),
		DataDir:        get("PINGAUTH_DATA_DIR", "./data"),
		DatabaseURL:    get("PINGAUTH_DATABASE_URL", ""),
		RedisURL:       get("PINGAUTH_REDIS_URL", ""),
		AudienceBase:   strings.TrimRight(get("PINGAUTH_AUDIENCE_BASE", DefaultAudienceBase), "/"),
		DefaultTTL:     dur("PINGAUTH_TOKEN_TTL", 15*time.Minute),
		SecretBackend:  get("PINGAUTH_SECRET_BACKEND", "sealed"),
		MasterKey:      getenv("PINGAUTH_MASTER_KEY"),
		MasterKeyFile:  get("PINGAUTH_MASTER_KEY_FILE", ""),
		SecretGrace:    dur("PINGAUTH_SECRET_GRACE", 24*time.Hour),
		SecretCacheTTL: dur("PINGAUTH_SECRET_CACHE_TTL", 5*time.Minute),
		SecretCheck:    dur("PINGAUTH_SECRET_CHECK_INTERVAL", 2*time.Second),
		WidgetScript:   get("PINGAUTH_WIDGET_SCRIPT", "https://widget.tiledesk.com/v6/launch.js"),
		CacheTTL:       dur("PINGAUTH_CACHE_TTL", 10*time.Second),
		CacheSafetyTTL: dur("PINGAUTH_CACHE_SAFETY_TTL", 15*time.Minute),
		LogLevel:       get("PINGAUTH_LOG_LEVEL", "info"),
		LogFormat:      get("PINGAUTH_LOG_FORMAT", "json"),
		Vault: Vault{
			Addr:         get("VAULT_ADDR", ""),
			Token:        getenv("VAULT_TOKEN"),
			Mount:        get("PINGAUTH_VAULT_MOUNT", "secret"),
			Prefix:       strings.Trim(get("PINGAUTH_VAULT_PREFIX", "pingauth"), "/"),
			RoleID:       get("PINGAUTH_VAULT_ROLE_ID", ""),
			SecretID:     getenv("PINGAUTH_VAULT_SECRET_ID"),
			AppRoleMount: get("PINGAUTH_VAULT_APPROLE_MOUNT", "approle"),
			Namespace:    get("VAULT_NAMESPACE", ""),
		},
	}
	c.CacheEntries = 100_000
	if v := getenv("PINGAUTH_CACHE_ENTRIES"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 100 || n > 10_000_000 {
			errs = append(errs, fmt.Errorf("PINGAUTH_CACHE_ENTRIES: %q must be an integer from 100 to 10000000", v))
		} else {
			c.CacheEntries = n
		}
	}
	c.LogQueueBytes = 1 << 20
	if v := strings.TrimSpace(getenv("PINGAUTH_LOG_QUEUE_BYTES")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 0 && (n < 64<<10 || n > 256<<20)) {
			errs = append(errs, fmt.Errorf("PINGAUTH_LOG_QUEUE_BYTES: %q must be 0 (synchronous) or an integer from 65536 to 268435456", v))
		} else {
			c.LogQueueBytes = n
		}
	}
	if c.WidgetScript == "none" {
		c.WidgetScript = ""
	}
	deny, err := token.ParseEmailDenyList(append([]string{ChatServerDefaultAdminEmail}, strings.Split(getenv("PINGAUTH_EMAIL_DENYLIST"), ",")...))
	if err != nil {
		errs = append(errs, fmt.Errorf("PINGAUTH_EMAIL_DENYLIST: %w", err))
	}
	c.DenyEmails = deny
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if b, err := audience.NormalizeBase(c.AudienceBase); err != nil {
		errs = append(errs, fmt.Errorf("PINGAUTH_AUDIENCE_BASE: %q must be an http(s) URL of the form scheme://host[:port] (no path, query, fragment or userinfo)", truncate(c.AudienceBase, 80)))
	} else {
		c.AudienceBase = b
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("PINGAUTH_PUBLIC_URL: %q must be an absolute http(s) URL", c.PublicURL))
	}
	if c.DefaultTTL < 30*time.Second || c.DefaultTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("PINGAUTH_TOKEN_TTL: %s must be between 30s and 24h", c.DefaultTTL))
	}
	switch c.SecretBackend {
	case "sealed":
	case "vault":
		if c.Vault.Addr == "" {
			errs = append(errs, errors.New("VAULT_ADDR is required when PINGAUTH_SECRET_BACKEND=vault"))
		}
		if c.Vault.Token == "" && (c.Vault.RoleID == "" || c.Vault.SecretID == "") {
			errs = append(errs, errors.New("PINGAUTH_SECRET_BACKEND=vault needs VAULT_TOKEN or PINGAUTH_VAULT_ROLE_ID + PINGAUTH_VAULT_SECRET_ID"))
		}
	default:
		errs = append(errs, fmt.Errorf("PINGAUTH_SECRET_BACKEND: %q is not one of sealed, vault", c.SecretBackend))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("PINGAUTH_LOG_FORMAT: %q is not one of json, text", c.LogFormat))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("PINGAUTH_LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.Contains(c.DatabaseURL, "host=") {
		errs = append(errs, errors.New("PINGAUTH_DATABASE_URL: must be a PostgreSQL URL (postgres://...) or key=value DSN"))
	}
	if c.RedisURL != "" {
		// Never echo the value: it may carry a password.
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			errs = append(errs, errors.New("PINGAUTH_REDIS_URL: must be a redis:// or rediss:// URL with a host"))
		}
	}
	sec, secErrs := securityFromEnv(get, dur)
	sec.LoopbackOnly = LoopbackAddr(c.Addr)
	c.Security, errs = sec, append(errs, secErrs...)
	ob, obErrs := outboundFromEnv(get)
	c.Outbound, errs = ob, append(errs, obErrs...)
	ops, opErrs := operatorsFromEnv(get)
	c.Operators, errs = ops, append(errs, opErrs...)
	inv, invErrs := invitationsFromEnv(getenv, dur)
	c.Invitations, errs = inv, append(errs, invErrs...)
	if c.RequireTOTP, err = requireTOTPFromEnv(get); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}
