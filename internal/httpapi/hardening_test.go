package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestFloodOneProjectOthersStillServed is the loopback load test: one
// client IP floods project A (default limits) while legitimate users of
// project B, each from its own IP, keep logging in. Client IPs come from
// X-Forwarded-For through a trusted proxy (127.0.0.1).
func TestFloodOneProjectOthersStillServed(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_TRUSTED_PROXIES": "127.0.0.1"})
	e.addUsers(t, projA, 1)
	const legitUsers, legitRounds = 20, 3
	e.addUsers(t, projB, legitUsers)

	const floodRequests, floodWorkers = 2000, 8
	var flood429, flood200, floodOther atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	jobs := make(chan int)
	for w := 0; w < floodWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				pw := "wrong password " + strconv.Itoa(i)
				if i%2 == 0 {
					pw = password // the attacker may even know a password: still limited
				}
				r := e.call(t, http.MethodPost, "/auth/"+projA, loginBody(userEmail(0), pw), map[string]string{"X-Forwarded-For": "203.0.113.66"})
				switch r.status {
				case http.StatusTooManyRequests:
					if r.header.Get("Retry-After") == "" || r.code() != "rate_limited" {
						t.Errorf("429 without Retry-After/JSON code: %v %s", r.header, r.raw)
					}
					flood429.Add(1)
				case http.StatusOK:
					flood200.Add(1)
				default:
					floodOther.Add(1)
				}
			}
		}()
	}
	var legitOK, legitFail atomic.Int64
	var lwg sync.WaitGroup
	for u := 0; u < legitUsers; u++ {
		lwg.Add(1)
		go func(u int) {
			defer lwg.Done()
			ip := fmt.Sprintf("198.51.100.%d", u+1)
			for round := 0; round < legitRounds; round++ {
				r := e.call(t, http.MethodPost, "/auth/"+projB, loginBody(userEmail(u), password), map[string]string{"X-Forwarded-For": ip})
				if r.status == 200 && r.body["token"] != nil {
					legitOK.Add(1)
				} else {
					legitFail.Add(1)
					t.Errorf("legit user %d round %d: %d %s", u, round, r.status, r.raw)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}(u)
	}
	for i := 0; i < floodRequests; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	lwg.Wait()
	elapsed := time.Since(start)

	pct429 := 100 * float64(flood429.Load()) / floodRequests
	legitRate := 100 * float64(legitOK.Load()) / float64(legitUsers*legitRounds)
	t.Logf("FIGURES flood: %d requests from one IP to one project in %v: %d x 429 (%.1f%%), %d x 200/401 passed the limiter; legit: %d/%d logins of %d users on another project succeeded (%.1f%%)",
		floodRequests, elapsed.Round(time.Millisecond), flood429.Load(), pct429, floodRequests-flood429.Load(), legitOK.Load(), legitUsers*legitRounds, legitUsers, legitRate)
	// Behaviour, not timing: the limiter lets through the burst plus what the
	// refill rate allows during the run; everything else is 429.
	allowed := int64(e.cfg.Security.AuthPerIP.Burst) + int64(elapsed.Seconds()*e.cfg.Security.AuthPerIP.Limit) + 2
	if passed := floodRequests - flood429.Load(); passed > allowed {
		t.Errorf("flood: %d requests passed the limiter, want <= %d", passed, allowed)
	}
	if pct429 < 50 {
		t.Errorf("flood: only %.1f%% were 429", pct429)
	}
	if legitFail.Load() != 0 {
		t.Errorf("legitimate users failed %d times", legitFail.Load())
	}
}

// TestLockoutAfterConsecutiveFailures: N bad passwords lock the login out
// (429 + Retry-After, even with the right password), other logins and
// projects are unaffected, and the lock expires.
func TestLockoutAfterConsecutiveFailures(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newHardEnv(t, db, map[string]string{"PINGAUTH_LOCKOUT_THRESHOLD": "3", "PINGAUTH_LOCKOUT_BASE": "1s", "PINGAUTH_LOCKOUT_MAX": "1m",
			"PINGAUTH_RATE_AUTH_LOGIN": "off", "PINGAUTH_RATE_AUTH_IP": "off"})
		e.addUsers(t, projA, 2)
		e.addUsers(t, projB, 1)
		for i := 0; i < 3; i++ {
			if r := e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), "bad password"), nil); r.status != 401 {
				t.Fatalf("failure %d: %d %s", i, r.status, r.raw)
			}
		}
		r := e.call(t, "POST", "/auth/"+projA, loginBody(strings.ToUpper(userEmail(0)), password), nil)
		if r.status != 429 || r.code() != "rate_limited" || r.header.Get("Retry-After") != "1" || r.body["error"].(map[string]any)["retry_after"] != float64(1) {
			t.Fatalf("locked login: %d %v %s", r.status, r.header, r.raw)
		}
		if r := e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(1), password), nil); r.status != 200 {
			t.Fatalf("other login of the project: %d %s", r.status, r.raw)
		}
		if r := e.call(t, "POST", "/auth/"+projB, loginBody(userEmail(0), password), nil); r.status != 200 {
			t.Fatalf("same login in another project: %d %s", r.status, r.raw)
		}
		time.Sleep(1100 * time.Millisecond)
		if r := e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), password), nil); r.status != 200 {
			t.Fatalf("after the lock expired: %d %s", r.status, r.raw)
		}
		// Success reset the count: one more failure does not lock.
		e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), "bad password"), nil)
		if r := e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), password), nil); r.status != 200 {
			t.Fatalf("count not reset by success: %d %s", r.status, r.raw)
		}
	})
}

// TestPerLoginLimit: many IPs guessing one login hit the per project+login bucket.
func TestPerLoginLimit(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_TRUSTED_PROXIES": "127.0.0.0/8", "PINGAUTH_RATE_AUTH_LOGIN": "1/h:4", "PINGAUTH_LOCKOUT_THRESHOLD": "0"})
	e.addUsers(t, projA, 1)
	statuses := []int{}
	for i := 0; i < 6; i++ {
		r := e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), "guess "+itoa(i)), map[string]string{"X-Forwarded-For": fmt.Sprintf("192.0.2.%d", i+1)})
		statuses = append(statuses, r.status)
	}
	if fmt.Sprint(statuses) != "[401 401 401 401 429 429]" {
		t.Fatalf("statuses = %v", statuses)
	}
}

// TestClientIPTrustsNoProxyByDefault: without PINGAUTH_TRUSTED_PROXIES a
// forged X-Forwarded-For does not give a flooder fresh buckets.
func TestClientIPTrustsNoProxyByDefault(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_RATE_AUTH_IP": "1/h:3"})
	got429 := false
	for i := 0; i < 6; i++ {
		r := e.call(t, "POST", "/auth/"+projA, loginBody("x@example.com", "whatever1"), map[string]string{"X-Forwarded-For": fmt.Sprintf("10.9.9.%d", i), "X-Real-IP": fmt.Sprintf("10.8.8.%d", i)})
		got429 = got429 || r.status == 429
	}
	if !got429 {
		t.Fatal("spoofed X-Forwarded-For bypassed the per-IP limit")
	}
}

func TestBodyLimitsAndBadInput(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newHardEnv(t, db, map[string]string{"PINGAUTH_MAX_BODY_BYTES": "2048"})
		e.addUsers(t, projA, 1)
		big := `{"email":"` + strings.Repeat("a", 4000) + `","password":"x"}`
		cases := []struct {
			name, body string
			ctype      string
			chunked    bool
			status     int
			code       string
		}{
			{"content-length over limit", big, "", false, 413, "too_large"},
			{"chunked over limit", big, "", true, 413, "too_large"},
			{"NUL in email", `{"email":"user0@example.com\u0000","password":"x"}`, "", false, 400, "invalid_request"},
			// Refused by DecodeStrictJSON (encoding/json turned it into U+FFFD: a 401 for no such user).
			{"invalid UTF-8 in JSON email", "{\"email\":\"us\xffer@example.com\",\"password\":\"x\"}", "", false, 400, "invalid_request"},
			{"invalid UTF-8 in form email", "email=us%FFer%40example.com&password=x", "application/x-www-form-urlencoded", false, 400, "invalid_request"},
			{"NUL in form password", "email=user0%40example.com&password=a%00b", "application/x-www-form-urlencoded", false, 400, "invalid_request"},
			{"control char in username", `{"username":"bob\u0007","password":"x"}`, "", false, 400, "invalid_request"},
			{"NUL in password", `{"email":"user0@example.com","password":"a\u0000b"}`, "", false, 400, "invalid_request"},
			{"deeply nested", strings.Repeat("[", 1000), "", false, 400, "invalid_request"},
			{"number for email", `{"email":5,"password":"x"}`, "", false, 400, "invalid_request"},
			{"null body", `null`, "", false, 400, "invalid_request"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var body = strings.NewReader(tc.body)
				req, _ := http.NewRequest("POST", e.srv.URL+"/auth/"+projA, body)
				req.Header.Set("Content-Type", "application/json")
				if tc.ctype != "" {
					req.Header.Set("Content-Type", tc.ctype)
				}
				if tc.chunked {
					req.ContentLength = -1
					req.Body = readerOnly{strings.NewReader(tc.body)}
				}
				resp, err := testClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var eb httpkit.ErrorBody
				if err := decodeJSON(resp, &eb); err != nil || resp.StatusCode != tc.status || eb.Error.Code != tc.code {
					t.Fatalf("got %d %+v (%v), want %d %s", resp.StatusCode, eb, err, tc.status, tc.code)
				}
			})
		}
	})
}

type readerOnly struct{ r *strings.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readerOnly) Close() error               { return nil }

func TestEngineRoutesInheritBodyLimit(t *testing.T) {
	t.Parallel()
	srv := httpapi.New(httpapi.Deps{MaxBodyBytes: 100})
	srv.Engine().POST("/console/thing", func(c *gin.Context) {
		var v map[string]any
		if err := c.ShouldBindJSON(&v); err != nil {
			httpkit.WriteError(c, nil, err)
			return
		}
		c.JSON(200, v)
	})
	req, _ := http.NewRequest("POST", "/console/thing", readerOnly{strings.NewReader(`{"a":"` + strings.Repeat("x", 500) + `"}`)})
	req.Header.Set("Content-Type", "application/json")
	w := newRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != 413 || !strings.Contains(w.Body.String(), `"too_large"`) {
		t.Fatalf("oversize body on an Engine() route: %d %s", w.Code, w.Body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	for _, public := range []string{"http://pingauth.test", "https://auth.example.com"} {
		e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_PUBLIC_URL": public})
		r := e.call(t, "GET", "/example/"+projA, "", nil)
		h := r.header
		if r.status != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || !strings.Contains(h.Get("Content-Security-Policy"), "object-src 'none'") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Fatalf("%s example page headers: %d %v", public, r.status, h)
		}
		if wantHSTS := strings.HasPrefix(public, "https"); (h.Get("Strict-Transport-Security") != "") != wantHSTS {
			t.Fatalf("%s: HSTS = %q", public, h.Get("Strict-Transport-Security"))
		}
		a := e.call(t, "POST", "/auth/"+projA, loginBody("x@example.com", "whatever1"), nil)
		if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Content-Security-Policy") != "" {
			t.Fatalf("JSON API headers: %v", a.header)
		}
	}
	// Other routes adopt the middleware in one line.
	srv := httpapi.New(httpapi.Deps{PublicURL: "https://auth.example.com"})
	g := srv.Engine().Group("/console", srv.HTMLSecurity())
	g.GET("/login", func(c *gin.Context) { c.Data(200, "text/html", []byte("<p>hi</p>")) })
	w := newRecorder()
	srv.ServeHTTP(w, mustReq("GET", "/console/login"))
	if w.Header().Get("Content-Security-Policy") != httpkit.ConsoleCSP || w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("Strict-Transport-Security") == "" {
		t.Fatalf("console headers: %v", w.Header())
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_METRICS_TOKEN": "metrics-token-0123456789"})
	e.addUsers(t, projA, 1)
	for i := 0; i < 2; i++ {
		if r := e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), password), nil); r.status != 200 {
			t.Fatal(r.raw)
		}
	}
	e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), "bad password"), nil)
	for i := 0; i < 5; i++ { // random ids must not become label values
		e.call(t, "POST", "/auth/random-"+itoa(i), loginBody(userEmail(0), password), nil)
	}
	if r := e.call(t, "GET", "/metrics", "", nil); r.status != 401 {
		t.Fatalf("/metrics without token: %d", r.status)
	}
	if r := e.call(t, "GET", "/metrics", "", map[string]string{"Authorization": "Bearer wrong-token-0123456789"}); r.status != 401 {
		t.Fatalf("/metrics with a wrong token: %d", r.status)
	}
	r := e.call(t, "GET", "/metrics", "", map[string]string{"Authorization": "Bearer metrics-token-0123456789"})
	if r.status != 200 {
		t.Fatalf("/metrics: %d %s", r.status, r.raw)
	}
	for _, want := range []string{
		`pingauth_tokens_issued_total{project="` + projA + `"} 2`,
		`pingauth_auth_failures_total{project="` + projA + `",reason="unauthorized"} 1`,
		`pingauth_auth_failures_total{project="unknown",reason="not_found"} 5`,
		`pingauth_auth_request_duration_seconds_count{project="` + projA + `"} 3`,
		`pingauth_http_request_duration_seconds_count{code="200",method="POST",route="/auth/:projectId"} 2`,
		`pingauth_ratelimit_tracked_keys{limiter="auth_ip"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(r.raw, "random-") {
		t.Error("unknown project ids leaked into labels")
	}
	// Each server has its own registry: a second server starts from zero.
	e2 := newHardEnv(t, storetest.Open(t, store.SQLite), nil)
	if r := e2.call(t, "GET", "/metrics", "", nil); r.status != 200 || strings.Contains(r.raw, "pingauth_tokens_issued_total{") {
		t.Fatalf("second server shares metrics: %d", r.status)
	}
	// And metrics can be switched off.
	e3 := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_METRICS": "off"})
	if r := e3.call(t, "GET", "/metrics", "", nil); r.status != 404 {
		t.Fatalf("/metrics when off: %d", r.status)
	}
}

func TestReadyzReportsEachDependency(t *testing.T) {
	t.Parallel()
	srv := httpapi.New(httpapi.Deps{Ready: map[string]httpapi.Pinger{"database": pinger{}, "secrets": pinger{err: context.DeadlineExceeded}}})
	w := newRecorder()
	srv.ServeHTTP(w, mustReq("GET", "/readyz"))
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"secrets":"unavailable"`) || !strings.Contains(w.Body.String(), `"database":"ok"`) || !strings.Contains(w.Body.String(), `"ready":false`) {
		t.Fatalf("readyz: %d %s", w.Code, w.Body)
	}
	// A degradable dependency is reported but keeps the instance ready.
	deg := httpapi.New(httpapi.Deps{Ready: map[string]httpapi.Pinger{"database": pinger{}}, Degradable: map[string]httpapi.Pinger{"secrets": pinger{err: context.DeadlineExceeded}}})
	w = newRecorder()
	deg.ServeHTTP(w, mustReq("GET", "/readyz"))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"secrets":"unavailable"`) || !strings.Contains(w.Body.String(), `"degraded":true`) || !strings.Contains(w.Body.String(), `"ready":true`) {
		t.Fatalf("readyz with a degradable dependency down: %d %s", w.Code, w.Body)
	}
	w = newRecorder()
	srv.ServeHTTP(w, mustReq("GET", "/healthz"))
	if w.Code != 200 {
		t.Fatalf("healthz must not depend on dependencies: %d", w.Code)
	}
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }
