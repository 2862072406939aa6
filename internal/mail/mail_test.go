package mail_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pingstreams/pingauth/internal/mail"
	"github.com/pingstreams/pingauth/internal/mail/mailtest"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in         string
		ok         bool
		scheme     string
		port       int
		user, from string
	}{
		{"smtp://mailer:s3cret@mail.example.com?from=pingauth@example.com", true, "smtp", 25, "mailer", "pingauth@example.com"},
		{"starttls://u:p@mail.example.com:2525?from=Ping+%3Cp@example.com%3E", true, "starttls", 2525, "u", "p@example.com"},
		{"smtps://mail.example.com?from=p@example.com", true, "smtps", 465, "", "p@example.com"},
		{"STARTTLS://mail.example.com?from=p@example.com", true, "starttls", 587, "", "p@example.com"},
		{"http://mail.example.com?from=p@example.com", false, "", 0, "", ""},
		{"smtp://mail.example.com", false, "", 0, "", ""},
		{"smtp://?from=p@example.com", false, "", 0, "", ""},
		{"smtp://mail.example.com:99999?from=p@example.com", false, "", 0, "", ""},
		{"smtp://mail.example.com?from=not-an-address", false, "", 0, "", ""},
		{"smtp://mail.example.com?from=p@example.com&tls=off", false, "", 0, "", ""},
		{"smtp://u:hunter2@mail.example.com?from=bad", false, "", 0, "", ""},
	}
	for _, tc := range cases {
		c, err := mail.ParseURL(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error repeats the password: %v", tc.in, err)
			}
			continue
		}
		if c.Scheme != tc.scheme || c.Port != tc.port || c.Username != tc.user || c.From != tc.from {
			t.Errorf("%s: got %+v", tc.in, c)
		}
		if strings.Contains(c.Redacted(), "s3cret") {
			t.Errorf("Redacted carries the password: %s", c.Redacted())
		}
	}
}

// A message reaches a real SMTP server (AUTH PLAIN on loopback) with its
// headers on single lines; a wrong password fails without being echoed.
func TestSendDeliversThroughARealSMTPServer(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, "mailer", "smtp-pass-123")
	cfg, err := mail.ParseURL(srv.URL("pingauth@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	err = mail.New(cfg).Send(context.Background(), mail.Message{To: "Cfo@Globex.test", Subject: "Hello\r\nBcc: evil@example.com", Body: "line one\n.\nline three"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.From != "pingauth@example.com" || len(m.To) != 1 || !strings.EqualFold(m.To[0], "cfo@globex.test") {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	if !strings.Contains(m.Data, "Subject: Hello Bcc: evil@example.com\r\n") || strings.Contains(m.Data, "\r\nBcc:") {
		t.Errorf("header injection not neutralised:\n%s", m.Data)
	}
	if !strings.Contains(m.Data, "line one\r\n.\r\nline three") {
		t.Errorf("body not delivered intact:\n%q", m.Data)
	}

	bad := cfg
	bad.Password = "wrong-pass-456"
	err = mail.New(bad).Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x", Body: "y"})
	if err == nil || strings.Contains(err.Error(), "wrong-pass-456") {
		t.Errorf("wrong password: err %v", err)
	}
	if len(srv.Messages()) != 1 {
		t.Error("a message was accepted without authentication")
	}
}

// starttls:// upgrades the connection and smtps:// speaks TLS from the first
// byte (the server's certificate verified); starttls:// refuses a server
// that does not offer STARTTLS.
func TestSendOverTLS(t *testing.T) {
	t.Parallel()
	hs := httptest.NewTLSServer(nil) // only for its loopback certificate
	defer hs.Close()
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		scheme   string
		implicit bool
	}{{"starttls", false}, {"smtps", true}} {
		srv := mailtest.StartTLS(t, "mailer", "smtp-pass-123", hs.TLS, tc.implicit)
		cfg, err := mail.ParseURL(strings.Replace(srv.URL("p@example.com"), "smtp://", tc.scheme+"://", 1))
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = clientTLS
		if err := mail.New(cfg).Send(context.Background(), mail.Message{To: "a@example.com", Subject: "s", Body: "b"}); err != nil {
			t.Fatalf("%s: %v", tc.scheme, err)
		}
		if m := srv.Messages(); len(m) != 1 || !m[0].TLS {
			t.Errorf("%s: %+v", tc.scheme, m)
		}
		// Without the certificate's root the connection is refused.
		cfg.TLS = &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if err := mail.New(cfg).Send(context.Background(), mail.Message{To: "a@example.com", Subject: "s", Body: "b"}); err == nil {
			t.Errorf("%s: an unverified certificate was accepted", tc.scheme)
		}
	}
	plain := mailtest.Start(t, "mailer", "smtp-pass-123")
	cfg, err := mail.ParseURL(strings.Replace(plain.URL("p@example.com"), "smtp://", "starttls://", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := mail.New(cfg).Send(context.Background(), mail.Message{To: "a@example.com", Subject: "s", Body: "b"}); err == nil || len(plain.Messages()) != 0 {
		t.Errorf("starttls:// to a server without STARTTLS: %v", err)
	}
}
