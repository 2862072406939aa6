// Command pingauth-loadurl sends a bounded burst of HTTP requests to one URL
// with N concurrent workers and prints throughput and latency percentiles.
//
//	pingauth-loadurl -url http://127.0.0.1:8080/auth/PROJECT \
//	    -body '{"email":"ann@example.com","password":"..."}' -c 8 -n 5000 -d 30s
//
// It stops after -n requests or -d, whichever comes first. By default it only
// targets loopback addresses; -allow-remote lifts that for staging tests.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	url         string
	method      string
	body        string
	contentType string
	headers     []string
	concurrency int
	requests    int64
	duration    time.Duration
	timeout     time.Duration
	expect      int
	allowRemote bool
}

type headerFlag []string

func (h *headerFlag) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlag) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("pingauth-loadurl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "target URL (required)")
	fs.StringVar(&o.method, "method", "POST", "HTTP method")
	fs.StringVar(&o.body, "body", "", "request body")
	fs.StringVar(&o.contentType, "content-type", "application/json", "Content-Type of the body")
	fs.Var((*headerFlag)(&o.headers), "H", "extra header 'Name: value' (repeatable)")
	fs.IntVar(&o.concurrency, "c", 8, "concurrent workers")
	fs.Int64Var(&o.requests, "n", 2000, "total requests (upper bound)")
	fs.DurationVar(&o.duration, "d", 30*time.Second, "maximum run time (upper bound)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&o.expect, "expect", http.StatusOK, "status counted as success")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow targets that are not loopback addresses")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(stderr, "pingauth-loadurl:", err)
		return 2
	}
	res, err := load(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "pingauth-loadurl:", err)
		return 1
	}
	res.print(stdout, o)
	if res.ok == 0 {
		return 1
	}
	return 0
}

func (o *options) validate() error {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q must be an absolute http(s) URL", o.url)
	}
	if !o.allowRemote && !isLoopback(u.Hostname()) {
		return fmt.Errorf("-url host %q is not a loopback address (use -allow-remote for a staging server you own)", u.Hostname())
	}
	if o.concurrency < 1 || o.concurrency > 1024 {
		return errors.New("-c must be between 1 and 1024")
	}
	if o.requests < 1 {
		return errors.New("-n must be at least 1")
	}
	if o.duration <= 0 || o.duration > time.Hour {
		return errors.New("-d must be between 1ns and 1h")
	}
	for _, h := range o.headers {
		if k, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("-H %q must look like 'Name: value'", h)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type result struct {
	ok, failed int64
	statuses   map[int]int64
	errs       map[string]int64
	latencies  []time.Duration // successful requests only
	elapsed    time.Duration
}

func load(ctx context.Context, o options) (*result, error) {
	tr := &http.Transport{MaxIdleConns: o.concurrency, MaxIdleConnsPerHost: o.concurrency, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.timeout}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()

	var (
		issued atomic.Int64
		mu     sync.Mutex
		res    = &result{statuses: map[int]int64{}, errs: map[string]int64{}}
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lats []time.Duration
			statuses := map[int]int64{}
			errs := map[string]int64{}
			var ok, failed int64
			for ctx.Err() == nil && issued.Add(1) <= o.requests {
				req, err := http.NewRequestWithContext(ctx, o.method, o.url, bytes.NewReader([]byte(o.body)))
				if err != nil {
					errs[err.Error()]++
					failed++
					continue
				}
				if o.body != "" {
					req.Header.Set("Content-Type", o.contentType)
				}
				for _, h := range o.headers {
					k, v, _ := strings.Cut(h, ":")
					req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						break // the run ended mid-request: not a server error
					}
					errs[shortErr(err)]++
					failed++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				statuses[resp.StatusCode]++
				if resp.StatusCode == o.expect {
					ok++
					lats = append(lats, d)
				} else {
					failed++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.ok += ok
			res.failed += failed
			res.latencies = append(res.latencies, lats...)
			for k, v := range statuses {
				res.statuses[k] += v
			}
			for k, v := range errs {
				res.errs[k] += v
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res, nil
}

func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func (r *result) print(w io.Writer, o options) {
	total := r.ok + r.failed
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "target      %s %s\n", o.method, o.url)
	fmt.Fprintf(w, "workers     %d\n", o.concurrency)
	fmt.Fprintf(w, "requests    %d in %s (%d ok, %d errors)\n", total, r.elapsed.Round(time.Millisecond), r.ok, r.failed)
	if secs > 0 {
		fmt.Fprintf(w, "throughput  %.1f req/s (ok only: %.1f req/s)\n", float64(total)/secs, float64(r.ok)/secs)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "latency     p50 %s  p90 %s  p99 %s  max %s (successful requests)\n",
		ms(percentile(r.latencies, 0.50)), ms(percentile(r.latencies, 0.90)), ms(percentile(r.latencies, 0.99)), ms(percentile(r.latencies, 1)))
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "status %d  %d\n", c, r.statuses[c])
	}
	for e, n := range r.errs {
		fmt.Fprintf(w, "error       %d × %s\n", n, e)
	}
}
