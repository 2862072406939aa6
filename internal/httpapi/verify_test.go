package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
	"github.com/pingstreams/pingauth/internal/token"
)

func TestVerifyEndpoint(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newHardEnv(t, db, nil)
		e.addUsers(t, projA, 1)
		ctx := context.Background()
		audA := "https://tiledesk.com/projects/" + projA
		issue := func() string {
			r := e.call(t, "POST", "/auth/"+projA, loginBody(userEmail(0), password), nil)
			tok, _ := r.body["token"].(string)
			if r.status != 200 || tok == "" {
				t.Fatalf("auth: %d %s", r.status, r.raw)
			}
			return tok
		}
		signed := func(key string, version int, ttl time.Duration, at time.Time) string {
			iss, err := token.Sign(audA, token.Key{Version: version, Value: []byte(key)}, token.Identity{ID: "u1"}, ttl, at)
			if err != nil {
				t.Fatal(err)
			}
			return iss.Raw
		}
		v1 := issue()
		none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"_id": "u1", "sub": "userexternal", "aud": audA, "exp": time.Now().Add(time.Hour).Unix()})
		noneRaw, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
		verify := func(t *testing.T, pid, ctype, body string) result {
			t.Helper()
			return e.call(t, "POST", "/auth/"+pid+"/verify", body, map[string]string{"Content-Type": ctype})
		}
		cases := []struct {
			name, pid, ctype, body string
			status                 int
			active                 bool
			reason                 string
		}{
			{"raw token", projA, "application/json", `{"token":"` + v1 + `"}`, 200, true, ""},
			{"JWT form", projA, "application/json", `{"token":"JWT ` + v1 + `"}`, 200, true, ""},
			{"form encoded", projA, "application/x-www-form-urlencoded", "token=JWT+" + v1, 200, true, ""},
			{"expired within leeway (30s)", projA, "application/json", `{"token":"` + signed(secretA, 1, time.Minute, time.Now().Add(-80*time.Second)) + `"}`, 200, true, ""},
			{"expired beyond leeway", projA, "application/json", `{"token":"` + signed(secretA, 1, time.Minute, time.Now().Add(-2*time.Minute)) + `"}`, 200, false, "token expired"},
			{"token of project B at project A", projA, "application/json", `{"token":"` + signed(secretB, 1, time.Minute, time.Now()) + `"}`, 200, false, "signature invalid"},
			{"project A token at project B", projB, "application/json", `{"token":"` + v1 + `"}`, 200, false, "signature invalid"},
			{"alg none", projA, "application/json", `{"token":"` + noneRaw + `"}`, 200, false, "signing algorithm not allowed"},
			{"garbage", projA, "application/json", `{"token":"JWT not-a-token"}`, 200, false, "malformed token"},
			{"missing token", projA, "application/json", `{}`, 400, false, ""},
			{"only the prefix", projA, "application/json", `{"token":"JWT "}`, 400, false, ""},
			{"unknown field", projA, "application/json", `{"token":"x","active":true}`, 400, false, ""},
			{"two form tokens", projA, "application/x-www-form-urlencoded", "token=a&token=b", 400, false, ""},
			{"huge token", projA, "application/json", `{"token":"` + strings.Repeat("a", 9000) + `"}`, 400, false, ""},
			{"unknown project", "nope", "application/json", `{"token":"` + v1 + `"}`, 404, false, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := verify(t, tc.pid, tc.ctype, tc.body)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
				}
				if tc.status != 200 {
					if r.code() == "" {
						t.Fatalf("error without JSON code: %s", r.raw)
					}
					return
				}
				if r.body["active"] != tc.active || (tc.reason != "" && r.body["error"] != tc.reason) || r.header.Get("Cache-Control") != "no-store" {
					t.Fatalf("got %s, want active=%v reason=%q", r.raw, tc.active, tc.reason)
				}
				if tc.active {
					c, _ := r.body["claims"].(map[string]any)
					if r.body["kid"] != "v1" || c["sub"] != "userexternal" || c["aud"] != audA {
						t.Fatalf("active response: %s", r.raw)
					}
				} else if r.body["claims"] != nil {
					t.Fatalf("inactive response carries claims: %s", r.raw)
				}
			})
		}

		// Rotation: the old version verifies during grace, not after revocation.
		grace := time.Hour
		if _, err := e.app.Secrets.Put(ctx, projA, []byte("rotated-secret-of-A-0123456789"), secret.WriteOptions{Grace: &grace}); err != nil {
			t.Fatal(err)
		}
		v2 := issue()
		if r := verify(t, projA, "application/json", `{"token":"`+v2+`"}`); r.body["active"] != true || r.body["kid"] != "v2" {
			t.Fatalf("new token: %s", r.raw)
		}
		if r := verify(t, projA, "application/json", `{"token":"`+v1+`"}`); r.body["active"] != true || r.body["kid"] != "v1" {
			t.Fatalf("old token in grace: %s", r.raw)
		}
		zero := time.Duration(0)
		if _, err := e.app.Secrets.Put(ctx, projA, []byte("rotated-again-secret-0123456789"), secret.WriteOptions{Grace: &zero}); err != nil {
			t.Fatal(err)
		}
		for _, old := range []string{v1, v2} { // v1 still in its grace hour, v2 revoked at once
			r := verify(t, projA, "application/json", `{"token":"`+old+`"}`)
			want := old == v1
			if r.body["active"] != want {
				t.Fatalf("after revoking v2: %s", r.raw)
			}
			if !want && r.body["error"] != "unknown or expired key version" {
				t.Fatalf("revoked reason: %s", r.raw)
			}
		}
		// Disabled project: nothing is active.
		p, _ := e.app.Projects.Get(ctx, projB)
		p.Status = project.StatusDisabled
		if err := e.app.Projects.Update(ctx, p); err != nil {
			t.Fatal(err)
		}
		if r := verify(t, projB, "application/json", `{"token":"`+signed(secretB, 1, time.Minute, time.Now())+`"}`); r.status != 200 || r.body["active"] != false || r.body["error"] != "project is disabled" {
			t.Fatalf("disabled project: %s", r.raw)
		}
	})
}

func TestVerifyIsRateLimited(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), map[string]string{"PINGAUTH_RATE_VERIFY_IP": "1/h:3", "PINGAUTH_RATE_AUTH_IP": "1/h:1"})
	var statuses []int
	for i := 0; i < 5; i++ {
		statuses = append(statuses, e.call(t, http.MethodPost, "/auth/"+projA+"/verify", `{"token":"x.y.z"}`, nil).status)
	}
	if got := fmt.Sprint(statuses); got != "[200 200 200 429 429]" {
		t.Fatalf("verify statuses = %s", got)
	}
	// The verify bucket is separate from /auth's.
	if r := e.call(t, http.MethodPost, "/auth/"+projA, loginBody("x@example.com", "whatever1"), nil); r.status != 401 {
		t.Fatalf("/auth after verify flood: %d", r.status)
	}
}
