package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestServerModeAudienceFromTheHotEntry: the server-mode path takes the
// project's `aud` from the hot cache entry when the bridge was built with the
// server's audience base, and the entry follows a change of the project's
// audience_base as soon as the project is invalidated. A bridge built for
// another base (or a project whose audience_base gives no audience) leaves
// the server to build it, as before.
func TestServerModeAudienceFromTheHotEntry(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newModesEnvWith(t, db, nil, func(o *bridge.StackOptions) { o.AudienceBase = "https://tiledesk.com" })
		e.setModes(t, mProjA, "server")
		_, key := e.newKey(t, mProjA)

		// aud is the minted token's audience (verified with the project's
		// secret; the audience itself is what is checked).
		aud := func() any {
			t.Helper()
			code, b := serverAuth(t, e, mProjA, key, `{"user":{"id":"42"}}`)
			if code != 200 {
				t.Fatalf("status %d: %s", code, b)
			}
			var out httpapi.AuthResponse
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			c := jwt.MapClaims{}
			if _, err := jwt.ParseWithClaims(out.Token, c, func(*jwt.Token) (any, error) { return []byte(e.secrets[mProjA]), nil },
				jwt.WithValidMethods([]string{"HS256"})); err != nil {
				t.Fatal(err)
			}
			return c["aud"]
		}
		if got, want := aud(), "https://tiledesk.com/projects/"+mProjA; got != want {
			t.Fatalf("aud = %v, want %v", got, want)
		}
		p, hot, err := e.stack.Bridge.HotProject(ctx, mProjA, "https://tiledesk.com")
		if err != nil || hot != "https://tiledesk.com/projects/"+mProjA || p.ID != mProjA {
			t.Fatalf("HotProject = %v %q %v", p, hot, err)
		}
		if _, other, err := e.stack.Bridge.HotProject(ctx, mProjA, "https://elsewhere.example"); err != nil || other != "" {
			t.Fatalf("HotProject for another base = %q %v, want \"\" (the caller builds it)", other, err)
		}

		repo := project.NewRepo(db)
		row, err := repo.Get(ctx, mProjA)
		if err != nil {
			t.Fatal(err)
		}
		row.AudienceBase = "https://chat.example.com"
		if err := repo.Update(ctx, row); err != nil {
			t.Fatal(err)
		}
		e.stack.Bridge.InvalidateProject(mProjA)
		if got, want := aud(), "https://chat.example.com/projects/"+mProjA; got != want {
			t.Fatalf("after the audience_base change: aud = %v, want %v", got, want)
		}
	})
}
