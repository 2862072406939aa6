package project_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	base := func() project.Project {
		return project.Project{ID: "5c81593adf767b0017d1aa68", TenantID: "acme", Name: "Shop", TokenTTLSeconds: 900}
	}
	cases := []struct {
		name  string
		mut   func(*project.Project)
		field string // "" = valid
	}{
		{"valid", func(*project.Project) {}, ""},
		{"id with slash", func(p *project.Project) { p.ID = "a/b" }, "id"},
		{"empty id", func(p *project.Project) { p.ID = "" }, "id"},
		{"bad tenant", func(p *project.Project) { p.TenantID = "Acme Corp" }, "tenant_id"},
		{"no name", func(p *project.Project) { p.Name = "  " }, "name"},
		{"origin with path", func(p *project.Project) { p.AllowedOrigins = []string{"https://a.com/page"} }, "allowed_origins"},
		{"origin javascript", func(p *project.Project) { p.AllowedOrigins = []string{"javascript:alert(1)"} }, "allowed_origins"},
		{"ttl too short", func(p *project.Project) { p.TokenTTLSeconds = 5 }, "token_ttl_seconds"},
		{"ttl too long", func(p *project.Project) { p.TokenTTLSeconds = 100000 }, "token_ttl_seconds"},
		{"bad audience", func(p *project.Project) { p.AudienceBase = "ftp://x" }, "audience_base"},
		{"audience base naming another project", func(p *project.Project) { p.AudienceBase = "https://tiledesk.com/projects/OTHER#" }, "audience_base"},
		{"audience base with path", func(p *project.Project) { p.AudienceBase = "https://tiledesk.com/api" }, "audience_base"},
		{"audience base with empty fragment", func(p *project.Project) { p.AudienceBase = "https://tiledesk.com#" }, "audience_base"},
		{"audience base with empty query", func(p *project.Project) { p.AudienceBase = "https://tiledesk.com?" }, "audience_base"},
		{"audience base with query", func(p *project.Project) { p.AudienceBase = "https://tiledesk.com?p=OTHER" }, "audience_base"},
		{"audience base with userinfo", func(p *project.Project) { p.AudienceBase = "https://u:p@tiledesk.com" }, "audience_base"},
		{"audience base with empty port", func(p *project.Project) { p.AudienceBase = "https://tiledesk.com:" }, "audience_base"},
		{"audience base with backslash", func(p *project.Project) { p.AudienceBase = `https://tiledesk.com\@evil.test` }, "audience_base"},
		{"audience base with space", func(p *project.Project) { p.AudienceBase = " https://tiledesk.com" }, "audience_base"},
		{"audience base with port", func(p *project.Project) { p.AudienceBase = "https://chat.example.org:8443/" }, ""},
		{"audience base ipv6", func(p *project.Project) { p.AudienceBase = "http://[::1]:8080" }, ""},
		{"bad status", func(p *project.Project) { p.Status = "paused" }, "status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := base()
			tc.mut(&p)
			err := p.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || !errors.Is(err, apperr.ErrInvalid) || ae.Field != tc.field {
				t.Fatalf("got %v, want invalid field %s", err, tc.field)
			}
		})
	}
}

func TestOriginsAreNormalisedAndMatched(t *testing.T) {
	t.Parallel()
	p := project.Project{ID: "p1", TenantID: "acme", Name: "x", TokenTTLSeconds: 60,
		AllowedOrigins: []string{"HTTPS://Shop.Example.com/", "https://shop.example.com", "http://localhost:3000"}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(p.AllowedOrigins) != 2 || p.AllowedOrigins[0] != "https://shop.example.com" {
		t.Fatalf("origins = %v", p.AllowedOrigins)
	}
	for origin, want := range map[string]bool{
		"https://shop.example.com": true, "http://localhost:3000": true,
		"https://evil.example.com": false, "http://shop.example.com": false, "": false,
	} {
		if got := p.AllowsOrigin(origin); got != want {
			t.Errorf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	if got, err := p.Audience("https://tiledesk.com/"); err != nil || got != "https://tiledesk.com/projects/p1" {
		t.Errorf("Audience = %s, %v", got, err)
	}
	p.AudienceBase = "https://chat.example.org"
	if got, err := p.Audience("https://tiledesk.com"); err != nil || got != "https://chat.example.org/projects/p1" {
		t.Errorf("Audience override = %s, %v", got, err)
	}
}

// TestAudienceBaseIsSchemeHostPort: an audience_base that URL parsers would
// read as another project's audience (path, "#", "?", userinfo) is refused at
// write time, and a project stored with one before (or a bad default base)
// gives an error naming audience_base at mint time, never an audience.
func TestAudienceBaseIsSchemeHostPort(t *testing.T) {
	t.Parallel()
	cases := []struct {
		base, want string // want "": refused
	}{
		{"https://tiledesk.com", "https://tiledesk.com/projects/p1"},
		{"https://tiledesk.com/", "https://tiledesk.com/projects/p1"},
		{"HTTPS://Chat.Example.ORG:8443", "https://chat.example.org:8443/projects/p1"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/projects/p1"},
		{"https://tiledesk.com/projects/OTHER#", ""},
		{"https://tiledesk.com/projects/OTHER?", ""},
		{"https://tiledesk.com#", ""},
		{"https://tiledesk.com?", ""},
		{"https://tiledesk.com/x", ""},
		{"https://a@tiledesk.com", ""},
		{"https://tiledesk.com:0", ""},
		{"https://tiledesk.com:99999", ""},
		{"https://tiledesk.com%2fprojects%2fOTHER", ""},
		{"https:tiledesk.com", ""},
		{"ftp://tiledesk.com", ""},
		{"https://", ""},
	}
	for _, tc := range cases {
		t.Run(tc.base, func(t *testing.T) {
			t.Parallel()
			p := project.Project{ID: "p1", TenantID: "acme", Name: "x", TokenTTLSeconds: 60, AudienceBase: tc.base}
			err := p.Validate()
			var ae *apperr.Error
			if tc.want == "" {
				if !errors.As(err, &ae) || !errors.Is(err, apperr.ErrInvalid) || ae.Field != "audience_base" {
					t.Fatalf("Validate(%q) = %v, want invalid audience_base", tc.base, err)
				}
			} else if err != nil {
				t.Fatalf("Validate(%q) = %v", tc.base, err)
			}
			// Mint time: as if stored before validation was strict, or as the default base.
			for _, q := range []project.Project{{ID: "p1", AudienceBase: tc.base}, {ID: "p1"}} {
				aud, err := q.Audience(tc.base)
				if tc.want == "" {
					if aud != "" || !errors.As(err, &ae) || ae.Field != "audience_base" {
						t.Fatalf("Audience with base %q = %q, %v; want an error naming audience_base", tc.base, aud, err)
					}
					continue
				}
				if err != nil || aud != tc.want {
					t.Fatalf("Audience with base %q = %q, %v; want %q", tc.base, aud, err, tc.want)
				}
			}
		})
	}
}

func TestRepoCRUD(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := project.NewRepo(db)
		p := &project.Project{ID: "p1", TenantID: "acme", Name: "Shop", TokenTTLSeconds: 600, AllowedOrigins: []string{"https://a.com"}}
		if err := r.Create(ctx, p); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("create with unknown tenant: %v, want not found", err)
		}
		if _, err := r.EnsureTenant(ctx, "acme", "Acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.EnsureTenant(ctx, "acme", "Acme"); err != nil {
			t.Fatalf("EnsureTenant must be idempotent: %v", err)
		}
		if err := r.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		dup := *p
		if err := r.Create(ctx, &dup); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("duplicate create: %v, want conflict", err)
		}
		got, err := r.Get(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Shop" || len(got.AllowedOrigins) != 1 || got.AllowedOrigins[0] != "https://a.com" || got.Status != "active" {
			t.Fatalf("got %+v", got)
		}
		got.Name, got.AllowedOrigins, got.Status = "Shop 2", []string{"https://b.com"}, project.StatusDisabled
		if err := r.Update(ctx, got); err != nil {
			t.Fatal(err)
		}
		again, _ := r.Get(ctx, "p1")
		if again.Name != "Shop 2" || again.AllowedOrigins[0] != "https://b.com" || again.Active() {
			t.Fatalf("after update %+v", again)
		}
		if _, err := r.EnsureTenant(ctx, "other", "Other"); err != nil {
			t.Fatal(err)
		}
		if err := r.Create(ctx, &project.Project{ID: "p2", TenantID: "other", Name: "O", TokenTTLSeconds: 60}); err != nil {
			t.Fatal(err)
		}
		ps, err := r.List(ctx, project.ListFilter{TenantIDs: []string{"other"}})
		if err != nil || len(ps) != 1 || ps[0].ID != "p2" {
			t.Fatalf("tenant-scoped list = %v, %v", ps, err)
		}
		if ps, _ := r.List(ctx, project.ListFilter{TenantIDs: []string{}}); len(ps) != 0 {
			t.Fatalf("empty tenant scope must list nothing, got %d", len(ps))
		}
		if err := r.Delete(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get(ctx, "p1"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if _, err := r.Get(ctx, "../../etc"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("bad id must be not found: %v", err)
		}
	})
}
