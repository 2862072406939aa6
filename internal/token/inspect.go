package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenLen bounds tokens accepted for verification.
const MaxTokenLen = 8 << 10

// HeaderKeyID returns the `kid` of raw's header without verifying anything
// ("" when absent or unreadable). Use it only after Verify succeeded.
func HeaderKeyID(raw string) string {
	h, _, ok := strings.Cut(raw, ".")
	if !ok || len(h) > 1024 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(b, &hdr) != nil {
		return ""
	}
	return hdr.Kid
}

// Reason turns a Verify error into a short client-safe explanation.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token is for another audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unknown or expired key version"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return "signing algorithm not allowed"
		}
		return "signature invalid"
	case strings.Contains(err.Error(), "sub must be"):
		return "sub must be " + Subject
	case strings.Contains(err.Error(), "missing _id"):
		return "_id claim missing"
	}
	return "token invalid"
}
