package outbound

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Policy says which destinations an outbound request may reach. The zero
// Policy is the production default: https only, public unicast addresses
// only.
type Policy struct {
	// AllowHTTPLoopback admits loopback destinations (127/8, ::1) and plain
	// http to them (URL host a loopback IP or "localhost"). For tests and
	// local development only (PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK).
	AllowHTTPLoopback bool
	// AllowCIDRs admit destinations inside these prefixes whatever their
	// class (an IdP inside a VPC, a sidecar), except unspecified,
	// multicast and broadcast addresses, which are never dialable targets.
	AllowCIDRs []netip.Prefix
	// AllowHosts are host names (exact, case-insensitive) that may resolve
	// to private addresses (10/8, 172.16/12, 192.168/16, 100.64/10,
	// fc00::/7). They are still refused loopback, link-local and every
	// other blocked class, so rebinding an allowed name to 127.0.0.1 or
	// to the cloud metadata address fails.
	AllowHosts []string
}

// clone returns p with its own copies of the slices, normalized.
func (p Policy) clone() Policy {
	q := Policy{AllowHTTPLoopback: p.AllowHTTPLoopback}
	for _, pfx := range p.AllowCIDRs {
		if pfx.IsValid() {
			q.AllowCIDRs = append(q.AllowCIDRs, normPrefix(pfx))
		}
	}
	for _, h := range p.AllowHosts {
		if h = normHost(h); h != "" {
			q.AllowHosts = append(q.AllowHosts, h)
		}
	}
	return q
}

func normHost(h string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), ".")) }

// normPrefix masks p and turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104)
// into its IPv4 form, so it matches the unmapped addresses we compare.
func normPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// CheckURL is the check made before any dial: the URL must be absolute with
// a host, and https — or http to a loopback host when AllowHTTPLoopback. A
// host that is an IP literal must pass CheckAddr. Host names are judged
// when they are resolved, at connect time. The error wraps ErrURL,
// ErrScheme or ErrBlockedAddress and names the address: it is for logs
// and operators, not for end users.
func (p Policy) CheckURL(u *url.URL) error {
	if u == nil || !u.IsAbs() || u.Opaque != "" {
		return fmt.Errorf("%w: not an absolute URL", ErrURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: no host", ErrURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTPLoopback {
			return fmt.Errorf("%w: http is not allowed (https only)", ErrScheme)
		}
		if !isLoopbackHost(host) {
			return fmt.Errorf("%w: http is allowed only to a loopback address, not %q", ErrScheme, host)
		}
	default:
		return fmt.Errorf("%w: %q (https only)", ErrScheme, u.Scheme)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(host, ip)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && classify(ip) == classLoopback
}

// CheckAddr reports whether ip, reached under the name host (the URL's
// host; may be the IP itself), is an admissible destination: a public
// unicast address, or one admitted by the allow-lists. The error wraps
// ErrBlockedAddress.
func (p Policy) CheckAddr(host string, ip netip.Addr) error {
	c := classify(ip)
	if c == classPublic {
		return nil
	}
	bare := ip.Unmap().WithZone("")
	switch c {
	case classUnspecified, classMulticast, classBroadcast:
		// never a destination, whatever the allow-lists say
	default:
		for _, pfx := range p.AllowCIDRs {
			if normPrefix(pfx).Contains(bare) {
				return nil
			}
		}
		if c == classLoopback && p.AllowHTTPLoopback {
			return nil
		}
		if (c == classPrivate || c == classShared || c == classUniqueLocal) && p.hostAllowed(host) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is a %s address", ErrBlockedAddress, ip, c)
}

func (p Policy) hostAllowed(host string) bool {
	h := normHost(host)
	return h != "" && slices.ContainsFunc(p.AllowHosts, func(a string) bool { return normHost(a) == h })
}

// class is the kind of an IP address, as far as outbound requests care.
type class uint8

const (
	classPublic class = iota
	classLoopback
	classPrivate     // RFC 1918
	classShared      // RFC 6598 carrier-grade NAT, 100.64/10
	classUniqueLocal // RFC 4193, fc00::/7
	classLinkLocal   // 169.254/16, fe80::/10 (cloud metadata lives here)
	classMulticast
	classUnspecified
	classBroadcast
	classReserved // documentation, benchmarking, future use, deprecated or non-global IPv6
)

func (c class) String() string {
	switch c {
	case classPublic:
		return "public"
	case classLoopback:
		return "loopback"
	case classPrivate:
		return "private"
	case classShared:
		return "shared (CGNAT)"
	case classUniqueLocal:
		return "unique-local"
	case classLinkLocal:
		return "link-local"
	case classMulticast:
		return "multicast"
	case classUnspecified:
		return "unspecified"
	case classBroadcast:
		return "broadcast"
	}
	return "reserved"
}

type rangeClass struct {
	prefix netip.Prefix
	class  class
}

// Special-purpose ranges (IANA IPv4/IPv6 special-purpose address
// registries). Read-only; the first match wins.
var (
	v4Ranges = []rangeClass{
		{netip.MustParsePrefix("0.0.0.0/8"), classUnspecified}, // "this network"
		{netip.MustParsePrefix("10.0.0.0/8"), classPrivate},
		{netip.MustParsePrefix("100.64.0.0/10"), classShared},
		{netip.MustParsePrefix("127.0.0.0/8"), classLoopback},
		{netip.MustParsePrefix("169.254.0.0/16"), classLinkLocal},
		{netip.MustParsePrefix("172.16.0.0/12"), classPrivate},
		{netip.MustParsePrefix("192.0.0.0/24"), classReserved},   // IETF protocol assignments
		{netip.MustParsePrefix("192.0.2.0/24"), classReserved},   // TEST-NET-1
		{netip.MustParsePrefix("192.88.99.0/24"), classReserved}, // 6to4 relay anycast (deprecated)
		{netip.MustParsePrefix("192.168.0.0/16"), classPrivate},
		{netip.MustParsePrefix("198.18.0.0/15"), classReserved},   // benchmarking
		{netip.MustParsePrefix("198.51.100.0/24"), classReserved}, // TEST-NET-2
		{netip.MustParsePrefix("203.0.113.0/24"), classReserved},  // TEST-NET-3
		{netip.MustParsePrefix("224.0.0.0/4"), classMulticast},
		{netip.MustParsePrefix("255.255.255.255/32"), classBroadcast},
		{netip.MustParsePrefix("240.0.0.0/4"), classReserved}, // future use
	}
	v6Ranges = []rangeClass{
		{netip.MustParsePrefix("::/128"), classUnspecified},
		{netip.MustParsePrefix("::1/128"), classLoopback},
		{netip.MustParsePrefix("fc00::/7"), classUniqueLocal},
		{netip.MustParsePrefix("fe80::/10"), classLinkLocal},
		{netip.MustParsePrefix("fec0::/10"), classReserved}, // site-local (deprecated)
		{netip.MustParsePrefix("ff00::/8"), classMulticast},
		{netip.MustParsePrefix("64:ff9b:1::/48"), classReserved}, // local-use NAT64
		{netip.MustParsePrefix("2001::/23"), classReserved},      // IETF protocol assignments: Teredo, benchmarking, ORCHID…
		{netip.MustParsePrefix("2001:db8::/32"), classReserved},  // documentation
		{netip.MustParsePrefix("3fff::/20"), classReserved},      // documentation
	}
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64: the IPv4 address is the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4: the IPv4 address is bits 16-47
	global6   = netip.MustParsePrefix("2000::/3")     // IPv6 global unicast
)

// classify returns the class of ip. IPv4-mapped IPv6 addresses are judged
// as the IPv4 address they carry, and so are the IPv4 addresses embedded
// in NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses. Other IPv6
// addresses outside 2000::/3 are reserved.
func classify(ip netip.Addr) class {
	if !ip.IsValid() {
		return classReserved
	}
	ip = ip.WithZone("") // netip.Prefix.Contains never matches a zoned address
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is4() {
		for _, r := range v4Ranges {
			if r.prefix.Contains(ip) {
				return r.class
			}
		}
		return classPublic
	}
	for _, r := range v6Ranges {
		if r.prefix.Contains(ip) {
			return r.class
		}
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return classify(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return classify(netip.AddrFrom4([4]byte(b[2:6])))
	case !global6.Contains(ip):
		return classReserved // ::/96 IPv4-compatible, ::ffff:0:0:0/96, 100::/64 discard, 5f00::/16 …
	}
	return classPublic
}
