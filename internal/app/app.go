// Package app wires pingauth's parts together from a Config; both the HTTP
// server and the operator CLI start from here.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/chatserver"

	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/events"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/logging"
	"github.com/pingstreams/pingauth/internal/mail"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/outbound"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/ratelimit/redislimit"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/refresh"
	"github.com/pingstreams/pingauth/internal/rotation"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/web"
)

// App is the wired service.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	DB       *store.DB
	Projects *project.Repo
	Users    *enduser.Repo
	Audit    *audit.Log
	Backend  secret.Backend
	// Secrets is the cached SecretStore; use it for every read and write so
	// the cache is invalidated on rotation.
	Secrets *secret.Cache
	// Operators are console/admin API users; RBAC is their Casbin policy.
	Operators *operator.Repo
	RBAC      *rbac.Authorizer
	// Modes is the verification-mode stack (password/server/exchange bridge
	// and its admin service); nil serves password logins only.
	Modes *bridge.Stack
	// Refresh stores the refresh credentials of password sign-ins made
	// through the widget SDK (POST /auth/<id>/refresh); nil: none.
	Refresh *refresh.Store
	// Events publishes every committed admin change and applies changes to
	// the caches above (see StartListener for other instances' changes).
	Events *events.Bus
	// listener is set once by StartListener; read by request goroutines.
	listener atomic.Pointer[events.Listener]
	// Limits is the shared (Redis) abuse limit store (PINGAUTH_REDIS_URL);
	// nil: every limit is per process.
	Limits *redislimit.Store
	// Admin is the admin service layer: every operator action of the
	// console, the JSON API and the CLI goes through it.
	Admin *admin.Service
	// Rotations stores the projects' scheduled-rotation policies (see
	// RotationScheduler).
	Rotations *rotation.Repo
	// TOTP keeps operators' second factor (secrets in Backend).
	TOTP *operator.TOTPStore
}

// Options tune Open.
type Options struct {
	// HashParams overrides the argon2id parameters (tests); zero: OWASP.
	HashParams *enduser.Params
	// Backend overrides the secret backend (tests).
	Backend secret.Backend
	// Now is the clock of operator sessions and API tokens and of the admin
	// service; ChatSyncBackoff is the chat-server sync's retry backoff
	// (tests; nil: time.Now and admin.DefaultChatSyncBackoff).
	Now             func() time.Time
	ChatSyncBackoff func(attempts int) time.Duration
}

// HashPoolSize is how many argon2id hashes run at once on procs cores when
// PINGAUTH_HASH_WORKERS is not set: half of them (at least one), so a
// password flood can never take every core from the server and exchange
// modes (see README "Performance").
func HashPoolSize(procs int) int { return max(1, procs/2) }

func newHasher(cfg config.Config, params enduser.Params) *enduser.Hasher {
	workers := cfg.Security.HashWorkers
	if workers <= 0 {
		workers = HashPoolSize(runtime.GOMAXPROCS(0))
	}
	return enduser.NewHasher(params, workers, enduser.WithCooldown(float64(cfg.Security.HashCooldownPct)/100))
}

// NewLogger builds the slog logger from config. Secrets never reach the
// output (logging.Redact). With PINGAUTH_LOG_QUEUE_BYTES > 0 (the default),
// info and debug lines (the access log) go through a bounded
// logging.Queue written by a background goroutine, while warnings and errors
// are written at once (after everything queued); App.Close flushes and
// stops the queue, and App.HTTP exports its drop counter.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	ho := &slog.HandlerOptions{Level: lvl}
	newHandler := func(w io.Writer) slog.Handler {
		if cfg.LogFormat == "text" {
			return slog.NewTextHandler(w, ho)
		}
		return slog.NewJSONHandler(w, ho)
	}
	if cfg.LogQueueBytes <= 0 {
		return slog.New(logging.Redact(newHandler(w)))
	}
	q := logging.NewQueue(w, cfg.LogQueueBytes, 0)
	split := logging.SplitLevel(newHandler(q.Buffered()), newHandler(q.Direct()), q)
	if cfg.LogFormat != "text" {
		split = logging.SplitJSON(q, ho) // the same handlers; the access log writes its lines itself
	}
	log := slog.New(logging.Redact(split))
	q.OnDrop(func(dropped, total uint64) {
		log.LogAttrs(context.Background(), slog.LevelWarn, "log lines dropped: the log queue was full (PINGAUTH_LOG_QUEUE_BYTES)",
			slog.Uint64("dropped", dropped), slog.Uint64("dropped_total", total))
	})
	return log
}

// Open connects storage and secret backend.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (_ *App, err error) {
	if q := logging.QueueOf(log); q != nil {
		defer func() {
			if err != nil {
				_ = q.Flush() // the caller is about to exit with err: every line written first
			}
		}()
	}
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: filepath.Join(cfg.DataDir, "pingauth.db"), Logger: log})
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, DB: db}
	a.Projects = project.NewRepo(db)
	a.Audit = audit.New(db)
	params := enduser.OWASPParams
	if opts.HashParams != nil {
		params = *opts.HashParams
	}
	a.Users = enduser.NewRepo(db, newHasher(cfg, params), log, enduser.WithDenyEmails(cfg.DenyEmails))
	a.Refresh = refresh.New(db)
	a.Operators = operator.NewRepo(db, a.Users.Hasher())
	a.Operators.Configure(operator.Limits{SessionIdle: cfg.Operators.SessionIdle, SessionMax: cfg.Operators.SessionMax,
		TokenTTL: cfg.Operators.TokenTTL, TokenMaxTTL: cfg.Operators.TokenMaxTTL, Now: opts.Now})
	if a.RBAC, err = rbac.New(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	a.Backend = opts.Backend
	if a.Backend == nil {
		a.Backend, err = openBackend(ctx, cfg, db, log)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	mgr := secret.NewManager(db, a.Backend, a.Audit, cfg.SecretGrace)
	a.Secrets = secret.NewCache(mgr, cfg.SecretCacheTTL, log, secret.WithVersionCheck(mgr, cfg.SecretCheck),
		secret.WithChangeFeed(a.listening), // events make the per-project version check redundant
		secret.WithInformedTTL(cfg.CacheSafetyTTL), secret.WithMaxEntries(cfg.CacheEntries))
	// Every server-side fetch (JWKS, the chat server) goes through this one client.
	out := outbound.New(outbound.Options{Policy: cfg.Outbound, Log: log})
	a.Modes = bridge.NewStack(db, a.Projects, a.Users, a.Audit, bridge.StackOptions{CacheTTL: cfg.CacheTTL, Log: log, Secrets: a.Backend,
		AudienceBase:   cfg.AudienceBase,
		CacheSafetyTTL: cfg.CacheSafetyTTL, Informed: a.listening,
		SecretCacheTTL: cfg.SecretCacheTTL, Roles: a.RBAC, DenyEmails: cfg.DenyEmails, ProjectLabel: projectLabel(cfg), CacheEntries: cfg.CacheEntries,
		Outbound: out})
	a.wireEvents()
	a.Rotations = rotation.NewRepo(db)
	a.TOTP = operator.NewTOTPStore(db, a.Backend)
	a.Admin = admin.New(admin.Deps{TOTP: a.TOTP, TenantTOTP: a.Projects, RequireTOTP: cfg.RequireTOTP, Log: log, Projects: a.Projects, Users: a.Users, Operators: a.Operators, Roles: a.RBAC,
		Secrets: a.Secrets, Audit: a.Audit, Modes: a.Modes.Admin, Refresh: a.Refresh, ProjectChanged: a.projectChanged,
		DefaultTTL: cfg.DefaultTTL, AudienceBase: cfg.AudienceBase,
		Chat: chatserver.New(out), ChatConns: chatserver.NewRepo(db, a.Backend), ChatJobs: chatserver.NewJobs(db),
		Now: opts.Now, ChatSyncBackoff: opts.ChatSyncBackoff,
		Invitations: a.Operators, Mailer: inviteMailer(cfg), InviteTTL: cfg.Invitations.TTL, PublicURL: cfg.PublicURL,
		Rotations: a.Rotations})
	if cfg.RedisURL != "" {
		if a.Limits, err = redislimit.New(cfg.RedisURL, redislimit.Options{Log: log}); err != nil {
			_ = a.Close()
			return nil, err
		}
	}
	return a, nil
}

// inviteMailer emails invitations through PINGAUTH_SMTP_URL (nil: not set).
func inviteMailer(cfg config.Config) admin.Mailer {
	if cfg.Invitations.SMTP == nil {
		return nil
	}
	return mail.New(*cfg.Invitations.SMTP)
}

// projectLabel is the "project" metric label of the bridge's counters: the
// id, or httpapi.NoProjectLabel with PINGAUTH_METRICS_PROJECT_LABELS=off.
func projectLabel(cfg config.Config) func(string) string {
	if !cfg.Security.MetricsProjectLabels {
		return func(string) string { return httpapi.NoProjectLabel }
	}
	return nil // the id
}

func openBackend(ctx context.Context, cfg config.Config, db *store.DB, log *slog.Logger) (secret.Backend, error) {
	switch cfg.SecretBackend {
	case "sealed":
		key, err := secret.LoadMasterKey(cfg.MasterKey, cfg.MasterKeyFile)
		if err != nil {
			return nil, err
		}
		return secret.NewSealed(db, key)
	case "vault":
		v := cfg.Vault
		return secret.NewVault(ctx, secret.VaultConfig{
			Addr: v.Addr, Namespace: v.Namespace, Mount: v.Mount, Prefix: v.Prefix, Token: v.Token,
			RoleID: v.RoleID, SecretID: v.SecretID, AppRoleMount: v.AppRoleMount, Log: log,
		})
	}
	return nil, fmt.Errorf("secret backend %q is not available in this build", cfg.SecretBackend)
}

// HTTP builds the HTTP server for the app.
func (a *App) HTTP() *httpapi.Server {
	d := httpapi.Deps{
		Log:          a.Log,
		Projects:     a.Projects,
		EndUsers:     a.Users,
		Keyrings:     a.Secrets,
		AudienceBase: a.Config.AudienceBase,
		PublicURL:    a.Config.PublicURL,
		WidgetScript: a.Config.WidgetScript,
		Ready:        map[string]httpapi.Pinger{"database": a.DB},
		Degradable:   map[string]httpapi.Pinger{"secrets": a.Backend},
		MaxBodyBytes: a.Config.Security.MaxBodyBytes,
		// The console's CSV imports take up to 4 MiB (web.RouteBodyLimits).
		RouteBodyLimits: web.RouteBodyLimits(),
		Security:        a.Config.Security,
	}
	if a.Modes != nil {
		d.Bridge = a.Modes.Bridge
	}
	if a.Refresh != nil {
		d.Refresh, d.RefreshUsers = a.Refresh, a.Users
		if a.Audit != nil {
			d.Audit = a.Audit
		}
	}
	if l := a.listener.Load(); l != nil {
		d.Degradable["change_events"] = l // not listening: other instances' changes wait for the TTLs
	}
	if a.Limits != nil {
		d.SharedLimits = a.Limits
		d.Degradable["rate_limits"] = a.Limits // Redis down: limits per instance
	}
	if a.Admin != nil {
		d.Degradable["chat_rotation_store"] = chatDegraded{a.Admin} // projects whose new chat-server secret is not stored
	}
	srv := httpapi.New(d)
	if reg := srv.Registry(); reg != nil {
		q := logging.QueueOf(a.Log)
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pingauth_log_dropped_lines_total",
			Help: "Log lines dropped because the log queue was full (PINGAUTH_LOG_QUEUE_BYTES); each drop is also reported by a warning."},
			func() float64 {
				if q == nil {
					return 0
				}
				return float64(q.Dropped())
			}))
	}
	if reg := srv.Registry(); reg != nil && a.Modes != nil {
		reg.MustRegister(a.Modes.Bridge.Collectors()...)
	}
	if reg := srv.Registry(); reg != nil && a.Limits != nil {
		reg.MustRegister(a.Limits.Collectors()...)
	}
	a.registerChatSync(srv)
	a.registerConsole(srv)
	return srv
}

// PurgeRefresh deletes, every interval until ctx ends, refresh credentials
// whose sign-in expired more than a day ago.
func (a *App) PurgeRefresh(ctx context.Context, every time.Duration) {
	if a.Refresh == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.Refresh.Purge(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
				a.Log.Warn("refresh credential purge failed", "error", err.Error())
			}
		}
	}
}

// Close releases resources.
func (a *App) Close() error {
	var errs []error
	if l := a.listener.Load(); l != nil {
		l.Close()
	}
	if a.Limits != nil {
		errs = append(errs, a.Limits.Close())
	}
	if a.Secrets != nil {
		errs = append(errs, a.Secrets.Close()) // waits for background refreshes
	}
	if a.Modes != nil {
		a.Modes.Bridge.Close() // flush API key last-used writes before the DB closes
	}
	if c, ok := a.Backend.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	errs = append(errs, a.DB.Close())
	if q := logging.QueueOf(a.Log); q != nil {
		// Last: every line logged until now is written; later lines are
		// written synchronously.
		errs = append(errs, q.Close())
	}
	return errors.Join(errs...)
}
