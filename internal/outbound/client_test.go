package outbound_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/outbound"
)

// logBuf collects a client's log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newClient builds a client that logs into the returned buffer and trusts
// the httptest certificate (127.0.0.1, ::1, example.com, *.example.com).
func newClient(o outbound.Options) (*outbound.Client, *logBuf) {
	logs := &logBuf{}
	o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{RootCAs: testRoots()}
	}
	return outbound.New(o), logs
}

var rootsOnce = sync.OnceValue(func() *x509.CertPool {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
})

func testRoots() *x509.CertPool { return rootsOnce() }

// server is an httptest server that counts the connections it accepts.
type server struct {
	*httptest.Server
	conns atomic.Int32
}

// newServer starts h on addr ("" = 127.0.0.1:0), with TLS when tls is set.
func newServer(t *testing.T, useTLS bool, addr string, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{Server: httptest.NewUnstartedServer(h)}
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		_ = s.Listener.Close()
		s.Listener = ln
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

func ok(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }
}

// refused asserts that err is the uniform outbound error with reason want,
// and that the reason was logged at warn.
func refused(t *testing.T, err error, want error, logs *logBuf) {
	t.Helper()
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Reason != want || !errors.Is(err, want) || !errors.Is(err, outbound.ErrFailed) {
		t.Fatalf("err = %v (%#v), want an *outbound.Error with reason %v", err, err, want)
	}
	if err.Error() != "outbound request failed" {
		t.Fatalf("caller-facing message %q is not the uniform one", err.Error())
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, want.Error()) {
		t.Fatalf("reason %q not logged at warn: %s", want, l)
	}
}

func TestLoopbackRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	tlsSrv := newServer(t, true, "", ok("hello"))
	plainSrv := newServer(t, false, "", ok("hello"))
	for _, tc := range []struct {
		name string
		p    outbound.Policy
		url  string
		want error // nil: 200
	}{
		{"https to 127.0.0.1, strict", outbound.Policy{}, tlsSrv.URL, outbound.ErrBlockedAddress},
		{"https to localhost, strict", outbound.Policy{}, "https://localhost:" + tlsSrv.port(), outbound.ErrBlockedAddress},
		{"https to 127.0.0.1, loopback allowed", outbound.Policy{AllowHTTPLoopback: true}, tlsSrv.URL, nil},
		{"https to 127.0.0.1, allow-listed CIDR", outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, tlsSrv.URL, nil},
		{"https to 127.0.0.1, other CIDR allow-listed", outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, tlsSrv.URL, outbound.ErrBlockedAddress},
		{"http to 127.0.0.1, strict", outbound.Policy{}, plainSrv.URL, outbound.ErrScheme},
		{"http to 127.0.0.1, allow-listed CIDR (https only)", outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, plainSrv.URL, outbound.ErrScheme},
		{"http to 127.0.0.1, loopback allowed", outbound.Policy{AllowHTTPLoopback: true}, plainSrv.URL, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newClient(outbound.Options{Policy: tc.p})
			before := tlsSrv.conns.Load() + plainSrv.conns.Load()
			resp, err := c.Get(context.Background(), tc.url+"/x")
			if tc.want == nil {
				if err != nil || resp.StatusCode != 200 || string(resp.Body) != "hello" {
					t.Fatalf("Get: %v %+v", err, resp)
				}
				return
			}
			refused(t, err, tc.want, logs)
			if n := tlsSrv.conns.Load() + plainSrv.conns.Load() - before; n != 0 {
				t.Fatalf("%d connections reached the server", n)
			}
		})
	}
}

// countingResolver records lookups; it resolves nothing.
type countingResolver struct{ n atomic.Int32 }

func (r *countingResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	r.n.Add(1)
	return nil, errors.New("no DNS in this test")
}

// A non-https URL is refused before any lookup or dial.
func TestHTTPSOnlyBeforeDialing(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"http://idp.example.com/jwks", "ftp://idp.example.com/jwks", "gopher://idp.example.com/"} {
		for _, p := range []outbound.Policy{{}, {AllowHTTPLoopback: true}} {
			r := &countingResolver{}
			c, logs := newClient(outbound.Options{Policy: p, Resolver: r})
			_, err := c.Get(context.Background(), raw)
			refused(t, err, outbound.ErrScheme, logs)
			if r.n.Load() != 0 {
				t.Fatalf("%s: resolved before refusing the scheme", raw)
			}
		}
	}
	c, logs := newClient(outbound.Options{})
	_, err := c.Get(context.Background(), "https://%zz/")
	refused(t, err, outbound.ErrURL, logs)
}

// dnsServer is a tiny authoritative DNS server on 127.0.0.1 (UDP) answering
// A and AAAA queries from a fixed table.
type dnsServer struct {
	conn    net.PacketConn
	records map[string][]netip.Addr
	queries atomic.Int32
}

func startDNS(t *testing.T, records map[string][]netip.Addr) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: pc, records: records}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := s.answer(buf[:n]); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return s
}

func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	s.queries.Add(1)
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	addrs, known := s.records[strings.ToLower(strings.Join(labels, "."))]
	var answers []netip.Addr
	for _, a := range addrs {
		if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
			answers = append(answers, a)
		}
	}
	resp := make([]byte, 12, 512)
	copy(resp, q[:2])          // id
	resp[2] = 0x84 | q[2]&0x01 // response, authoritative, recursion desired as asked
	resp[3] = 0x80             // recursion available, NOERROR
	if !known {
		resp[3] |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(resp[4:], 1)
	binary.BigEndian.PutUint16(resp[6:], uint16(len(answers)))
	resp = append(resp, question...)
	for _, a := range answers {
		typ := uint16(1)
		if a.Is6() {
			typ = 28
		}
		resp = append(resp, 0xc0, 0x0c) // the question's name
		resp = binary.BigEndian.AppendUint16(resp, typ)
		resp = binary.BigEndian.AppendUint16(resp, 1) // IN
		resp = binary.BigEndian.AppendUint32(resp, 0) // TTL 0
		resp = binary.BigEndian.AppendUint16(resp, uint16(a.BitLen()/8))
		resp = append(resp, a.AsSlice()...)
	}
	return resp
}

func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

// DNS rebinding: the URL names a host, the name resolves to 127.0.0.1. The
// URL passes every check that can be made without resolving it; the
// connection is refused at connect time, on the resolved address.
func TestDNSRebindingRefusedAtConnect(t *testing.T) {
	t.Parallel()
	srv := newServer(t, true, "", ok("internal"))
	dns := startDNS(t, map[string][]netip.Addr{
		"idp.example.com":     {netip.MustParseAddr("127.0.0.1")},
		"private.example.com": {netip.MustParseAddr("10.0.0.1")},
	})
	raw := "https://idp.example.com:" + srv.port() + "/jwks"
	if err := (outbound.Policy{}).CheckURL(mustURL(t, raw)); err != nil {
		t.Fatalf("a host name cannot be judged before it is resolved: %v", err)
	}
	for _, tc := range []struct {
		name string
		p    outbound.Policy
		url  string
	}{
		{"strict", outbound.Policy{}, raw},
		{"allowed host names never reach loopback", outbound.Policy{AllowHosts: []string{"idp.example.com"}}, raw},
		{"private answer", outbound.Policy{}, "https://private.example.com:1/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newClient(outbound.Options{Policy: tc.p, Resolver: dns.resolver()})
			q, conns := dns.queries.Load(), srv.conns.Load()
			_, err := c.Get(context.Background(), tc.url)
			refused(t, err, outbound.ErrBlockedAddress, logs)
			if dns.queries.Load() == q {
				t.Fatal("the name was never resolved")
			}
			if srv.conns.Load() != conns {
				t.Fatal("a connection reached the server")
			}
			if !strings.Contains(logs.String(), "127.0.0.1") && !strings.Contains(logs.String(), "10.0.0.1") {
				t.Fatalf("the log does not name the address: %s", logs)
			}
		})
	}
	// One blocked answer among admitted ones: nothing is dialed, not even
	// the admitted address.
	t.Run("mixed answers", func(t *testing.T) {
		mixed := startDNS(t, map[string][]netip.Addr{"mixed.example.com": {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")}})
		c, logs := newClient(outbound.Options{Policy: outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, Resolver: mixed.resolver()})
		conns := srv.conns.Load()
		_, err := c.Get(context.Background(), "https://mixed.example.com:"+srv.port()+"/")
		refused(t, err, outbound.ErrBlockedAddress, logs)
		if srv.conns.Load() != conns {
			t.Fatal("dialed the admitted address of a name that also resolves to a blocked one")
		}
	})
	// Control: the same name and resolver reach the server once its
	// address is allow-listed, so the refusal above was the address check.
	c, _ := newClient(outbound.Options{Policy: outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, Resolver: dns.resolver()})
	if resp, err := c.Get(context.Background(), raw); err != nil || string(resp.Body) != "internal" {
		t.Fatalf("allow-listed: %v", err)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func redirectTo(target func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target(), http.StatusFound) }
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	// The case: a JWKS URL on 127.0.0.1 redirecting to another host.
	other := newServer(t, false, "", ok("from the other host"))
	first := newServer(t, false, "", redirectTo(func() string { return "http://localhost:" + other.port() + "/keys" }))
	loop := outbound.Policy{AllowHTTPLoopback: true}

	t.Run("refused by default", func(t *testing.T) {
		t.Parallel()
		c, logs := newClient(outbound.Options{Policy: loop})
		_, err := c.Get(context.Background(), first.URL+"/jwks")
		refused(t, err, outbound.ErrRedirect, logs)
		if other.conns.Load() != 0 {
			t.Fatal("the redirect was followed")
		}
		if !strings.Contains(logs.String(), "localhost:"+other.port()) {
			t.Fatalf("the log does not name the redirect target: %s", logs)
		}
	})

	// With MaxRedirects, each hop is checked again: scheme, literal
	// address, and the address the next hop's name resolves to.
	t.Run("re-validated per hop", func(t *testing.T) {
		t.Parallel()
		hidden := newServer(t, true, "127.0.0.2:0", ok("hidden"))
		dns := startDNS(t, map[string][]netip.Addr{"rebind.example.com": {netip.MustParseAddr("127.0.0.2")}})
		var target atomic.Value
		hop := newServer(t, true, "", redirectTo(func() string { return target.Load().(string) }))
		hop2 := newServer(t, true, "", redirectTo(func() string { return hop.URL + "/again" }))
		only1 := outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
		for _, tc := range []struct {
			name, target string
			url          string
			max          int
			want         error
		}{
			{"to the metadata address", "https://169.254.169.254/latest/meta-data/", hop.URL, 3, outbound.ErrBlockedAddress},
			{"to a private literal", "https://10.0.0.1/", hop.URL, 3, outbound.ErrBlockedAddress},
			{"down to http", "http://127.0.0.1:" + other.port() + "/", hop.URL, 3, outbound.ErrScheme},
			{"to a name resolving to a blocked address", "https://rebind.example.com:" + hidden.port() + "/", hop.URL, 3, outbound.ErrBlockedAddress},
			{"too many", "https://rebind.example.com:" + hidden.port() + "/", hop2.URL, 1, outbound.ErrRedirect},
		} {
			target.Store(tc.target)
			c, logs := newClient(outbound.Options{Policy: only1, MaxRedirects: tc.max, Resolver: dns.resolver()})
			_, err := c.Get(context.Background(), tc.url)
			if err == nil {
				t.Fatalf("%s: followed", tc.name)
			}
			refused(t, err, tc.want, logs)
			if hidden.conns.Load() != 0 {
				t.Fatalf("%s: reached the hidden server", tc.name)
			}
		}
		// Control: allowed hops are followed.
		target.Store("https://rebind.example.com:" + hidden.port() + "/")
		c, _ := newClient(outbound.Options{Policy: outbound.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, MaxRedirects: 3, Resolver: dns.resolver()})
		if resp, err := c.Get(context.Background(), hop2.URL); err != nil || string(resp.Body) != "hidden" {
			t.Fatalf("allowed hops: %v", err)
		}
	})
}

func TestBodySizeLimit(t *testing.T) {
	t.Parallel()
	const limit = 1000
	srv := newServer(t, false, "", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		body := bytes.Repeat([]byte("x"), n)
		if r.URL.Query().Get("chunked") != "" {
			for len(body) > 0 { // no Content-Length: the size is learnt while reading
				k := min(len(body), 100)
				_, _ = w.Write(body[:k])
				w.(http.Flusher).Flush()
				body = body[k:]
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(body)
	})
	c, logs := newClient(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}, MaxBodyBytes: limit})
	for _, q := range []string{"n=1000", "n=1000&chunked=1"} {
		if resp, err := c.Get(context.Background(), srv.URL+"/?"+q); err != nil || len(resp.Body) != limit {
			t.Fatalf("%s: a body of exactly the limit: %v", q, err)
		}
	}
	for _, q := range []string{"n=1001", "n=1001&chunked=1", "n=100000&chunked=1"} {
		resp, err := c.Get(context.Background(), srv.URL+"/?"+q)
		if resp != nil {
			t.Fatalf("%s: got a response", q)
		}
		refused(t, err, outbound.ErrTooLarge, logs)
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	stall := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("12345"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	srv := newServer(t, false, "", stall)
	c, logs := newClient(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}, Timeout: 200 * time.Millisecond})
	for _, path := range []string{"/headers", "/body"} {
		start := time.Now()
		_, err := c.Get(context.Background(), srv.URL+path)
		refused(t, err, outbound.ErrTimeout, logs)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s: took %s", path, d)
		}
	}
	// The caller's own deadline counts too; cancellation is its own reason.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c2, logs2 := newClient(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}})
	_, err := c2.Get(ctx, srv.URL+"/headers")
	refused(t, err, outbound.ErrTimeout, logs2)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c2.Get(ctx, srv.URL+"/headers")
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Reason != outbound.ErrCanceled || err.Error() != "outbound request failed" {
		t.Fatalf("canceled: %v", err)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	srv := newServer(t, false, "", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "nope", http.StatusNotFound) })
	c, logs := newClient(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}})
	resp, err := c.Get(context.Background(), srv.URL)
	refused(t, err, outbound.ErrStatus, logs)
	if resp == nil || resp.StatusCode != 404 || !strings.Contains(string(resp.Body), "nope") {
		t.Fatalf("the response of a failed status is kept for the caller: %+v", resp)
	}
}

// Every failure reads the same to the caller, and its message names no
// host, address or port; the reason is in the log and in errors.Is.
func TestUniformError(t *testing.T) {
	t.Parallel()
	srv := newServer(t, false, "", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "http://127.0.0.1:1/", http.StatusFound)
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 2000))
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	})
	loopC, logs := newClient(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}, MaxBodyBytes: 1000})
	strictC, strictLogs := newClient(outbound.Options{})
	errs := map[error]error{}
	_, errs[outbound.ErrBlockedAddress] = strictC.Get(context.Background(), "https://127.0.0.1:"+srv.port()+"/")
	_, errs[outbound.ErrScheme] = strictC.Get(context.Background(), srv.URL)
	_, errs[outbound.ErrRedirect] = loopC.Get(context.Background(), srv.URL+"/redirect")
	_, errs[outbound.ErrTooLarge] = loopC.Get(context.Background(), srv.URL+"/big")
	_, errs[outbound.ErrStatus] = loopC.Get(context.Background(), srv.URL+"/teapot")
	_, errs[outbound.ErrNetwork] = loopC.Get(context.Background(), "http://127.0.0.1:1/")
	for reason, err := range errs {
		l := logs
		if reason == outbound.ErrBlockedAddress || reason == outbound.ErrScheme {
			l = strictLogs
		}
		refused(t, err, reason, l)
		for _, leak := range []string{"127.0.0.1", srv.port(), "localhost", reason.Error()} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%v: message %q reveals %q", reason, err, leak)
			}
		}
	}
}
