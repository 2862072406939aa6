package httpapi

import (
	"strings"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// checkAuthFields rejects login fields that can never match a stored user
// and that some databases refuse outright (PostgreSQL fails on NUL bytes and
// invalid UTF-8, which would otherwise surface as a 500): invalid UTF-8 or
// control characters in email/username, invalid UTF-8 or NUL in passwords.
func checkAuthFields(req AuthRequest) error {
	for _, f := range []struct{ name, v string }{{"email", req.Email}, {"username", req.Username}} {
		if !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, isControl) {
			return apperr.Invalid(f.name, "%s contains invalid characters", f.name)
		}
	}
	if !utf8.ValidString(req.Password) || strings.IndexByte(req.Password, 0) >= 0 {
		return apperr.Invalid("password", "password contains invalid characters")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
