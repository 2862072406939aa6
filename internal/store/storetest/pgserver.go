package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// PrivatePostgres is a throw-away PostgreSQL cluster owned by one test, for
// fault injection (stop/start) without touching the shared server.
type PrivatePostgres struct {
	// DSN connects to its "postgres" database as the superuser.
	DSN  string
	Port int
	dir  string
	bin  string
	as   string // run binaries as this user ("" = current)
}

// StartPrivatePostgres runs initdb in a temp dir and starts the cluster on a
// free loopback port. It skips when the PostgreSQL server binaries are not
// installed, unless PINGAUTH_TEST_REQUIRE_POSTGRES=1. As root, the binaries
// run as the "postgres" user via runuser (initdb refuses root).
func StartPrivatePostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("PINGAUTH_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (set PINGAUTH_TEST_REQUIRE_POSTGRES=1 to fail instead)", args...)
	}
	bin := postgresBinDir()
	if bin == "" {
		fail("PostgreSQL server binaries (initdb, pg_ctl) not found")
	}
	p := &PrivatePostgres{bin: bin}
	dir, err := os.MkdirTemp("", "pingauth-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() {
		_ = p.run(context.Background(), "pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			fail("running as root but there is no postgres user to run initdb as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.as = "postgres"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.run(ctx, "initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		fail("initdb: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Port = ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	p.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", p.Port)
	p.Start(t)
	return p
}

func (p *PrivatePostgres) data() string { return filepath.Join(p.dir, "data") }

// Start starts (or restarts) the cluster and waits until it accepts connections.
func (p *PrivatePostgres) Start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40", p.Port, p.dir)
	if err := p.run(ctx, "pg_ctl", "-D", p.data(), "-o", opts, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		t.Fatalf("pg_ctl start: %v\n%s", err, log)
	}
}

// Stop shuts the cluster down (fast mode: open sessions are terminated).
func (p *PrivatePostgres) Stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.run(ctx, "pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v", err)
	}
}

func (p *PrivatePostgres) run(ctx context.Context, prog string, args ...string) error {
	path := filepath.Join(p.bin, prog)
	var cmd *exec.Cmd
	if p.as != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.as, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = p.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", prog, err, out)
	}
	return nil
}

// postgresBinDir finds the directory holding initdb and pg_ctl: Debian's
// /usr/lib/postgresql/<version>/bin (newest first), else $PATH.
func postgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
