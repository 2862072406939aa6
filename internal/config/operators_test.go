package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/config"
)

const day = 24 * time.Hour

func TestOperatorLifetimes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		vars    map[string]string
		want    config.Operators
		errVars []string // variables the error must name; nil: no error
	}{
		{"defaults", nil, config.Operators{TokenTTL: 90 * day, TokenMaxTTL: 365 * day, SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour}, nil},
		{"days and durations", map[string]string{"PINGAUTH_OPERATOR_TOKEN_TTL": "7d", "PINGAUTH_OPERATOR_TOKEN_MAX_TTL": "720h", "PINGAUTH_SESSION_IDLE": "15m", "PINGAUTH_SESSION_MAX": "1d"},
			config.Operators{TokenTTL: 7 * day, TokenMaxTTL: 30 * day, SessionIdle: 15 * time.Minute, SessionMax: day}, nil},
		{"default above max", map[string]string{"PINGAUTH_OPERATOR_TOKEN_TTL": "400d"}, config.Operators{}, []string{"PINGAUTH_OPERATOR_TOKEN_TTL"}},
		{"max too long", map[string]string{"PINGAUTH_OPERATOR_TOKEN_MAX_TTL": "2000d"}, config.Operators{}, []string{"PINGAUTH_OPERATOR_TOKEN_MAX_TTL"}},
		{"token too short", map[string]string{"PINGAUTH_OPERATOR_TOKEN_TTL": "10m"}, config.Operators{}, []string{"PINGAUTH_OPERATOR_TOKEN_TTL"}},
		{"idle above max", map[string]string{"PINGAUTH_SESSION_IDLE": "13h"}, config.Operators{}, []string{"PINGAUTH_SESSION_IDLE"}},
		{"garbage", map[string]string{"PINGAUTH_SESSION_MAX": "soon", "PINGAUTH_SESSION_IDLE": "-5m", "PINGAUTH_OPERATOR_TOKEN_TTL": "1.5d"}, config.Operators{},
			[]string{"PINGAUTH_SESSION_MAX", "PINGAUTH_SESSION_IDLE", "PINGAUTH_OPERATOR_TOKEN_TTL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.FromEnv(env(tc.vars))
			if tc.errVars == nil {
				if err != nil || c.Operators != tc.want {
					t.Fatalf("got %+v, %v; want %+v", c.Operators, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %v: %+v", tc.vars, c.Operators)
			}
			for _, v := range tc.errVars {
				if !strings.Contains(err.Error(), v+":") {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
		})
	}
}

func FuzzOperatorLifetimes(f *testing.F) {
	f.Add("90d", "365d", "30m", "12h")
	f.Add("0", "0d", "0s", "-1h")
	f.Add("99999999999d", "1e9h", "1m", "5m")
	f.Fuzz(func(t *testing.T, ttl, maxTTL, idle, maxSession string) {
		c, err := config.FromEnv(env(map[string]string{
			"PINGAUTH_OPERATOR_TOKEN_TTL": ttl, "PINGAUTH_OPERATOR_TOKEN_MAX_TTL": maxTTL, "PINGAUTH_SESSION_IDLE": idle, "PINGAUTH_SESSION_MAX": maxSession,
		}))
		if err != nil {
			if !strings.Contains(err.Error(), "PINGAUTH_") {
				t.Fatalf("error names no variable: %v", err)
			}
			return
		}
		o := c.Operators
		if o.TokenTTL < time.Hour || o.TokenTTL > o.TokenMaxTTL || o.TokenMaxTTL > 5*365*day ||
			o.SessionIdle < time.Minute || o.SessionIdle > o.SessionMax || o.SessionMax < 5*time.Minute || o.SessionMax > 30*day {
			t.Fatalf("accepted invalid lifetimes %+v", o)
		}
	})
}
