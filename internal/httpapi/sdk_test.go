package httpapi_test

import (
	"crypto/sha512"
	"encoding/base64"
	"html"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
	"github.com/pingstreams/pingauth/web"
)

// TestSDKServed: the widget session kit is served at its versioned path as
// JavaScript, cacheable for a year, readable cross-origin (pages load it with
// an integrity attribute, which needs CORS), and its SRI hash is computed
// from the served bytes; the example page loads it with that hash.
func TestSDKServed(t *testing.T) {
	t.Parallel()
	e := newHardEnv(t, storetest.Open(t, store.SQLite), nil)
	sdk := web.SDK()
	if sdk.Path != "/sdk/v1/pingauth.js" {
		t.Fatalf("current SDK path %q", sdk.Path)
	}
	r := e.call(t, "GET", sdk.Path, "", map[string]string{"Origin": "https://shop.example.com"})
	sum := sha512.Sum384([]byte(r.raw))
	if r.status != 200 || r.header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("GET %s: %d %v", sdk.Path, r.status, r.header)
	}
	if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); got != sdk.Integrity || r.header.Get("X-Pingauth-Integrity") != got {
		t.Fatalf("integrity of the served bytes %s, SDK says %s", got, sdk.Integrity)
	}
	if !strings.Contains(r.raw, "root.pingauth = { version: VERSION, connect: connect }") {
		t.Fatal("served file is not the SDK")
	}
	if nm := e.call(t, "GET", sdk.Path, "", map[string]string{"If-None-Match": r.header.Get("ETag")}); nm.status != 304 || nm.raw != "" {
		t.Fatalf("conditional GET: %d", nm.status)
	}
	if h := e.call(t, "HEAD", sdk.Path, "", nil); h.status != 200 || h.raw != "" || h.header.Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d %q %v", h.status, h.raw, h.header)
	}
	if nf := e.call(t, "GET", "/sdk/v0/pingauth.js", "", nil); nf.status != 404 {
		t.Fatalf("unknown version: %d", nf.status)
	}
	page := e.call(t, "GET", "/example/"+projA, "", nil)
	if !strings.Contains(html.UnescapeString(page.raw), `<script src="`+sdk.Path+`" integrity="`+sdk.Integrity+`" crossorigin="anonymous"></script>`) {
		t.Fatal("the example page does not load the SDK with its integrity hash")
	}
}
