package replicatest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// mint posts a server-mode login for uid and returns the status and, on
// 200, the signing key id of the token.
func (r *replica) mint(t *testing.T, pid, key, uid string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.url+"/auth/"+pid, strings.NewReader(`{"user":{"id":"`+uid+`"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mint on %s: %v", r.url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	var v struct{ JWT string }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	tok, _, err := jwt.NewParser().ParseUnverified(strings.TrimPrefix(v.JWT, "JWT "), jwt.MapClaims{}) // "JWT <token>", as the widget wants it
	if err != nil {
		t.Fatalf("token %q: %v", v.JWT, err)
	}
	kid, _ := tok.Header["kid"].(string)
	return resp.StatusCode, kid
}

// TestCLIChangesReachEveryReplica: a secret rotation, a block and a mode
// change made through the CLI binary are applied by all three replicas
// within the bound (cache TTLs 10 min, version check 10 min).
func TestCLIChangesReachEveryReplica(t *testing.T) {
	c := newCluster(t)
	c.cli(t, "migrate")
	c.cli(t, "tenant", "add", "-id", "acme", "-name", "Acme")
	c.cli(t, "project", "add", "-id", "proj-chg", "-name", "Changes", "-tenant", "acme")
	c.cli(t, "secret", "rotate", "-project", "proj-chg", "-local")
	c.cli(t, "mode", "set", "-project", "proj-chg", "-modes", "server")
	key := strings.TrimSpace(c.cli(t, "apikey", "create", "-project", "proj-chg", "-name", "site"))
	rs := []*replica{c.start(t), c.start(t), c.start(t)}
	kid0 := ""
	for i, r := range rs {
		code, kid := r.mint(t, "proj-chg", key, "u1")
		if code != http.StatusOK {
			t.Fatalf("replica %d: %d before the changes\n%s", i, code, r.logs.String())
		}
		kid0 = kid
	}
	// each step: the CLI change, then what every replica must show
	steps := []struct {
		name  string
		args  []string
		holds func(r *replica) bool
	}{
		{"secret rotate", []string{"secret", "rotate", "-project", "proj-chg", "-local"}, func(r *replica) bool {
			code, kid := r.mint(t, "proj-chg", key, "u1")
			return code == http.StatusOK && kid != kid0
		}},
		{"mapping override -block", []string{"mapping", "override", "-project", "proj-chg", "-external-id", "u1", "-block"}, func(r *replica) bool {
			blocked, _ := r.mint(t, "proj-chg", key, "u1")
			other, _ := r.mint(t, "proj-chg", key, "u2")
			return blocked != http.StatusOK && other == http.StatusOK
		}},
		{"mode set password", []string{"mode", "set", "-project", "proj-chg", "-modes", "password"}, func(r *replica) bool {
			code, _ := r.mint(t, "proj-chg", key, "u2")
			return code == http.StatusForbidden
		}},
	}
	for _, s := range steps {
		c.cli(t, s.args...)
		start := time.Now()
		for i, r := range rs {
			for !s.holds(r) {
				if time.Since(start) > propagationBound {
					t.Fatalf("%s: replica %d has not applied it %s after the CLI returned\n%s", s.name, i, time.Since(start), r.logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		t.Logf("%s: applied by all three replicas %s after the CLI returned", s.name, time.Since(start).Round(time.Millisecond))
	}
}
