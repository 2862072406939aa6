package secrettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/token"
)

// RandomID returns a fresh project id.
func RandomID(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Value returns a distinct printable test secret of n bytes (n >= 16).
func Value(n int) []byte {
	var b [12]byte
	_, _ = rand.Read(b[:])
	head := "s3cr3t-" + hex.EncodeToString(b[:]) + "-"
	out := []byte(head)
	pad := "!#$%&()*+,-./:;<=>?@[]^_{|}~ AZaz09äé€"
	for len(out) < n {
		out = append(out, pad...)
	}
	out = out[:n]
	// Cutting may split a multi-byte rune; end on ASCII instead.
	for !utf8.Valid(out) {
		out = out[:len(out)-1]
	}
	for len(out) < n {
		out = append(out, 'x')
	}
	return out
}

// RunBackendContract checks the behaviour every secret.Backend must have.
// newBackend returns a backend isolated from every other call's (a fresh
// database, or a fresh Vault path prefix).
func RunBackendContract(t *testing.T, newBackend func(t *testing.T) secret.Backend) {
	t.Helper()
	ctx := context.Background()

	t.Run("name and ping", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		if b.Name() == "" {
			t.Error("Name() is empty")
		}
		if err := b.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("versions start at 1 and increase by one; every version reads back exactly", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		pid := RandomID("p")
		values := [][]byte{Value(16), Value(43), Value(secret.MaxValueLen)}
		for i, v := range values {
			got, err := b.Write(ctx, pid, v)
			if err != nil {
				t.Fatalf("write %d: %v", i+1, err)
			}
			if got != i+1 {
				t.Fatalf("write %d returned version %d", i+1, got)
			}
		}
		for i, want := range values {
			got, err := b.Read(ctx, pid, i+1)
			if err != nil {
				t.Fatalf("read v%d: %v", i+1, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("read v%d = %q, want %q", i+1, got, want)
			}
		}
	})

	t.Run("missing project or version is not found", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		pid := RandomID("p")
		if _, err := b.Write(ctx, pid, Value(20)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			project string
			version int
		}{
			{"unknown project", RandomID("nope"), 1},
			{"version zero", pid, 0},
			{"future version", pid, 2},
			{"far version", pid, 9999},
		} {
			_, err := b.Read(ctx, tc.project, tc.version)
			if !errors.Is(err, apperr.ErrNotFound) {
				t.Errorf("%s: Read error = %v, want ErrNotFound", tc.name, err)
			}
		}
	})

	t.Run("projects are isolated", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		p1, p2 := RandomID("a"), RandomID("b")
		v1, v2 := Value(30), Value(30)
		if _, err := b.Write(ctx, p1, v1); err != nil {
			t.Fatal(err)
		}
		n, err := b.Write(ctx, p2, v2)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("first write of a second project got version %d, want 1", n)
		}
		if got, _ := b.Read(ctx, p1, 1); !bytes.Equal(got, v1) {
			t.Errorf("project 1 reads %q", got)
		}
		if got, _ := b.Read(ctx, p2, 1); !bytes.Equal(got, v2) {
			t.Errorf("project 2 reads %q", got)
		}
		if err := b.Delete(ctx, p1); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Read(ctx, p2, 1); err != nil || !bytes.Equal(got, v2) {
			t.Errorf("deleting project 1 affected project 2: %q, %v", got, err)
		}
	})

	t.Run("a project's purpose-suffixed secret (p:idp) is separate from its shared secret", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		pid := RandomID("p")
		main, idp := Value(30), Value(31)
		if _, err := b.Write(ctx, pid, main); err != nil {
			t.Fatal(err)
		}
		n, err := b.Write(ctx, pid+":idp", idp)
		if err != nil {
			t.Fatalf("write %s:idp: %v", pid, err)
		}
		if n != 1 {
			t.Errorf("first write of %s:idp got version %d, want 1", pid, n)
		}
		if err := b.Delete(ctx, pid); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Read(ctx, pid+":idp", 1); err != nil || !bytes.Equal(got, idp) {
			t.Errorf("%s:idp after deleting %s: %q, %v", pid, pid, got, err)
		}
		if err := b.Delete(ctx, pid+":idp"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Read(ctx, pid+":idp", 1); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("%s:idp after its delete: %v", pid, err)
		}
	})

	t.Run("delete removes every version and is idempotent", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		pid := RandomID("p")
		for range 3 {
			if _, err := b.Write(ctx, pid, Value(24)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Delete(ctx, pid); err != nil {
			t.Fatalf("delete: %v", err)
		}
		for v := 1; v <= 3; v++ {
			if _, err := b.Read(ctx, pid, v); !errors.Is(err, apperr.ErrNotFound) {
				t.Errorf("after delete, read v%d error = %v, want ErrNotFound", v, err)
			}
		}
		if err := b.Delete(ctx, pid); err != nil {
			t.Errorf("second delete: %v", err)
		}
		if err := b.Delete(ctx, RandomID("never")); err != nil {
			t.Errorf("delete of unknown project: %v", err)
		}
		val := Value(24)
		n, err := b.Write(ctx, pid, val)
		if err != nil {
			t.Fatalf("write after delete: %v", err)
		}
		if got, err := b.Read(ctx, pid, n); err != nil || !bytes.Equal(got, val) {
			t.Errorf("read after re-create: %q, %v", got, err)
		}
	})

	t.Run("concurrent writes get distinct versions", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		pid := RandomID("p")
		const n = 6
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			versions = map[int][]byte{}
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				val := Value(32)
				v, err := b.Write(ctx, pid, val)
				if err != nil {
					if !errors.Is(err, apperr.ErrConflict) {
						t.Errorf("concurrent write: %v (only ErrConflict is acceptable)", err)
					}
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if _, dup := versions[v]; dup {
					t.Errorf("version %d returned twice", v)
				}
				versions[v] = val
			}()
		}
		wg.Wait()
		if len(versions) == 0 {
			t.Fatal("no concurrent write succeeded")
		}
		for v, want := range versions {
			if got, err := b.Read(ctx, pid, v); err != nil || !bytes.Equal(got, want) {
				t.Errorf("v%d reads %q, %v; want its writer's value", v, got, err)
			}
		}
	})
}

// Env is what the Manager contract runs on: a migrated database and a
// backend, both fresh for the calling test.
type Env struct {
	DB      *store.DB
	Backend secret.Backend
}

// Harness is a Manager on an Env with a controllable clock and one project.
type Harness struct {
	Env
	Manager   *secret.Manager
	Audit     *audit.Log
	ProjectID string
	clockMu   sync.Mutex
	now       time.Time
}

// Now returns the harness clock.
func (h *Harness) Now() time.Time {
	h.clockMu.Lock()
	defer h.clockMu.Unlock()
	return h.now
}

// Advance moves the harness clock.
func (h *Harness) Advance(d time.Duration) {
	h.clockMu.Lock()
	h.now = h.now.Add(d)
	h.clockMu.Unlock()
}

// NewHarness builds a Manager over env with the given grace window, a clock
// starting at a fixed instant and a fresh tenant+project.
func NewHarness(t testing.TB, env Env, grace time.Duration) *Harness {
	t.Helper()
	h := &Harness{Env: env, Audit: audit.New(env.DB), now: time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)}
	h.Manager = secret.NewManager(env.DB, env.Backend, h.Audit, grace, secret.WithClock(h.Now))
	h.ProjectID = h.AddProject(t)
	return h
}

// AddProject creates a project (and its tenant) and returns its id.
func (h *Harness) AddProject(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	repo := project.NewRepo(h.DB)
	if _, err := repo.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	p := &project.Project{ID: RandomID("proj"), TenantID: "acme", Name: "Shop", TokenTTLSeconds: 900}
	if err := repo.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

const audience = "https://tiledesk.com/projects/x"

func keysOf(vs []secret.Version) []token.Key {
	out := make([]token.Key, 0, len(vs))
	for _, v := range vs {
		out = append(out, token.Key{Version: v.Version, Value: v.Value})
	}
	return out
}

// RunManagerContract checks secret.Manager (metadata, rotation, grace,
// audit) over the backend that newEnv returns.
func RunManagerContract(t *testing.T, newEnv func(t *testing.T) Env) {
	t.Helper()
	ctx := context.Background()
	const grace = 24 * time.Hour

	t.Run("put stores a pasted secret as version 1", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		val := Value(40)
		meta, err := h.Manager.Put(ctx, h.ProjectID, val, secret.WriteOptions{Actor: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		want := secret.Meta{ProjectID: h.ProjectID, Version: 1, Backend: h.Backend.Name(), Source: secret.SourcePasted, CreatedBy: "alice"}
		if meta.ProjectID != want.ProjectID || meta.Version != want.Version || meta.Backend != want.Backend || meta.Source != want.Source || meta.CreatedBy != want.CreatedBy {
			t.Errorf("meta = %+v, want %+v", meta, want)
		}
		kr, err := h.Manager.Get(ctx, h.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		if kr.Current.Version != 1 || !bytes.Equal(kr.Current.Value, val) || len(kr.Previous) != 0 {
			t.Errorf("keyring = v%d %q prev %d", kr.Current.Version, kr.Current.Value, len(kr.Previous))
		}
		if got, err := h.Backend.Read(ctx, h.ProjectID, 1); err != nil || !bytes.Equal(got, val) {
			t.Errorf("backend holds %q, %v", got, err)
		}
	})

	t.Run("put rejects bad values and unknown projects without writing", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		for _, tc := range []struct {
			name    string
			project string
			value   []byte
			kind    error
		}{
			{"too short", h.ProjectID, []byte("short"), apperr.ErrInvalid},
			{"too long", h.ProjectID, bytes.Repeat([]byte("a"), secret.MaxValueLen+1), apperr.ErrInvalid},
			{"not utf-8", h.ProjectID, append(Value(20), 0xff, 0xfe), apperr.ErrInvalid},
			{"unknown project", RandomID("ghost"), Value(20), apperr.ErrNotFound},
		} {
			if _, err := h.Manager.Put(ctx, tc.project, tc.value, secret.WriteOptions{}); !errors.Is(err, tc.kind) {
				t.Errorf("%s: error = %v, want %v", tc.name, err, tc.kind)
			}
		}
		if vs, err := h.Manager.Versions(ctx, h.ProjectID); err != nil || len(vs) != 0 {
			t.Errorf("versions after rejected puts = %v, %v", vs, err)
		}
		if _, err := h.Backend.Read(ctx, h.ProjectID, 1); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("backend was written: %v", err)
		}
		if _, err := h.Manager.Get(ctx, h.ProjectID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("Get without secret = %v, want ErrNotFound", err)
		}
		if _, err := h.Manager.Put(ctx, h.ProjectID, Value(20), secret.WriteOptions{Grace: new(-time.Second)}); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("negative grace = %v, want ErrInvalid", err)
		}
	})

	t.Run("rotate generates distinct 256-bit secrets", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		seen := map[string]bool{}
		for i := 1; i <= 3; i++ {
			meta, val, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{Actor: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			if meta.Version != i || meta.Source != secret.SourceGenerated {
				t.Errorf("rotation %d: meta %+v", i, meta)
			}
			raw, err := base64.RawURLEncoding.DecodeString(string(val))
			if err != nil || len(raw) < 32 {
				t.Errorf("generated secret %q is not base64url of >= 32 random bytes (%d, %v)", val, len(raw), err)
			}
			if seen[string(val)] {
				t.Errorf("generated secret repeated")
			}
			seen[string(val)] = true
			kr, err := h.Manager.Get(ctx, h.ProjectID)
			if err != nil {
				t.Fatal(err)
			}
			if kr.Current.Version != i || !bytes.Equal(kr.Current.Value, val) {
				t.Errorf("after rotation %d current is v%d", i, kr.Current.Version)
			}
		}
	})

	t.Run("grace window: old tokens verify inside it and fail after; new tokens use only the new secret", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		oldVal := Value(40)
		if _, err := h.Manager.Put(ctx, h.ProjectID, oldVal, secret.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		kr, err := h.Manager.Get(ctx, h.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		id := token.Identity{ID: "u-1"}
		oldTok, err := token.Sign(audience, token.Key{Version: kr.Current.Version, Value: kr.Current.Value}, id, 72*time.Hour, h.Now())
		if err != nil {
			t.Fatal(err)
		}
		h.Advance(time.Hour)
		rotatedAt := h.Now()
		meta, newVal, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		verify := func(raw string, at time.Time, keys []token.Key) error {
			_, err := token.Verify(raw, token.VerifyOptions{Audience: audience, Keys: keys, Now: func() time.Time { return at }})
			return err
		}

		// Inside the window: both versions verify, only the new one signs.
		h.Advance(grace - time.Minute)
		kr, err = h.Manager.Get(ctx, h.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		if kr.Current.Version != meta.Version || !bytes.Equal(kr.Current.Value, newVal) {
			t.Fatalf("current is v%d, want the rotated v%d", kr.Current.Version, meta.Version)
		}
		if len(kr.Previous) != 1 || kr.Previous[0].Version != 1 || kr.Previous[0].ValidUntil == nil ||
			!kr.Previous[0].ValidUntil.Equal(rotatedAt.Add(grace)) {
			t.Fatalf("previous = %+v, want v1 valid until %s", kr.Previous, rotatedAt.Add(grace))
		}
		if err := verify(oldTok.Raw, h.Now(), keysOf(kr.Verifying(h.Now()))); err != nil {
			t.Errorf("old token inside the grace window: %v", err)
		}
		newTok, err := token.Sign(audience, token.Key{Version: kr.Current.Version, Value: kr.Current.Value}, id, 72*time.Hour, h.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := verify(newTok.Raw, h.Now(), []token.Key{{Version: meta.Version, Value: newVal}}); err != nil {
			t.Errorf("new token with the new secret: %v", err)
		}
		if err := verify(newTok.Raw, h.Now(), []token.Key{{Version: meta.Version, Value: oldVal}}); err == nil {
			t.Error("new token verified with the old secret")
		}

		// After the window: the old version is gone from the keyring.
		h.Advance(2 * time.Minute)
		kr, err = h.Manager.Get(ctx, h.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		if len(kr.Previous) != 0 {
			t.Errorf("previous after the window = %+v", kr.Previous)
		}
		if err := verify(oldTok.Raw, h.Now(), keysOf(kr.Verifying(h.Now()))); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("old token after the grace window: err = %v, want ErrInvalid", err)
		}
		if err := verify(newTok.Raw, h.Now(), keysOf(kr.Verifying(h.Now()))); err != nil {
			t.Errorf("new token after the window: %v", err)
		}
	})

	t.Run("grace 0 revokes the replaced secret at once", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		if _, _, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{Grace: new(time.Duration(0))}); err != nil {
			t.Fatal(err)
		}
		kr, err := h.Manager.Get(ctx, h.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		if kr.Current.Version != 2 || len(kr.Verifying(h.Now())) != 1 {
			t.Errorf("current v%d, %d verifying versions; want only v2", kr.Current.Version, len(kr.Verifying(h.Now())))
		}
	})

	t.Run("metadata and audit record versions, never the value", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		pasted := Value(50)
		if _, err := h.Manager.Put(ctx, h.ProjectID, pasted, secret.WriteOptions{Actor: "alice"}); err != nil {
			t.Fatal(err)
		}
		h.Advance(time.Minute)
		_, generated, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{Actor: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		vs, err := h.Manager.Versions(ctx, h.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 {
			t.Fatalf("versions = %+v, want v2, v1", vs)
		}
		if vs[0].SupersededAt != nil || vs[0].CreatedBy != "bob" || vs[0].Source != secret.SourceGenerated {
			t.Errorf("v2 meta = %+v", vs[0])
		}
		if vs[1].SupersededAt == nil || vs[1].GraceUntil == nil || !vs[1].GraceUntil.Equal(h.Now().Add(grace)) || vs[1].CreatedBy != "alice" {
			t.Errorf("v1 meta = %+v", vs[1])
		}
		evs, err := h.Audit.List(ctx, audit.Query{ProjectID: h.ProjectID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		var rotate *audit.Event
		for i, e := range evs {
			actions = append(actions, e.Action)
			if e.Action == "secret.rotate" {
				rotate = &evs[i]
			}
		}
		if !slices.Contains(actions, "secret.create") || rotate == nil {
			t.Fatalf("audit actions = %v, want secret.create and secret.rotate", actions)
		}
		if fmt.Sprint(rotate.Details["from_version"]) != "1" || fmt.Sprint(rotate.Details["to_version"]) != "2" || rotate.Actor != "bob" || rotate.TenantID != "acme" {
			t.Errorf("rotate event = %+v", rotate)
		}
		// No table other than the sealed backend's ciphertext may hold a value.
		for _, table := range []string{"secret_versions", "audit_events"} {
			var rows []map[string]any
			if err := h.DB.WithContext(ctx).Table(table).Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			dump, _ := json.Marshal(rows)
			for _, v := range [][]byte{pasted, generated} {
				if bytes.Contains(dump, v) || strings.Contains(string(dump), base64.StdEncoding.EncodeToString(v)) {
					t.Errorf("table %s contains a secret value", table)
				}
			}
		}
		if b, _ := json.Marshal(vs); bytes.Contains(b, pasted) || bytes.Contains(b, generated) {
			t.Error("Meta JSON contains a secret value")
		}
	})

	t.Run("delete removes values, metadata and keyring", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		for range 2 {
			if _, _, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.Manager.Delete(ctx, h.ProjectID, "carol"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Manager.Get(ctx, h.ProjectID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("Get after delete = %v, want ErrNotFound", err)
		}
		if vs, _ := h.Manager.Versions(ctx, h.ProjectID); len(vs) != 0 {
			t.Errorf("versions after delete = %v", vs)
		}
		for v := 1; v <= 2; v++ {
			if _, err := h.Backend.Read(ctx, h.ProjectID, v); !errors.Is(err, apperr.ErrNotFound) {
				t.Errorf("backend v%d after delete: %v", v, err)
			}
		}
		evs, _ := h.Audit.List(ctx, audit.Query{ProjectID: h.ProjectID, Action: "secret.delete"})
		if len(evs) != 1 || evs[0].Actor != "carol" {
			t.Errorf("delete audit = %+v", evs)
		}
	})

	t.Run("concurrent rotations leave exactly one current version, the newest", func(t *testing.T) {
		t.Parallel()
		h := NewHarness(t, newEnv(t), grace)
		if _, _, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		const n = 6
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := h.Manager.Rotate(ctx, h.ProjectID, secret.WriteOptions{}); err != nil && !errors.Is(err, apperr.ErrConflict) {
					t.Errorf("concurrent rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		vs, err := h.Manager.Versions(ctx, h.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		current := 0
		for _, v := range vs {
			if v.SupersededAt == nil {
				current++
				if v.Version != vs[0].Version {
					t.Errorf("current version is v%d but v%d is newer", v.Version, vs[0].Version)
				}
			}
		}
		if current != 1 {
			t.Errorf("%d current versions, want 1: %+v", current, vs)
		}
		kr, err := h.Manager.Get(ctx, h.ProjectID)
		if err != nil {
			t.Fatalf("Get after concurrent rotations: %v", err)
		}
		if kr.Current.Version != vs[0].Version {
			t.Errorf("keyring current v%d, newest v%d", kr.Current.Version, vs[0].Version)
		}
	})
}
