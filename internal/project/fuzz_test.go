package project_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
)

// FuzzNormalizeOrigin: accepted origins are canonical (idempotent, lower
// case, scheme://host[:port] only); rejections are ErrInvalid.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://shop.example.com", "HTTPS://Shop.Example.com:8443/", "*", " http://a ", "https://a/b", "https://u:p@a",
		"javascript:alert(1)", "https://a?x", "https://a#f", "//a", "https://[::1]:80", "http://%zz", "", "https://a\x00b", "https://exa mple.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := project.NormalizeOrigin(in)
		if err != nil {
			if !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("NormalizeOrigin(%q) error kind: %v", in, err)
			}
			return
		}
		if out == "*" {
			return
		}
		if !strings.HasPrefix(out, "http://") && !strings.HasPrefix(out, "https://") || out != strings.ToLower(out) {
			t.Fatalf("NormalizeOrigin(%q) = %q", in, out)
		}
		rest := out[strings.Index(out, "://")+3:]
		if rest == "" || strings.ContainsAny(rest, "/?#@") {
			t.Fatalf("NormalizeOrigin(%q) = %q is not scheme://host[:port]", in, out)
		}
		again, err := project.NormalizeOrigin(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

// FuzzProjectValidate: Validate never panics; what it accepts satisfies the
// invariants the rest of the service relies on, and validating again is a no-op.
func FuzzProjectValidate(f *testing.F) {
	f.Add("5c81593adf767b0017d1aa68", "acme", "Shop", "https://shop.example.com", 900, "", "")
	f.Add("bad id!", "Acme", "", "ftp://x", 10, "not a url", "paused")
	f.Add("a", "a", " n ", "*", 30, "https://tiledesk.example/", "disabled")
	f.Add("p1", "acme", "Shop", "", 900, "https://tiledesk.com/projects/OTHER#", "")
	f.Add("p1", "acme", "Shop", "", 900, "HTTPS://Tiledesk.COM:443/", "")
	f.Add(strings.Repeat("x", 65), "-", strings.Repeat("n", 201), "https://A.com,https://a.com", 86401, "http://", "active")
	f.Fuzz(func(t *testing.T, id, tenant, name, origins string, ttl int, audBase, status string) {
		var os []string
		if origins != "" {
			os = strings.Split(origins, ",")
		}
		p := &project.Project{ID: id, TenantID: tenant, Name: name, AllowedOrigins: os, TokenTTLSeconds: ttl, AudienceBase: audBase, Status: status}
		err := p.Validate()
		if err != nil {
			if !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("Validate error kind: %v", err)
			}
			return
		}
		if project.ValidateID(p.ID) != nil || project.ValidateTenantID(p.TenantID) != nil || p.Name == "" || len(p.Name) > 200 ||
			p.TTL() < project.MinTTL || p.TTL() > project.MaxTTL || (p.Status != project.StatusActive && p.Status != project.StatusDisabled) {
			t.Fatalf("accepted invalid project %+v", p)
		}
		seen := map[string]bool{}
		for _, o := range p.AllowedOrigins {
			if n, err := project.NormalizeOrigin(o); err != nil || n != o || seen[o] {
				t.Fatalf("origin %q not normalised/deduplicated in %v", o, p.AllowedOrigins)
			}
			seen[o] = true
		}
		if p.AudienceBase != "" {
			aud, err := p.Audience("https://unused.example")
			u, perr := url.Parse(aud)
			if err != nil || perr != nil || u.Scheme+"://"+u.Host != p.AudienceBase || u.Path != "/projects/"+p.ID || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				t.Fatalf("accepted audience_base %q gives audience %q (%v)", p.AudienceBase, aud, err)
			}
		}
		before := *p
		if err := p.Validate(); err != nil || p.Name != before.Name || strings.Join(p.AllowedOrigins, ",") != strings.Join(before.AllowedOrigins, ",") || p.AudienceBase != before.AudienceBase {
			t.Fatalf("Validate not idempotent: %+v -> %+v (%v)", before, p, err)
		}
	})
}
