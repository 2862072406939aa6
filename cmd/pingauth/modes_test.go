package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestModeCommands(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{
				"PINGAUTH_DATA_DIR":   t.TempDir(),
				"PINGAUTH_MASTER_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)),
			}
			if dialect == "postgres" {
				env["PINGAUTH_DATABASE_URL"] = storetest.PostgresDSN(t)
			}
			cmd := func(stdin string, args ...string) (string, string, int) {
				var out, errb bytes.Buffer
				code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
				return out.String(), errb.String(), code
			}
			must := func(stdin string, args ...string) string {
				t.Helper()
				out, errs, code := cmd(stdin, args...)
				if code != 0 {
					t.Fatalf("pingauth %s: exit %d: %s", strings.Join(args, " "), code, errs)
				}
				return out
			}
			must("", "project", "add", "-id", "shop1", "-name", "Shop 1", "-tenant", "agency")
			must("", "project", "add", "-id", "shop2", "-name", "Shop 2", "-tenant", "agency")
			key := strings.TrimSpace(must("", "apikey", "create", "-project", "shop1", "-name", "backend"))
			if !strings.HasPrefix(key, "pa_live_") {
				t.Fatalf("apikey create printed %q", key)
			}
			keyID := strings.SplitN(strings.TrimPrefix(key, "pa_live_"), "_", 2)[0]
			list := must("", "apikey", "list", "-project", "shop1")
			if !strings.Contains(list, keyID) || strings.Contains(list, key) {
				t.Fatalf("apikey list: %s", list)
			}
			must("", "apikey", "revoke", "-project", "shop1", "-id", keyID)
			if !strings.Contains(must("", "apikey", "list", "-project", "shop1"), "revoked") {
				t.Fatal("revoked key not shown as revoked")
			}
			if got := must("", "mode", "show", "-project", "shop1"); strings.TrimSpace(got) != "password" {
				t.Fatalf("default modes: %q", got)
			}
			if _, errs, code := cmd("", "mode", "set", "-project", "shop1", "-modes", "password,server,exchange"); code != 0 || !strings.Contains(errs, "within PINGAUTH_CACHE_TTL") {
				t.Fatalf("mode set: exit %d, stderr %q; want 0 and when running servers see it", code, errs)
			}
			if _, errs, _ := cmd("", "mode", "show", "-project", "shop1"); strings.Contains(errs, "running pingauth servers") {
				t.Fatalf("mode show printed the change hint: %q", errs)
			}
			if got := must("", "mode", "show", "-project", "shop1"); strings.TrimSpace(got) != "password,server,exchange" {
				t.Fatalf("modes: %q", got)
			}
			if _, _, code := cmd("", "mode", "set", "-project", "shop1", "-modes", "telepathy"); code == 0 {
				t.Fatal("unknown mode accepted")
			}
			out := must("", "mapping", "set", "-project", "shop1", "-id-claim", "sub", "-prefix", "shopA-", "-attr", "plan", "-attr", "tier")
			if !strings.Contains(out, `"prefix": "shopA-"`) || !strings.Contains(out, `"tier"`) {
				t.Fatalf("mapping set: %s", out)
			}
			if _, errs, code := cmd("", "mapping", "set", "-project", "shop2", "-prefix", "shopA-x"); code == 0 || !strings.Contains(errs, "overlaps") {
				t.Fatalf("overlapping prefix accepted: %d %s", code, errs)
			}
			must("", "mapping", "override", "-project", "shop1", "-external-id", "troll", "-block")
			if !strings.Contains(must("", "mapping", "show", "-project", "shop1"), `"blocked": true`) {
				t.Fatal("block not shown")
			}
			must("", "mapping", "unset", "-project", "shop1", "-external-id", "troll")
			const hs = "cli-idp-hs-secret-0123456789abcdef-xyz"
			out = must(hs+"\n", "idp", "set", "-project", "shop1", "-issuer", "https://idp.example", "-audience", "shop", "-hs-secret-stdin")
			if strings.Contains(out, hs) || !strings.Contains(out, `"has_hs_secret": true`) {
				t.Fatalf("idp set output: %s", out)
			}
			must("", "idp", "set", "-project", "shop2", "-issuer", "https://idp.example", "-audience", "shop", "-jwks-url", "https://idp.example/jwks", "-alg", "ES256")
			if !strings.Contains(must("", "idp", "show", "-project", "shop2"), "ES256") {
				t.Fatal("idp show")
			}
			must("", "idp", "delete", "-project", "shop2")
			must("", "role", "allow", "-project", "shop1", "-role", "customer")
			if strings.TrimSpace(must("", "role", "list", "-project", "shop1")) != "customer" {
				t.Fatal("role list")
			}
			must("", "role", "remove", "-project", "shop1", "-role", "customer")
			if !strings.Contains(must("", "role", "list", "-project", "shop1"), "every end-user") {
				t.Fatal("role list after remove")
			}
			if _, _, code := cmd("", "apikey", "create", "-project", "missing"); code != 1 {
				t.Fatalf("apikey for a missing project: exit %d", code)
			}
		})
	}
}
