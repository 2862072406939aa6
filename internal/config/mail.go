package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/mail"
)

// Invitations configures operator invitations.
type Invitations struct {
	// SMTP is PINGAUTH_SMTP_URL parsed (nil: invitations are not emailed;
	// the link is shown to the inviter only).
	SMTP *mail.Config
	// TTL is PINGAUTH_INVITE_TTL: how long an invitation link works
	// (default 7 days, 10 minutes to 30 days).
	TTL time.Duration
}

// DefaultInviteTTL is the lifetime of an invitation link.
const DefaultInviteTTL = 7 * 24 * time.Hour

func invitationsFromEnv(getenv Getenv, dur func(string, time.Duration) time.Duration) (Invitations, []error) {
	var errs []error
	inv := Invitations{TTL: dur("PINGAUTH_INVITE_TTL", DefaultInviteTTL)}
	if inv.TTL < 10*time.Minute || inv.TTL > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("PINGAUTH_INVITE_TTL: %s must be between 10m and 720h (30 days)", inv.TTL))
	}
	if v := strings.TrimSpace(getenv("PINGAUTH_SMTP_URL")); v != "" {
		// Never echo the value: it may carry a password.
		c, err := mail.ParseURL(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("PINGAUTH_SMTP_URL: %w", err))
		} else {
			inv.SMTP = &c
		}
	}
	return inv, errs
}
