// Command pingauth-load measures POST /auth throughput on loopback with a
// real net/http client (keep-alive), in one run and side by side:
//
//  1. a bare Gin handler returning a constant (the ceiling of this machine),
//  2. `server` mode minting (API key + asserted user -> signed token),
//  3. `password` mode (argon2id, OWASP parameters by default),
//  4. `server` mode of project A while project B is flooded with password logins.
//
// It builds a throw-away pingauth (SQLite in a temp dir by default, or
// -database-url for PostgreSQL), listens on 127.0.0.1 only, runs each phase
// for -duration, prints req/s and latency percentiles, and exits. The load
// generator shares the machine's cores with the server: figures are relative.
//
//	go run ./cmd/pingauth-load -duration 5s -conns 32
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pingauth-load:", err)
		os.Exit(1)
	}
}

type opts struct {
	duration, warmup time.Duration
	conns, pwConns   int
	dbURL            string
	testHash         bool
	cpuProfile       string
	rounds           int
}

func run() error {
	var o opts
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per phase")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per phase")
	flag.IntVar(&o.conns, "conns", 32, "concurrent keep-alive connections for the fast phases")
	flag.IntVar(&o.pwConns, "password-conns", 16, "concurrent connections of the password phases (flood)")
	flag.StringVar(&o.dbURL, "database-url", "", "PostgreSQL URL (default: SQLite in a temp dir)")
	flag.BoolVar(&o.testHash, "test-hash-params", false, "use cheap argon2 parameters instead of OWASP")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the server-mode phase")
	flag.IntVar(&o.rounds, "rounds", 7, "interleaved rounds of bare / server / server-under-flood phases")
	flag.Parse()
	if o.duration <= 0 || o.duration > 2*time.Minute || o.conns < 1 || o.conns > 512 || o.rounds < 1 || o.rounds > 10 {
		return errors.New("-duration must be in (0, 2m], -conns in [1, 512], -rounds in [1, 10]")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pingauth-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	env := map[string]string{
		"PINGAUTH_DATA_DIR":     dir,
		"PINGAUTH_DATABASE_URL": o.dbURL,
		"PINGAUTH_MASTER_KEY":   base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)),
		"PINGAUTH_LOG_LEVEL":    "info",
		// Throughput, not the abuse limits, is measured here (all load comes
		// from one loopback address); the limits are tested in internal/httpapi.
		"PINGAUTH_RATE_AUTH_IP":        "off",
		"PINGAUTH_RATE_AUTH_SERVER_IP": "off",
		"PINGAUTH_RATE_AUTH_LOGIN":     "off",
		"PINGAUTH_LOCKOUT_THRESHOLD":   "0",
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	// Access logs are produced (JSON, info) but discarded: their CPU cost counts, not disk I/O.
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var hp *enduser.Params
	if o.testHash {
		hp = &enduser.TestParams
	}
	a, err := app.Open(ctx, cfg, log, app.Options{HashParams: hp})
	if err != nil {
		return err
	}
	defer a.Close()
	if o.dbURL != "" { // a shared Postgres: start from clean rows of our own
		a.DB.Exec("DELETE FROM projects WHERE id IN ('load-a','load-b')")
	}
	key, err := seed(ctx, a)
	if err != nil {
		return err
	}

	appURL, stopApp, err := listen(a.HTTP())
	if err != nil {
		return err
	}
	defer stopApp()
	gin.SetMode(gin.ReleaseMode)
	bare := gin.New()
	constant := []byte(`{"ok":true}`)
	bare.POST("/auth/:projectId", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", constant) })
	bareURL, stopBare, err := listen(bare)
	if err != nil {
		return err
	}
	defer stopBare()

	serverReq := reqSpec{url: appURL + "/auth/load-a", body: []byte(`{"user":{"id":"42","email":"ann@example.com","firstname":"Ann","attributes":{"plan":"gold"}}}`),
		hdr: map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}}
	bareReq := reqSpec{url: bareURL + "/auth/load-a", body: serverReq.body, hdr: serverReq.hdr}
	pwReq := reqSpec{url: appURL + "/auth/load-b", body: []byte(`{"email":"bob@example.com","password":"correct horse battery"}`),
		hdr: map[string]string{"Content-Type": "application/json"}}

	// Sanity: each endpoint answers 200 before measuring.
	for _, r := range []reqSpec{serverReq, bareReq, pwReq} {
		if code, body := once(r); code != 200 {
			return fmt.Errorf("%s answered %d: %s", r.url, code, body)
		}
	}

	fmt.Printf("pingauth-load: GOMAXPROCS=%d NumCPU=%d db=%s hash=%s duration=%s conns=%d password-conns=%d (load generator shares the CPUs)\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), a.DB.Dialect, map[bool]string{true: "test", false: "owasp"}[o.testHash], o.duration, o.conns, o.pwConns)
	// Rounds interleave the phases so that background noise (other work on
	// the machine) hits them alike; ratios are computed per round and the
	// median is reported.
	var bareRes, srvRes, floodRes []result
	var mintRatios, floodRatios, cpuRatios []float64
	var pw result
	for r := range o.rounds {
		b := load(bareReq, o.conns, o.warmup, o.duration)
		var stop func()
		if o.cpuProfile != "" && r == 0 {
			stop = profile(o.cpuProfile)
		}
		s := load(serverReq, o.conns, o.warmup, o.duration)
		if stop != nil {
			stop()
		}
		if r == 0 {
			pw = load(pwReq, o.pwConns, o.warmup, o.duration)
		}
		// Password flood on project B while project A's backend mints in server mode.
		floodCtx, stopFlood := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); loadUntil(floodCtx, pwReq, o.pwConns) }()
		time.Sleep(o.warmup) // let the flood saturate the hashing pool
		f := load(serverReq, o.conns, o.warmup, o.duration)
		stopFlood()
		wg.Wait()
		bareRes, srvRes, floodRes = append(bareRes, b), append(srvRes, s), append(floodRes, f)
		mintRatios = append(mintRatios, s.rps/b.rps)
		cpuRatios = append(cpuRatios, float64(b.cpu)/float64(s.cpu))
		floodRatios = append(floodRatios, f.rps/s.rps)
		fmt.Printf("round %d: bare %.0f req/s (%s CPU/req), server mint %.0f req/s (%s CPU/req; %.1f%% of bare), under password flood %.0f req/s (%.1f%%)\n",
			r+1, b.rps, b.cpu, s.rps, s.cpu, 100*s.rps/b.rps, f.rps, 100*f.rps/s.rps)
	}

	fmt.Println()
	fmt.Printf("| %-40s | %10s | %9s | %9s | %9s | %11s | %6s |\n", "phase (median round)", "req/s", "p50", "p99", "max", "CPU/req", "errors")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 42), strings.Repeat("-", 12), strings.Repeat("-", 11), strings.Repeat("-", 11), strings.Repeat("-", 11), strings.Repeat("-", 13), strings.Repeat("-", 8))
	row := func(name string, r result) {
		fmt.Printf("| %-40s | %10.0f | %9s | %9s | %9s | %11s | %6d |\n", name, r.rps, r.p50, r.p99, r.max, r.cpu.Round(100*time.Nanosecond), r.errors)
	}
	row("bare gin handler (constant)", median(bareRes))
	row("server mode mint", median(srvRes))
	row("password mode (argon2id)", pw)
	row("server mode during password flood", median(floodRes))
	fmt.Println()
	fmt.Printf("server mint / bare gin          = %.1f%% median of %d rounds (target >= 60%%)\n", 100*medianF(mintRatios), o.rounds)
	fmt.Printf("server mint under flood / alone = %.1f%% median of %d rounds (target >= 50%%)\n", 100*medianF(floodRatios), o.rounds)
	fmt.Printf("CPU capacity ratio (bare CPU/req / mint CPU/req, client included) = %.1f%% median\n", 100*medianF(cpuRatios))
	return nil
}

// seed creates projects load-a (server mode, API key) and load-b (password mode, one user).
func seed(ctx context.Context, a *app.App) (string, error) {
	if _, err := a.Projects.EnsureTenant(ctx, "load", "load"); err != nil {
		return "", err
	}
	for _, id := range []string{"load-a", "load-b"} {
		if err := a.Projects.Create(ctx, &project.Project{ID: id, TenantID: "load", Name: id, TokenTTLSeconds: 900}); err != nil {
			return "", err
		}
		if _, _, err := a.Secrets.Rotate(ctx, id, secret.WriteOptions{Actor: "load"}); err != nil {
			return "", err
		}
	}
	if _, err := a.Modes.Admin.SetModes(ctx, "load", "load-a", []string{"server"}); err != nil {
		return "", err
	}
	_, key, err := a.Modes.Admin.CreateAPIKey(ctx, "load", "load-a", "load")
	if err != nil {
		return "", err
	}
	u := &enduser.User{ProjectID: "load-b", Email: "bob@example.com", Enabled: true}
	if err := a.Users.Create(ctx, u, "correct horse battery"); err != nil {
		return "", err
	}
	return key, nil
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln) //nolint:errcheck
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

type reqSpec struct {
	url  string
	body []byte
	hdr  map[string]string
}

var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
}

func do(r reqSpec) (int, error) {
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(r.body))
	if err != nil {
		return 0, err
	}
	for k, v := range r.hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func once(r reqSpec) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(r.body))
	for k, v := range r.hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

type result struct {
	rps           float64
	p50, p99, max time.Duration
	errors        int64
	// cpu is the process CPU time (user+system, server and client) per
	// measured request: robust against other load on the machine.
	cpu time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load runs conns workers for warmup (unmeasured) then d (measured).
func load(r reqSpec, conns int, warmup, d time.Duration) result {
	var measuring atomic.Bool
	var errs atomic.Int64
	lat := make([][]time.Duration, conns)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				code, err := do(r)
				el := time.Since(start)
				if !measuring.Load() || ctx.Err() != nil {
					continue
				}
				if err != nil || code != 200 {
					errs.Add(1)
					continue
				}
				lat[i] = append(lat[i], el)
			}
		}()
	}
	time.Sleep(warmup)
	measuring.Store(true)
	start, cpu0 := time.Now(), cpuTime()
	time.Sleep(d)
	measuring.Store(false)
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	cancel()
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := result{errors: errs.Load(), rps: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		res.cpu = cpu / time.Duration(len(all))
	}
	if n := len(all); n > 0 {
		res.p50 = all[n/2].Round(time.Microsecond)
		res.p99 = all[min(n-1, n*99/100)].Round(time.Microsecond)
		res.max = all[n-1].Round(time.Microsecond)
	}
	return res
}

// loadUntil keeps conns workers busy until ctx ends.
func loadUntil(ctx context.Context, r reqSpec, conns int) {
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, _ = do(r)
			}
		}()
	}
	wg.Wait()
}

func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return int(a.rps - b.rps) })
	return s[len(s)/2]
}

func medianF(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[len(s)/2]
}

func profile(path string) func() {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		return nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		return nil
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil { // the profile is written: a failed close loses it
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		}
	}
}
