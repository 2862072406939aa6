package web

import (
	"crypto/sha512"
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestSDKIntegrityAndREADME: the SRI value is the sha384 of the embedded
// bytes, and the README states the current version's integrity and size. A
// released version is pinned by pages in the wild: if this test fails
// because the file changed, put the change in a new version directory
// (web/sdk/v2) instead of editing the released one.
func TestSDKIntegrityAndREADME(t *testing.T) {
	sdk := SDK()
	sum := sha512.Sum384(sdk.Body)
	if want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); sdk.Integrity != want || sdk.Path != "/sdk/"+sdk.Version+"/pingauth.js" {
		t.Fatalf("SDK %s at %s: integrity %s, want %s", sdk.Version, sdk.Path, sdk.Integrity, want)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{sdk.Integrity, strconv.Itoa(len(sdk.Body)) + " bytes", sdk.Path} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README does not state %q for SDK %s (a released SDK must not change; add a new version instead)", want, sdk.Version)
		}
	}
	if SDKVersion("nope") != nil || len(SDKVersions()) == 0 {
		t.Fatal("version lookup")
	}
}
