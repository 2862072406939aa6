// Package redistest gives tests a Redis of their own: a redis-server on a
// free loopback port, which a test may stop and start (the machine's shared
// Redis is never stopped). It skips when redis-server is not installed,
// unless PINGAUTH_TEST_REQUIRE_REDIS=1.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Server is a private redis-server (no persistence).
type Server struct {
	URL  string
	Port int
	bin  string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start runs a private redis-server, stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("PINGAUTH_TEST_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not installed (PINGAUTH_TEST_REQUIRE_REDIS=1)")
		}
		t.Skip("redis-server not installed; set PINGAUTH_TEST_REQUIRE_REDIS=1 to fail instead")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &Server{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Port: port, bin: bin, dir: t.TempDir()}
	t.Cleanup(func() { s.Stop(t) })
	s.Restart(t)
	return s
}

// Restart starts the server again after Stop (same port).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, "--port", fmt.Sprint(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 100*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	t.Fatalf("private redis-server did not start:\n%s", log)
}

// Stop kills the server (as an outage would).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
