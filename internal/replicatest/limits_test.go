package replicatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/ratelimit/redistest"
)

// browserAuth posts a password login (the browser path, limited per client
// IP by PINGAUTH_RATE_AUTH_IP) and returns the status code, or 0 when the
// replica does not answer.
func (r *replica) browserAuth(pid string) int {
	r.n++ // a new login each time: the per-login lockout must not interfere
	body := fmt.Sprintf(`{"email":"nobody%d@example.com","password":"wrong-password"}`, r.n)
	resp, err := http.Post(r.url+"/auth/"+pid, "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// readyz returns /readyz's degraded flag and its checks.
func (r *replica) readyz(t *testing.T) (degraded bool, body string) {
	t.Helper()
	resp, err := http.Get(r.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct{ Degraded bool }
	_ = json.Unmarshal(b, &v)
	return v.Degraded, string(b)
}

// TestFloodOverReplicasHeldToOneLimit: with PINGAUTH_REDIS_URL, a flood from
// one IP spread over three replicas gets one replica's per-IP budget in all;
// a replica killed with SIGKILL mid-flood leaves the others serving; with
// Redis stopped every replica falls back to its own limiter and reports
// degraded on /readyz, and once Redis is back they share one budget again.
func TestFloodOverReplicasHeldToOneLimit(t *testing.T) {
	rds := redistest.Start(t)
	c := newCluster(t)
	c.env = append(c.env, "PINGAUTH_REDIS_URL="+rds.URL,
		"PINGAUTH_RATE_AUTH_IP=1/m:10", // burst 10, no noticeable refill during the test
		"PINGAUTH_RATE_AUTH_LOGIN=off")
	c.cli(t, "migrate")
	c.cli(t, "tenant", "add", "-id", "acme", "-name", "Acme")
	c.cli(t, "project", "add", "-id", "proj-flood", "-name", "Flood", "-tenant", "acme")
	rs := []*replica{c.start(t), c.start(t), c.start(t)}
	for i, r := range rs {
		if deg, body := r.readyz(t); deg {
			t.Fatalf("replica %d degraded with Redis up: %s", i, body)
		}
	}

	passed, limited := 0, 0
	for i := 0; i < 60; i++ {
		if i == 30 { // kill -9 one replica mid-flood
			_ = rs[2].cmd.Process.Kill()
			_ = rs[2].cmd.Wait()
		}
		r := rs[i%3]
		if i >= 30 {
			r = rs[i%2]
		}
		switch code := r.browserAuth("proj-flood"); code {
		case http.StatusTooManyRequests:
			limited++
		case 0:
			t.Fatalf("request %d: a surviving replica did not answer", i)
		default:
			passed++
		}
	}
	if passed != 10 || limited != 50 {
		t.Fatalf("60 requests over the replicas: %d passed, %d limited; want the one shared burst of 10", passed, limited)
	}

	rds.Stop(t)
	// Each surviving replica now limits on its own: fresh local buckets.
	for i, r := range rs[:2] {
		got := 0
		for j := 0; j < 12; j++ {
			if code := r.browserAuth("proj-flood"); code != http.StatusTooManyRequests && code != 0 {
				got++
			}
		}
		if got != 10 {
			t.Fatalf("replica %d with Redis down passed %d of 12, want its local burst of 10", i, got)
		}
		if deg, body := r.readyz(t); !deg || !strings.Contains(body, "rate_limits") {
			t.Fatalf("replica %d with Redis down: /readyz %s, want degraded naming rate_limits", i, body)
		}
	}

	rds.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range rs[:2] {
		for deg, _ := r.readyz(t); deg; deg, _ = r.readyz(t) {
			if time.Now().After(deadline) {
				t.Fatal("a replica did not recover after Redis came back")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	passed = 0
	for i := 0; i < 20; i++ {
		if code := rs[i%2].browserAuth("proj-flood"); code != http.StatusTooManyRequests && code != 0 {
			passed++
		}
	}
	if passed != 10 {
		t.Fatalf("after Redis came back 20 requests over two replicas passed %d, want one shared burst of 10", passed)
	}
	for _, r := range rs[:2] {
		if !strings.Contains(r.logs.String(), "shared rate limit store (Redis) unavailable") ||
			strings.Count(r.logs.String(), "shared rate limit store (Redis) unavailable") != 1 {
			t.Fatalf("want the outage logged exactly once per replica:\n%s", r.logs.String())
		}
	}
}
