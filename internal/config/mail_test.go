package config

import (
	"strings"
	"testing"
	"time"
)

func TestInvitationSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		ok   bool
		ttl  time.Duration
		smtp bool
	}{
		{"defaults", nil, true, DefaultInviteTTL, false},
		{"smtp and ttl", map[string]string{"PINGAUTH_SMTP_URL": "smtps://u:topsecret@mail.example.com?from=p@example.com", "PINGAUTH_INVITE_TTL": "48h"}, true, 48 * time.Hour, true},
		{"ttl too short", map[string]string{"PINGAUTH_INVITE_TTL": "1m"}, false, 0, false},
		{"ttl too long", map[string]string{"PINGAUTH_INVITE_TTL": "1000h"}, false, 0, false},
		{"bad smtp scheme", map[string]string{"PINGAUTH_SMTP_URL": "http://u:topsecret@mail.example.com?from=p@example.com"}, false, 0, false},
		{"smtp without from", map[string]string{"PINGAUTH_SMTP_URL": "smtp://u:topsecret@mail.example.com"}, false, 0, false},
	}
	for _, tc := range cases {
		c, err := FromEnv(func(k string) string { return tc.env[k] })
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("%s: error repeats the SMTP password: %v", tc.name, err)
			}
			if !strings.Contains(err.Error(), "PINGAUTH_") {
				t.Errorf("%s: error names no variable: %v", tc.name, err)
			}
			continue
		}
		if c.Invitations.TTL != tc.ttl || (c.Invitations.SMTP != nil) != tc.smtp {
			t.Errorf("%s: %+v", tc.name, c.Invitations)
		}
	}
}
