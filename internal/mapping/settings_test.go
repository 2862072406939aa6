package mapping_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// LoadSettings (the settings cache's loader) returns what the separate
// getters return, in one query, plus one for the overrides only when the
// project has some; a warm cache reads nothing.
func TestLoadSettingsMatchesTheGettersInOneQuery(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pr := project.NewRepo(db)
		addProjects(t, pr, "acme", "bare", "full")
		if _, err := pr.SetTenantEmailDenyList(ctx, "acme", []string{"boss@acme.test", "evil.test"}); err != nil {
			t.Fatal(err)
		}
		r := mapping.NewRepo(db)
		if _, err := r.SetModes(ctx, "full", []string{"server", "exchange"}, "t"); err != nil {
			t.Fatal(err)
		}
		m := mapping.Default("full")
		m.IDClaim, m.Prefix, m.EmailClaim, m.Attributes = "user.id", "shop|", "mail", []string{"plan", "tier=attributes.level"}
		if err := r.SetMapping(ctx, &m, "t"); err != nil {
			t.Fatal(err)
		}
		for _, o := range []mapping.Override{{ProjectID: "full", ExternalID: "42", Blocked: true},
			{ProjectID: "full", ExternalID: "7", ForceID: "seven", Attributes: map[string]any{"vip": true}}} {
			if err := r.PutOverride(ctx, &o, "t"); err != nil {
				t.Fatal(err)
			}
		}

		reads := storetest.CountReads(t, db)
		for _, tc := range []struct {
			id        string
			wantReads int64
		}{{"bare", 1}, {"full", 2}} {
			before := reads.Load()
			got, err := r.LoadSettings(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if n := reads.Load() - before; n != tc.wantReads {
				t.Errorf("%s: LoadSettings made %d reads, want %d", tc.id, n, tc.wantReads)
			}
			modes, _ := r.Modes(ctx, tc.id)
			mp, _ := r.Mapping(ctx, tc.id)
			ovs, _ := r.Overrides(ctx, tc.id)
			deny, _ := project.LoadTenantEmailDenyList(ctx, db, tc.id)
			if !reflect.DeepEqual(got.Modes, modes) {
				t.Errorf("%s: modes %v, getter %v", tc.id, got.Modes, modes)
			}
			mp.UpdatedBy, mp.UpdatedAt = "", got.Mapping.UpdatedAt // not part of the snapshot
			if tc.id == "bare" {
				mp.ProjectID = "" // the shared default mapping
			}
			if !reflect.DeepEqual(*got.Mapping, *mp) {
				t.Errorf("%s: mapping %+v, getter %+v", tc.id, *got.Mapping, *mp)
			}
			if len(got.Overrides) != len(ovs) {
				t.Fatalf("%s: %d overrides, getter %d", tc.id, len(got.Overrides), len(ovs))
			}
			for i := range ovs {
				o := got.Overrides[ovs[i].ExternalID]
				if o == nil || o.Blocked != ovs[i].Blocked || o.ForceID != ovs[i].ForceID || !reflect.DeepEqual(o.Attributes, ovs[i].Attributes) {
					t.Errorf("%s: override %s = %+v, getter %+v", tc.id, ovs[i].ExternalID, o, ovs[i])
				}
			}
			for _, email := range []string{"boss@acme.test", "x@evil.test", "ann@ok.test"} {
				if got.DenyEmails.Denies(email) != deny.Denies(email) {
					t.Errorf("%s: deny-list disagrees on %s", tc.id, email)
				}
			}
			if !got.DenyEmails.Denies("x@evil.test") {
				t.Errorf("%s: the tenant's deny-list was not loaded", tc.id)
			}
		}
	})
}
