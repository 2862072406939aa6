// Package mail sends the few emails pingauth writes (operator invitations)
// through an SMTP server configured by one URL (PINGAUTH_SMTP_URL):
//
//	smtp://[user:pass@]host[:port]?from=pingauth@example.com      STARTTLS when offered (port 25)
//	starttls://[user:pass@]host[:port]?from=...                   STARTTLS required (port 587)
//	smtps://[user:pass@]host[:port]?from=...                      TLS from the first byte (port 465)
//
// It uses net/smtp from the standard library over a dialer with timeouts.
// Credentials are sent only over TLS, or in the clear to a loopback server
// (net/smtp's PLAIN rule). The password never appears in errors or logs.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is a parsed PINGAUTH_SMTP_URL.
type Config struct {
	// Scheme is smtp, starttls or smtps.
	Scheme   string
	Host     string
	Port     int
	Username string
	Password string
	// From is the envelope and header sender.
	From string
	// TLS overrides the TLS client configuration (tests); nil: the system
	// roots and Host as the server name.
	TLS *tls.Config
}

// Redacted is the URL without the password (for logs and errors).
func (c Config) Redacted() string {
	u := url.URL{Scheme: c.Scheme, Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), RawQuery: url.Values{"from": {c.From}}.Encode()}
	if c.Username != "" {
		u.User = url.User(c.Username)
	}
	return u.String()
}

// ParseURL parses a PINGAUTH_SMTP_URL. Errors never repeat the password.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, errors.New("not a URL like smtp://user:pass@host:587?from=pingauth@example.com")
	}
	c := Config{Scheme: strings.ToLower(u.Scheme), Host: u.Hostname()}
	def := 0
	switch c.Scheme {
	case "smtp":
		def = 25
	case "starttls":
		def = 587
	case "smtps":
		def = 465
	default:
		return Config{}, fmt.Errorf("scheme %q: use smtp://, starttls:// or smtps://", u.Scheme)
	}
	if c.Host == "" {
		return Config{}, errors.New("the URL has no host")
	}
	c.Port = def
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("port %q is not a port number", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	c.From = strings.TrimSpace(q.Get("from"))
	if c.From == "" {
		return Config{}, errors.New("the URL needs ?from=<sender address>")
	}
	a, err := mail.ParseAddress(c.From)
	if err != nil || strings.ContainsAny(c.From, "\r\n") {
		return Config{}, fmt.Errorf("from=%q is not an email address", c.From)
	}
	c.From = a.Address
	for k := range q {
		if k != "from" {
			return Config{}, fmt.Errorf("unknown parameter %q (only from= is understood)", k)
		}
	}
	return c, nil
}

// Message is one plain-text email.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Sender delivers messages through the configured SMTP server.
type Sender struct {
	cfg Config
	// DialTimeout bounds the TCP (and TLS) connection; IOTimeout the whole
	// conversation after it.
	DialTimeout, IOTimeout time.Duration
	now                    func() time.Time
}

// New returns a sender for cfg (10 s to connect, 30 s to deliver).
func New(cfg Config) *Sender {
	return &Sender{cfg: cfg, DialTimeout: 10 * time.Second, IOTimeout: 30 * time.Second, now: time.Now}
}

// Send delivers m. Its error never holds the SMTP password.
func (s *Sender) Send(ctx context.Context, m Message) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil || strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("smtp: recipient %q is not an email address", m.To)
	}
	if err := s.send(ctx, to.Address, compose(s.cfg.From, to.Address, m, s.now())); err != nil {
		return fmt.Errorf("smtp %s: %w", s.cfg.Redacted(), err)
	}
	return nil
}

func (s *Sender) tlsConfig() *tls.Config {
	if s.cfg.TLS != nil {
		return s.cfg.TLS.Clone()
	}
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
}

func (s *Sender) send(ctx context.Context, to string, msg []byte) error {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	dctx, cancel := context.WithTimeout(ctx, s.DialTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	d := &net.Dialer{Timeout: s.DialTimeout}
	if s.cfg.Scheme == "smtps" {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(dctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	deadline := s.now().Add(s.IOTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	// A cancelled context ends the conversation at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if s.cfg.Scheme != "smtps" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if s.cfg.Scheme == "starttls" {
			return errors.New("the server does not offer STARTTLS (use smtp:// to allow a plain connection)")
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}

// compose builds the RFC 5322 message: header values are single lines
// (CR and LF removed), the subject is encoded when not ASCII, and the body is
// UTF-8 text (net/smtp's data writer turns LF into CRLF and dot-stuffs).
func compose(from, to string, m Message, now time.Time) []byte {
	oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	var b strings.Builder
	b.WriteString("From: " + from + "\r\n")
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", oneLine(m.Subject)) + "\r\n")
	b.WriteString("Date: " + now.UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(m.Body, "\r\n", "\n"))
	if !strings.HasSuffix(m.Body, "\n") {
		b.WriteString("\n")
	}
	return []byte(b.String())
}
