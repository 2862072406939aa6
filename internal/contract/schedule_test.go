package contract_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/rotation"
	"github.com/pingstreams/pingauth/internal/secret"
)

// fakeClock is the scheduler's injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// apiToken signs in a platform admin and returns an operator API token.
func (pa *pingauth) apiToken(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	op, err := pa.a.Operators.Create(ctx, "ops@agency.test", "Ops", "a long operator password 1234")
	if err != nil {
		t.Fatal(err)
	}
	if err := pa.a.RBAC.Assign(ctx, op.ID, rbac.AllTenants, rbac.RolePlatformAdmin); err != nil {
		t.Fatal(err)
	}
	raw, _, err := pa.a.Operators.NewToken(ctx, op.ID, operator.TokenSpec{Name: "contract", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// api calls pingauth's admin API with an operator token.
func (pa *pingauth) api(t *testing.T, token, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, pa.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}

// closedPort is a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	_ = ln.Close()
	return u
}

// TestScheduledRotationOnTheChatServer: a 30-day schedule in the 02–04 UTC
// window, driven by a fake clock: before it is due nothing happens; with
// the clock in the window on the due day the scheduler has the real chat
// server regenerate the secret: tokens minted afterwards pass /testauth,
// tokens signed with the old secret fail, and the outcome is recorded.
func TestScheduledRotationOnTheChatServer(t *testing.T) {
	p := chatServer(t)
	password := ownerPassword(t)
	pa := openPingauthEnv(t, map[string]string{"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "1"})
	ctx := context.Background()
	id, first := p.newProject(t, "scheduled rotation contract")
	key := pa.register(t, id, first)
	base := loopbackProxy(t, p.url)
	server := map[string]string{"Authorization": "Bearer " + key}
	const user = `{"user":{"id":"sched-1","email":"sched@shop.test"}}`
	svc := pa.a.Admin
	if _, err := svc.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeTenant, "agency", "agency",
		admin.ChatConnectionInput{BaseURL: base, Email: p.ownerEmail, Password: password}); err != nil {
		t.Fatal(err)
	}
	proj, err := pa.a.Projects.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	start, end := 2, 4
	st, err := svc.SetRotationPolicy(ctx, admin.CLI(), proj, admin.RotationPolicyInput{EveryDays: 30, WindowStartHour: &start, WindowEndHour: &end})
	if err != nil {
		t.Fatal(err)
	}
	if st.LastRotation == nil || st.NextDue == nil || st.Overdue {
		t.Fatalf("status after setting the policy: %+v", st)
	}
	due := *st.NextDue
	if !st.Policy.InWindow(due) || due.Sub(*st.LastRotation) < 30*24*time.Hour {
		t.Fatalf("next due %v for last rotation %v", due, st.LastRotation)
	}
	code, before := pa.mint(t, id, server, user)
	if code != 200 || !p.testAuth(t, before) {
		t.Fatalf("token before: %d", code)
	}

	clk := &fakeClock{}
	sched := rotation.NewScheduler(rotation.Options{Store: pa.a.Rotations, Target: svc, Now: clk.Now, ID: "contract"})
	for _, now := range []time.Time{time.Now(), due.Add(-time.Minute), due.Add(-24 * time.Hour).Add(30 * time.Minute)} {
		clk.Set(now)
		if rep, err := sched.Tick(ctx); err != nil || len(rep.Rotated)+len(rep.Failed) != 0 {
			t.Fatalf("tick at %v (not due): %+v %v", now, rep, err)
		}
	}
	if !p.testAuth(t, before) {
		t.Fatal("the secret changed before the rotation was due")
	}

	clk.Set(due) // due, and inside the window
	rep, err := sched.Tick(ctx)
	if err != nil || !slices.Equal(rep.Rotated, []string{id}) {
		t.Fatalf("tick in the window: %+v %v", rep, err)
	}
	if p.testAuth(t, before) {
		t.Error("a token signed with the old secret still verifies on the chat server")
	}
	code, after := pa.mint(t, id, server, user)
	if code != 200 || !p.testAuth(t, after) {
		t.Fatalf("token after the scheduled rotation: %d, verifies %v", code, code == 200 && p.testAuth(t, after))
	}
	vs, err := pa.a.Secrets.Versions(ctx, id)
	if err != nil || len(vs) != 2 || vs[0].Source != secret.SourceChatServer || vs[0].CreatedBy != admin.SchedulerName {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	pol, err := pa.a.Rotations.Get(ctx, id)
	if err != nil || pol.LastOutcome != rotation.OutcomeOK || !pol.NextDueAt.After(clk.Now().Add(29*24*time.Hour)) {
		t.Fatalf("policy after the rotation: %+v %v", pol, err)
	}
	evs, err := pa.a.Audit.List(ctx, audit.Query{ProjectID: id, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(evs, func(e audit.Event) bool { return e.Action == audit.SecretChatRotate }); i < 0 || evs[i].Actor != admin.SchedulerName || evs[i].Details["outcome"] != "ok" {
		t.Errorf("no secret.chat_rotate by the scheduler: %+v", evs)
	}
	if rep, err := sched.Tick(ctx); err != nil || len(rep.Rotated) != 0 {
		t.Fatalf("second tick: %+v %v", rep, err)
	}
}

// TestTenantRotationOnTheChatServer: "staff left" through the API: three
// projects of the tenant are regenerated on the real chat server (old
// tokens fail, new ones pass), a project without a connection is skipped
// and one whose chat server is down fails with its reason, without
// stopping the others.
func TestTenantRotationOnTheChatServer(t *testing.T) {
	p := chatServer(t)
	password := ownerPassword(t)
	pa := openPingauthEnv(t, map[string]string{"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "1"})
	ctx := context.Background()
	base := loopbackProxy(t, p.url)
	svc := pa.a.Admin
	type proj struct{ id, key, before string }
	var ps []proj
	for i := range 3 {
		id, first := p.newProject(t, "tenant rotation contract "+string(rune('a'+i)))
		key := pa.register(t, id, first)
		if _, err := svc.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeProject, id, "agency",
			admin.ChatConnectionInput{BaseURL: base, Email: p.ownerEmail, Password: password}); err != nil {
			t.Fatal(err)
		}
		code, tok := pa.mint(t, id, map[string]string{"Authorization": "Bearer " + key}, `{"user":{"id":"staff-1"}}`)
		if code != 200 || !p.testAuth(t, tok) {
			t.Fatalf("token before (%s): %d", id, code)
		}
		ps = append(ps, proj{id, key, tok})
	}
	for _, id := range []string{"zz-no-connection", "zz-chat-down"} {
		if err := pa.a.Projects.Create(ctx, &project.Project{ID: id, TenantID: "agency", Name: id, TokenTTLSeconds: 600}); err != nil {
			t.Fatal(err)
		}
		if _, err := pa.a.Secrets.Put(ctx, id, []byte("a-pasted-secret-of-32-characters!!"), secret.WriteOptions{Actor: "contract-test"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeProject, "zz-chat-down", "agency",
		admin.ChatConnectionInput{BaseURL: closedPort(t), Email: p.ownerEmail, Password: password}); err != nil {
		t.Fatal(err)
	}

	tok := pa.apiToken(t)
	code, raw := pa.api(t, tok, "POST", "/api/v1/tenants/agency/secrets/rotate", `{"grace_seconds": 60}`)
	var rep admin.TenantRotation
	if err := json.Unmarshal(raw, &rep); code != 200 || err != nil {
		t.Fatalf("tenant rotation: %d %s", code, raw)
	}
	if rep.OK != 3 || rep.Failed != 1 || rep.Skipped != 1 || len(rep.Projects) != 5 {
		t.Fatalf("report: %s", raw)
	}
	byID := map[string]admin.ProjectRotation{}
	for _, r := range rep.Projects {
		byID[r.ProjectID] = r
	}
	if r := byID["zz-no-connection"]; r.Outcome != admin.TenantRotateSkipped || !strings.Contains(r.Reason, "no chat-server connection") {
		t.Errorf("skipped project: %+v", r)
	}
	if r := byID["zz-chat-down"]; r.Outcome != admin.TenantRotateFailed || r.Reason != "the chat server could not be reached" {
		t.Errorf("failed project: %+v", r)
	}
	if strings.Contains(string(raw), password) {
		t.Error("the report carries the password")
	}
	for _, pr := range ps {
		if r := byID[pr.id]; r.Outcome != admin.TenantRotateOK || r.Version != 2 || !r.ProbeOK {
			t.Errorf("%s: %+v", pr.id, r)
		}
		if p.testAuth(t, pr.before) {
			t.Errorf("%s: a token signed with the old secret still verifies on the chat server", pr.id)
		}
		code, after := pa.mint(t, pr.id, map[string]string{"Authorization": "Bearer " + pr.key}, `{"user":{"id":"staff-1"}}`)
		if code != 200 || !p.testAuth(t, after) {
			t.Errorf("%s: token after the tenant rotation: %d", pr.id, code)
		}
	}
	for _, id := range []string{"zz-no-connection", "zz-chat-down"} {
		if vs, err := pa.a.Secrets.Versions(ctx, id); err != nil || len(vs) != 1 {
			t.Errorf("%s: versions %+v %v (want unchanged)", id, vs, err)
		}
	}
}

// TestRotationWithTheChatServerDownIs503: the connection points at a
// closed loopback port: POST …/secret/rotate answers 503 with a JSON
// error saying so, and the stored secret is unchanged (no new version, the
// current one still current). Needs no chat server.
func TestRotationWithTheChatServerDownIs503(t *testing.T) {
	pa := openPingauthEnv(t, map[string]string{"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "1"})
	ctx := context.Background()
	if _, err := pa.a.Projects.EnsureTenant(ctx, "agency", "Agency"); err != nil {
		t.Fatal(err)
	}
	const id = "down-project"
	if err := pa.a.Projects.Create(ctx, &project.Project{ID: id, TenantID: "agency", Name: "down", TokenTTLSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	if _, err := pa.a.Secrets.Put(ctx, id, []byte("a-pasted-secret-of-32-characters!!"), secret.WriteOptions{Actor: "contract-test"}); err != nil {
		t.Fatal(err)
	}
	before, err := pa.a.Secrets.Versions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pa.a.Admin.SetChatConnection(ctx, admin.CLI(), chatserver.ScopeProject, id, "agency",
		admin.ChatConnectionInput{BaseURL: closedPort(t), Email: "owner@shop.test", Password: "a password"}); err != nil {
		t.Fatal(err)
	}
	tok := pa.apiToken(t)
	code, raw := pa.api(t, tok, "POST", "/api/v1/projects/"+id+"/secret/rotate", "")
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || code != http.StatusServiceUnavailable || body.Error.Message != "the chat server could not be reached" {
		t.Fatalf("rotation with the chat server down: %d %s", code, raw)
	}
	after, err := pa.a.Secrets.Versions(ctx, id)
	if err != nil || len(after) != 1 || after[0].Version != before[0].Version || after[0].SupersededAt != nil {
		t.Fatalf("versions after the failed rotation: %+v %v (before %+v)", after, err, before)
	}
	// The tenant-wide rotation reports the same reason and changes nothing.
	code, raw = pa.api(t, tok, "POST", "/api/v1/tenants/agency/secrets/rotate", "")
	if code != 200 || !strings.Contains(string(raw), `"outcome":"failed","reason":"the chat server could not be reached"`) {
		t.Fatalf("tenant rotation with the chat server down: %d %s", code, raw)
	}
	if vs, _ := pa.a.Secrets.Versions(ctx, id); len(vs) != 1 {
		t.Fatalf("versions after the failed tenant rotation: %+v", vs)
	}
}
