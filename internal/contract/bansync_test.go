package contract_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/mapping"
)

// noBackoff makes a failed sync job due again at once: the tests drive the
// worker pass by pass.
func noBackoff(int) time.Duration { return 0 }

func ownerPassword(t *testing.T) string {
	t.Helper()
	pw := os.Getenv("PINGSTREAMS_TEST_OWNER_PASSWORD")
	if pw == "" {
		t.Fatal("PINGSTREAMS_TEST_OWNER_PASSWORD is not set (eval \"$(../shared/chatserver/start.sh)\")")
	}
	return pw
}

// closedURL is a loopback URL nothing listens on (the chat server
// unreachable).
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	_ = ln.Close()
	return u
}

func syncOnce(t *testing.T, pa *pingauth) {
	t.Helper()
	if _, err := pa.a.Admin.SyncChat(context.Background()); err != nil {
		t.Fatalf("sync pass: %v", err)
	}
}

func blockState(t *testing.T, pa *pingauth, projectID, ext string) *mapping.ChatSync {
	t.Helper()
	os, err := pa.a.Modes.Admin.Overrides(context.Background(), projectID)
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

// TestBlockBansTheVisitorOnTheChatServer: blocking an end-user in pingauth
// bans its visitor _id on the real chat server, so a widget token it
// already holds is refused there (GET /<projectId>/requests/me → 401);
// while the chat server is unreachable the job fails, is visible, and the
// worker syncs it once it is reachable; unblocking lifts the ban (→ 200).
func TestBlockBansTheVisitorOnTheChatServer(t *testing.T) {
	p := chatServer(t)
	password := ownerPassword(t)
	pa := openPingauthOpts(t, map[string]string{"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "1"}, app.Options{ChatSyncBackoff: noBackoff})
	ctx := context.Background()
	id, sk := p.newProject(t, "ban sync contract")
	key := pa.register(t, id, sk)
	adm := pa.a.Modes.Admin
	m, err := adm.Mapping(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m.Prefix = "shop|"
	if err := adm.SetMapping(ctx, "contract-test", m); err != nil {
		t.Fatal(err)
	}
	server := map[string]string{"Authorization": "Bearer " + key}
	code, tok := pa.mint(t, id, server, `{"user":{"id":"troll-7","email":"troll@shop.test"}}`)
	if code != 200 {
		t.Fatalf("mint: %d", code)
	}
	p.assertVisitor(t, id, tok, "shop|troll-7") // the _id the ban must name
	me := func() int {
		t.Helper()
		code, _ := p.call(t, "GET", "/"+id+"/requests/me", "JWT "+tok, nil)
		return code
	}
	if c := me(); c != 200 {
		t.Fatalf("requests/me before the block: %d", c)
	}

	// The chat server unreachable: the block applies here, the ban waits.
	cli := admin.CLI()
	if _, err := pa.a.Admin.SetChatConnection(ctx, cli, chatserver.ScopeTenant, "agency", "agency",
		admin.ChatConnectionInput{BaseURL: closedURL(t), Email: p.ownerEmail, Password: password}); err != nil {
		t.Fatal(err)
	}
	if err := adm.PutOverride(ctx, "op@agency.test", &mapping.Override{ProjectID: id, ExternalID: "troll-7", Blocked: true, Note: "abuse"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := pa.mint(t, id, server, `{"user":{"id":"troll-7"}}`); code != 403 {
		t.Fatalf("mint for the blocked user: %d, want 403", code)
	}
	syncOnce(t, pa)
	st := blockState(t, pa, id, "troll-7")
	if st == nil || st.State != chatserver.StateFailed || st.VisitorID != "shop|troll-7" || !strings.Contains(st.LastError, "could not be reached") || st.Attempts != 1 {
		t.Fatalf("block with the chat server unreachable: %+v", st)
	}
	if s, err := pa.a.Admin.ChatSync(ctx, id, "agency"); err != nil || s.Counts[chatserver.StateFailed] != 1 {
		t.Fatalf("project sync state: %+v %v", s, err)
	}
	if c := me(); c != 200 {
		t.Fatalf("requests/me before the ban reached the chat server: %d", c)
	}

	// Reachable again: the next pass bans.
	base := loopbackProxy(t, p.url)
	if _, err := pa.a.Admin.SetChatConnection(ctx, cli, chatserver.ScopeTenant, "agency", "agency",
		admin.ChatConnectionInput{BaseURL: base, Email: p.ownerEmail, Password: password}); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, pa)
	if st := blockState(t, pa, id, "troll-7"); st == nil || st.State != chatserver.StateSynced || st.Attempts != 2 {
		t.Fatalf("after the chat server came back: %+v", st)
	}
	if c := me(); c != 401 {
		t.Fatalf("requests/me of the banned visitor: %d, want 401", c)
	}
	if n := bannedOn(t, p, id, "shop|troll-7"); n != 1 {
		t.Fatalf("bans of the visitor on the chat server: %d, want 1", n)
	}
	syncOnce(t, pa) // nothing due: no second ban
	if n := bannedOn(t, p, id, "shop|troll-7"); n != 1 {
		t.Fatalf("bans after another pass: %d", n)
	}

	// Unblock: the ban is lifted.
	if err := adm.DeleteOverride(ctx, "op@agency.test", id, "troll-7"); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, pa)
	if c := me(); c != 200 {
		t.Fatalf("requests/me after the unblock: %d, want 200", c)
	}
	if n := bannedOn(t, p, id, "shop|troll-7"); n != 0 {
		t.Fatalf("bans after the unblock: %d", n)
	}

	evs, err := pa.a.Audit.List(ctx, audit.Query{ProjectID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), password) || strings.Contains(string(b), sk) {
			t.Errorf("audit event %s carries a secret: %s", e.Action, b)
		}
		if e.Action == audit.ChatBanSync {
			got = append([]string{e.Details["desired"].(string) + ":" + e.Details["outcome"].(string)}, got...)
		}
	}
	if strings.Join(got, " ") != "banned:failed banned:synced unbanned:synced" {
		t.Errorf("ban sync audit (oldest first): %v", got)
	}
}

// bannedOn counts the bans of visitor on the chat server's project.
func bannedOn(t *testing.T, p *peer, projectID, visitor string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/projects/"+projectID, nil)
	req.Header.Set("Authorization", p.ownerToken)
	res, err := p.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		BannedUsers []struct {
			ID string `json:"id"`
		} `json:"bannedUsers"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /projects/%s: %d %v", projectID, res.StatusCode, err)
	}
	n := 0
	for _, b := range out.BannedUsers {
		if b.ID == visitor {
			n++
		}
	}
	return n
}

func getText(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestRotationStoreFailureIsRetried: the real chat server regenerates the
// secret, then pingauth's real sealed store refuses the write (an SQL
// trigger on its table): the project is degraded in /readyz and the metric
// and tokens fail on the chat server; once the store works the worker
// stores the held secret, the degraded state clears and new tokens verify
// on the chat server again.
func TestRotationStoreFailureIsRetried(t *testing.T) {
	p := chatServer(t)
	password := ownerPassword(t)
	pa := openPingauthOpts(t, map[string]string{"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "1"}, app.Options{ChatSyncBackoff: noBackoff})
	ctx := context.Background()
	id, sk := p.newProject(t, "rotation store contract")
	key := pa.register(t, id, sk)
	server := map[string]string{"Authorization": "Bearer " + key}
	if _, err := pa.a.Admin.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeTenant, "agency", "agency",
		admin.ChatConnectionInput{BaseURL: loopbackProxy(t, p.url), Email: p.ownerEmail, Password: password}); err != nil {
		t.Fatal(err)
	}
	if err := pa.a.DB.Exec(`CREATE TRIGGER fail_sealed BEFORE INSERT ON sealed_secrets BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`).Error; err != nil {
		t.Fatal(err)
	}
	proj, err := pa.a.Projects.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pa.a.Admin.RotateSecret(ctx, admin.CLI(), proj, admin.RotateInput{}); !errors.Is(err, apperr.ErrUnavailable) {
		t.Fatalf("rotation with the store failing: %v", err)
	}
	if code, tok := pa.mint(t, id, server, `{"user":{"id":"v-1"}}`); code != 200 || p.testAuth(t, tok) {
		t.Fatalf("while degraded the old secret signs (%d) and the chat server must refuse it", code)
	}
	if r := getText(t, pa.srv.URL+"/readyz"); !strings.Contains(r, `"`+id+`":"rotation_not_stored"`) || !strings.Contains(r, `"degraded":true`) {
		t.Fatalf("/readyz while degraded: %s", r)
	}
	if m := getText(t, pa.srv.URL+"/metrics"); !strings.Contains(m, "pingauth_chat_rotation_store_degraded 1") {
		t.Errorf("metric while degraded: missing")
	}
	syncOnce(t, pa) // still failing
	if r := getText(t, pa.srv.URL+"/readyz"); !strings.Contains(r, id) {
		t.Fatalf("/readyz after a failed retry: %s", r)
	}
	if err := pa.a.DB.Exec(`DROP TRIGGER fail_sealed`).Error; err != nil {
		t.Fatal(err)
	}
	syncOnce(t, pa)
	if r := getText(t, pa.srv.URL+"/readyz"); strings.Contains(r, id) || !strings.Contains(r, `"degraded":false`) {
		t.Fatalf("/readyz after the recovery: %s", r)
	}
	if m := getText(t, pa.srv.URL+"/metrics"); !strings.Contains(m, "pingauth_chat_rotation_store_degraded 0") {
		t.Errorf("metric after the recovery: still set")
	}
	if code, tok := pa.mint(t, id, server, `{"user":{"id":"v-1"}}`); code != 200 || !p.testAuth(t, tok) {
		t.Fatalf("after the recovery a new token does not verify on the chat server (%d)", code)
	}
}
