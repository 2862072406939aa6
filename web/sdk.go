package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// sdkFS holds every released version of the widget session kit, one
// directory per version (sdk/<version>/pingauth.js). A released file never
// changes — pages pin its SRI hash — so a change is a new version directory.
//
//go:embed sdk/*/pingauth.js
var sdkFS embed.FS

// SDKFile is one served version of the browser SDK.
type SDKFile struct {
	Version string // "v1"
	// Path is where pingauth serves it: /sdk/<version>/pingauth.js.
	Path string
	Body []byte
	// Integrity is the Subresource Integrity value of Body ("sha384-..."),
	// computed from the embedded bytes when the binary starts.
	Integrity string
	// ETag is a strong validator derived from Body.
	ETag string
	// GzipSize is len(Body) gzip-compressed (for documentation).
	GzipSize int
}

var sdkFiles = loadSDK()

func loadSDK() map[string]*SDKFile {
	out := map[string]*SDKFile{}
	dirs, err := fs.ReadDir(sdkFS, "sdk")
	if err != nil {
		panic(err) // embedded at build time
	}
	for _, d := range dirs {
		b, err := fs.ReadFile(sdkFS, path.Join("sdk", d.Name(), "pingauth.js"))
		if err != nil {
			panic(err)
		}
		sum := sha512.Sum384(b)
		etag := sha256.Sum256(b)
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		out[d.Name()] = &SDKFile{Version: d.Name(), Path: "/sdk/" + d.Name() + "/pingauth.js", Body: b,
			Integrity: "sha384-" + base64.StdEncoding.EncodeToString(sum[:]),
			ETag:      `"` + hex.EncodeToString(etag[:16]) + `"`, GzipSize: gz.Len()}
	}
	return out
}

// SDKVersion returns a served SDK version, or nil.
func SDKVersion(v string) *SDKFile { return sdkFiles[v] }

// SDKVersions lists the served versions, oldest first.
func SDKVersions() []string {
	var vs []string
	for v := range sdkFiles {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool {
		if len(vs[i]) != len(vs[j]) {
			return len(vs[i]) < len(vs[j])
		}
		return strings.Compare(vs[i], vs[j]) < 0
	})
	return vs
}

// SDK returns the current (newest) SDK version: the one snippets, the
// example page and the README use.
func SDK() *SDKFile {
	vs := SDKVersions()
	return sdkFiles[vs[len(vs)-1]]
}
