// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback for tests: it requires AUTH PLAIN with the given credentials and
// records every message it accepts.
package mailtest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one delivered email.
type Message struct {
	// TLS: the connection was encrypted (STARTTLS or implicit TLS).
	TLS  bool
	From string
	To   []string
	Data string
}

// Server is a running SMTP server.
type Server struct {
	Addr           string
	User, Password string
	mu             sync.Mutex
	msgs           []Message
	arrived        chan struct{}
}

// Start starts a plain server on 127.0.0.1; it stops when the test ends.
func Start(t testing.TB, user, password string) *Server {
	t.Helper()
	return StartTLS(t, user, password, nil, false)
}

// StartTLS starts a server offering STARTTLS with cert (implicit: TLS from
// the first byte, as smtps); cert nil is Start.
func StartTLS(t testing.TB, user, password string, cert *tls.Config, implicit bool) *Server {
	t.Helper()
	s := &Server{User: user, Password: password, arrived: make(chan struct{}, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback without TLS (net/smtp sends PLAIN only to loopback then)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil && implicit {
		ln = tls.NewListener(ln, cert)
	} else if cert != nil {
		srv.TLSConfig = cert
	}
	s.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// URL is the PINGAUTH_SMTP_URL of the server.
func (s *Server) URL(from string) string {
	u := url.URL{Scheme: "smtp", Host: s.Addr, User: url.UserPassword(s.User, s.Password), RawQuery: url.Values{"from": {from}}.Encode()}
	return u.String()
}

// Messages returns the messages delivered so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

type session struct {
	conn   *smtp.Conn
	s      *Server
	authed bool
	msg    Message
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.User || pass != x.s.Password {
			return errors.New("bad credentials")
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	_, isTLS := x.conn.TLSConnectionState()
	x.msg = Message{From: from, TLS: isTLS}
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.msg.To = append(x.msg.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.msg.Data = string(b)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, x.msg)
	x.s.mu.Unlock()
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.msg = Message{} }
func (x *session) Logout() error { return nil }
