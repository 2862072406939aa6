package secret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	vault "github.com/hashicorp/vault/api"
	"golang.org/x/sync/singleflight"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// VaultDataKey is the KV v2 data key holding the secret value.
const VaultDataKey = "secret"

// DefaultVaultTimeout bounds one Vault HTTP request unless VAULT_CLIENT_TIMEOUT is set.
const DefaultVaultTimeout = 10 * time.Second

// VaultConfig configures the Vault KV v2 backend. TLS settings (VAULT_CACERT,
// VAULT_CLIENT_CERT, VAULT_SKIP_VERIFY, ...) are read from the environment by
// the Vault client itself.
type VaultConfig struct {
	Addr      string // VAULT_ADDR
	Namespace string // VAULT_NAMESPACE (Vault Enterprise / OpenBao namespaces)
	// Mount is the KV v2 mount path (default "secret").
	Mount string
	// Prefix is prepended to every path: values live at <Prefix>/projects/<projectId>.
	Prefix string
	// Token authenticates with a static token. When empty, AppRole is used.
	Token string
	// AppRole credentials and auth mount (default "approle").
	RoleID, SecretID, AppRoleMount string
	// Timeout bounds one request (default DefaultVaultTimeout).
	Timeout time.Duration
	// MaxRetries: 0 keeps the client default (VAULT_MAX_RETRIES or 2);
	// negative disables retries.
	MaxRetries int
	Log        *slog.Logger
}

// Vault is a Backend on a HashiCorp Vault (or OpenBao) KV v2 secrets engine.
// Each project's secret is one KV v2 secret at <prefix>/projects/<projectId>
// whose data holds the value under VaultDataKey; KV v2 versions are the
// secret versions. With AppRole it logs in, renews its token in the
// background and logs in again when the token cannot be renewed or is
// rejected; Close stops that and revokes the token.
type Vault struct {
	client *vault.Client
	kv     *vault.KVv2
	mount  string
	prefix string
	log    *slog.Logger

	// AppRole only.
	login   *vault.Client // token-less client for login requests
	role    *appRole
	group   singleflight.Group
	newAuth chan *vault.Secret
	cancel  context.CancelFunc
	done    chan struct{}
	logins  atomic.Int64
	closed  sync.Once
}

type appRole struct{ mount, roleID, secretID string }

// vaultSecretID matches the ids the backend stores: a project id, optionally
// with a ":purpose" suffix for other secrets of the project (e.g. "p1:idp",
// the exchange-mode IdP secret), which maps to a sub-path.
var vaultSecretID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}(:[a-z0-9][a-z0-9_-]{0,31})?$`)

// NewVault connects to Vault. With AppRole credentials it logs in first and
// fails when the login is refused, so a misconfiguration stops startup.
func NewVault(ctx context.Context, cfg VaultConfig) (*Vault, error) {
	if cfg.Addr == "" {
		return nil, errors.New("vault: address (VAULT_ADDR) is required")
	}
	if cfg.Token == "" && (cfg.RoleID == "" || cfg.SecretID == "") {
		return nil, errors.New("vault: a token (VAULT_TOKEN) or AppRole role_id + secret_id is required")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Each client gets its own configuration (the library mutates it).
	newClient := func() (*vault.Client, error) {
		conf := vault.DefaultConfig()
		if conf.Error != nil {
			return nil, fmt.Errorf("vault: client configuration: %w", conf.Error)
		}
		conf.Address = cfg.Addr
		switch {
		case cfg.Timeout > 0:
			conf.Timeout = cfg.Timeout
		case os.Getenv(vault.EnvVaultClientTimeout) == "":
			conf.Timeout = DefaultVaultTimeout
		}
		// Retry blips quickly (the library waits 1-1.5s); long outages are
		// the cache's business, and a readiness probe must answer fast.
		conf.MinRetryWait, conf.MaxRetryWait = 100*time.Millisecond, 500*time.Millisecond
		switch {
		case cfg.MaxRetries < 0:
			conf.MaxRetries = 0
		case cfg.MaxRetries > 0:
			conf.MaxRetries = cfg.MaxRetries
		}
		c, err := vault.NewClient(conf)
		if err != nil {
			return nil, fmt.Errorf("vault: new client: %w", err)
		}
		c.ClearToken() // NewClient picks up VAULT_TOKEN from the process environment
		if cfg.Namespace != "" {
			c.SetNamespace(cfg.Namespace)
		}
		return c, nil
	}
	client, err := newClient()
	if err != nil {
		return nil, err
	}
	mount := strings.Trim(cfg.Mount, "/")
	if mount == "" {
		mount = "secret"
	}
	v := &Vault{
		client: client,
		kv:     client.KVv2(mount),
		mount:  mount,
		prefix: strings.Trim(cfg.Prefix, "/"),
		log:    log,
	}
	if cfg.Token != "" {
		client.SetToken(cfg.Token)
		return v, nil
	}
	if v.login, err = newClient(); err != nil {
		return nil, err
	}
	am := strings.Trim(cfg.AppRoleMount, "/")
	if am == "" {
		am = "approle"
	}
	v.role = &appRole{mount: am, roleID: cfg.RoleID, secretID: cfg.SecretID}
	auth, err := v.doLogin(ctx)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.done = make(chan struct{})
	v.newAuth = make(chan *vault.Secret, 1)
	go v.keepToken(rctx, auth)
	return v, nil
}

// Name implements Backend.
func (v *Vault) Name() string { return "vault" }

// Path returns the KV v2 secret path (below the mount) of a secret id:
// <prefix>/projects/<projectId>, or <prefix>/projects/<projectId>/<purpose>
// for "<projectId>:<purpose>".
func (v *Vault) Path(id string) string {
	p := "projects/" + strings.Replace(id, ":", "/", 1)
	if v.prefix == "" {
		return p
	}
	return v.prefix + "/" + p
}

func (v *Vault) path(id string) (string, error) {
	if !vaultSecretID.MatchString(id) {
		return "", apperr.Invalid("project_id", "project id must be 1-128 characters of letters, digits, '-' or '_'")
	}
	return v.Path(id), nil
}

// Write implements Backend: it stores value as a new KV v2 version.
func (v *Vault) Write(ctx context.Context, projectID string, value []byte) (int, error) {
	p, err := v.path(projectID)
	if err != nil {
		return 0, err
	}
	if !utf8.Valid(value) {
		return 0, apperr.Invalid("secret", "secret must be valid UTF-8 text")
	}
	var s *vault.KVSecret
	err = v.call(ctx, func() error {
		var err error
		s, err = v.kv.Put(ctx, p, map[string]any{VaultDataKey: string(value)})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("vault: write %s/%s: %w", v.mount, p, err)
	}
	if s == nil || s.VersionMetadata == nil || s.VersionMetadata.Version < 1 {
		return 0, fmt.Errorf("vault: write %s/%s: response carries no KV v2 version (is %q a KV version 2 mount?)", v.mount, p, v.mount)
	}
	return s.VersionMetadata.Version, nil
}

// Read implements Backend: it reads ?version=N of the project's secret.
func (v *Vault) Read(ctx context.Context, projectID string, version int) ([]byte, error) {
	p, err := v.path(projectID)
	if err != nil {
		return nil, err
	}
	if version < 1 {
		return nil, apperr.NotFound("secret version %d of project %s not found", version, projectID)
	}
	var s *vault.KVSecret
	err = v.call(ctx, func() error {
		var err error
		s, err = v.kv.GetVersion(ctx, p, version)
		return err
	})
	if errors.Is(err, vault.ErrSecretNotFound) || isStatus(err, http.StatusNotFound) {
		return nil, apperr.NotFound("secret version %d of project %s not found", version, projectID)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read %s/%s version %d: %w", v.mount, p, version, err)
	}
	// A deleted or destroyed version comes back with metadata but no data.
	if s == nil || s.Data == nil || s.VersionMetadata == nil || s.VersionMetadata.Version != version {
		return nil, apperr.NotFound("secret version %d of project %s not found", version, projectID)
	}
	str, ok := s.Data[VaultDataKey].(string)
	if !ok {
		return nil, fmt.Errorf("vault: %s/%s version %d has no string %q field", v.mount, p, version, VaultDataKey)
	}
	return []byte(str), nil
}

// Delete implements Backend: it deletes the metadata, i.e. every version.
func (v *Vault) Delete(ctx context.Context, projectID string) error {
	p, err := v.path(projectID)
	if err != nil {
		return err
	}
	err = v.call(ctx, func() error { return v.kv.DeleteMetadata(ctx, p) })
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("vault: delete %s/%s: %w", v.mount, p, err)
	}
	return nil
}

// Ping implements Backend: it looks up its own token, which proves both that
// Vault answers and that the token is valid.
func (v *Vault) Ping(ctx context.Context) error {
	err := v.call(ctx, func() error {
		_, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("vault: ping: %w", err)
	}
	return nil
}

// Logins counts AppRole logins so far (initial, renewal-driven and after a
// rejected token).
func (v *Vault) Logins() int64 { return v.logins.Load() }

// Close stops token renewal and revokes an AppRole token. It is safe to call twice.
func (v *Vault) Close() error {
	if v.role == nil {
		return nil
	}
	v.closed.Do(func() {
		v.cancel()
		<-v.done
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := v.client.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
			v.log.Debug("vault: revoke token on close failed", "error", err.Error())
		}
	})
	return nil
}

func isStatus(err error, code int) bool {
	var re *vault.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// call runs fn; with AppRole, a 403 (token expired or revoked) triggers one
// fresh login and one retry.
func (v *Vault) call(ctx context.Context, fn func() error) error {
	used := v.client.Token()
	err := fn()
	if err == nil || v.role == nil || !isStatus(err, http.StatusForbidden) {
		return err
	}
	if v.client.Token() == used { // nobody has logged in again since
		auth, lerr := v.doLogin(ctx)
		if lerr != nil {
			return errors.Join(err, lerr)
		}
		select { // hand the new token to the renewal loop
		case v.newAuth <- auth:
		default:
		}
	}
	return fn()
}

// doLogin performs one AppRole login (deduplicated across goroutines) and
// installs the new token.
func (v *Vault) doLogin(ctx context.Context) (*vault.Secret, error) {
	res, err, _ := v.group.Do("login", func() (any, error) {
		s, err := v.login.Logical().WriteWithContext(ctx, "auth/"+v.role.mount+"/login", map[string]any{
			"role_id":   v.role.roleID,
			"secret_id": v.role.secretID,
		})
		if err != nil {
			return nil, fmt.Errorf("vault: approle login at auth/%s: %w", v.role.mount, err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return nil, fmt.Errorf("vault: approle login at auth/%s returned no token", v.role.mount)
		}
		v.client.SetToken(s.Auth.ClientToken)
		v.logins.Add(1)
		v.log.Info("vault: logged in with approle", "ttl_seconds", s.Auth.LeaseDuration, "renewable", s.Auth.Renewable)
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*vault.Secret), nil
}

// keepToken renews the AppRole token while it can and logs in again when
// renewal ends (max TTL reached, token revoked, Vault down for too long).
func (v *Vault) keepToken(ctx context.Context, auth *vault.Secret) {
	defer close(v.done)
	for {
		if auth != nil && auth.Auth.LeaseDuration == 0 { // token never expires
			select {
			case <-ctx.Done():
				return
			case auth = <-v.newAuth:
				continue
			}
		}
		if auth != nil {
			w, err := v.client.NewLifetimeWatcher(&vault.LifetimeWatcherInput{Secret: auth})
			if err != nil {
				v.log.Warn("vault: cannot watch token lifetime", "error", err.Error())
			} else {
				started := time.Now()
				go w.Start()
				auth = v.watch(ctx, w)
				w.Stop()
				if auth != nil { // a request logged in again; watch that token
					continue
				}
				if wait := time.Second - time.Since(started); wait > 0 { // no tight loop on very short TTLs
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
				if ctx.Err() != nil {
					return
				}
			}
		}
		backoff := time.Second
		for auth == nil {
			a, err := v.doLogin(ctx)
			if err == nil {
				auth = a
				break
			}
			v.log.Warn("vault: approle login failed; retrying", "in", backoff.String(), "error", err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
		}
	}
}

// watch waits for the watcher to finish. It returns a newer login to watch
// instead, or nil when a new login is needed.
func (v *Vault) watch(ctx context.Context, w *vault.LifetimeWatcher) *vault.Secret {
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-v.newAuth:
			return a
		case err := <-w.DoneCh():
			if err != nil {
				v.log.Warn("vault: token renewal stopped; logging in again", "error", err.Error())
			} else {
				v.log.Info("vault: token near its max TTL; logging in again")
			}
			return nil
		case r := <-w.RenewCh():
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				v.log.Debug("vault: token renewed", "ttl_seconds", r.Secret.Auth.LeaseDuration)
			}
		}
	}
}
