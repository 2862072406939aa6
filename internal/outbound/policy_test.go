package outbound

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip   string
		want class
	}{
		// public, including the neighbours of every blocked IPv4 range
		{"8.8.8.8", classPublic}, {"1.1.1.1", classPublic}, {"93.184.215.14", classPublic},
		{"9.255.255.255", classPublic}, {"11.0.0.0", classPublic}, {"100.63.255.255", classPublic}, {"100.128.0.0", classPublic},
		{"126.255.255.255", classPublic}, {"128.0.0.0", classPublic}, {"169.253.255.255", classPublic}, {"169.255.0.0", classPublic},
		{"172.15.255.255", classPublic}, {"172.32.0.0", classPublic}, {"192.167.255.255", classPublic}, {"192.169.0.0", classPublic},
		{"198.17.255.255", classPublic}, {"198.20.0.0", classPublic}, {"223.255.255.255", classPublic},
		{"2606:4700:4700::1111", classPublic}, {"2a00:1450:4001::200e", classPublic},
		{"::ffff:8.8.8.8", classPublic}, {"64:ff9b::808:808", classPublic}, {"2002:808:808::1", classPublic},

		{"127.0.0.1", classLoopback}, {"127.255.255.254", classLoopback}, {"::1", classLoopback},
		{"::ffff:127.0.0.1", classLoopback}, {"::ffff:7f00:2", classLoopback},
		{"64:ff9b::7f00:1", classLoopback}, {"2002:7f00:1::1", classLoopback}, // NAT64 and 6to4 of 127.0.0.1

		{"10.0.0.1", classPrivate}, {"10.255.255.255", classPrivate}, {"172.16.0.1", classPrivate}, {"172.31.255.255", classPrivate},
		{"192.168.0.1", classPrivate}, {"192.168.255.255", classPrivate}, {"::ffff:10.1.2.3", classPrivate}, {"::ffff:192.168.1.1", classPrivate},
		{"64:ff9b::a00:1", classPrivate},

		{"100.64.0.1", classShared}, {"100.127.255.255", classShared}, {"::ffff:100.64.0.1", classShared},

		{"169.254.169.254", classLinkLocal}, {"169.254.0.1", classLinkLocal}, {"::ffff:169.254.169.254", classLinkLocal},
		{"2002:a9fe:a9fe::1", classLinkLocal}, {"fe80::1", classLinkLocal}, {"fe80::1%eth0", classLinkLocal}, {"febf:ffff::1", classLinkLocal},

		{"fc00::1", classUniqueLocal}, {"fd12:3456::1", classUniqueLocal}, {"fdff:ffff::1", classUniqueLocal},

		{"224.0.0.1", classMulticast}, {"239.255.255.250", classMulticast}, {"::ffff:224.0.0.251", classMulticast},
		{"ff02::1", classMulticast}, {"ff0e::1", classMulticast},

		{"0.0.0.0", classUnspecified}, {"0.1.2.3", classUnspecified}, {"::", classUnspecified}, {"::ffff:0.0.0.0", classUnspecified},

		{"255.255.255.255", classBroadcast}, {"::ffff:255.255.255.255", classBroadcast},

		{"192.0.0.8", classReserved}, {"192.0.2.1", classReserved}, {"192.88.99.1", classReserved},
		{"198.18.0.1", classReserved}, {"198.19.255.255", classReserved}, {"198.51.100.1", classReserved}, {"203.0.113.1", classReserved},
		{"240.0.0.1", classReserved}, {"255.255.255.254", classReserved},
		{"fec0::1", classReserved}, {"2001:db8::1", classReserved}, {"2001::1", classReserved} /* Teredo */, {"2001:2::1", classReserved},
		{"3fff::1", classReserved}, {"::7f00:1", classReserved} /* IPv4-compatible */, {"::ffff:0:7f00:1", classReserved}, /* IPv4-translated */
		{"100::1", classReserved}, {"64:ff9b:1::1", classReserved}, {"5f00::1", classReserved}, {"4000::1", classReserved},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := classify(ip); got != tc.want {
			t.Errorf("classify(%s) = %s, want %s", tc.ip, got, tc.want)
		}
		// The zero Policy admits exactly the public addresses.
		if err := (Policy{}).CheckAddr("host.example", ip); (err == nil) != (tc.want == classPublic) || (err != nil && !errors.Is(err, ErrBlockedAddress)) {
			t.Errorf("Policy{}.CheckAddr(%s) = %v", tc.ip, err)
		}
	}
	if classify(netip.Addr{}) == classPublic {
		t.Error("the zero Addr is public")
	}
}

func TestAllowLists(t *testing.T) {
	t.Parallel()
	pfx := netip.MustParsePrefix
	loop := Policy{AllowHTTPLoopback: true}
	vpc := Policy{AllowCIDRs: []netip.Prefix{pfx("10.0.0.0/8"), pfx("fd00::/8"), pfx("::ffff:192.168.0.0/112"), pfx("fe80::/10"),
		pfx("224.0.0.0/4"), pfx("0.0.0.0/8"), pfx("255.255.255.255/32")}}
	hosts := Policy{AllowHosts: []string{"IdP.Corp.Example."}}
	for _, tc := range []struct {
		name   string
		p      Policy
		host   string
		ip     string
		admits bool
	}{
		{"loopback allowed: 127/8", loop, "127.0.0.1", "127.0.0.1", true},
		{"loopback allowed: ::1", loop, "localhost", "::1", true},
		{"loopback allowed: mapped", loop, "localhost", "::ffff:127.0.0.2", true},
		{"loopback allowed: private still refused", loop, "10.0.0.1", "10.0.0.1", false},
		{"loopback allowed: link-local still refused", loop, "x", "169.254.169.254", false},

		{"cidr: inside", vpc, "idp.internal", "10.1.2.3", true},
		{"cidr: mapped address inside", vpc, "idp.internal", "::ffff:10.1.2.3", true},
		{"cidr: mapped prefix", vpc, "idp.internal", "192.168.7.8", true},
		{"cidr: v6", vpc, "idp.internal", "fd00::5", true},
		{"cidr: zoned address", vpc, "idp.internal", "fe80::1%eth0", true},
		{"cidr: outside", vpc, "idp.internal", "172.16.0.1", false},
		{"cidr: loopback not listed", vpc, "idp.internal", "127.0.0.1", false},
		{"cidr: multicast never", vpc, "x", "224.0.0.1", false},
		{"cidr: unspecified never", vpc, "x", "0.0.0.0", false},
		{"cidr: broadcast never", vpc, "x", "255.255.255.255", false},

		{"host: private", hosts, "idp.corp.example", "10.0.0.5", true},
		{"host: case and trailing dot", hosts, "IDP.CORP.EXAMPLE.", "192.168.1.1", true},
		{"host: cgnat", hosts, "idp.corp.example", "100.64.1.1", true},
		{"host: unique-local", hosts, "idp.corp.example", "fd00::5", true},
		{"host: mapped private", hosts, "idp.corp.example", "::ffff:10.0.0.5", true},
		{"host: loopback never", hosts, "idp.corp.example", "127.0.0.1", false},
		{"host: metadata never", hosts, "idp.corp.example", "169.254.169.254", false},
		{"host: reserved never", hosts, "idp.corp.example", "198.18.0.1", false},
		{"host: other name", hosts, "evil.example", "10.0.0.5", false},
		{"host: suffix is not a match", hosts, "x.idp.corp.example", "10.0.0.5", false},
	} {
		err := tc.p.CheckAddr(tc.host, netip.MustParseAddr(tc.ip))
		if (err == nil) != tc.admits || (err != nil && !errors.Is(err, ErrBlockedAddress)) {
			t.Errorf("%s: CheckAddr(%s, %s) = %v, want admitted=%v", tc.name, tc.host, tc.ip, err, tc.admits)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := Policy{}
	loop := Policy{AllowHTTPLoopback: true}
	vpc := Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		p    Policy
		url  string
		want error // nil: accepted
	}{
		{strict, "https://idp.example.com/.well-known/jwks.json", nil},
		{strict, "https://IDP.example.com:8443/jwks?x=1", nil},
		{strict, "http://idp.example.com/jwks", ErrScheme},
		{loop, "http://idp.example.com/jwks", ErrScheme},
		{loop, "http://127.0.0.1.nip.io/jwks", ErrScheme},
		{strict, "http://127.0.0.1:8080/jwks", ErrScheme},
		{loop, "http://127.0.0.1:8080/jwks", nil},
		{loop, "http://localhost/jwks", nil},
		{loop, "http://[::1]:80/jwks", nil},
		{vpc, "http://10.0.0.1/jwks", ErrScheme},
		{vpc, "https://10.0.0.1/jwks", nil},
		{strict, "https://10.0.0.1/jwks", ErrBlockedAddress},
		{strict, "https://127.0.0.1/jwks", ErrBlockedAddress},
		{loop, "https://127.0.0.1/jwks", nil},
		{strict, "https://169.254.169.254/latest/meta-data/", ErrBlockedAddress},
		{strict, "https://[::ffff:127.0.0.1]/", ErrBlockedAddress},
		{strict, "https://[fe80::1%25eth0]/", ErrBlockedAddress},
		{strict, "https://0.0.0.0/", ErrBlockedAddress},
		{strict, "ftp://idp.example.com/jwks", ErrScheme},
		{strict, "file:///etc/passwd", ErrURL},
		{strict, "/jwks", ErrURL},
		{strict, "https:idp.example.com", ErrURL},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.p.CheckURL(u); (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%+v CheckURL(%s) = %v, want %v", tc.p, tc.url, err, tc.want)
		}
	}
	if err := strict.CheckURL(nil); !errors.Is(err, ErrURL) {
		t.Errorf("CheckURL(nil) = %v", err)
	}
}

// New copies the policy: changing the caller's slices later changes nothing.
func TestPolicyIsCopied(t *testing.T) {
	t.Parallel()
	cidrs := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	c := New(Options{Policy: Policy{AllowCIDRs: cidrs}})
	cidrs[0] = netip.MustParsePrefix("0.0.0.0/0")
	if err := c.Policy().CheckAddr("x", netip.MustParseAddr("192.168.1.1")); err == nil {
		t.Fatal("the client's policy follows the caller's slice")
	}
}

// The environment's HTTP(S)_PROXY is never used: a proxy would connect to
// whatever we refuse to dial.
func TestNoProxyFromEnvironment(t *testing.T) {
	t.Parallel()
	if New(Options{}).transport.Proxy != nil {
		t.Fatal("transport uses a proxy")
	}
}

// The dialer's Control hook checks the address the socket connects to,
// whatever the caller resolved.
func TestDialerControlChecksTheConnectedAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	strict, loop := New(Options{}), New(Options{Policy: Policy{AllowHTTPLoopback: true}})
	if _, err := strict.dialer("public.example", false).DialContext(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("strict dialer connected to loopback: %v", err)
	}
	conn, err := loop.dialer("localhost", false).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("loopback-allowed dialer: %v", err)
	}
	_ = conn.Close()
	if _, err := loop.dialer("localhost", false).DialContext(context.Background(), "udp", ln.Addr().String()); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("udp dial: %v", err)
	}
}

// Plain http connects only to loopback, even to addresses the allow-lists
// admit over https.
func TestPlainHTTPDialsLoopbackOnly(t *testing.T) {
	t.Parallel()
	c := New(Options{Policy: Policy{AllowHTTPLoopback: true, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		AllowHosts: []string{"localhost"}}})
	for ip, plainOK := range map[string]bool{"127.0.0.1": true, "::1": true, "10.0.0.1": false, "8.8.8.8": false} {
		a := netip.MustParseAddr(ip)
		if err := c.checkDial("localhost", a, true); (err == nil) != plainOK {
			t.Errorf("plain dial to %s: %v", ip, err)
		}
		if err := c.checkDial("localhost", a, false); err != nil {
			t.Errorf("TLS dial to %s: %v", ip, err)
		}
	}
	if err := New(Options{}).checkDial("localhost", netip.MustParseAddr("127.0.0.1"), true); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("plain dial without AllowHTTPLoopback: %v", err)
	}
}
