package logging_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/logging"
)

const (
	jwt    = "eyJhbGciOiJIUzI1NiIsImtpZCI6InYxIn0.eyJfaWQiOiIxMjMiLCJzdWIiOiJ1c2VyZXh0ZXJuYWwifQ.c2lnbmF0dXJlLWJ5dGVz"
	secret = "s3cr3t-shared-value-0123456789"
)

func TestRedactDropsSensitiveValues(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(logging.Redact(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.Info("login", "password", secret, "Password", secret, "user_password", secret, "api_key", secret, "X-Api-Key", secret,
		"Authorization", "Bearer "+secret, "token", jwt, "value", secret, "shared_secret", secret, "cookie", secret,
		"email", "user@example.com")
	log.With("client_secret", secret).WithGroup("req").Info("nested", slog.Group("hdr", "authorization", secret, "jwt", jwt), "body", map[string]any{"x": 1})
	log.Error("failed: JWT "+jwt, "error", errors.New("parse "+jwt+" failed"), "detail", "header was Bearer "+secret, "raw", []byte("tok "+jwt))
	log.Warn("x", slog.Any("lazy", slog.StringValue(jwt)))
	out := buf.String()
	for _, leaked := range []string{secret, jwt, "c2lnbmF0dXJlLWJ5dGVz"} {
		if strings.Contains(out, leaked) {
			t.Fatalf("log output leaks %q:\n%s", leaked, out)
		}
	}
	for _, kept := range []string{`"email":"user@example.com"`, `"msg":"login"`, `"x":1`, "failed: JWT", logging.Redacted} {
		if !strings.Contains(out, kept) {
			t.Errorf("log output lost %q:\n%s", kept, out)
		}
	}
}

func TestScrubLeavesOrdinaryText(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"project proj-a not found", "http request", "route /auth/:projectId", "basic idea", ""} {
		if got := logging.Scrub(s); got != s {
			t.Errorf("Scrub(%q) = %q", s, got)
		}
	}
	if logging.IsSensitiveKey("route") || logging.IsSensitiveKey("status") || !logging.IsSensitiveKey("Refresh_Token") {
		t.Error("IsSensitiveKey misclassifies")
	}
}
