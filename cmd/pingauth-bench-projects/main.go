// Command pingauth-bench-projects measures server-mode mint throughput as the
// number of projects grows (issue 14): it seeds N projects on PostgreSQL
// (each with a shared secret, server mode and one API key, through the
// product's own repositories), starts a real `pingauth serve` process, warms
// it (every project minted once), and drives it with wrk (a separate process,
// random project per request) in interleaved rounds over the first 1, 10k
// and N projects. It prints req/s, p99, the server's RSS per cached project
// and the SQL transactions the database saw during the measured phases.
//
//	go build -o /tmp/pingauth ./cmd/pingauth
//	go run ./cmd/pingauth-bench-projects -bin /tmp/pingauth -projects 100000
//
// The seed is kept between runs (tenant "bench" in the database given by
// -database-url, created when missing; the API keys in -keys), so repeated
// runs only measure.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pingstreams/pingauth/internal/benchkit"

	"github.com/jackc/pgx/v5"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

type options struct {
	dbURL, bin, keys, out string
	projects, rounds      int
	conns, threads        int
	duration              time.Duration
	sizes                 []int
	reseed                bool
	gogc                  string
	serverEnv             []string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pingauth-bench-projects:", err)
		os.Exit(1)
	}
}

// masterKey is the bench's sealed-store key (a throw-away database).
func masterKey() string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) }

const body = `{"user":{"id":"42","email":"ann@example.com","firstname":"Ann","attributes":{"plan":"gold"}}}`

func run() error {
	var o options
	var sizes string
	flag.StringVar(&o.dbURL, "database-url", "postgres://postgres@127.0.0.1:5432/pingbench?sslmode=disable", "PostgreSQL URL (the database is created when missing)")
	flag.StringVar(&o.bin, "bin", "", "pingauth binary to measure (required; go build -o /tmp/pingauth ./cmd/pingauth)")
	flag.StringVar(&o.keys, "keys", filepath.Join(os.TempDir(), "pingauth-bench-keys.tsv"), "project id and API key per line (written by the seed)")
	flag.IntVar(&o.projects, "projects", 100_000, "projects to seed")
	flag.StringVar(&sizes, "sizes", "1,10000,100000", "numbers of projects the rounds spread over (each <= -projects)")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds (0: seed only)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk duration per phase")
	flag.IntVar(&o.conns, "conns", 32, "wrk connections")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.StringVar(&o.out, "dir", filepath.Join(os.TempDir(), "pingauth-bench"), "work directory (wrk script, server log)")
	flag.BoolVar(&o.reseed, "reseed", false, "drop and seed the projects again")
	flag.StringVar(&o.gogc, "gogc", "", "GOGC of the server process (empty: Go's default, 100)")
	flag.Func("server-env", "KEY=VALUE added to the server's environment (repeatable), e.g. PINGAUTH_METRICS_PROJECT_LABELS=off", func(v string) error {
		if !strings.Contains(v, "=") {
			return errors.New("want KEY=VALUE")
		}
		o.serverEnv = append(o.serverEnv, v)
		return nil
	})
	flag.Parse()
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > o.projects {
			return fmt.Errorf("-sizes: %q must be from 1 to -projects", f)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.bin == "" {
		return errors.New("-bin is required")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found (apt-get install wrk)")
	}
	if err := os.MkdirAll(o.out, 0o700); err != nil {
		return err
	}
	ctx := context.Background()
	if err := ensureDatabase(ctx, o.dbURL); err != nil {
		return err
	}
	if err := ensureSeed(ctx, o); err != nil {
		return err
	}
	pairs, err := readKeys(o.keys)
	if err != nil || o.rounds == 0 {
		return err // -rounds 0: seed only
	}
	return measure(ctx, o, pairs)
}

// ensureDatabase creates the database of url when it does not exist.
func ensureDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	}
	return err
}

func appEnv(dbURL string) map[string]string {
	return map[string]string{
		"PINGAUTH_DATABASE_URL": dbURL,
		"PINGAUTH_MASTER_KEY":   masterKey(),
		"PINGAUTH_LOG_LEVEL":    "info",
		// All load comes from one loopback address: throughput is measured,
		// not the per-IP limits (tested in internal/httpapi).
		"PINGAUTH_RATE_AUTH_IP":        "off",
		"PINGAUTH_RATE_AUTH_SERVER_IP": "off",
		"PINGAUTH_RATE_AUTH_LOGIN":     "off",
		"PINGAUTH_LOCKOUT_THRESHOLD":   "0",
	}
}

// ensureSeed makes sure o.projects projects exist with keys in o.keys.
func ensureSeed(ctx context.Context, o options) error {
	if !o.reseed {
		if pairs, err := readKeys(o.keys); err == nil && len(pairs) == o.projects {
			return nil
		}
	}
	// Seeding only: commits need not wait for the disk.
	sep := "?"
	if strings.Contains(o.dbURL, "?") {
		sep = "&"
	}
	env := appEnv(o.dbURL + sep + "synchronous_commit=off")
	env["PINGAUTH_DATA_DIR"] = o.out
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.DB.Exec("DELETE FROM projects WHERE tenant_id = 'bench'").Error; err != nil {
		return err
	}
	if _, err := a.Projects.EnsureTenant(ctx, "bench", "bench"); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeding %d projects ...\n", o.projects)
	start := time.Now()
	keys := make([]string, o.projects)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.projects {
					return
				}
				k, err := seedOne(ctx, a, i)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
				keys[i] = k
				if n := done.Add(1); n%10_000 == 0 {
					fmt.Fprintf(os.Stderr, "  %d (%s)\n", n, time.Since(start).Round(time.Second))
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	var b strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&b, "%s\t%s\n", projectID(i), k)
	}
	fmt.Fprintf(os.Stderr, "seeded in %s\n", time.Since(start).Round(time.Second))
	return os.WriteFile(o.keys, []byte(b.String()), 0o600)
}

func projectID(i int) string { return fmt.Sprintf("bench%06d", i) }

func seedOne(ctx context.Context, a *app.App, i int) (string, error) {
	id := projectID(i)
	if err := a.Projects.Create(ctx, &project.Project{ID: id, TenantID: "bench", Name: id, TokenTTLSeconds: 900}); err != nil {
		return "", err
	}
	if _, _, err := a.Secrets.Rotate(ctx, id, secret.WriteOptions{Actor: "bench"}); err != nil {
		return "", err
	}
	if _, err := a.Modes.Admin.SetModes(ctx, "bench", id, []string{"server"}); err != nil {
		return "", err
	}
	_, key, err := a.Modes.Admin.CreateAPIKey(ctx, "bench", id, "bench")
	return key, err
}

type pair struct{ id, key string }

func readKeys(path string) ([]pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []pair
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, key, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line", path)
		}
		out = append(out, pair{id, key})
	}
	return out, sc.Err()
}

// wrkScript picks a random project among the first args[2] of the keys
// file args[1] for each request (requests are formatted once per thread).
const wrkScript = `
local reqs, n = {}, 0
local body = [[` + body + `]]
function init(args)
  local k = tonumber(args[2])
  for line in io.lines(args[1]) do
    if n >= k then break end
    local id, key = line:match("([^\t]+)\t([^\t]+)")
    n = n + 1
    reqs[n] = wrk.format("POST", "/auth/" .. id,
      {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
  end
  math.randomseed(os.time() + tostring(reqs):len() + math.floor(os.clock() * 1e6))
end
function request() return reqs[math.random(n)] end
`

type sample struct {
	size      int
	rps, p99  float64 // req/s, ms
	cpuUS     float64 // server CPU (user+system) per request, µs
	non2xx    int
	txPerReq  float64
	requests  int
	cacheLoad float64
}

func measure(ctx context.Context, o options, pairs []pair) error {
	script := filepath.Join(o.out, "mint.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return err
	}
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	logPath := filepath.Join(o.out, "server.log")
	// The access log goes to a file, as in production; it is appended to
	// and emptied before each phase so its growth does not drift the rounds.
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(o.bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PINGAUTH_ADDR=" + addr, "PINGAUTH_DATA_DIR=" + o.out}
	if o.gogc != "" {
		cmd.Env = append(cmd.Env, "GOGC="+o.gogc)
	}
	cmd.Env = append(cmd.Env, o.serverEnv...)
	for k, v := range appEnv(o.dbURL) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	if err := benchkit.WaitReady(base, 30*time.Second); err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	pid := cmd.Process.Pid

	// Warm: every project of the largest size minted once, checking 200.
	maxSize := slices.Max(o.sizes)
	if err := warm(base, pairs[:1]); err != nil {
		return err
	}
	rss1, _ := rssKiB(pid)
	start := time.Now()
	if err := warm(base, pairs[:maxSize]); err != nil {
		return err
	}
	rssN, _ := rssKiB(pid)
	fmt.Printf("warm-up: %d projects minted once in %s; RSS %d KiB after 1 project, %d KiB after %d: %.2f KiB per cached project\n",
		maxSize, time.Since(start).Round(time.Millisecond), rss1, rssN, maxSize, float64(rssN-rss1)/float64(max(maxSize-1, 1)))

	db, err := pgx.Connect(ctx, o.dbURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	var samples []sample
	for r := range o.rounds {
		for _, size := range o.sizes {
			tx0, err := xacts(ctx, db)
			if err != nil {
				return err
			}
			loads0, _ := cacheLoads(base)
			if err := os.Truncate(logPath, 0); err != nil {
				return err
			}
			cpu0, _ := cpuTicks(pid)
			s, err := runWrk(o, script, base, size)
			if err != nil {
				return err
			}
			cpu1, _ := cpuTicks(pid)
			s.cpuUS = float64(cpu1-cpu0) * 1e6 / ticksPerSecond / float64(max(s.requests, 1))
			tx1, _ := xacts(ctx, db)
			loads1, _ := cacheLoads(base)
			// minus this query's own transaction
			s.txPerReq = float64(tx1-tx0-1) / float64(max(s.requests, 1))
			s.cacheLoad = loads1 - loads0
			samples = append(samples, s)
			fmt.Printf("round %d  %7d projects  %8.0f req/s  p99 %.2f ms  server CPU %.1f µs/request  non-2xx %d  SQL transactions/request %.4f  cache loads %.0f\n",
				r+1, size, s.rps, s.p99, s.cpuUS, s.non2xx, s.txPerReq, s.cacheLoad)
		}
	}
	rssEnd, _ := rssKiB(pid)
	fmt.Printf("\nmedian of %d rounds (wrk -t%d -c%d -d%s, random project per request); RSS at the end %d KiB\n",
		o.rounds, o.threads, o.conns, o.duration, rssEnd)
	fmt.Println("| projects | req/s | vs 1 project | server CPU/request | capacity vs 1 project | p99 | SQL tx/request |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var one, oneCPU float64
	for _, size := range o.sizes {
		var rps, p99, tx, cpu []float64
		for _, s := range samples {
			if s.size == size {
				rps, p99, tx, cpu = append(rps, s.rps), append(p99, s.p99), append(tx, s.txPerReq), append(cpu, s.cpuUS)
			}
		}
		m, c := median(rps), median(cpu)
		if size == o.sizes[0] {
			one, oneCPU = m, c
		}
		fmt.Printf("| %d | %.0f | %.1f %% | %.1f µs | %.1f %% | %.2f ms | %.4f |\n", size, m, 100*m/one, c, 100*oneCPU/c, median(p99), median(tx))
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// warm mints once for every pair (16 workers) and fails on any non-200.
func warm(base string, pairs []pair) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(pairs) || firstErr.Load() != nil {
					return
				}
				req, _ := http.NewRequest("POST", base+"/auth/"+pairs[i].id, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+pairs[i].key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					firstErr.Store(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"token":"`)) {
					firstErr.Store(fmt.Errorf("warm-up %s: %d %s", pairs[i].id, resp.StatusCode, b))
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reP99     = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reReqs    = regexp.MustCompile(`(\d+) requests in`)
	reCacheLd = regexp.MustCompile(`(?m)^pingauth_cache_loads_total\{[^}]*\} ([0-9.e+]+)$`)
)

func runWrk(o options, script, base string, size int) (sample, error) {
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(o.threads), "-c"+strconv.Itoa(o.conns), "-d"+o.duration.String(),
		"--latency", "-s", script, base, "--", o.keys, strconv.Itoa(size)).CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	s := sample{size: size}
	m := reRPS.FindSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("wrk output without Requests/sec: %s", out)
	}
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := reP99.FindSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		switch string(m[2]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		s.p99 = v
	}
	if m := reNon2xx.FindSubmatch(out); m != nil {
		s.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	if m := reReqs.FindSubmatch(out); m != nil {
		s.requests, _ = strconv.Atoi(string(m[1]))
	}
	return s, nil
}

// xacts is the database's committed and rolled back transactions so far
// (every statement outside a transaction counts as one).
func xacts(ctx context.Context, db *pgx.Conn) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
	return n, err
}

// cacheLoads sums pingauth_cache_loads_total over the caches (/metrics is
// served on loopback without a token).
func cacheLoads(base string) (float64, error) {
	r, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, m := range reCacheLd.FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		sum += v
	}
	return sum, nil
}

// ticksPerSecond is Linux's USER_HZ (the unit of /proc/<pid>/stat times).
const ticksPerSecond = 100

// cpuTicks is the process's user + system CPU time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the command name (field 2) may contain spaces: fields count from its ')'
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}

func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}
