package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestConsoleShowsChatSync: a block made on the console without a
// chat-server connection applies (403) and is shown "not synced: no
// chat-server connection" on the block's row, counted on the project
// page and in the API (overrides' chat_sync and GET .../chat-sync); a
// rotation whose secret is not stored is a banner on the project page and
// the dashboard, for the tenant's operators only.
func TestConsoleShowsChatSync(t *testing.T) {
	t.Parallel()
	e, c := acmeShop(t, store.SQLite, "admin@acme.example", rbac.RoleTenantAdmin)
	res, body := c.form(overridesPath, url.Values{"external_id": {"troll-1"}, "blocked": {"1"}}, true)
	wantRedirect(t, "block", res, body, "shop1", "override")
	if _, err := e.a.Admin.SyncChat(t.Context()); err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(c.page("/console/projects/shop1/methods"))
	if !strings.Contains(page, `id="chat-sync-0"`) || !strings.Contains(page, "chat server: "+admin.NoConnectionMessage) {
		t.Errorf("methods page lacks the block's sync state")
	}
	if page := html.UnescapeString(c.page("/console/projects/shop1")); !strings.Contains(page, `id="chat-sync-pending">1 block(s) or unblock(s) not yet applied`) ||
		!strings.Contains(page, "1 not synced: no chat-server connection") {
		t.Errorf("project page lacks the pending count")
	}
	res, raw := c.do("GET", "/api/v1/projects/shop1/mapping/overrides", nil)
	var ovs struct {
		Overrides []struct {
			ExternalID string `json:"external_id"`
			ChatSync   *struct {
				State string `json:"state"`
			} `json:"chat_sync"`
		} `json:"overrides"`
	}
	if err := json.Unmarshal(raw, &ovs); err != nil || res.StatusCode != http.StatusOK || len(ovs.Overrides) != 1 || ovs.Overrides[0].ChatSync == nil ||
		ovs.Overrides[0].ChatSync.State != chatserver.StateNoConnection {
		t.Fatalf("overrides API: %d %s", res.StatusCode, raw)
	}
	res, raw = c.do("GET", "/api/v1/projects/shop1/chat-sync", nil)
	var st admin.ChatSyncState
	if err := json.Unmarshal(raw, &st); err != nil || res.StatusCode != http.StatusOK || st.Outstanding != 1 || len(st.Jobs) != 1 ||
		st.Jobs[0].VisitorID != "troll-1" || st.Jobs[0].LastError != admin.NoConnectionMessage || st.Rotation != nil {
		t.Fatalf("chat-sync API: %d %s", res.StatusCode, raw)
	}

	// A rotation mark (as another instance, or one that restarted, leaves it).
	now := time.Now()
	if err := chatserver.NewJobs(e.a.DB).MarkRotation(t.Context(), "shop1", "acme", "admin@acme.example", "secret store unavailable; try again later", 5, now, now); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/console/projects/shop1", "/console/"} {
		page := html.UnescapeString(c.page(path))
		if !strings.Contains(page, "the chat server switched to a new secret that pingauth could not store (secret store unavailable; try again later)") ||
			!strings.Contains(page, "rotate again") {
			t.Errorf("%s lacks the degraded banner", path)
		}
	}
	e.tenant("other")
	e.operator("op@other.example", rbac.RoleTenantAdmin, "other")
	if page := e.login("op@other.example").page("/console/"); strings.Contains(page, "shop1") {
		t.Error("another tenant's operator sees the degraded project")
	}
}
