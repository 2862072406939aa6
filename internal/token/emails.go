package token

import (
	"fmt"
	"slices"
	"strings"
)

// MaxDenyEntries bounds an email deny-list.
const MaxDenyEntries = 500

// EmailDenyList lists emails and domains that never appear in a token: the
// chat server's admin email (superadmin on several of its routes), an
// agency's own staff domain (its people hold dashboard accounts). An entry
// with a local part ("admin@chat.example") denies that address; an entry
// without one ("agency.example" or "@agency.example") denies the domain and
// its subdomains. Matching ignores case. The zero value denies nothing.
type EmailDenyList struct {
	emails  map[string]struct{}
	domains []string
	entries []string
}

// ParseEmailDenyList normalises entries (blank ones are skipped) and
// reports the first malformed one.
func ParseEmailDenyList(entries []string) (EmailDenyList, error) {
	var l EmailDenyList
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if len(l.entries) >= MaxDenyEntries {
			return EmailDenyList{}, fmt.Errorf("at most %d entries", MaxDenyEntries)
		}
		local, domain, hasAt := strings.Cut(e, "@")
		if !hasAt {
			domain, local = local, ""
		}
		if !validDomain(domain) || strings.ContainsAny(local, " \t\r\n,;<>\"") || strings.Contains(domain, "@") {
			return EmailDenyList{}, fmt.Errorf("%q is not an email address or a domain", truncate(e, 60))
		}
		if local == "" {
			if !slices.Contains(l.domains, domain) {
				l.domains = append(l.domains, domain)
				l.entries = append(l.entries, domain)
			}
			continue
		}
		if l.emails == nil {
			l.emails = map[string]struct{}{}
		}
		if _, dup := l.emails[e]; !dup {
			l.emails[e] = struct{}{}
			l.entries = append(l.entries, e)
		}
	}
	return l, nil
}

// MustEmailDenyList is ParseEmailDenyList for literals; it panics on error.
func MustEmailDenyList(entries ...string) EmailDenyList {
	l, err := ParseEmailDenyList(entries)
	if err != nil {
		panic(err)
	}
	return l
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for _, r := range d {
		if !(r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Entries returns the normalised entries (domains without "@").
func (l EmailDenyList) Entries() []string { return slices.Clone(l.entries) }

// Empty reports whether the list denies nothing.
func (l EmailDenyList) Empty() bool { return len(l.entries) == 0 }

// Denies reports whether email (any case) is denied.
func (l EmailDenyList) Denies(email string) bool {
	if email == "" || l.Empty() {
		return false
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if _, ok := l.emails[email]; ok {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := email[at+1:]
	for _, d := range l.domains {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}
