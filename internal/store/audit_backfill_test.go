package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// Migration 0011 fills audit_events.tenant_id left empty on project events:
// from the project.create of the same id that precedes the event (so an
// event of a project id deleted by globex and re-created by acme stays
// globex's), else from the projects row when the id was never deleted;
// what neither tells stays empty (shown in no tenant's audit view).
func TestMigration0011BackfillsAuditTenants(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pr := project.NewRepo(db)
		for _, tid := range []string{"acme", "globex"} {
			if err := pr.CreateTenant(ctx, &project.Tenant{ID: tid, Name: tid}); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{"reused", "live", "redone"} {
			if err := pr.Create(ctx, &project.Project{ID: id, TenantID: "acme", Name: id, TokenTTLSeconds: 600}); err != nil {
				t.Fatal(err)
			}
		}
		log := audit.New(db)
		events := []struct {
			tenant, project, action, want string
		}{
			{"globex", "reused", audit.ProjectCreate, "globex"},
			{"", "reused", audit.EndUserCreate, "globex"}, // globex's project then
			{"globex", "reused", audit.ProjectDelete, "globex"},
			{"acme", "reused", audit.ProjectCreate, "acme"},
			{"", "reused", audit.APIKeyCreate, "acme"}, // acme's re-creation
			{"", "live", audit.SecretCreate, "acme"},   // never deleted: the projects row
			{"", "gone", audit.EndUserCreate, ""},      // no project, no create event
			{"globex", "redone", audit.ProjectDelete, "globex"},
			{"", "redone", audit.EndUserCreate, ""}, // deleted once, no create event: unknown
			{"", "", audit.OperatorLogin, ""},       // not a project event
		}
		for _, e := range events {
			if err := log.Record(ctx, audit.Event{TenantID: e.tenant, ProjectID: e.project, Action: e.action}); err != nil {
				t.Fatal(err)
			}
		}
		ms, err := store.Migrations(db.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		var sql string
		for _, m := range ms {
			if m.Version == 11 {
				sql = m.SQL
			}
		}
		if sql == "" {
			t.Fatal("migration 0011 not embedded")
		}
		// Run its statements again (the schema already has them) except the
		// index it creates.
		for _, stmt := range strings.Split(sql, ";\n") {
			var lines []string
			for _, l := range strings.Split(stmt, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "--") {
					lines = append(lines, l)
				}
			}
			stmt = strings.TrimSpace(strings.Join(lines, "\n"))
			if stmt == "" || strings.HasPrefix(stmt, "CREATE INDEX") {
				continue
			}
			if err := db.Exec(stmt).Error; err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		got, err := log.List(ctx, audit.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(events) {
			t.Fatalf("%d events, want %d", len(got), len(events))
		}
		for i, e := range events {
			g := got[len(got)-1-i] // List is newest first
			if g.ProjectID != e.project || g.Action != e.action || g.TenantID != e.want {
				t.Errorf("event %d (%s %s): tenant %q, want %q", i+1, e.project, e.action, g.TenantID, e.want)
			}
		}
	})
}
