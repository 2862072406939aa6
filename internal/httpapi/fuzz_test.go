package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

var authSeeds = []struct{ ctype, body string }{
	{"application/json", `{"email":"user0@example.com","password":"correct horse battery"}`},
	{"application/json", `{"username":"bob","password":"x"}`},
	{"application/json; charset=utf-8", `{"email":"a@b.c","password":"x"} {}`},
	{"application/json", `{"email":"a\u0000@b.c","password":"x"}`},
	{"application/json", `[1,2,3]`},
	{"application/json", `{"EMAIL":"a@b.c","Password":"x"}`},
	{"application/json", `{"email":"a@b.c","password":"x","email":"c@d.e"}`},
	{"", `{"email":"a@b.c","password":"x"}`},
	{"application/x-www-form-urlencoded", "email=a%40b.c&password=x"},
	{"application/x-www-form-urlencoded", "email=a&email=b&password=x"},
	{"application/x-www-form-urlencoded", "email=%ZZ&password=x"},
	{"application/x-www-form-urlencoded", "email=%FF&password=%00"},
	{"multipart/form-data; boundary=x", "--x\r\n"},
	{"text/plain;;;", "x"},
	{"application/json", strings.Repeat("{", 200)},
	{"application/json", `{"email":"` + strings.Repeat("é", 300) + `","password":"x"}`},
}

// FuzzDecodeAuthRequest: any body either decodes to a well-formed request or
// fails with a client error (4xx kind); it never panics.
func FuzzDecodeAuthRequest(f *testing.F) {
	for _, s := range authSeeds {
		f.Add(s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req, err := httpapi.DecodeAuthRequest(ctype, bytes.NewReader(body), 4096)
		if err != nil {
			var ae *apperr.Error
			if st, _ := httpkit.Status(err); st >= 500 || !errors.As(err, &ae) || ae.Message == "" {
				t.Fatalf("error %v maps to %d", err, st)
			}
			return
		}
		if req.Password == "" || (req.Email == "" && req.Username == "") {
			t.Fatalf("accepted incomplete request %+v", req)
		}
		if len(req.Email) > 254 || len(req.Username) > 128 || len(req.Password) > enduser.MaxPasswordLen {
			t.Fatalf("accepted oversize field %+v", req)
		}
		for _, s := range []string{req.Email, req.Username, req.Password} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("accepted invalid characters %q", s)
			}
		}
	})
}

// FuzzDecodeVerifyRequest: same contract for the introspection body.
func FuzzDecodeVerifyRequest(f *testing.F) {
	for _, s := range []string{`{"token":"a.b.c"}`, `{"token":"JWT a.b.c"}`, `{"token":"JWT"}`, `{"token":1}`, `token=a.b.c`, `{}`, `{"token":"x"}{}`} {
		f.Add("application/json", []byte(s))
		f.Add("application/x-www-form-urlencoded", []byte(s))
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		raw, err := httpapi.DecodeVerifyRequest(ctype, bytes.NewReader(body), 16<<10)
		if err != nil {
			if st, _ := httpkit.Status(err); st >= 500 {
				t.Fatalf("error %v maps to %d", err, st)
			}
			return
		}
		if raw == "" || len(raw) > 8<<10 || raw != strings.TrimSpace(raw) {
			t.Fatalf("accepted token %q", raw)
		}
	})
}

// fuzzServer is one real server (SQLite) shared by all FuzzAuthHandler inputs.
type fuzzServer struct {
	once sync.Once
	h    http.Handler
}

func (fs *fuzzServer) get(f *testing.F) http.Handler {
	fs.once.Do(func() {
		db := storetest.Open(f, store.SQLite)
		e := newHardEnv(f, db, map[string]string{"PINGAUTH_RATE_AUTH_IP": "off", "PINGAUTH_RATE_AUTH_LOGIN": "off", "PINGAUTH_RATE_VERIFY_IP": "off",
			"PINGAUTH_LOCKOUT_THRESHOLD": "0", "PINGAUTH_MAX_BODY_BYTES": "4096"})
		e.addUsers(f, projA, 1)
		fs.h = e.srv.Config.Handler
	})
	return fs.h
}

// FuzzAuthHandler drives the real router end to end (httptest, SQLite) with
// arbitrary project ids, content types, origins and bodies on /auth and
// /auth/<id>/verify: every answer is < 500 and a JSON body (or an empty 204).
func FuzzAuthHandler(f *testing.F) {
	var fs fuzzServer
	h := fs.get(f)
	for _, s := range authSeeds {
		f.Add(projA, "", s.ctype, []byte(s.body), false)
	}
	f.Add(projA, "https://shop.example.com", "application/json", []byte(`{"email":"user0@example.com","password":"correct horse battery"}`), false)
	f.Add(projA, "https://evil.example.com", "application/json", []byte(`{"email":"user0@example.com","password":"x"}`), false)
	f.Add("../../etc/passwd", "", "application/json", []byte(`{}`), false)
	f.Add("%00", "null", "application/json", []byte(`{}`), false)
	f.Add(strings.Repeat("a", 70), "", "application/json", []byte(`{}`), true)
	f.Add(projA, "", "application/json", []byte(`{"token":"JWT eyJhbGciOiJub25lIn0.e30."}`), true)
	f.Fuzz(func(t *testing.T, pid, origin, ctype string, body []byte, verify bool) {
		path := "/auth/" + pid
		if verify {
			path += "/verify"
		}
		req, err := http.NewRequest(http.MethodPost, "http://pingauth.test"+path, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Content-Type", ctype)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %q: %d %s", path, w.Code, w.Body)
		}
		if w.Code == http.StatusNoContent || w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect || w.Code == http.StatusPermanentRedirect {
			return
		}
		if !json.Valid(w.Body.Bytes()) || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("POST %q: %d non-JSON %q (%s)", path, w.Code, w.Body, w.Header().Get("Content-Type"))
		}
	})
}
