package mapping_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// addProjects creates tenant and one project per id in it.
func addProjects(t *testing.T, r *project.Repo, tenant string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.EnsureTenant(ctx, tenant, tenant); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := r.Create(ctx, &project.Project{ID: id, TenantID: tenant, Name: id, TokenTTLSeconds: 60}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSetMappingPrefixes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		projects := project.NewRepo(db)
		addProjects(t, projects, "acme", "a1", "a2", "a3")
		addProjects(t, projects, "other", "o1")
		r := mapping.NewRepo(db)
		// Steps run in order against one database: each sees the mappings the previous ones stored.
		steps := []struct {
			name, project, prefix string
			want                  error
		}{
			{"first prefix", "a1", "shopA|", nil},
			{"disjoint prefix", "a2", "shopB|", nil},
			{"extends another", "a3", "shopA|eu|", apperr.ErrConflict},
			{"is a prefix of another", "a3", "shop", apperr.ErrConflict},
			{"equal to another", "a3", "shopB|", apperr.ErrConflict},
			{"other tenant may reuse", "o1", "shopA|", nil},
			{"same project may change its own", "a1", "shopA|v2|", nil},
			{"project moves away", "a1", "shopC|", nil},
			{"freed prefix is available", "a3", "shopA|", nil},
			{"empty prefix never conflicts", "a2", "", nil},
			{"unknown project", "nope", "x|", apperr.ErrNotFound},
		}
		for _, s := range steps {
			err := r.SetMapping(ctx, &mapping.Mapping{ProjectID: s.project, Prefix: s.prefix}, "test")
			if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
				t.Fatalf("%s: SetMapping(%s, %q) = %v, want %v", s.name, s.project, s.prefix, err, s.want)
			}
			if err != nil {
				continue
			}
			m, err := r.Mapping(ctx, s.project)
			if err != nil || m.Prefix != s.prefix || m.UpdatedBy != "test" {
				t.Fatalf("%s: stored %+v, %v", s.name, m, err)
			}
		}
	})
}

// TestSetMappingPrefixRace starts concurrent SetMapping calls for several
// projects of one tenant whose prefixes all overlap: exactly one may win, the
// others must get Conflict, and never two overlapping prefixes may be stored.
// On PostgreSQL (READ COMMITTED) this needs the tenant row lock; SQLite
// serialises write transactions (BEGIN IMMEDIATE).
func TestSetMappingPrefixRace(t *testing.T) {
	t.Parallel()
	const (
		rounds  = 12
		callers = 6
	)
	prefixes := []string{"acme-", "acme-shop-", "acme-shop-eu-"} // pairwise overlapping, cycled over the callers
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		projects := project.NewRepo(db)
		r := mapping.NewRepo(db)
		for round := range rounds {
			tenant := fmt.Sprintf("t%d", round)
			ids := make([]string, callers)
			for i := range ids {
				ids[i] = fmt.Sprintf("r%d-p%d", round, i)
			}
			addProjects(t, projects, tenant, ids...)

			var ready, done sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, callers)
			for i := range callers {
				ready.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					m := &mapping.Mapping{ProjectID: ids[i], Prefix: prefixes[i%len(prefixes)]}
					ready.Done()
					<-start
					errs[i] = r.SetMapping(ctx, m, "test")
				}()
			}
			ready.Wait()
			close(start)
			done.Wait()

			var won []string
			for i, err := range errs {
				switch {
				case err == nil:
					won = append(won, ids[i])
				case !errors.Is(err, apperr.ErrConflict):
					t.Fatalf("round %d: %s: %v, want nil or a conflict", round, ids[i], err)
				}
			}
			var stored []string
			for _, id := range ids {
				m, err := r.Mapping(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if m.Prefix != "" {
					stored = append(stored, id+"="+m.Prefix)
				}
			}
			if len(won) != 1 || len(stored) != 1 {
				t.Fatalf("round %d: %d calls succeeded (%v) and %d overlapping prefixes stored (%v); want exactly one of each",
					round, len(won), won, len(stored), stored)
			}
		}
	})
}
