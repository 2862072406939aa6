package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/config"
)

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := config.FromEnv(c.getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := app.NewLogger(cfg, c.stderr)
	a, err := app.Open(ctx, cfg, log, app.Options{HashParams: c.hashParams})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := c.bootstrapAdmin(ctx, a, log); err != nil {
		return err
	}
	a.StartListener() // other instances' and the CLI's changes, at once (PostgreSQL)
	go a.RefreshPolicy(ctx, 30*time.Second)
	go a.PurgeRefresh(ctx, time.Hour)
	go a.RunChatSync(ctx)                // ban sync and rotation stores retried (issue 13)
	go a.RotationScheduler(nil).Run(ctx) // scheduled secret rotation (one replica per due project)

	srv := &http.Server{
		Handler:           a.HTTP(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if w := metricsWarning(cfg); w != "" {
		log.Warn(w, "addr", cfg.Addr)
	}
	log.Info("pingauth listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL,
		"database", string(a.DB.Dialect), "key_store", a.Backend.Name())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Security.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// metricsWarning is the one startup warning about /metrics ("" for none):
// without PINGAUTH_METRICS_TOKEN a server that listens beyond loopback
// answers /metrics with 401, and one on loopback behind an https proxy may
// be exposing it through that proxy.
func metricsWarning(cfg config.Config) string {
	sec := cfg.Security
	switch {
	case !sec.Metrics || sec.MetricsToken != "":
		return ""
	case !sec.LoopbackOnly:
		return "/metrics answers 401: PINGAUTH_ADDR is not loopback-only and PINGAUTH_METRICS_TOKEN is not set; set a token (or PINGAUTH_METRICS=off)"
	case strings.HasPrefix(cfg.PublicURL, "https://"):
		return "/metrics is served without PINGAUTH_METRICS_TOKEN; block it at the proxy or set a token"
	}
	return ""
}
