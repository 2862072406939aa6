package logging

// SafeKeys exposes safeKeys to the tests.
func SafeKeys() []string {
	out := make([]string, 0, len(safeKeys))
	for k := range safeKeys {
		out = append(out, k)
	}
	return out
}
