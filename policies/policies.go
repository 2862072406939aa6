// Package policies embeds the Casbin access model and the default policy of
// pingauth's operator RBAC (see internal/rbac).
package policies

import _ "embed"

// Model is the Casbin model (RBAC with domains = tenants).
//
//go:embed model.conf
var Model string

// Default is the default policy (role permissions) in Casbin CSV form.
//
//go:embed default_policy.csv
var Default string
