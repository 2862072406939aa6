// Package vaulttest gives tests a real Vault (or OpenBao) server with a KV v2
// engine at secret/.
//
// The server a test package's tests share is owned by a *Shared value that
// the package's TestMain creates and closes (this package keeps no state of
// its own):
//
//	var vaults *vaulttest.Shared // set once by TestMain, before any test runs
//
//	func TestMain(m *testing.M) {
//		vaults = vaulttest.NewShared()
//		code := m.Run()
//		vaults.Close()
//		os.Exit(code)
//	}
//
// and a test asks it for a connection with vaults.Server(t). The first call
// finds the server:
//
//   - VAULT_ADDR + VAULT_TOKEN from the environment when both are set (e.g.
//     after `eval "$(bash .ci/vault-server.sh start)"`);
//   - otherwise a dev-mode server started by the test process itself from a
//     cached binary (PINGAUTH_VAULT_BIN, $PINGAUTH_TOOLS_DIR or
//     $HOME/.cache/pingauth-tools as filled by .ci/vault-server.sh, or
//     vault/bao on PATH), stopped by Close;
//   - otherwise the test is skipped, or fails when PINGAUTH_TEST_REQUIRE_VAULT=1.
//
// Private starts a server for one test alone (for tests that stop it).
// Every caller gets its own random path prefix (Prefix) so tests never see
// each other's secrets.
package vaulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// RootToken is the root token of servers started here.
const RootToken = "pingauth-dev-root"

// Server is a reachable Vault server: a connection (address and token) to a
// shared server, or a server of its own returned by Private.
type Server struct {
	Addr  string
	Token string // root (or otherwise privileged) token

	cmd    *exec.Cmd
	exited chan struct{}
	home   string
}

// Required reports whether PINGAUTH_TEST_REQUIRE_VAULT=1.
func Required() bool { return os.Getenv("PINGAUTH_TEST_REQUIRE_VAULT") == "1" }

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("Vault required (PINGAUTH_TEST_REQUIRE_VAULT=1) but %s", msg)
	}
	t.Skipf("%s; set PINGAUTH_TEST_REQUIRE_VAULT=1 to fail instead", msg)
}

// Shared owns the Vault server that the tests of one test binary share (see
// the package doc). It is found or started on first use, at most once, and
// safe for concurrent use by parallel tests.
type Shared struct {
	once sync.Once
	srv  *Server // set by once; nil when err != nil
	err  error
}

// NewShared returns an owner without a server yet; Server finds or starts it.
// Close it when the package's tests have run.
func NewShared() *Shared { return &Shared{} }

var (
	errNoBinary = errors.New("VAULT_ADDR/VAULT_TOKEN are not set and no vault or bao binary was found (run: bash .ci/vault-server.sh start)")
	errClosed   = errors.New("vaulttest.Shared used after Close")
)

// Server returns a connection to the shared server, skipping or failing t
// when there is none. The connection cannot stop the server (its Stop is a
// no-op): use Private for that.
func (s *Shared) Server(t testing.TB) *Server {
	t.Helper()
	s.once.Do(func() { s.srv, s.err = findOrStart() })
	if s.err != nil {
		unavailable(t, "no Vault server: %v", s.err)
	}
	return &Server{Addr: s.srv.Addr, Token: s.srv.Token}
}

func findOrStart() (*Server, error) {
	addr, tok := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr != "" && tok != "" {
		srv := &Server{Addr: addr, Token: tok}
		if err := srv.waitReady(10 * time.Second); err != nil {
			return nil, fmt.Errorf("VAULT_ADDR=%s is not ready: %w", addr, err)
		}
		if err := srv.ensureKV(); err != nil {
			return nil, err
		}
		return srv, nil
	}
	bin := Binary()
	if bin == "" {
		return nil, errNoBinary
	}
	return start(bin)
}

// Close stops the shared server if Server started it (an external one is
// left running). Call it after m.Run, when no test uses the server any more;
// a Server call after Close that would have started one skips or fails.
func (s *Shared) Close() {
	s.once.Do(func() { s.err = errClosed }) // nothing found or started yet: never start one now
	if s.srv != nil {
		s.srv.Stop()
	}
}

// Private starts a dev server for t alone (for tests that stop it), stopped
// at cleanup. It needs the binary even when VAULT_ADDR is set.
func Private(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		unavailable(t, "cannot start a private Vault server: %v", errNoBinary)
	}
	s, err := start(bin)
	if err != nil {
		t.Fatalf("start private vault: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Binary locates a vault or bao binary, or returns "".
func Binary() string {
	if b := os.Getenv("PINGAUTH_VAULT_BIN"); b != "" {
		if isExec(b) {
			return b
		}
		return ""
	}
	root := os.Getenv("PINGAUTH_TOOLS_DIR") // as in .ci/vault-server.sh
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "/root" // as the script's ${HOME:-/root}
		}
		root = filepath.Join(home, ".cache", "pingauth-tools")
	}
	for _, name := range []string{"vault", "bao"} {
		if p := filepath.Join(root, "bin", name); isExec(p) {
			return p
		}
	}
	var found string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return nil
		}
		if d.IsDir() && strings.Count(strings.TrimPrefix(p, root), string(filepath.Separator)) > 3 {
			return filepath.SkipDir
		}
		if !d.IsDir() && (d.Name() == "vault" || d.Name() == "bao") && isExec(p) {
			found = p
		}
		return nil
	})
	if found != "" {
		return found
	}
	for _, name := range []string{"vault", "bao"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin string) (*Server, error) {
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		home, err := os.MkdirTemp("", "pingauth-vault-")
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: fmt.Sprintf("http://127.0.0.1:%d", port), Token: RootToken, home: home, exited: make(chan struct{})}
		s.cmd = exec.Command(bin, "server", "-dev",
			"-dev-root-token-id="+RootToken,
			fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port))
		// A private HOME keeps the dev server from writing ~/.vault-token.
		s.cmd.Env = append(filterEnv(os.Environ()), "HOME="+home, "SKIP_SETCAP=1")
		logf, err := os.Create(filepath.Join(home, "server.log"))
		if err != nil {
			return nil, err
		}
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := s.cmd.Start(); err != nil {
			logf.Close()
			os.RemoveAll(home)
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		go func() { _ = s.cmd.Wait(); logf.Close(); close(s.exited) }()
		if err := s.waitReady(30 * time.Second); err != nil {
			log, _ := os.ReadFile(filepath.Join(home, "server.log"))
			s.Stop()
			lastErr = fmt.Errorf("%s did not become ready: %w\n%s", bin, err, tail(string(log), 2000))
			continue
		}
		if err := s.ensureKV(); err != nil {
			s.Stop()
			return nil, err
		}
		return s, nil
	}
	return nil, lastErr
}

func filterEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "BAO_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Stop kills a server started here (no-op for an external one and for a
// connection returned by Shared.Server).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
	default:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
	}
	if s.home != "" {
		_ = os.RemoveAll(s.home)
	}
}

func (s *Server) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		if s.exited != nil {
			select {
			case <-s.exited:
				return errors.New("server process exited")
			default:
			}
		}
		resp, err := hc.Get(s.Addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("sys/health answered %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// Client returns a root client for test setup.
func (s *Server) Client(t testing.TB) *vault.Client {
	t.Helper()
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *Server) client() (*vault.Client, error) {
	conf := vault.DefaultConfig()
	conf.Address = s.Addr
	conf.MaxRetries = 0
	conf.Timeout = 10 * time.Second
	c, err := vault.NewClient(conf)
	if err != nil {
		return nil, err
	}
	c.SetToken(s.Token)
	return c, nil
}

// ensureKV makes sure a KV v2 engine is mounted at secret/.
func (s *Server) ensureKV() error {
	c, err := s.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mounts, err := c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("list mounts at %s: %w", s.Addr, err)
	}
	if m, ok := mounts["secret/"]; ok {
		if m.Type == "kv" && m.Options["version"] == "2" {
			return nil
		}
		return fmt.Errorf("secret/ at %s is %s version %q, not KV v2", s.Addr, m.Type, m.Options["version"])
	}
	return c.Sys().MountWithContext(ctx, "secret", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}})
}

// Prefix returns a fresh random path prefix for one test (the test is
// named for the callers' sake; the prefix is random either way).
func Prefix(_ testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "pingauth-test/" + hex.EncodeToString(b[:])
}

// AppRole enables AppRole auth (at a random mount) with a role whose policy
// allows the backend's paths under prefix in mount secret/, and returns the
// auth mount, role_id and a secret_id. The policy is the minimal one the
// README documents. tokenTTL/maxTTL configure the tokens.
func (s *Server) AppRole(t testing.TB, prefix string, tokenTTL, maxTTL time.Duration) (mount, roleID, secretID string) {
	t.Helper()
	c := s.Client(t)
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	mount = "approle-" + suffix
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, mount, &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatalf("enable approle: %v", err)
	}
	t.Cleanup(func() { _ = c.Sys().DisableAuthWithContext(context.Background(), mount) })
	policy := "pingauth-" + suffix
	rules := fmt.Sprintf(`
path "secret/data/%[1]s/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/%[1]s/*" { capabilities = ["delete"] }
`, prefix)
	if err := c.Sys().PutPolicyWithContext(ctx, policy, rules); err != nil {
		t.Fatalf("put policy: %v", err)
	}
	t.Cleanup(func() { _ = c.Sys().DeletePolicyWithContext(context.Background(), policy) })
	if _, err := c.Logical().WriteWithContext(ctx, "auth/"+mount+"/role/pingauth", map[string]any{
		"token_policies": []string{policy},
		"token_ttl":      int(tokenTTL.Seconds()),
		"token_max_ttl":  int(maxTTL.Seconds()),
	}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	r, err := c.Logical().ReadWithContext(ctx, "auth/"+mount+"/role/pingauth/role-id")
	if err != nil || r == nil {
		t.Fatalf("read role-id: %v", err)
	}
	roleID, _ = r.Data["role_id"].(string)
	sid, err := c.Logical().WriteWithContext(ctx, "auth/"+mount+"/role/pingauth/secret-id", nil)
	if err != nil || sid == nil {
		t.Fatalf("create secret-id: %v", err)
	}
	secretID, _ = sid.Data["secret_id"].(string)
	if roleID == "" || secretID == "" {
		t.Fatal("approle returned empty role_id or secret_id")
	}
	return mount, roleID, secretID
}
