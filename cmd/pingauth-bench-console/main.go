// Command pingauth-bench-console measures every console page and admin API
// list of a real `pingauth serve` on PostgreSQL at the sizes of issue 15:
// 100,000 projects in 1,000 tenants and 1,000,000 end-users in one project
// (plus 10,000 API keys, 10,000 overrides and 1,000 members), seeded from
// the documented SQL fixtures in docs/fixtures.
//
//	go build -o /tmp/pingauth ./cmd/pingauth
//	go run ./cmd/pingauth-bench-console -bin /tmp/pingauth -seed   # first run: seeds (a few minutes)
//	go run ./cmd/pingauth-bench-console -bin /tmp/pingauth         # later runs reuse the data
//
// Each target is requested sequentially (3 warm-ups, then -n timed
// requests, one connection, as an operator's browser would), its status
// checked, and the table prints p50 and p95 latency and the response size
// against the goals (p50 < 100 ms, < 1 MB). "Last page" targets first walk
// the whole list through next_cursor (page size 200) to reach the end, which
// also checks that paging serves every row once.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/benchkit"

	"github.com/jackc/pgx/v5"
)

type options struct {
	dbURL, bin, dir, fixtures string
	seed                      bool
	n                         int
}

const (
	rootEmail, adminEmail = "root@bench.example", "admin@bench.example"
	benchPassword         = "bench-password-1"
	bigProject            = "big"
	goalLatency           = 100 * time.Millisecond
	goalBytes             = 1 << 20
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pingauth-bench-console:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	flag.StringVar(&o.dbURL, "database-url", "postgres://postgres@127.0.0.1:5432/pingconsole?sslmode=disable", "PostgreSQL URL (dropped and created again with -seed)")
	flag.StringVar(&o.bin, "bin", "", "pingauth binary to measure (required)")
	flag.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "pingauth-bench-console"), "work directory (server log)")
	flag.StringVar(&o.fixtures, "fixtures", "docs/fixtures", "directory of console_100k.sql and endusers_1m.sql")
	flag.BoolVar(&o.seed, "seed", false, "drop the database, migrate it and load the fixtures")
	flag.IntVar(&o.n, "n", 30, "timed requests per target")
	flag.Parse()
	if o.bin == "" {
		return errors.New("-bin is required")
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	ctx := context.Background()
	if o.seed {
		if err := seed(ctx, o); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return measure(ctx, o)
}

func env(o options) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"PINGAUTH_DATABASE_URL=" + o.dbURL,
		"PINGAUTH_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)),
		"PINGAUTH_DATA_DIR=" + o.dir,
		"PINGAUTH_LOG_LEVEL=warn",
		// One client signs in over and over from one address.
		"PINGAUTH_RATE_AUTH_LOGIN=off",
		"PINGAUTH_LOCKOUT_THRESHOLD=0",
	}
}

func seed(ctx context.Context, o options) error {
	cfg, err := pgx.ParseConfig(o.dbURL)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	for _, q := range []string{"DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)", "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()} {
		if _, err := conn.Exec(ctx, q); err != nil {
			_ = conn.Close(ctx)
			return err
		}
	}
	_ = conn.Close(ctx)
	step := func(what string, stdin string, args ...string) error {
		t0 := time.Now()
		c := exec.Command(args[0], args[1:]...)
		c.Env = env(o)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", what, err, out)
		}
		fmt.Printf("seed: %s (%.1f s)\n", what, time.Since(t0).Seconds())
		return nil
	}
	psql := func(file string, vars ...string) []string {
		a := []string{"psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", o.dbURL, "-f", filepath.Join(o.fixtures, file)}
		for _, v := range vars {
			a = append(a, "-v", v)
		}
		return a
	}
	for _, s := range []struct {
		what, stdin string
		args        []string
	}{
		{"migrate", "", []string{o.bin, "migrate"}},
		{"100k projects, keys, overrides, members", "", psql("console_100k.sql")},
		{"1M end-users in project big", "", psql("endusers_1m.sql", "project="+bigProject)},
		{"platform admin", benchPassword, []string{o.bin, "operator", "add", "-email", rootEmail, "-role", "platform-admin", "-password-stdin"}},
		{"tenant admin of t0000", benchPassword, []string{o.bin, "operator", "add", "-email", adminEmail, "-role", "tenant-admin", "-tenant", "t0000", "-password-stdin"}},
	} {
		if err := step(s.what, s.stdin, s.args...); err != nil {
			return err
		}
	}
	return nil
}

type target struct {
	name, who, path string
	status          int
	// walk: first follow next_cursor of this API list (key) to its end and
	// measure path + the last cursor.
	walk, key string
}

type result struct {
	target
	p50, p95 time.Duration
	bytes    int
	note     string
}

func measure(ctx context.Context, o options) error {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(o.dir, "server.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, o.bin, "serve")
	cmd.Env = append(env(o), "PINGAUTH_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	if err := benchkit.WaitReady(base, 60*time.Second); err != nil {
		return err
	}
	clients := map[string]*http.Client{}
	for who, email := range map[string]string{"root": rootEmail, "admin": adminEmail} {
		c, err := signIn(base, email)
		if err != nil {
			return fmt.Errorf("sign in %s: %w", email, err)
		}
		clients[who] = c
	}
	const users = "/api/v1/projects/" + bigProject + "/users"
	targets := []target{
		{name: "dashboard, first page", who: "root", path: "/console/"},
		{name: "dashboard, search \"store 9\"", who: "root", path: "/console/?q=" + url.QueryEscape("store 9")},
		{name: "dashboard, rare search", who: "root", path: "/console/?q=p099998"},
		{name: "dashboard, one tenant", who: "root", path: "/console/?tenant=t0500"},
		{name: "dashboard, last page", who: "root", path: "/console/?cursor=", walk: "/api/v1/projects", key: "projects"},
		{name: "dashboard, tenant admin", who: "admin", path: "/console/"},
		{name: "audit page", who: "root", path: "/console/audit"},
		{name: "audit filter, one project", who: "root", path: "/console/audit?project_id=p054321"},
		{name: "audit filter, no such project", who: "root", path: "/console/audit?project_id=p0543", status: http.StatusForbidden},
		{name: "project page (big)", who: "root", path: "/console/projects/" + bigProject},
		{name: "sign-in methods page (10k keys, 10k overrides)", who: "root", path: "/console/projects/" + bigProject + "/methods"},
		{name: "members page (1,000 members)", who: "root", path: "/console/tenants/t0000/operators"},
		{name: "operators page", who: "root", path: "/console/operators"},
		{name: "tenant settings", who: "root", path: "/console/tenants/t0000/settings"},
		{name: "account page", who: "root", path: "/console/account"},
		{name: "end-users page, first", who: "root", path: "/console/projects/" + bigProject + "/users"},
		{name: "end-users page, substring search", who: "root", path: "/console/projects/" + bigProject + "/users?search=" + url.QueryEscape("user12345")},
		{name: "end-users page, last page", who: "root", path: "/console/projects/" + bigProject + "/users?cursor=", walk: users, key: "users"},
		{name: "API projects, first page", who: "root", path: "/api/v1/projects"},
		{name: "API projects, search", who: "root", path: "/api/v1/projects?search=" + url.QueryEscape("support 77")},
		{name: "API projects, last page", who: "root", path: "/api/v1/projects?cursor=", walk: "/api/v1/projects", key: "projects"},
		{name: "API tenants", who: "root", path: "/api/v1/tenants"},
		{name: "API tenant projects", who: "root", path: "/api/v1/tenants/t0999/projects"},
		{name: "API audit", who: "root", path: "/api/v1/audit"},
		{name: "API end-users, first page", who: "root", path: users},
		{name: "API end-users, substring (common)", who: "root", path: users + "?search=example"},
		{name: "API end-users, substring (rare)", who: "root", path: users + "?search=" + url.QueryEscape("user987654")},
		{name: "API end-users, prefix", who: "root", path: users + "?search=" + url.QueryEscape("user99999")},
		{name: "API end-users, short (2 chars)", who: "root", path: users + "?search=zz"},
		{name: "API end-users, no match", who: "root", path: users + "?search=" + url.QueryEscape("nobody-at-all")},
		{name: "API end-users, last page", who: "root", path: users + "?cursor=", walk: users, key: "users"},
		{name: "API API keys", who: "root", path: "/api/v1/projects/" + bigProject + "/apikeys"},
		{name: "API overrides", who: "root", path: "/api/v1/projects/" + bigProject + "/mapping/overrides"},
		{name: "API members", who: "root", path: "/api/v1/tenants/t0000/operators"},
		{name: "API operators", who: "root", path: "/api/v1/operators"},
		{name: "API secret versions", who: "root", path: "/api/v1/projects/" + bigProject + "/secret"},
	}
	var out []result
	for _, t := range targets {
		r, err := measureOne(base, clients[t.who], t, o.n)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		out = append(out, r)
		fmt.Fprintf(os.Stderr, "%-50s p50 %7.1f ms  %8d B %s\n", t.name, ms(r.p50), r.bytes, r.note)
	}
	fmt.Printf("\n| target | request | p50 | p95 | size | goal |\n| --- | --- | ---: | ---: | ---: | --- |\n")
	met := true
	for _, r := range out {
		ok := r.p50 < goalLatency && r.bytes < goalBytes
		met = met && ok
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		path := r.path
		if r.walk != "" {
			path += "…(" + r.note + ")"
		}
		fmt.Printf("| %s | `GET %s` | %.1f ms | %.1f ms | %s | %s |\n", r.name, path, ms(r.p50), ms(r.p95), size(r.bytes), mark)
	}
	if met {
		fmt.Println("\nall goals met (p50 < 100 ms and < 1 MB on every target)")
	} else {
		fmt.Println("\nsome goals missed")
	}
	return nil
}

func measureOne(base string, c *http.Client, t target, n int) (result, error) {
	r := result{target: t}
	if t.status == 0 {
		r.status = http.StatusOK
	}
	if t.walk != "" {
		last, rows, pages, err := walkToEnd(base, c, t.walk, t.key)
		if err != nil {
			return r, err
		}
		r.path += url.QueryEscape(last)
		r.note = fmt.Sprintf("walked %d rows in %d pages", rows, pages)
	}
	var times []time.Duration
	for i := 0; i < n+3; i++ {
		t0 := time.Now()
		res, err := c.Get(base + r.path)
		if err != nil {
			return r, err
		}
		b, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		d := time.Since(t0)
		if err != nil {
			return r, err
		}
		if res.StatusCode != r.status {
			return r, fmt.Errorf("GET %s: %d (want %d): %.300s", r.path, res.StatusCode, r.status, b)
		}
		r.bytes = max(r.bytes, len(b))
		if i >= 3 {
			times = append(times, d)
		}
	}
	slices.Sort(times)
	r.p50, r.p95 = times[len(times)/2], times[len(times)*95/100]
	return r, nil
}

// walkToEnd follows next_cursor of an API list (page size 200) and returns
// the cursor of its last page, the rows served and the pages read; a row
// served twice is an error.
func walkToEnd(base string, c *http.Client, path, key string) (string, int, int, error) {
	seen := map[string]bool{}
	cursor, last := "", ""
	for pages := 1; ; pages++ {
		q := base + path + "?limit=200"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		res, err := c.Get(q)
		if err != nil {
			return "", 0, 0, err
		}
		var body map[string]json.RawMessage
		err = json.NewDecoder(res.Body).Decode(&body)
		_ = res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			return "", 0, 0, fmt.Errorf("walk %s page %d: %d %v", path, pages, res.StatusCode, err)
		}
		var rows []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body[key], &rows); err != nil {
			return "", 0, 0, err
		}
		for _, row := range rows {
			if seen[row.ID] {
				return "", 0, 0, fmt.Errorf("walk %s: %s served twice", path, row.ID)
			}
			seen[row.ID] = true
		}
		var next string
		if raw, ok := body["next_cursor"]; ok {
			_ = json.Unmarshal(raw, &next)
		}
		if next == "" {
			return last, len(seen), pages, nil
		}
		last, cursor = next, next
	}
}

func signIn(base, email string) (*http.Client, error) {
	jar := &cookieJar{}
	c := &http.Client{Jar: jar, Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	b, _ := json.Marshal(map[string]string{"email": email, "password": benchPassword})
	res, err := c.Post(base+"/api/v1/session", "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("%d %s", res.StatusCode, body)
	}
	return c, nil
}

// cookieJar keeps the session cookie for every path of the one server.
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.cookies = append(j.cookies, cs...) }
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie          { return j.cookies }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func size(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1024)
}
