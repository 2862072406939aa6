package audience_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/pingstreams/pingauth/internal/audience"
)

func TestNormalizeBaseAndBuild(t *testing.T) {
	t.Parallel()
	cases := []struct{ base, id, want string }{ // want "": refused
		{"https://tiledesk.com", "p1", "https://tiledesk.com/projects/p1"},
		{"https://tiledesk.com///", "p1", "https://tiledesk.com/projects/p1"},
		{"http://LOCALHOST:3000", "a_b-C", "http://localhost:3000/projects/a_b-C"},
		{"http://[::1]:8080", "p1", "http://[::1]:8080/projects/p1"},
		{"https://tiledesk.com/projects/OTHER#", "p1", ""},
		{"https://tiledesk.com#", "p1", ""},
		{"https://tiledesk.com?", "p1", ""},
		{"https://tiledesk.com/;x", "p1", ""},
		{"https://a:b@tiledesk.com", "p1", ""},
		{"https://tiledesk.com:", "p1", ""},
		{"https://tiledesk.com:080", "p1", ""},
		{"https://[fe80::1%25eth0]", "p1", ""},
		{"https://-bad-.com", "p1", ""},
		{"https://tiledesk..com", "p1", ""},
		{"javascript://tiledesk.com", "p1", ""},
		{"//tiledesk.com", "p1", ""},
		{"https://tiledesk.com", "OTHER#", ""},
		{"https://tiledesk.com", "a/../OTHER", ""},
		{"https://tiledesk.com", "a?b", ""},
		{"https://tiledesk.com", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.base+" "+tc.id, func(t *testing.T) {
			t.Parallel()
			aud, err := audience.Build(tc.base, tc.id)
			if tc.want == "" {
				if err == nil || !(errors.Is(err, audience.ErrInvalidBase) || errors.Is(err, audience.ErrInvalidAudience)) {
					t.Fatalf("Build(%q, %q) = %q, %v; want an error", tc.base, tc.id, aud, err)
				}
				return
			}
			if err != nil || aud != tc.want {
				t.Fatalf("Build(%q, %q) = %q, %v; want %q", tc.base, tc.id, aud, err, tc.want)
			}
		})
	}
}

// FuzzBuild: whatever Build returns parses back as <base>/projects/<id>.
func FuzzBuild(f *testing.F) {
	for _, s := range []string{"https://tiledesk.com", "https://tiledesk.com/projects/OTHER#", "http://[::1]:1", "https://a.b:65535/", "https://%41.com"} {
		f.Add(s, "p1")
	}
	f.Fuzz(func(t *testing.T, base, id string) {
		aud, err := audience.Build(base, id)
		if err != nil {
			return
		}
		b, err := audience.NormalizeBase(base)
		if err != nil {
			t.Fatalf("Build accepted base %q that NormalizeBase refuses", base)
		}
		if again, err := audience.NormalizeBase(b); err != nil || again != b {
			t.Fatalf("NormalizeBase not idempotent: %q -> %q -> %q (%v)", base, b, again, err)
		}
		u, err := url.Parse(aud)
		if err != nil || u.Scheme+"://"+u.Host != b || u.Path != "/projects/"+id || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("Build(%q, %q) = %q does not read back as <base>/projects/<id>", base, id, aud)
		}
	})
}
