package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	env  map[string]string
	logs *syncBuffer // everything written to stderr by the CLI and the server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{logs: &syncBuffer{}, env: map[string]string{
		"PINGAUTH_DATA_DIR":   t.TempDir(),
		"PINGAUTH_MASTER_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32)),
		"PINGAUTH_ADDR":       "127.0.0.1:0",
		"PINGAUTH_LOG_LEVEL":  "debug",
		// A CLI rotation is another process: the server notices it through the
		// version check, within this interval.
		"PINGAUTH_SECRET_CHECK_INTERVAL": "20ms",
	}}
}

func (h *harness) cli(stdin string, stdout io.Writer) *cli {
	return &cli{stdin: strings.NewReader(stdin), stdout: stdout, stderr: h.logs, getenv: func(k string) string { return h.env[k] }, hashParams: &enduser.TestParams}
}

// admin runs a CLI command and returns its stdout.
func (h *harness) admin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := h.cli(stdin, &out).admin(context.Background(), args); err != nil {
		t.Fatalf("pingauth %s: %v\n%s", strings.Join(args, " "), err, h.logs.String())
	}
	return out.String()
}

type server struct {
	url    string
	cancel context.CancelFunc
	done   chan struct{} // closed when serve returns
	err    error
}

// wait waits for serve to return (up to d) and reports its error.
func (s *server) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(d):
		t.Fatal("serve did not return")
		return nil
	}
}

// serve starts `pingauth serve` in-process and waits for its listening line.
func (h *harness) serve(t *testing.T) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan struct{})}
	mark := len(h.logs.String())
	go func() {
		s.err = h.cli("", io.Discard).serve(ctx, nil)
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(h.logs.String()[mark:]))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "pingauth listening" {
				s.url = "http://" + line.Addr
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited early: %v\n%s", s.err, h.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("server did not start:\n%s", h.logs.String())
	return nil
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST %s: non-JSON %q", url, b)
	}
	return resp.StatusCode, out
}

// TestLogsNeverContainSecrets runs the whole flow against the real server
// (CLI: project, secret, user; HTTP: authenticate, verify; CLI: rotate;
// HTTP: authenticate again) with debug logging, and greps every log line for
// the secrets, the password and the issued tokens.
func TestLogsNeverContainSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const (
		pasted   = "pasted-shared-secret-0123456789abcdef"
		password = "Tr0ub4dor&3-horse-staple"
		pid      = "proj-flow"
	)
	h.admin(t, "", "project", "add", "-id", pid, "-name", "Flow", "-origin", "https://shop.example.com")
	h.admin(t, pasted+"\n", "secret", "set", "-project", pid)
	h.admin(t, password+"\n", "user", "add", "-project", pid, "-email", "u@example.com", "-password-stdin")
	srv := h.serve(t)

	status, out := postJSON(t, srv.url+"/auth/"+pid, `{"email":"u@example.com","password":"`+password+`"}`)
	tok1, _ := out["token"].(string)
	if status != 200 || tok1 == "" {
		t.Fatalf("auth: %d %v", status, out)
	}
	if status, _ := postJSON(t, srv.url+"/auth/"+pid, `{"email":"u@example.com","password":"`+password+`x"}`); status != 401 {
		t.Fatalf("wrong password: %d", status)
	}
	if status, out := postJSON(t, srv.url+"/auth/"+pid+"/verify", `{"token":"JWT `+tok1+`"}`); status != 200 || out["active"] != true || out["kid"] != "v1" {
		t.Fatalf("verify: %d %v", status, out)
	}
	rotated := strings.TrimSpace(h.admin(t, "", "secret", "rotate", "-project", pid, "-local"))
	if len(rotated) < 32 {
		t.Fatalf("rotate printed %q", rotated)
	}
	// The running server picks up the CLI's rotation within the check
	// interval (bounded wait; tokens signed meanwhile use v1, still in grace).
	var tok2 string
	for deadline := time.Now().Add(5 * time.Second); ; {
		status, out = postJSON(t, srv.url+"/auth/"+pid, `{"email":"u@example.com","password":"`+password+`"}`)
		tok2, _ = out["token"].(string)
		if status != 200 || tok2 == "" {
			t.Fatalf("auth after rotation: %d %v", status, out)
		}
		if kid, _ := jwtHeaderKid(tok2); kid == "v2" || time.Now().After(deadline) {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	if status, out := postJSON(t, srv.url+"/auth/"+pid+"/verify", `{"token":"`+tok2+`"}`); status != 200 || out["kid"] != "v2" {
		t.Fatalf("verify after rotation: %d %v", status, out)
	}
	srv.cancel()
	if err := srv.wait(t, 20*time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}

	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"http request"`) || !strings.Contains(logs, `"route":"/auth/:projectId"`) || !strings.Contains(logs, `"level":"DEBUG"`) && !strings.Contains(logs, `"level":"INFO"`) {
		t.Fatalf("logs were not captured as expected:\n%s", logs)
	}
	for name, leaked := range map[string]string{"pasted secret": pasted, "rotated secret": rotated, "password": password, "token 1": tok1, "token 2": tok2,
		"token 1 signature": tok1[strings.LastIndex(tok1, ".")+1:], "master key": h.env["PINGAUTH_MASTER_KEY"]} {
		if strings.Contains(logs, leaked) {
			t.Errorf("logs contain the %s", name)
		}
	}
	t.Logf("%d log lines checked", strings.Count(logs, "\n"))
}

// TestGracefulShutdownCompletesInFlightRequest starts the server, begins a
// request (headers and half the body), cancels the serve context (SIGTERM),
// checks the listener closes while the request is still open, then finishes
// the body and gets a complete 200 response before serve returns.
func TestGracefulShutdownCompletesInFlightRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin(t, "", "project", "add", "-id", "proj-drain", "-name", "Drain")
	h.admin(t, "drain-shared-secret-0123456789abcdef\n", "secret", "set", "-project", "proj-drain")
	h.admin(t, "drain password 1\n", "user", "add", "-project", "proj-drain", "-email", "d@example.com", "-password-stdin")
	srv := h.serve(t)
	addr := strings.TrimPrefix(srv.url, "http://")

	body := `{"email":"d@example.com","password":"drain password 1"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /auth/proj-drain HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
	time.Sleep(200 * time.Millisecond) // let the server accept the connection and start the handler

	srv.cancel() // what SIGTERM does via signal.NotifyContext
	closed := false
	for i := 0; i < 200 && !closed; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			closed = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !closed {
		t.Fatal("listener still accepting after shutdown began")
	}
	select {
	case <-srv.done:
		t.Fatalf("serve returned (%v) while a request was in flight", srv.err)
	default:
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatalf("finishing the body: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request was dropped: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"jwt":"JWT `) {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, b)
	}
	if err := srv.wait(t, 20*time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(h.logs.String(), `"msg":"stopped"`) {
		t.Error("no clean stop logged")
	}
}

// TestBadConfigExitsWithCodeOneNamingTheVariable checks start-up validation.
func TestBadConfigExitsWithCodeOneNamingTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"PINGAUTH_RATE_AUTH_IP":      "fast",
		"PINGAUTH_RATE_AUTH_LOGIN":   "10/fortnight",
		"PINGAUTH_RATE_VERIFY_IP":    "-3/s",
		"PINGAUTH_JWT_LEEWAY":        "1h",
		"PINGAUTH_MAX_BODY_BYTES":    "12",
		"PINGAUTH_TRUSTED_PROXIES":   "10.0.0.0/8,proxy.local",
		"PINGAUTH_LOCKOUT_THRESHOLD": "-1",
		"PINGAUTH_LOCKOUT_BASE":      "soon",
		"PINGAUTH_METRICS":           "maybe",
		"PINGAUTH_METRICS_TOKEN":     "short",
		"PINGAUTH_SHUTDOWN_TIMEOUT":  "0s",
		"PINGAUTH_TOKEN_TTL":         "1s",
		"PINGAUTH_LOG_FORMAT":        "xml",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"PINGAUTH_DATA_DIR": t.TempDir(), name: value}
			var stderr bytes.Buffer
			code := run(context.Background(), []string{"serve"}, strings.NewReader(""), io.Discard, &stderr, func(k string) string { return env[k] })
			if code != 1 || !strings.Contains(stderr.String(), name) || !strings.Contains(stderr.String(), "invalid configuration") {
				t.Fatalf("code %d, stderr %q; want 1 and a message naming %s", code, stderr.String(), name)
			}
		})
	}
}

// TestBinaryExitCodeOnBadConfig builds the real binary and checks the
// process exit status and message.
func TestBinaryExitCodeOnBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	bin := filepath.Join(t.TempDir(), "pingauth")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "PINGAUTH_DATA_DIR="+t.TempDir(), "PINGAUTH_RATE_AUTH_IP=lots", "PINGAUTH_JWT_LEEWAY=forever")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "PINGAUTH_RATE_AUTH_IP") || !strings.Contains(string(out), "PINGAUTH_JWT_LEEWAY") {
		t.Fatalf("exit %v, output %q", err, out)
	}
}

// jwtHeaderKid returns the kid of a JWT's header.
func jwtHeaderKid(tok string) (string, error) {
	head, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", err
	}
	var h struct {
		Kid string `json:"kid"`
	}
	err = json.Unmarshal(b, &h)
	return h.Kid, err
}

// TestMetricsStartupWarning: the one startup warning about /metrics.
func TestMetricsStartupWarning(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want string // substring; "" = no warning
	}{
		{"loopback, plain http", map[string]string{"PINGAUTH_ADDR": "127.0.0.1:8080"}, ""},
		{"loopback behind https", map[string]string{"PINGAUTH_ADDR": "127.0.0.1:8080", "PINGAUTH_PUBLIC_URL": "https://auth.example.com"}, "block it at the proxy"},
		{"all interfaces, no token", map[string]string{"PINGAUTH_ADDR": "0.0.0.0:8080"}, "/metrics answers 401"},
		{"all interfaces, token", map[string]string{"PINGAUTH_ADDR": "0.0.0.0:8080", "PINGAUTH_METRICS_TOKEN": "metrics-token-0123456789"}, ""},
		{"all interfaces, metrics off", map[string]string{"PINGAUTH_ADDR": "0.0.0.0:8080", "PINGAUTH_METRICS": "off"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.FromEnv(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			got := metricsWarning(cfg)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("metricsWarning = %q, want %q", got, tc.want)
			}
		})
	}
}
