// Package audience validates audience bases and builds the `aud` claim
// "<base>/projects/<projectId>". It is the one validator behind both
// PINGAUTH_AUDIENCE_BASE (internal/config) and a project's audience_base
// (internal/project), so the two cannot drift apart.
package audience

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrInvalidBase is wrapped by every NormalizeBase and Build error about the base.
var ErrInvalidBase = errors.New("audience base must be an http(s) URL of the form scheme://host[:port], without path, query, fragment or userinfo")

// ErrInvalidAudience is wrapped by Build when the built `aud` would not read
// back as exactly "<base>/projects/<projectId>".
var ErrInvalidAudience = errors.New("audience does not parse back as <base>/projects/<projectId>")

// NormalizeBase checks that s is exactly scheme://host[:port] (http or https;
// host a DNS name, an IPv4 address or a bracketed IPv6 address; trailing
// slashes are dropped) and returns it with scheme and host in lower case.
// Anything else — a path, "?", "#", userinfo, an empty or odd port, spaces,
// backslashes — is refused: such a base would yield an `aud` that URL parsers
// read as another project's audience.
func NormalizeBase(s string) (string, error) {
	s = strings.TrimRight(s, "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" {
		return "", ErrInvalidBase
	}
	host, ok := canonicalHost(u.Host)
	if !ok {
		return "", ErrInvalidBase
	}
	out := u.Scheme + "://" + host
	// Nothing may hide between the pieces url.Parse recognised (an empty
	// fragment "#", an empty query "?", ...): the input must be exactly them.
	if !strings.EqualFold(out, s) {
		return "", ErrInvalidBase
	}
	return out, nil
}

// canonicalHost validates host[:port] and returns it in lower case.
func canonicalHost(hp string) (string, bool) {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", false
		}
		a, err := netip.ParseAddr(hp[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false
		}
		host, port = hp[:end+1], hp[end+1:]
		if port != "" && port[0] != ':' {
			return "", false
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i:]
	}
	if port != "" {
		digits := port[1:]
		n, err := strconv.Atoi(digits)
		if err != nil || digits == "" || len(digits) > 5 || digits[0] == '0' || n < 1 || n > 65535 {
			return "", false
		}
	}
	if !strings.HasPrefix(host, "[") && !validDNSName(host) {
		return "", false
	}
	return strings.ToLower(host + port), true
}

// validDNSName: dot-separated labels of letters, digits, '-' and '_' (not at
// a label's ends for '-'), at most 253 characters. IPv4 addresses pass too.
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Build returns the `aud` claim "<base>/projects/<projectID>" for a base that
// NormalizeBase accepts, after parsing the result back with net/url: its path
// must be exactly "/projects/<projectID>" and nothing else (no query,
// fragment, userinfo, escaping), on the base's scheme and host. It returns an
// error rather than an audience that a reader could take for another project.
func Build(base, projectID string) (string, error) {
	b, err := NormalizeBase(base)
	if err != nil {
		return "", err
	}
	aud := b + "/projects/" + projectID
	u, err := url.Parse(aud)
	if err != nil || projectID == "" || strings.ContainsAny(projectID, "/?#%\\@") ||
		u.Scheme+"://"+u.Host != b || u.User != nil || u.Opaque != "" ||
		u.Path != "/projects/"+projectID || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" ||
		u.String() != aud {
		return "", fmt.Errorf("%w: %q", ErrInvalidAudience, truncate(aud, 120))
	}
	return aud, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
