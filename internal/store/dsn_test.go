package store

import "testing"

func TestWithConnectTimeout(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u@h:5432/db?sslmode=disable": "postgres://u@h:5432/db?connect_timeout=5&sslmode=disable",
		"postgresql://h/db":                      "postgresql://h/db?connect_timeout=5",
		"postgres://h/db?connect_timeout=30":     "postgres://h/db?connect_timeout=30",
		"host=h dbname=db":                       "host=h dbname=db connect_timeout=5",
		"host=h connect_timeout=2":               "host=h connect_timeout=2",
	} {
		if got := withConnectTimeout(in); got != want {
			t.Errorf("withConnectTimeout(%q) = %q, want %q", in, got, want)
		}
	}
}
