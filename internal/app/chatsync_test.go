package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// fakeChat is a minimal chat server for the sync worker: sign-in, the
// project's bans, ban, unban and keys/generate. down makes every route
// answer 503.
type fakeChat struct {
	down   atomic.Bool
	mu     sync.Mutex
	bans   map[string]string // ban _id → visitor _id
	n      int
	secret string
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	list := func() {
		out := []map[string]string{}
		for id, v := range f.bans {
			out = append(out, map[string]string{"_id": id, "id": v})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"bannedUsers": out})
	}
	switch {
	case r.URL.Path == "/auth/signin":
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "token": "JWT dashboard"})
	case r.Header.Get("Authorization") != "JWT dashboard" && r.URL.Path != "/testauth":
		http.Error(w, "no", http.StatusUnauthorized)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/projects/"):
		list()
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/ban"):
		var in struct{ ID string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		f.n++
		f.bans["ban"+string(rune('0'+f.n))] = in.ID
		list()
	case r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/ban/"):
		delete(f.bans, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
		list()
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/keys/generate"):
		f.n++
		f.secret = "chat-generated-secret-" + string(rune('a'+f.n)) + "-0123456789abcdef"
		_ = json.NewEncoder(w).Encode(map[string]any{"jwtSecret": f.secret})
	case r.URL.Path == "/testauth":
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeChat) banned() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for id, v := range f.bans {
		out[v] = id
	}
	return out
}

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().Truncate(time.Microsecond).UnixNano()) // PostgreSQL keeps microseconds
	return c
}
func fixedBackoff(int) time.Duration { return time.Minute }
func chatApp(t *testing.T, c *clock, env ...string) (*app.App, *httptest.Server) {
	t.Helper()
	vars := map[string]string{"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "1"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	a, srv, _ := openApp(t, vars,
		app.Options{HashParams: &enduser.TestParams, Now: c.now, ChatSyncBackoff: fixedBackoff})
	ctx := context.Background()
	if _, err := a.Projects.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if err := a.Projects.Create(ctx, &project.Project{ID: "p-sync", TenantID: "acme", Name: "Shop", TokenTTLSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	return a, srv
}

func overrideSync(t *testing.T, a *app.App, ext string) *mapping.ChatSync {
	t.Helper()
	os, err := a.Modes.Admin.Overrides(context.Background(), "p-sync")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range os {
		if o.ExternalID == ext {
			return o.ChatSync
		}
	}
	return nil
}

func syncPass(t *testing.T, a *app.App) int {
	t.Helper()
	n, err := a.Admin.SyncChat(context.Background())
	if err != nil {
		t.Fatalf("sync pass: %v", err)
	}
	return n
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestBanSyncFollowsBlocks: a block without a connection applies locally
// and says "not synced"; with the chat server down the job fails and is
// visible, retried after its backoff, then banned under the token's _id
// (prefix + external id); an unblock lifts the ban; every outcome is
// audited without credentials.
func TestBanSyncFollowsBlocks(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); testBanSync(t) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); testBanSync(t, "PINGAUTH_DATABASE_URL", storetest.PostgresDSN(t)) })
}

func testBanSync(t *testing.T, env ...string) {
	c := newClock()
	a, srv := chatApp(t, c, env...)
	ctx := context.Background()
	adm := a.Modes.Admin
	if err := adm.SetMapping(ctx, "op", &mapping.Mapping{ProjectID: "p-sync", IDClaim: "id", Prefix: "shop|"}); err != nil {
		t.Fatal(err)
	}
	if err := adm.PutOverride(ctx, "op@acme", &mapping.Override{ProjectID: "p-sync", ExternalID: "u1", Blocked: true}); err != nil {
		t.Fatal(err)
	}
	if s := overrideSync(t, a, "u1"); s == nil || s.State != chatserver.StatePending || s.VisitorID != "shop|u1" || s.Desired != chatserver.DesireBanned {
		t.Fatalf("after the block: %+v", s)
	}
	if n := syncPass(t, a); n != 1 {
		t.Fatalf("attempts %d", n)
	}
	if s := overrideSync(t, a, "u1"); s == nil || s.State != chatserver.StateNoConnection || s.LastError != admin.NoConnectionMessage {
		t.Fatalf("without a connection: %+v", s)
	}

	fake := &fakeChat{bans: map[string]string{}}
	fake.down.Store(true)
	chat := httptest.NewServer(fake)
	defer chat.Close()
	const password = "dashboard-password-123"
	if _, err := a.Admin.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeTenant, "acme", "acme",
		admin.ChatConnectionInput{BaseURL: chat.URL, Email: "owner@acme.test", Password: password}); err != nil {
		t.Fatal(err)
	}
	syncPass(t, a) // the connection woke the job: the chat server is down
	s := overrideSync(t, a, "u1")
	if s == nil || s.State != chatserver.StateFailed || s.Attempts != 2 || !strings.Contains(s.LastError, "503") || !s.NextAttemptAt.Equal(c.now().Add(time.Minute)) {
		t.Fatalf("chat server down: %+v", s)
	}
	st, err := a.Admin.ChatSync(ctx, "p-sync", "acme")
	if err != nil || st.Outstanding != 1 || st.Counts[chatserver.StateFailed] != 1 {
		t.Fatalf("project sync state: %+v %v", st, err)
	}
	if m := getBody(t, srv.URL+"/metrics"); !strings.Contains(m, `pingauth_chat_sync_pending{state="failed"} 1`) {
		t.Errorf("metric: %s", grepLines(m, "pingauth_chat_sync"))
	}

	fake.down.Store(false)
	if n := syncPass(t, a); n != 0 {
		t.Fatalf("retried before its backoff: %d attempts", n)
	}
	c.advance(time.Minute)
	if n := syncPass(t, a); n != 1 {
		t.Fatalf("attempts after the backoff: %d", n)
	}
	if b := fake.banned(); b["shop|u1"] == "" || len(b) != 1 {
		t.Fatalf("bans on the chat server: %v", b)
	}
	if s := overrideSync(t, a, "u1"); s == nil || s.State != chatserver.StateSynced {
		t.Fatalf("after the sync: %+v", s)
	}
	if m := getBody(t, srv.URL+"/metrics"); !strings.Contains(m, `pingauth_chat_sync_pending{state="failed"} 0`) {
		t.Errorf("metric after the sync: %s", grepLines(m, "pingauth_chat_sync"))
	}

	// Re-blocked with a force_id: the old _id is unbanned, the new one banned.
	if err := adm.PutOverride(ctx, "op@acme", &mapping.Override{ProjectID: "p-sync", ExternalID: "u1", ForceID: "vip-1", Blocked: true}); err != nil {
		t.Fatal(err)
	}
	syncPass(t, a)
	if b := fake.banned(); b["vip-1"] == "" || b["shop|u1"] != "" || len(b) != 1 {
		t.Fatalf("bans after the force_id change: %v", b)
	}
	// Unblock (the override stays, not blocked): the ban is lifted and the
	// job removed.
	if err := adm.PutOverride(ctx, "op@acme", &mapping.Override{ProjectID: "p-sync", ExternalID: "u1", ForceID: "vip-1"}); err != nil {
		t.Fatal(err)
	}
	syncPass(t, a)
	if b := fake.banned(); len(b) != 0 {
		t.Fatalf("bans after the unblock: %v", b)
	}
	if s := overrideSync(t, a, "u1"); s != nil {
		t.Fatalf("sync state after the unblock: %+v", s)
	}
	// Delete of a blocked override lifts its ban too.
	if err := adm.PutOverride(ctx, "op@acme", &mapping.Override{ProjectID: "p-sync", ExternalID: "u2", Blocked: true}); err != nil {
		t.Fatal(err)
	}
	syncPass(t, a)
	if b := fake.banned(); b["shop|u2"] == "" {
		t.Fatalf("u2 not banned: %v", b)
	}
	if err := adm.DeleteOverride(ctx, "op@acme", "p-sync", "u2"); err != nil {
		t.Fatal(err)
	}
	syncPass(t, a)
	if b := fake.banned(); len(b) != 0 {
		t.Fatalf("bans after deleting the override: %v", b)
	}

	evs, err := a.Audit.List(ctx, audit.Query{ProjectID: "p-sync", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range evs {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), password) {
			t.Errorf("audit event carries the password: %s", b)
		}
		if e.Action == audit.ChatBanSync {
			outcomes = append([]string{e.Details["desired"].(string) + ":" + e.Details["outcome"].(string)}, outcomes...)
		}
	}
	want := "banned:no_connection banned:failed banned:synced unbanned:synced banned:synced unbanned:synced banned:synced unbanned:synced"
	if got := strings.Join(outcomes, " "); got != want {
		t.Errorf("ban sync audit (oldest first):\n got %s\nwant %s", got, want)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRotationStoreFailureDegrades: the chat server switched, the real
// sealed store then fails every write (an SQL trigger on its table): the
// rotation answers 503, the project is degraded in /readyz and the metric,
// the value is nowhere in SQL; once the store works again the worker
// stores it and the degraded state clears.
func TestRotationStoreFailureDegrades(t *testing.T) {
	t.Parallel()
	c := newClock()
	a, srv := chatApp(t, c)
	ctx := context.Background()
	if _, err := a.Secrets.Put(ctx, "p-sync", []byte("the-first-secret-0123456789abcdef"), secret.WriteOptions{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	fake := &fakeChat{bans: map[string]string{}}
	chat := httptest.NewServer(fake)
	defer chat.Close()
	if _, err := a.Admin.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeTenant, "acme", "acme",
		admin.ChatConnectionInput{BaseURL: chat.URL, Email: "owner@acme.test", Password: "dashboard-password-123"}); err != nil {
		t.Fatal(err)
	}
	if err := a.DB.Exec(`CREATE TRIGGER fail_sealed BEFORE INSERT ON sealed_secrets BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`).Error; err != nil {
		t.Fatal(err)
	}
	p, err := a.Projects.Get(ctx, "p-sync")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Admin.RotateSecret(ctx, admin.CLI(), p, admin.RotateInput{})
	if !errors.Is(err, apperr.ErrUnavailable) || !strings.Contains(err.Error(), "keeps retrying in the background") {
		t.Fatalf("rotation with the store failing: %v", err)
	}
	ready := getBody(t, srv.URL+"/readyz")
	if !strings.Contains(ready, `"projects":{"p-sync":"rotation_not_stored"}`) || !strings.Contains(ready, `"degraded":true`) ||
		!strings.Contains(ready, `"chat_rotation_store":"unavailable"`) {
		t.Fatalf("/readyz: %s", ready)
	}
	if m := getBody(t, srv.URL+"/metrics"); !strings.Contains(m, "pingauth_chat_rotation_store_degraded 1") {
		t.Errorf("metric: %s", grepLines(m, "rotation_store"))
	}
	var rows []map[string]any
	if err := a.DB.Raw(`SELECT * FROM chat_sync_jobs`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(rows); len(rows) != 1 || strings.Contains(string(b), fake.secret) {
		t.Fatalf("outbox rows: %s", b)
	}
	ds, err := a.Admin.DegradedRotations(ctx, []string{"acme"})
	if err != nil || len(ds) != 1 || !ds[0].Held {
		t.Fatalf("degraded rotations: %+v %v", ds, err)
	}

	// Still failing at the retry: still degraded, retried later.
	c.advance(time.Minute)
	if n := syncPass(t, a); n != 1 {
		t.Fatalf("retries: %d", n)
	}
	if ds, _ := a.Admin.DegradedRotations(ctx, nil); len(ds) != 1 || ds[0].Attempts != 6 {
		t.Fatalf("after a failed retry: %+v", ds)
	}
	if err := a.DB.Exec(`DROP TRIGGER fail_sealed`).Error; err != nil {
		t.Fatal(err)
	}
	if n := syncPass(t, a); n != 0 {
		t.Fatalf("retried before the backoff: %d", n)
	}
	c.advance(time.Minute)
	if n := syncPass(t, a); n != 1 {
		t.Fatalf("retries: %d", n)
	}
	kr, err := a.Secrets.Get(ctx, "p-sync")
	if err != nil {
		t.Fatal(err)
	}
	if cur := kr.Current; cur.Version != 2 || string(cur.Value) != fake.secret {
		t.Fatalf("current secret after the recovery: v%d", cur.Version)
	}
	ready = getBody(t, srv.URL+"/readyz")
	if strings.Contains(ready, "p-sync") || !strings.Contains(ready, `"degraded":false`) {
		t.Fatalf("/readyz after the recovery: %s", ready)
	}
	if m := getBody(t, srv.URL+"/metrics"); !strings.Contains(m, "pingauth_chat_rotation_store_degraded 0") {
		t.Errorf("metric after the recovery: %s", grepLines(m, "rotation_store"))
	}
	evs, _ := a.Audit.List(ctx, audit.Query{ProjectID: "p-sync", Limit: 20})
	var outcomes []string
	for _, e := range evs {
		if e.Action == audit.SecretChatRotate {
			outcomes = append(outcomes, e.Details["outcome"].(string))
		}
	}
	if strings.Join(outcomes, " ") != "stored_after_retry store_failed" {
		t.Errorf("rotation audit (newest first): %v", outcomes)
	}
}
