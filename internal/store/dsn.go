package store

import (
	"net/url"
	"strings"
)

// defaultConnectTimeout bounds how long a PostgreSQL dial may take when the
// DSN does not say: without it, a database host that drops packets (rather
// than refusing) would make requests hang instead of failing with 503.
const defaultConnectTimeout = "5"

// withConnectTimeout adds connect_timeout to a PostgreSQL DSN (URL or
// key=value form) unless it is already set.
func withConnectTimeout(dsn string) string {
	if strings.Contains(dsn, "connect_timeout") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		q.Set("connect_timeout", defaultConnectTimeout)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " connect_timeout=" + defaultConnectTimeout
}
