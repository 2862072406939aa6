// Command pingauth-bench-http measures server-mode mint throughput of a real
// `pingauth serve` against a bare Gin handler returning a constant (issue 17),
// both driven by wrk (a separate process) over loopback in interleaved rounds.
//
//	make bench-http                      # builds pingauth, 5 rounds of 10 s
//	go run ./cmd/pingauth-bench-http -rounds 7 -duration 10s
//
// The pingauth server runs as in production: SQLite in a fresh data directory,
// the sealed secret store, the default log level with its log (access lines
// included) written to a file, metrics on and the server-mode per-IP limit on
// (set far above the load, since all load comes from one address). The bare
// handler is this same program started again with -bare ADDR: gin.New(), no
// middleware, one POST route answering {"ok":true}. Each round runs both
// (alternating which goes first); the table reports each round's ratio and the
// medians.
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
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pingstreams/pingauth/internal/benchkit"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

const (
	projectID = "benchhttp"
	body      = `{"user":{"id":"42","email":"ann@example.com","firstname":"Ann","attributes":{"plan":"gold"}}}`
)

type options struct {
	bin, dir         string
	rounds           int
	conns, threads   int
	duration, warmup time.Duration
	serverEnv        []string
	perf             string
	onlyMint         bool
}

func main() {
	bare := flag.String("bare", "", "internal: serve the bare Gin handler on this address")
	var o options
	flag.StringVar(&o.bin, "bin", "", "pingauth binary (empty: go build ./cmd/pingauth into -dir)")
	flag.StringVar(&o.dir, "dir", "", "work directory (empty: a new temporary directory, removed afterwards)")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk duration per phase")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "wrk warm-up of each server before the rounds")
	flag.IntVar(&o.conns, "conns", 32, "wrk connections")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.StringVar(&o.perf, "perf", "", "record `perf record -g` of the pingauth server during the first mint phase into this file")
	flag.BoolVar(&o.onlyMint, "only-mint", false, "run the mint phases only (profiling)")
	flag.Func("server-env", "KEY=VALUE added to the pingauth server's environment (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return errors.New("want KEY=VALUE")
		}
		o.serverEnv = append(o.serverEnv, v)
		return nil
	})
	flag.Parse()
	if *bare != "" {
		if err := serveBare(*bare); err != nil {
			fmt.Fprintln(os.Stderr, "pingauth-bench-http -bare:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "pingauth-bench-http:", err)
		os.Exit(1)
	}
}

// serveBare is the ceiling of the machine: Gin with no middleware and a
// constant answer, stopped by SIGTERM.
func serveBare(addr string) error {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	constant := []byte(`{"ok":true}`)
	e.POST("/auth/:projectId", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", constant) })
	e.GET("/readyz", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", constant) })
	srv := &http.Server{Addr: addr, Handler: e, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// masterKey is the bench's sealed-store key (a throw-away data directory).
func masterKey() string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) }

// serverEnv is the production-like configuration of the measured server.
func serverEnv(dir, addr string) map[string]string {
	return map[string]string{
		"PINGAUTH_DATA_DIR":   dir,
		"PINGAUTH_MASTER_KEY": masterKey(),
		"PINGAUTH_ADDR":       addr,
		"PINGAUTH_METRICS":    "on",
		// All load comes from one loopback address: the server-mode limit
		// stays on (its bucket is checked per request) but far above the load.
		"PINGAUTH_RATE_AUTH_SERVER_IP": "1000000/s:1000000",
	}
}

func run(o options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found (apt-get install wrk)")
	}
	if o.rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "pingauth-bench-http-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.dir = d
	} else if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	if o.bin == "" {
		o.bin = filepath.Join(o.dir, "pingauth")
		build := exec.Command("go", "build", "-o", o.bin, "./cmd/pingauth")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/pingauth (run from the repository root, or pass -bin): %w", err)
		}
	}
	dataDir := filepath.Join(o.dir, "data")
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	ctx := context.Background()
	key, err := seed(ctx, dataDir)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	script := filepath.Join(o.dir, "mint.lua")
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = [[%s]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer %s\"\n", body, key)
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		return err
	}

	mintAddr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	logPath := filepath.Join(o.dir, "server.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	mint := exec.Command(o.bin, "serve")
	mint.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range serverEnv(dataDir, mintAddr) {
		mint.Env = append(mint.Env, k+"="+v)
	}
	mint.Env = append(mint.Env, o.serverEnv...)
	mint.Stdout, mint.Stderr = logf, logf // the log goes to a file, as in production
	if err := mint.Start(); err != nil {
		return err
	}
	mintDone := make(chan error, 1)
	go func() { mintDone <- mint.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = mint.Process.Kill()
			if err := <-mintDone; err != nil {
				fmt.Fprintln(os.Stderr, "pingauth serve:", err)
			}
		}
	}()

	bareAddr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bare := exec.Command(self, "-bare", bareAddr)
	bare.Stderr = os.Stderr
	if err := bare.Start(); err != nil {
		return err
	}
	defer func() { _ = bare.Process.Signal(syscall.SIGTERM); _ = bare.Wait() }()

	mintURL, bareURL := "http://"+mintAddr, "http://"+bareAddr
	if err := benchkit.WaitReady(mintURL, 30*time.Second); err != nil {
		return fmt.Errorf("pingauth: %w (see %s)", err, logPath)
	}
	if err := benchkit.WaitReady(bareURL, 30*time.Second); err != nil {
		return fmt.Errorf("bare handler: %w", err)
	}
	if err := checkMint(mintURL, key); err != nil {
		return err
	}
	fmt.Printf("pingauth-bench-http: %s; NumCPU=%d; wrk -t%d -c%d -d%s; pingauth serve (SQLite, sealed, log level info to %s, metrics on, server-mode IP limit on)\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.threads, o.conns, o.duration, logPath)
	if loadavg, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average before: %s", loadavg)
	}
	warm := o
	warm.duration = o.warmup
	for _, u := range []string{bareURL, mintURL} {
		if _, err := runWrk(warm, script, u); err != nil {
			return err
		}
	}

	type round struct{ bare, mint sample }
	var rounds []round
	for r := range o.rounds {
		var rd round
		phases := []struct {
			url string
			s   *sample
			pid int
		}{{bareURL, &rd.bare, bare.Process.Pid}, {mintURL, &rd.mint, mint.Process.Pid}}
		if r%2 == 1 {
			phases[0], phases[1] = phases[1], phases[0]
		}
		for _, ph := range phases {
			if o.onlyMint && ph.url == bareURL {
				continue
			}
			if ph.url == mintURL {
				if err := os.Truncate(logPath, 0); err != nil {
					return err
				}
			}
			var rec *exec.Cmd
			if o.perf != "" && ph.url == mintURL && r == 0 {
				rec = exec.Command("perf", "record", "-g", "-o", o.perf, "-p", strconv.Itoa(ph.pid))
				rec.Stdout, rec.Stderr = io.Discard, os.Stderr
				if err := rec.Start(); err != nil {
					return fmt.Errorf("perf: %w", err)
				}
			}
			cpu0, _ := cpuTicks(ph.pid)
			s, err := runWrk(o, script, ph.url)
			if err != nil {
				return err
			}
			cpu1, _ := cpuTicks(ph.pid)
			if rec != nil {
				_ = rec.Process.Signal(os.Interrupt)
				_ = rec.Wait()
			}
			s.cpuUS = float64(cpu1-cpu0) * 1e6 / ticksPerSecond / float64(max(s.requests, 1))
			if s.non2xx > 0 || s.errors > 0 {
				return fmt.Errorf("%s: %d non-2xx responses, %d socket errors", ph.url, s.non2xx, s.errors)
			}
			*ph.s = s
		}
		if o.onlyMint {
			fmt.Printf("round %d: mint %.0f req/s p99 %.2f ms %.1f µs CPU/req\n", r+1, rd.mint.rps, rd.mint.p99, rd.mint.cpuUS)
			continue
		}
		rounds = append(rounds, rd)
		fmt.Printf("round %d: bare %8.0f req/s p99 %6.2f ms %5.1f µs CPU/req | mint %8.0f req/s p99 %6.2f ms %5.1f µs CPU/req | mint/bare %5.1f %%\n",
			r+1, rd.bare.rps, rd.bare.p99, rd.bare.cpuUS, rd.mint.rps, rd.mint.p99, rd.mint.cpuUS, 100*rd.mint.rps/rd.bare.rps)
	}
	dropped, _ := droppedLines(mintURL)
	logLines, _ := countLines(logPath, `"msg":"http request"`)

	// A clean stop: every line must be in the file when the process exits.
	_ = mint.Process.Signal(syscall.SIGTERM)
	if err := <-mintDone; err != nil {
		return fmt.Errorf("pingauth serve did not stop cleanly: %w", err)
	}
	stopped = true
	last, _ := lastLine(logPath)
	if loadavg, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average after: %s", loadavg)
	}
	if o.onlyMint {
		return nil
	}

	var ratios, bareRPS, mintRPS, bareP99, mintP99, p99Diff, bareCPU, mintCPU []float64
	for _, rd := range rounds {
		ratios = append(ratios, 100*rd.mint.rps/rd.bare.rps)
		bareRPS, mintRPS = append(bareRPS, rd.bare.rps), append(mintRPS, rd.mint.rps)
		bareP99, mintP99 = append(bareP99, rd.bare.p99), append(mintP99, rd.mint.p99)
		p99Diff = append(p99Diff, rd.mint.p99-rd.bare.p99)
		bareCPU, mintCPU = append(bareCPU, rd.bare.cpuUS), append(mintCPU, rd.mint.cpuUS)
	}
	fmt.Printf("\n| round | bare req/s | mint req/s | mint / bare | bare p99 | mint p99 | p99 difference | bare CPU/req | mint CPU/req |\n")
	fmt.Printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for i, rd := range rounds {
		fmt.Printf("| %d | %.0f | %.0f | %.1f %% | %.2f ms | %.2f ms | %+.2f ms | %.1f µs | %.1f µs |\n", i+1, rd.bare.rps, rd.mint.rps,
			ratios[i], rd.bare.p99, rd.mint.p99, p99Diff[i], rd.bare.cpuUS, rd.mint.cpuUS)
	}
	fmt.Printf("| **median** | %.0f | %.0f | **%.1f %%** | %.2f ms | %.2f ms | %+.2f ms | %.1f µs | %.1f µs |\n",
		median(bareRPS), median(mintRPS), median(ratios), median(bareP99), median(mintP99), median(p99Diff), median(bareCPU), median(mintCPU))
	fmt.Printf("\nmint / bare: median %.1f %% of %d rounds (min %.1f %%, max %.1f %%; goal >= 80 %%); p99 difference median %+.2f ms (goal <= +1 ms)\n",
		median(ratios), len(rounds), slices.Min(ratios), slices.Max(ratios), median(p99Diff))
	fmt.Printf("access log: %d lines in the file for the last mint phase; pingauth_log_dropped_lines_total %.0f; last line after SIGTERM: %s\n",
		logLines, dropped, last)
	return nil
}

// seed creates the project (server mode, a shared secret, one API key)
// through the product's own repositories and returns the key.
func seed(ctx context.Context, dataDir string) (string, error) {
	env := serverEnv(dataDir, "127.0.0.1:0")
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		return "", err
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		return "", err
	}
	defer a.Close()
	if _, err := a.Projects.EnsureTenant(ctx, "bench", "bench"); err != nil {
		return "", err
	}
	if err := a.Projects.Create(ctx, &project.Project{ID: projectID, TenantID: "bench", Name: projectID, TokenTTLSeconds: 900}); err != nil {
		return "", err
	}
	if _, _, err := a.Secrets.Rotate(ctx, projectID, secret.WriteOptions{Actor: "bench"}); err != nil {
		return "", err
	}
	if _, err := a.Modes.Admin.SetModes(ctx, "bench", projectID, []string{"server"}); err != nil {
		return "", err
	}
	_, key, err := a.Modes.Admin.CreateAPIKey(ctx, "bench", projectID, "bench")
	return key, err
}

func checkMint(base, key string) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/"+projectID, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"token":"`)) {
		return fmt.Errorf("mint: %d %s", resp.StatusCode, b)
	}
	return nil
}

type sample struct {
	rps, p99       float64 // req/s, ms
	cpuUS          float64 // server CPU (user+system) per request, µs
	requests       int
	non2xx, errors int
}

var (
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reP99    = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	reNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reReqs   = regexp.MustCompile(`(\d+) requests in`)
	reDrop   = regexp.MustCompile(`(?m)^pingauth_log_dropped_lines_total ([0-9.e+]+)$`)
)

func runWrk(o options, script, base string) (sample, error) {
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(o.threads), "-c"+strconv.Itoa(o.conns), "-d"+o.duration.String(),
		"--latency", "-s", script, base+"/auth/"+projectID).CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	var s sample
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
	if m := reErrors.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			s.errors += n
		}
	}
	if m := reReqs.FindSubmatch(out); m != nil {
		s.requests, _ = strconv.Atoi(string(m[1]))
	}
	return s, nil
}

func droppedLines(base string) (float64, error) {
	r, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, err
	}
	m := reDrop.FindSubmatch(b)
	if m == nil {
		return 0, errors.New("no pingauth_log_dropped_lines_total")
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func countLines(path, substr string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			n++
		}
	}
	return n, sc.Err()
}

func lastLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	b = bytes.TrimRight(b, "\n")
	return string(b[bytes.LastIndexByte(b, '\n')+1:]), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// ticksPerSecond is Linux's USER_HZ (the unit of /proc/<pid>/stat times).
const ticksPerSecond = 100

// cpuTicks is the process's user + system CPU time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}
