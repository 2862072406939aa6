package logging

import "log/slog"

// SafeKeys exposes safeKeys to the tests.
func SafeKeys() []string {
	out := make([]string, 0, len(safeKeys))
	for k := range safeKeys {
		out = append(out, k)
	}
	return out
}

// AccessAttrs exposes the attributes of an access line to the tests.
func AccessAttrs(a *Access) []slog.Attr {
	as := a.attrs()
	return as[:]
}
