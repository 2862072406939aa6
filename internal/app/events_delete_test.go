package app_test

import (
	"context"
	"testing"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

// TestProjectDeleteDropsEveryCacheOnEveryInstance: scenario 4 of issue 12.
// Project p (tenant acme-p) is in use on two instances sharing PostgreSQL,
// so both cache its row, settings, keyring and API key (TTLs 10 min). p is
// deleted through the writer and re-created under the same id by another
// tenant, with server mode on. The old API key is refused at once by the
// writer (no cache window) and, within the propagation bound, by the other
// instance: the delete's event dropped every cache entry of the id, the
// API key's included (the cascade deleted the key without an event of its
// own).
func TestProjectDeleteDropsEveryCacheOnEveryInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, r := twoInstances(t)
	f := seedServerMode(t, w, "proj-del")
	if err := serverAuth(w, f, "u1"); err != nil {
		t.Fatalf("writer before the delete: %v", err)
	}
	within(t, propagationBound, "reader warm", func() bool { return serverAuth(r, f, "u1") == nil })

	if err := w.Admin.DeleteProject(ctx, admin.CLI(), f.p); err != nil {
		t.Fatal(err)
	}
	if err := w.Projects.CreateTenant(ctx, &project.Tenant{ID: "globex", Name: "Globex"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Admin.CreateProject(ctx, admin.CLI(), admin.ProjectInput{ID: f.p.ID, TenantID: "globex", Name: "Globex's"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Secrets.Rotate(ctx, f.p.ID, secret.WriteOptions{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Modes.Admin.SetModes(ctx, "t", f.p.ID, []string{mapping.ModeServer}); err != nil {
		t.Fatal(err)
	}
	if err := serverAuth(w, f, "u1"); err == nil {
		t.Fatal("the writer accepted the deleted project's API key on the re-created project")
	}
	within(t, propagationBound, "old API key refused", func() bool { return serverAuth(r, f, "u1") != nil })
	// Nothing of the old project is left for the new one.
	if keys, err := w.Modes.Admin.ListAPIKeys(ctx, f.p.ID); err != nil || len(keys) != 0 {
		t.Errorf("API keys of the re-created project: %v %v", keys, err)
	}
}
