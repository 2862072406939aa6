package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/pingstreams/pingauth/internal/outbound"
)

// outboundFromEnv reads the policy of server-side fetches (JWKS today):
//
//	PINGAUTH_OUTBOUND_ALLOW: comma-separated CIDRs, IP addresses and host
//	  names admitted even though private (an IdP inside a VPC). A name is
//	  admitted only to private addresses, never to loopback or link-local.
//	PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK: plain http to, and any request
//	  to, loopback addresses (tests and local development only).
func outboundFromEnv(get func(k, def string) string) (outbound.Policy, []error) {
	var p outbound.Policy
	var errs []error
	const allowVar = "PINGAUTH_OUTBOUND_ALLOW"
	for _, e := range strings.FieldsFunc(get(allowVar, ""), func(r rune) bool { return r == ',' || r == ' ' }) {
		if pfx, err := netip.ParsePrefix(e); err == nil {
			if pfx.Bits() == 0 {
				errs = append(errs, fmt.Errorf("%s: %q would admit every address", allowVar, truncate(e, 60)))
				continue
			}
			p.AllowCIDRs = append(p.AllowCIDRs, pfx.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			p.AllowCIDRs = append(p.AllowCIDRs, netip.PrefixFrom(ip.WithZone(""), ip.BitLen()))
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(e, "."))
		if !isHostName(h) {
			errs = append(errs, fmt.Errorf("%s: %q is not a CIDR, an IP address or a host name", allowVar, truncate(e, 60)))
			continue
		}
		p.AllowHosts = append(p.AllowHosts, h)
	}
	const loopVar = "PINGAUTH_OUTBOUND_ALLOW_HTTP_LOOPBACK"
	switch v := strings.ToLower(get(loopVar, "false")); v {
	case "true", "1", "on", "yes":
		p.AllowHTTPLoopback = true
	case "false", "0", "off", "no":
	default:
		errs = append(errs, fmt.Errorf("%s: %q is not one of true, false", loopVar, truncate(v, 20)))
	}
	return p, errs
}

// isHostName reports whether h is a DNS host name (letters, digits and
// hyphens in dot-separated labels of 1-63 characters, at most 253 in all,
// not all-numeric).
func isHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	numeric := true
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c == '-':
				numeric = false
			case c >= '0' && c <= '9':
			default:
				return false
			}
		}
	}
	return !numeric
}
