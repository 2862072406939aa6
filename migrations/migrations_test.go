package migrations

import (
	"io/fs"
	"regexp"
	"slices"
	"testing"
)

// dialects are the directories of FS, one per SQL dialect.
var dialects = []string{"postgres", "sqlite"}

var migrationName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// sqlFiles lists the embedded .sql files of one dialect directory.
func sqlFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := fs.ReadDir(FS, dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// TestBothDialectsHoldTheSameFiles: every schema change has one number and
// one name, used by both dialects, so a change cannot be added (or renamed,
// or removed) for one dialect only. See README.md in this directory.
func TestBothDialectsHoldTheSameFiles(t *testing.T) {
	want := sqlFiles(t, dialects[0])
	if len(want) == 0 {
		t.Fatalf("no migrations embedded in %s/", dialects[0])
	}
	for _, d := range dialects[1:] {
		got := sqlFiles(t, d)
		for _, n := range want {
			if !slices.Contains(got, n) {
				t.Errorf("%s/%s has no counterpart %s/%s", dialects[0], n, d, n)
			}
		}
		for _, n := range got {
			if !slices.Contains(want, n) {
				t.Errorf("%s/%s has no counterpart %s/%s", d, n, dialects[0], n)
			}
		}
	}
}

// TestMigrationNamesAndNumbers: names are NNNN_lower_snake.sql and a number
// is used by one change only (gaps are allowed: 0002 and 0004 were never
// used, see README.md).
func TestMigrationNamesAndNumbers(t *testing.T) {
	for _, d := range dialects {
		seen := map[string]string{}
		for _, n := range sqlFiles(t, d) {
			if !migrationName.MatchString(n) {
				t.Errorf("%s/%s: name must be NNNN_lower_snake_case.sql", d, n)
				continue
			}
			if prev, ok := seen[n[:4]]; ok {
				t.Errorf("%s: number %s used by %s and %s", d, n[:4], prev, n)
			}
			seen[n[:4]] = n
		}
	}
}
