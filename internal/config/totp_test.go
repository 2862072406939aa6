package config

import "testing"

func TestRequireTOTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v       string
		want    bool
		wantErr bool
	}{
		{"", false, false}, {"off", false, false}, {"0", false, false}, {"on", true, false}, {"1", true, false},
		{"TRUE", true, false}, {"sometimes", false, true},
	} {
		c, err := FromEnv(func(k string) string {
			if k == "PINGAUTH_REQUIRE_TOTP" {
				return tc.v
			}
			return ""
		})
		if (err != nil) != tc.wantErr || (err == nil && c.RequireTOTP != tc.want) {
			t.Errorf("PINGAUTH_REQUIRE_TOTP=%q: %v %v, want %v (error %v)", tc.v, c.RequireTOTP, err, tc.want, tc.wantErr)
		}
	}
}
