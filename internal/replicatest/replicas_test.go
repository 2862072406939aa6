package replicatest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apikey"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// bin is the pingauth binary TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pingauth-replicas-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "pingauth")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/pingstreams/pingauth/cmd/pingauth").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build pingauth: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// propagationBound is the generous bound within which a change made on one
// instance must be applied by every other (the issue asks for 1 s).
const propagationBound = time.Second

type cluster struct {
	env []string
}

// newCluster returns the shared configuration of replicas on one fresh
// PostgreSQL schema; every cache TTL is 10 minutes, so only the change
// events can explain a change seen in time.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &cluster{env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"PINGAUTH_DATABASE_URL=" + storetest.PostgresDSN(t),
		"PINGAUTH_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"PINGAUTH_DATA_DIR=" + t.TempDir(),
		"PINGAUTH_ADDR=127.0.0.1:0",
		"PINGAUTH_CACHE_TTL=10m",
		"PINGAUTH_SECRET_CACHE_TTL=10m",
		"PINGAUTH_SECRET_CHECK_INTERVAL=10m",
	}}
}

// cli runs the CLI binary and returns its stdout.
func (c *cluster) cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pingauth %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

type replica struct {
	n    int // requests sent by browserAuth
	url  string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs one `pingauth serve` process and waits for its listening line.
func (c *cluster) start(t *testing.T) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = c.env
	pr, pw := io.Pipe()
	r := &replica{cmd: cmd, logs: &lockedBuffer{}}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = pw.Close()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			_, _ = r.logs.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "pingauth listening" {
				addr <- line.Addr
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		r.url = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("replica did not start:\n%s", r.logs.String())
	}
	// Ready and not degraded: its change listener is connected (its first
	// connect drops every cache, so warming before it would be undone).
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			var v struct{ Ready, Degraded bool }
			_ = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if v.Ready && !v.Degraded {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not ready and undegraded:\n%s", r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// auth posts a server-mode login and returns the status code.
func (r *replica) auth(t *testing.T, pid, key string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", r.url+"/auth/"+pid, strings.NewReader(`{"user":{"id":"u1"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("auth on %s: %v", r.url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRevokeThroughCLIReachesEveryReplica: three replicas accept a
// server-mode key; after `pingauth apikey revoke` (another process) all
// three refuse it within the bound, although their caches live 10 minutes.
func TestRevokeThroughCLIReachesEveryReplica(t *testing.T) {
	c := newCluster(t)
	c.cli(t, "migrate")
	c.cli(t, "tenant", "add", "-id", "acme", "-name", "Acme")
	c.cli(t, "project", "add", "-id", "proj-rep", "-name", "Replicated", "-tenant", "acme")
	c.cli(t, "secret", "rotate", "-project", "proj-rep", "-local")
	c.cli(t, "mode", "set", "-project", "proj-rep", "-modes", "server")
	key := strings.TrimSpace(c.cli(t, "apikey", "create", "-project", "proj-rep", "-name", "site"))
	keyID, ok := apikey.ParseID(key)
	if !ok {
		t.Fatalf("apikey create printed %q", key)
	}
	replicas := []*replica{c.start(t), c.start(t), c.start(t)}
	for i, r := range replicas {
		if code := r.auth(t, "proj-rep", key); code != http.StatusOK {
			t.Fatalf("replica %d before the revocation: status %d\n%s", i, code, r.logs.String())
		}
	}
	c.cli(t, "apikey", "revoke", "-project", "proj-rep", "-id", keyID)
	start := time.Now()
	for i, r := range replicas {
		for code := r.auth(t, "proj-rep", key); code != http.StatusUnauthorized; code = r.auth(t, "proj-rep", key) {
			if time.Since(start) > propagationBound {
				t.Fatalf("replica %d still answers %d %s after the revocation\n%s", i, code, time.Since(start), r.logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("all three replicas refuse the revoked key %s after the CLI returned", time.Since(start).Round(time.Millisecond))
}
