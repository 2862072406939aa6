package httpapi

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAuthResponseAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, r := range []AuthResponse{
		{Token: "a.b.c", JWT: "JWT a.b.c", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ExpiresIn: 900, User: AuthUser{ID: "42"}},
		{Token: "x", JWT: "JWT x", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 123000000, time.UTC), ExpiresIn: 30,
			User: AuthUser{ID: `shop|"q"<&>`, Email: "z@example.com", Firstname: "Zoë", Lastname: "Ng\n"}},
	} {
		want, _ := json.Marshal(r)
		if got := string(r.AppendJSON(nil)); got != string(want) {
			t.Errorf("AppendJSON\n got %s\nwant %s", got, want)
		}
	}
	// jwtOfToken: jwt is "JWT " + Token, written from the escaped token.
	for _, tok := range []string{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2ln", "", `a"b\\c<&>`, "\xff\u2028é\x01"} {
		r := AuthResponse{Token: tok, JWT: "JWT " + tok, ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ExpiresIn: 900, User: AuthUser{ID: "42"}}
		want, _ := json.Marshal(r)
		r.JWT, r.jwtOfToken = "", true
		if got := string(r.AppendJSON(make([]byte, 0, 8))); got != string(want) {
			t.Errorf("AppendJSON (jwtOfToken)\n got %s\nwant %s", got, want)
		}
	}
}
