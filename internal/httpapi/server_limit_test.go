package httpapi_test

import (
	"context"
	"testing"

	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// A site's backend mints server-mode tokens for all its visitors from one
// address: with the default limits it must not be held to the browser per-IP
// bucket (5/s, burst 20), while password attempts from that same address are.
func TestServerModeHasItsOwnPerIPBucket(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_RATE_AUTH_SERVER_IP": "50/m:60"})
	ctx := context.Background()
	if _, err := e.app.Modes.Admin.SetModes(ctx, "test", projA, []string{"password", "server"}); err != nil {
		t.Fatal(err)
	}
	_, key, err := e.app.Modes.Admin.CreateAPIKey(ctx, "test", projA, "backend")
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Authorization": "Bearer " + key}
	ok, limited := 0, 0
	for i := 0; i < 70; i++ {
		r := e.call(t, "POST", "/auth/"+projA, `{"user":{"id":"visitor-`+itoa(i)+`"}}`, hdr)
		switch r.status {
		case 200:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("server mint %d: %d %s", i, r.status, r.raw)
		}
	}
	// 60 = the server bucket's burst, far above the browser bucket's 20.
	if ok != 60 || limited != 10 {
		t.Fatalf("server mode: %d ok, %d limited; want 60 and 10 (its own bucket)", ok, limited)
	}
	// Password attempts from the same address still meet the browser bucket.
	for i := 0; i < 25; i++ {
		r := e.call(t, "POST", "/auth/"+projA, loginBody("nobody"+itoa(i)+"@example.com", "whatever-pw"), nil)
		if r.status == 429 {
			return
		}
	}
	t.Fatal("25 password attempts from one address were never rate limited")
}
