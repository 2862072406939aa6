// Package migrations holds the versioned SQL schema of pingauth, one
// directory per SQL dialect. Files are named NNNN_description.sql and are
// applied in order, each exactly once, by internal/store.
package migrations

import "embed"

// FS contains postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
