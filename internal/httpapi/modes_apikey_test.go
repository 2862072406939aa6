package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// A request with an API key is answered on the key first: a wrong, unknown,
// revoked or other project's key gets the same 401 whether server mode is
// enabled or not (the response tells an unauthenticated caller nothing about
// the project's modes); only a valid key of the project learns that the mode
// is off (403). Once caches are warm, none of these answers reads SQL.
func TestServerModeKeyIsCheckedBeforeTheModeSetting(t *testing.T) {
	t.Parallel()
	const unknownKey = "pa_live_abcdefghijkl_" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		reads := storetest.CountReads(t, db)
		e := newModesEnv(t, db, nil) // every project starts with ["password"] only
		_, valid := e.newKey(t, mProjA)
		revokedID, revoked := e.newKey(t, mProjA)
		e.admin(t, "DELETE", mProjA+"/apikeys/"+revokedID, "", 200)
		_, keyB := e.newKey(t, mProjB)
		e.setModes(t, mProjB, "server")
		if reads.Load() == 0 {
			t.Fatal("the SQL read counter saw none of the setup's reads")
		}

		type errBody struct {
			Error map[string]any `json:"error"`
		}
		const user = `{"user":{"id":"42","email":"ann@example.com"}}`
		cases := []struct {
			name      string
			serverOn  bool
			key       string
			want      int
			wantCode  string
			wantMsg   string
			wantToken bool
		}{
			{name: "unknown key, mode off", key: unknownKey, want: 401, wantCode: "unauthorized", wantMsg: "invalid API key"},
			{name: "revoked key, mode off", key: revoked, want: 401, wantCode: "unauthorized", wantMsg: "invalid API key"},
			{name: "other project's valid key, mode off", key: keyB, want: 401, wantCode: "unauthorized", wantMsg: "invalid API key"},
			{name: "malformed key, mode off", key: "hello", want: 401, wantCode: "unauthorized", wantMsg: "invalid API key"},
			{name: "valid key, mode off", key: valid, want: 403, wantCode: "forbidden", wantMsg: "verification mode server is not enabled for this project"},
			{name: "unknown key, mode on", serverOn: true, key: unknownKey, want: 401, wantCode: "unauthorized", wantMsg: "invalid API key"},
			{name: "revoked key, mode on", serverOn: true, key: revoked, want: 401, wantCode: "unauthorized", wantMsg: "invalid API key"},
			{name: "valid key, mode on", serverOn: true, key: valid, want: 200, wantToken: true},
		}
		// bodies of the 401s without their request ids: all must be identical.
		unauthorized := map[string]string{}
		for _, pass := range []string{"cold", "warm"} {
			for _, tc := range cases {
				t.Run(pass+"/"+tc.name, func(t *testing.T) {
					if tc.serverOn {
						e.setModes(t, mProjA, "password", "server")
					} else {
						e.setModes(t, mProjA, "password")
					}
					if pass == "warm" { // the cold pass filled the caches
						serverAuth(t, e, mProjA, tc.key, user)
						reads.Store(0)
					}
					code, b := serverAuth(t, e, mProjA, tc.key, user)
					if code != tc.want {
						t.Fatalf("status %d, want %d: %s", code, tc.want, b)
					}
					if pass == "warm" {
						if n := reads.Load(); n != 0 {
							t.Errorf("%d SQL reads with warm caches, want 0", n)
						}
					}
					if strings.Contains(string(b), "pa_live_") || strings.Contains(string(b), tc.key) {
						t.Fatalf("response echoes the key: %s", b)
					}
					if tc.wantToken {
						if c := e.claims(t, mProjA, b); c["_id"] != "42" {
							t.Fatalf("token claims %v", c)
						}
						return
					}
					var eb errBody
					if err := json.Unmarshal(b, &eb); err != nil || eb.Error["code"] != tc.wantCode || eb.Error["message"] != tc.wantMsg {
						t.Fatalf("error %s, want code %q message %q", b, tc.wantCode, tc.wantMsg)
					}
					if code == 401 {
						delete(eb.Error, "request_id")
						norm, _ := json.Marshal(eb)
						unauthorized[tc.name] = string(norm)
					}
				})
			}
		}
		var first string
		for name, body := range unauthorized {
			if first == "" {
				first = body
			}
			if body != first {
				t.Errorf("401 bodies differ: %s (%s) vs %s", body, name, first)
			}
		}
	})
}
