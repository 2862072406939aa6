package bridge

import (
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/cache"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/token"
)

// maxLoggedDrops bounds the set of (project, key, reason) already logged;
// past it drops are still counted but no longer logged.
const maxLoggedDrops = 10_000

// claimDrops counts and logs claims the firewall dropped from third-party
// or stored data: a metric by project and reason, and one log line per
// project, key and reason (never per request, never the value).
type claimDrops struct {
	counter *prometheus.CounterVec
	label   func(projectID string) string
	log     *slog.Logger

	mu     sync.Mutex
	logged map[[3]string]struct{}
	full   bool
}

func newClaimDrops(log *slog.Logger, label func(string) string) *claimDrops {
	if label == nil {
		label = func(id string) string { return id }
	}
	return &claimDrops{
		counter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pingauth_claims_dropped_total",
			Help: "Claims the claims firewall kept out of tokens (refused attribute keys, denied or unverified emails), by project and reason.",
		}, []string{"project", "reason"}),
		label: label, log: log, logged: map[[3]string]struct{}{},
	}
}

func (d *claimDrops) drop(projectID, mode, key, reason string) {
	d.counter.WithLabelValues(d.label(projectID), reason).Inc()
	k := [3]string{projectID, key, reason}
	d.mu.Lock()
	_, seen := d.logged[k]
	first := !seen && !d.full
	if first {
		if len(d.logged) >= maxLoggedDrops {
			d.full = true
			first = false
			d.log.Warn("claims firewall: too many distinct dropped claims to log each; counting only (pingauth_claims_dropped_total)")
		} else {
			d.logged[k] = struct{}{}
		}
	}
	d.mu.Unlock()
	if first {
		d.log.Warn("claims firewall: dropped a claim from a token (logged once per project, key and reason)",
			"project_id", projectID, "mode", mode, "key", key, "reason", reason)
	}
}

// Collectors returns the bridge's Prometheus collectors.
func (b *Bridge) Collectors() []prometheus.Collector {
	return []prometheus.Collector{b.drops.counter,
		cache.Collector(b.hot, b.keys.Cache(), b.idp.Cache())}
}

// firewall applies the claims policy (internal/token/claims.go) to a mapped
// identity. Input the caller controls (the server-mode body) was checked
// before mapping (a 400); here third-party and stored data is filtered:
// refused attribute keys are dropped, so is an email that is denied or, in
// exchange mode, not verified. A denied email asserted by the site's
// backend is a 400.
func (b *Bridge) firewall(projectID, mode string, s *mapping.Settings, id *token.Identity, emailVerified bool) error {
	id.Attributes = token.FilterAttributes(id.Attributes, func(path, reason string) {
		b.drops.drop(projectID, mode, "attributes."+path, reason)
	})
	if id.Email == "" {
		return nil
	}
	if mode == mapping.ModeExchange && !emailVerified {
		id.Email = ""
		b.drops.drop(projectID, mode, "email", token.ReasonUnverifiedEmail)
		return nil
	}
	if b.denyEmails.Denies(id.Email) || s.DenyEmails.Denies(id.Email) {
		if mode == mapping.ModeServer {
			return apperr.Invalid("user.email", "this email may never appear in a token (it is on the deployment's or tenant's deny-list)")
		}
		id.Email = ""
		b.drops.drop(projectID, mode, "email", token.ReasonDeniedEmail)
	}
	return nil
}
