package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/chatserver"
	"github.com/pingstreams/pingauth/internal/httpapi"
)

// ChatSyncInterval is how often the chat-server sync worker runs a pass
// when nothing wakes it earlier (a block, a rotation that was not stored).
const ChatSyncInterval = 30 * time.Second

// RunChatSync runs the chat-server sync worker (ban sync, rotation stores
// retried) until ctx ends; `pingauth serve` starts it.
func (a *App) RunChatSync(ctx context.Context) { a.Admin.RunChatSync(ctx, ChatSyncInterval) }

// chatDegraded reports, in /readyz, the projects whose chat server switched
// to a secret pingauth has not stored yet.
type chatDegraded struct{ s *admin.Service }

func (c chatDegraded) DegradedProjects(ctx context.Context) map[string]string {
	rs, err := c.s.DegradedRotations(ctx, nil)
	out := map[string]string{}
	for _, r := range rs {
		out[r.ProjectID] = "rotation_not_stored"
	}
	if err != nil && len(out) == 0 {
		return nil
	}
	return out
}

func (c chatDegraded) Ping(ctx context.Context) error {
	rs, err := c.s.DegradedRotations(ctx, nil)
	if len(rs) > 0 {
		return fmt.Errorf("%d project(s) whose new chat-server secret is not stored", len(rs))
	}
	return err
}

var _ httpapi.ProjectReporter = chatDegraded{}

// registerChatSync exports the sync's gauges.
func (a *App) registerChatSync(srv *httpapi.Server) {
	reg := srv.Registry()
	if reg == nil || a.Admin == nil {
		return
	}
	for _, st := range []string{chatserver.StatePending, chatserver.StateFailed, chatserver.StateNoConnection} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pingauth_chat_sync_pending",
			Help:        "Blocks and unblocks of end-users not yet applied on the chat server, by state (as of the sync worker's last pass).",
			ConstLabels: prometheus.Labels{"state": st}},
			func() float64 { return float64(a.Admin.ChatSyncStats().Jobs[st]) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pingauth_chat_rotation_store_degraded",
		Help: "Projects whose chat server switched to a new secret that this instance holds but could not store yet (retried in the background)."},
		func() float64 { return float64(a.Admin.ChatSyncStats().RotationStorePending) }))
}
