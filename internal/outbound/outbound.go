// Package outbound is the one HTTP client for server-side requests to
// addresses that tenants or operators configure (JWKS URLs today; the
// chat-server API and webhooks later). It exists so that a URL typed by a
// tenant admin cannot make pingauth reach into its own network (SSRF).
//
// The policy:
//
//   - https only. Plain http is allowed only to a loopback host (127/8, ::1,
//     "localhost") and only when Policy.AllowHTTPLoopback is set (tests).
//   - The destination is checked at connect time, on every address the host
//     name resolves to, and the checked address is what is dialed (the
//     dialer's Control hook checks it once more): a name that resolves, or
//     re-resolves (DNS rebinding), to a blocked address is refused. Refused:
//     loopback, private (10/8, 172.16/12, 192.168/16), link-local
//     (169.254/16, fe80::/10), CGNAT (100.64/10), unique-local (fc00::/7),
//     multicast, unspecified, broadcast, documentation, benchmarking and
//     other reserved ranges, IPv6 outside 2000::/3 — and the IPv4-mapped,
//     NAT64 and 6to4 forms of blocked IPv4 addresses. If any resolved
//     address is blocked, none is dialed.
//   - Allow-lists for private targets (an IdP inside a VPC): Policy.AllowCIDRs
//     admits a prefix, Policy.AllowHosts admits names that resolve to
//     private addresses (never to loopback or link-local).
//   - No proxy from the environment; redirects are refused unless
//     Options.MaxRedirects > 0, and then every hop is checked again.
//   - Bounded: an overall timeout (connect, TLS, headers and body) and
//     separate dial/TLS/header timeouts; the body is cut at MaxBodyBytes
//     while reading, whatever Content-Length says.
//   - One error for the caller: every failure is an *Error whose message is
//     ErrFailed's, so nothing about the network leaks to end users. The
//     reason is logged (slog, warn) and available to code through errors.Is
//     with ErrBlockedAddress, ErrRedirect, ErrTooLarge, ErrTimeout, ...
package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout             = 10 * time.Second
	DefaultDialTimeout         = 5 * time.Second
	DefaultTLSHandshakeTimeout = 5 * time.Second
	DefaultMaxBodyBytes        = 1 << 20
	// MaxRedirectsLimit caps Options.MaxRedirects.
	MaxRedirectsLimit = 10
)

// Resolver looks up host names (*net.Resolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a Client; zero values pick the defaults.
type Options struct {
	Policy Policy
	// Timeout bounds a whole request: connect, TLS, headers and body.
	Timeout time.Duration
	// DialTimeout bounds each TCP connect; TLSHandshakeTimeout the
	// handshake; ResponseHeaderTimeout the wait for the response headers
	// once the request is sent (default: Timeout).
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	// MaxBodyBytes bounds a response body.
	MaxBodyBytes int64
	// MaxRedirects is how many redirects are followed, each checked like
	// the first request; 0 (the default) refuses any redirect. At most
	// MaxRedirectsLimit.
	MaxRedirects int
	// Resolver resolves host names; nil: net.DefaultResolver.
	Resolver Resolver
	// TLSConfig is cloned for every connection (private CAs); nil: the
	// system roots. TLS 1.2 is the minimum either way.
	TLSConfig *tls.Config
	// Log receives the reason of every failure; nil discards.
	Log *slog.Logger
}

// Client makes outbound requests under a Policy. It is safe for
// concurrent use; make one per process and share it.
type Client struct {
	policy       Policy
	timeout      time.Duration
	dialTimeout  time.Duration
	tlsTimeout   time.Duration
	maxBody      int64
	maxRedirects int
	resolver     Resolver
	tls          *tls.Config
	log          *slog.Logger
	transport    *http.Transport
	hc           *http.Client
}

// New returns a client.
func New(o Options) *Client {
	c := &Client{
		policy:       o.Policy.clone(),
		timeout:      positive(o.Timeout, DefaultTimeout),
		dialTimeout:  positive(o.DialTimeout, DefaultDialTimeout),
		tlsTimeout:   positive(o.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		maxBody:      o.MaxBodyBytes,
		maxRedirects: min(max(o.MaxRedirects, 0), MaxRedirectsLimit),
		resolver:     o.Resolver,
		log:          o.Log,
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if o.TLSConfig != nil {
		c.tls = o.TLSConfig.Clone()
	} else {
		c.tls = &tls.Config{}
	}
	c.tls.MinVersion = max(c.tls.MinVersion, tls.VersionTLS12)
	c.tls.NextProtos = []string{"http/1.1"} // dialTLS makes the connections: HTTP/1.1 only
	c.transport = &http.Transport{
		Proxy:                  nil, // never HTTP(S)_PROXY: the proxy would dial what we refuse
		DialContext:            c.dialPlain,
		DialTLSContext:         c.dialTLS,
		TLSHandshakeTimeout:    c.tlsTimeout,
		ResponseHeaderTimeout:  positive(o.ResponseHeaderTimeout, c.timeout),
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.hc = &http.Client{Transport: c.transport, CheckRedirect: c.checkRedirect}
	return c
}

func positive(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Policy returns the client's policy (a copy), e.g. to validate a URL when
// it is configured, with the rules that will apply when it is fetched.
func (c *Client) Policy() Policy { return c.policy.clone() }

// Response is a response whose body was read in full (at most MaxBodyBytes).
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Get fetches rawURL.
func (c *Client) Get(ctx context.Context, rawURL string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		u, _ := url.Parse(rawURL)
		return nil, c.fail(ctx, http.MethodGet, u, &Error{Reason: ErrURL, Err: fmt.Errorf("%w: %w", ErrURL, err)})
	}
	return c.Do(ctx, req)
}

// Do sends req (its context is replaced by ctx, bounded by Timeout) and
// reads the response body. Any failure is an *Error. A response with a
// non-2xx status is returned together with an *Error whose Reason is
// ErrStatus, so callers that care can read it.
func (c *Client) Do(ctx context.Context, req *http.Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if req.URL == nil {
		return nil, c.fail(ctx, req.Method, nil, &Error{Reason: ErrURL, Err: fmt.Errorf("%w: no URL", ErrURL)})
	}
	req = req.Clone(ctx)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if err := c.policy.CheckURL(req.URL); err != nil {
		return nil, c.fail(ctx, req.Method, req.URL, &Error{Reason: reasonOf(err), Err: err})
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "pingauth")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.fail(ctx, req.Method, req.URL, failure(ctx, err))
	}
	defer resp.Body.Close()
	if resp.ContentLength > c.maxBody {
		return nil, c.fail(ctx, req.Method, req.URL, &Error{Reason: ErrTooLarge,
			Err: fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrTooLarge, resp.ContentLength, c.maxBody)})
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, c.fail(ctx, req.Method, req.URL, failure(ctx, fmt.Errorf("reading the body: %w", err)))
	}
	if int64(len(body)) > c.maxBody {
		return nil, c.fail(ctx, req.Method, req.URL, &Error{Reason: ErrTooLarge,
			Err: fmt.Errorf("%w: body exceeds %d bytes", ErrTooLarge, c.maxBody)})
	}
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, c.fail(ctx, req.Method, req.URL, &Error{Reason: ErrStatus, Err: fmt.Errorf("%w: HTTP %d", ErrStatus, resp.StatusCode)})
	}
	return out, nil
}

// failure turns an error of the transport into an *Error with its reason.
func failure(ctx context.Context, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the whole URL, query included
	}
	r := reasonOf(err)
	if r == ErrNetwork {
		var ne net.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
			r = ErrTimeout
		case errors.Is(err, context.Canceled), errors.Is(ctx.Err(), context.Canceled):
			r = ErrCanceled
		}
		err = fmt.Errorf("%w: %w", r, err)
	}
	return &Error{Reason: r, Err: err}
}

// fail logs e's reason and detail, and returns e.
func (c *Client) fail(ctx context.Context, method string, u *url.URL, e *Error) *Error {
	lvl := slog.LevelWarn
	if e.Reason == ErrCanceled {
		lvl = slog.LevelDebug // the caller gave up; nothing to see
	}
	c.log.Log(ctx, lvl, "outbound request failed", "reason", e.Reason.Error(), "method", method, "url", redact(u), "error", e.Err.Error())
	return e
}

// redact is u without user info, query and fragment.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	from := redact(via[len(via)-1].URL)
	if c.maxRedirects == 0 {
		return fmt.Errorf("%w: %s redirected to %s", ErrRedirect, from, redact(req.URL))
	}
	if len(via) > c.maxRedirects {
		return fmt.Errorf("%w: more than %d redirects (last to %s)", ErrRedirect, c.maxRedirects, redact(req.URL))
	}
	if err := c.policy.CheckURL(req.URL); err != nil {
		return fmt.Errorf("%w: %s redirected to %s: %w", ErrRedirect, from, redact(req.URL), err)
	}
	return nil // the dial of the next hop is checked like any other
}

// dialPlain dials for http:// URLs: loopback only, and only when allowed.
func (c *Client) dialPlain(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.dial(ctx, network, addr, true)
}

// dialTLS dials a checked address and runs the TLS handshake for the host.
func (c *Client) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	raw, err := c.dial(ctx, network, addr, false)
	if err != nil {
		return nil, err
	}
	cfg := c.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	conn := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, c.tlsTimeout)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", host, err)
	}
	return conn, nil
}

// checkDial is the policy at connect time; plain connections (http) must
// go to loopback, and only when that is allowed.
func (c *Client) checkDial(host string, ip netip.Addr, plain bool) error {
	if plain && (!c.policy.AllowHTTPLoopback || classify(ip) != classLoopback) {
		return fmt.Errorf("%w: plain http to %s (only to loopback, when allowed)", ErrBlockedAddress, ip)
	}
	return c.policy.CheckAddr(host, ip)
}

// dial resolves host, checks every address, then dials the checked
// addresses in turn (never the name, so nothing re-resolves in between).
func (c *Client) dial(ctx context.Context, network, addr string, plain bool) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	resolved := []netip.Addr{}
	if ip, err := netip.ParseAddr(host); err == nil {
		resolved = append(resolved, ip)
	} else if resolved, err = c.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("resolving %s: %w", host, err)
	}
	if len(resolved) == 0 {
		return nil, fmt.Errorf("resolving %s: no addresses", host)
	}
	ips := make([]netip.Addr, 0, len(resolved))
	for _, ip := range resolved {
		ip = ip.Unmap()
		if err := c.checkDial(host, ip, plain); err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
		ips = append(ips, ip)
	}
	d := c.dialer(host, plain)
	var errs []error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// dialer checks, once more, the address the socket actually connects to.
func (c *Client) dialer(host string, plain bool) *net.Dialer {
	return &net.Dialer{
		Timeout:   c.dialTimeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot parse %q", ErrBlockedAddress, address)
			}
			switch network {
			case "tcp", "tcp4", "tcp6":
			default:
				return fmt.Errorf("%w: network %s", ErrBlockedAddress, network)
			}
			return c.checkDial(host, ap.Addr(), plain)
		},
	}
}
