package admin_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

// fakeChat is a chat server in memory: Generate fails for down, and the
// first four calls wait until four are in flight (proving they run in
// parallel); more than four at once is recorded.
type fakeChat struct {
	mu        sync.Mutex
	inFlight  int
	maxFlight int
	calls     int
	four      chan struct{}
	fourShut  bool
	down      string
}

func (f *fakeChat) Session(context.Context, string, chatserver.Credential) (string, error) {
	return "JWT session", nil
}
func (f *fakeChat) Role(context.Context, string, string, string) (string, error) { return "owner", nil }
func (f *fakeChat) TestAuth(context.Context, string, string) (bool, error)       { return true, nil }

// Bans, Ban and Unban complete admin.ChatServer; rotation never bans.
func (f *fakeChat) Bans(context.Context, string, string, string) ([]chatserver.Ban, error) {
	return nil, errors.New("fakeChat: rotation tests do not ban")
}
func (f *fakeChat) Ban(context.Context, string, string, string, string) (string, error) {
	return "", errors.New("fakeChat: rotation tests do not ban")
}
func (f *fakeChat) Unban(context.Context, string, string, string, string) error {
	return errors.New("fakeChat: rotation tests do not ban")
}

func (f *fakeChat) Generate(ctx context.Context, _, _, projectID string) ([]byte, error) {
	f.mu.Lock()
	f.calls++
	first4 := f.calls <= 4
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	if f.inFlight == 4 && !f.fourShut { // the first four are in flight at once
		close(f.four)
		f.fourShut = true
	}
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if first4 {
		select {
		case <-f.four:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if projectID == f.down {
		return nil, apperr.Unavailable("the chat server could not be reached", nil)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return []byte(hex.EncodeToString(b)), nil
}

// TestRotateTenant: every project of the tenant, four at a time; a
// project without a connection is skipped, one failure is reported with
// its safe reason and does not stop the others; progress sees each
// project once; other tenants are untouched.
func TestRotateTenant(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		chat := &fakeChat{four: make(chan struct{}), down: "p3"}
		conns := chatserver.NewRepo(a.DB, a.Backend)
		svc := admin.New(admin.Deps{Projects: a.Projects, Secrets: a.Secrets, Audit: a.Audit, Chat: chat, ChatConns: conns, Rotations: a.Rotations, AudienceBase: a.Config.AudienceBase})
		for _, tn := range []string{"acme", "globex"} {
			must[*project.Tenant](t)(a.Projects.EnsureTenant(ctx, tn, tn))
		}
		ids := []string{"p1", "p2", "p3", "p4", "p5", "p6"}
		for _, id := range append(slices.Clone(ids), "other") {
			tn := "acme"
			if id == "other" {
				tn = "globex"
			}
			ok(t, a.Projects.Create(ctx, &project.Project{ID: id, TenantID: tn, Name: id, TokenTTLSeconds: 600}))
			must[secret.Meta](t)(a.Secrets.Put(ctx, id, []byte("a-pasted-secret-of-32-characters!!"), secret.WriteOptions{Actor: "t"}))
		}
		cred := chatserver.Credential{Email: "o@acme.test", Password: "pw"}
		for _, id := range []string{"p1", "p2", "p3", "p4", "p5", "other"} { // p6: none
			ok(t, conns.Put(ctx, &chatserver.Connection{Scope: chatserver.ScopeProject, ScopeID: id, BaseURL: "https://chat.acme.test/api"}, cred, "t"))
		}
		var seen []string
		rep, err := svc.RotateTenant(ctx, admin.CLI(), "acme", admin.TenantRotateInput{}, func(r admin.ProjectRotation) { seen = append(seen, r.ProjectID) })
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK != 4 || rep.Failed != 1 || rep.Skipped != 1 || len(rep.Projects) != 6 {
			t.Fatalf("report %+v", rep)
		}
		for i, r := range rep.Projects {
			want := admin.TenantRotateOK
			switch r.ProjectID {
			case "p3":
				want = admin.TenantRotateFailed
			case "p6":
				want = admin.TenantRotateSkipped
			}
			if r.ProjectID != ids[i] || r.Outcome != want || (want == admin.TenantRotateFailed && r.Reason != "the chat server could not be reached") ||
				(want == admin.TenantRotateOK && (r.Version != 2 || !r.ProbeOK)) {
				t.Errorf("line %d: %+v", i, r)
			}
		}
		slices.Sort(seen)
		if !slices.Equal(seen, ids) {
			t.Errorf("progress saw %v", seen)
		}
		if chat.maxFlight != admin.TenantRotationConcurrency || chat.calls != 5 {
			t.Errorf("%d rotations at once at most (want %d), %d calls", chat.maxFlight, admin.TenantRotationConcurrency, chat.calls)
		}
		for id, want := range map[string]int{"p1": 2, "p3": 1, "p6": 1, "other": 1} {
			if vs := must[[]secret.Meta](t)(a.Secrets.Versions(ctx, id)); len(vs) != want {
				t.Errorf("%s: %d versions, want %d", id, len(vs), want)
			}
		}
		if _, err := svc.RotateTenant(ctx, admin.CLI(), "nope", admin.TenantRotateInput{}, nil); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("unknown tenant: %v", err)
		}
	})
}
