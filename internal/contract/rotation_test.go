package contract_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/chatserver"
)

// loopbackProxy forwards 127.0.0.1:<port> to the chat server in its
// network namespace: pingauth's outbound client admits plain http only to
// loopback (PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK), never to 10.77.0.2.
func loopbackProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				up, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
				<-done
			})
		}
	})
	return "http://" + ln.Addr().String()
}

func (p *peer) testAuth(t *testing.T, token string) bool {
	t.Helper()
	code, out := p.call(t, "GET", "/testauth", "JWT "+token, nil)
	return code == 200 && out["success"] == true
}

// TestRotationRegeneratesOnTheChatServer: a rotation through pingauth has
// the chat server generate the secret, stores it, and proves it with a
// probe; tokens minted afterwards verify on the chat server, tokens signed
// with the old secret do not, and nothing secret reaches the audit log.
func TestRotationRegeneratesOnTheChatServer(t *testing.T) {
	p := chatServer(t)
	password := os.Getenv("PINGSTREAMS_TEST_OWNER_PASSWORD")
	if password == "" {
		t.Fatal("PINGSTREAMS_TEST_OWNER_PASSWORD is not set (eval \"$(../shared/chatserver/start.sh)\")")
	}
	pa := openPingauthEnv(t, map[string]string{"PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK": "1"})
	ctx := context.Background()
	id, first := p.newProject(t, "rotation contract")
	key := pa.register(t, id, first)
	base := loopbackProxy(t, p.url)
	server := map[string]string{"Authorization": "Bearer " + key}
	const user = `{"user":{"id":"rot-1","email":"rot@shop.test"}}`

	code, before := pa.mint(t, id, server, user)
	if code != 200 || !p.testAuth(t, before) {
		t.Fatalf("token before the rotation: %d, verifies %v", code, code == 200 && p.testAuth(t, before))
	}
	proj, err := pa.a.Projects.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	svc := pa.a.Admin
	cli := admin.CLI()

	// No connection yet: refused with the reason, nothing changes.
	if _, err := svc.RotateSecret(ctx, cli, proj, admin.RotateInput{}); !errors.Is(err, apperr.ErrConflict) || !strings.Contains(err.Error(), "accepts only secrets it generates") {
		t.Fatalf("rotation without a connection: %v", err)
	}
	// A wrong password: the test says so, a rotation is refused.
	if _, err := svc.SetChatConnection(ctx, cli, chatserver.ScopeTenant, "agency", "agency", admin.ChatConnectionInput{BaseURL: base, Email: p.ownerEmail, Password: "not-the-password"}); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.TestChatConnection(ctx, proj); err != nil || res.OK || !strings.Contains(res.Message, "refused the sign-in") {
		t.Fatalf("test with a wrong password: %+v, %v", res, err)
	}
	if _, err := svc.RotateSecret(ctx, cli, proj, admin.RotateInput{}); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("rotation with a wrong password: %v", err)
	}
	if !p.testAuth(t, before) {
		t.Fatal("a refused rotation changed the chat server's secret")
	}

	// The chat server unreachable: a clear 503, nothing changes here.
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + down.Addr().String()
	_ = down.Close()
	if _, err := svc.SetChatConnection(ctx, cli, chatserver.ScopeProject, id, "agency", admin.ChatConnectionInput{BaseURL: downURL, Email: p.ownerEmail, Password: password}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RotateSecret(ctx, cli, proj, admin.RotateInput{}); !errors.Is(err, apperr.ErrUnavailable) || !strings.Contains(err.Error(), "could not be reached") {
		t.Fatalf("rotation with the chat server down: %v, want unavailable", err)
	}
	if vs, err := pa.a.Secrets.Versions(ctx, id); err != nil || len(vs) != 1 {
		t.Fatalf("versions after a failed rotation: %v %v", vs, err)
	}
	if err := svc.DeleteChatConnection(ctx, cli, chatserver.ScopeProject, id, "agency"); err != nil {
		t.Fatal(err)
	}

	if _, err := svc.SetChatConnection(ctx, cli, chatserver.ScopeTenant, "agency", "agency", admin.ChatConnectionInput{BaseURL: base, Email: p.ownerEmail, Password: password}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.TestChatConnection(ctx, proj)
	if err != nil || !res.OK || res.Role != "owner" || !res.CanRotate || !res.CanBan || res.Scope != chatserver.ScopeTenant {
		t.Fatalf("test connection: %+v, %v", res, err)
	}

	rot, err := svc.RotateSecret(ctx, cli, proj, admin.RotateInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !rot.ChatServer || !rot.ProbeOK || rot.Value != nil || rot.Version.Version != 2 || rot.Version.Source != "chatserver" {
		t.Fatalf("rotation: %+v", rot)
	}
	t.Logf("rotation window (chat server switched → new version stored here): %d ms", rot.WindowMillis)
	if rot.WindowMillis > 5000 {
		t.Errorf("switch window %d ms", rot.WindowMillis)
	}
	if p.testAuth(t, before) {
		t.Error("a token signed with the old secret still verifies on the chat server")
	}
	code, after := pa.mint(t, id, server, user)
	if code != 200 || !p.testAuth(t, after) {
		t.Fatalf("token after the rotation: %d, verifies %v", code, code == 200 && p.testAuth(t, after))
	}
	p.assertVisitor(t, id, after, "rot-1")

	evs, err := pa.a.Audit.List(ctx, audit.Query{ProjectID: id, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var rotations []map[string]any
	for _, e := range evs {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), password) || strings.Contains(string(b), first) {
			t.Errorf("audit event %s carries a secret: %s", e.Action, b)
		}
		if e.Action == audit.SecretChatRotate {
			rotations = append(rotations, e.Details)
		}
	}
	if len(rotations) != 3 || rotations[0]["outcome"] != "ok" || rotations[0]["to_version"] != float64(2) || rotations[1]["outcome"] != "sign_in_failed" || rotations[2]["outcome"] != "sign_in_failed" {
		t.Errorf("rotation audit events (newest first): %v", rotations)
	}
}
