package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// The example page is sandboxed into an opaque origin (example.go), so its
// call to /auth arrives with "Origin: null" — as does a call from any
// sandboxed iframe or data: document anywhere on the web. Browsers send no
// Referer from an opaque origin and nothing else in the request tells them
// apart, so the page carries an example ticket in the /auth URL (the CORS
// preflight carries it too): an HMAC over the project id, the client IP that
// loaded the page and an expiry, keyed by a key derived from the project's
// shared secret (every instance has it; rotation keeps old tickets valid for
// the grace window through Keyring.Lookup). A foreign page could fetch the
// example page from its own server to get a ticket, but that ticket names its
// server's address, not its visitors': it cannot make visitors' browsers read
// /auth answers against the project's allowed-origins policy. Answers to
// ticketed requests carry "Access-Control-Allow-Origin: null" and never
// Allow-Credentials; /auth reads no cookies.
const (
	// exampleTicketParam is the /auth query parameter holding the ticket.
	exampleTicketParam = "example_ticket"
	// exampleTicketTTL is how long a loaded example page can sign in.
	exampleTicketTTL   = time.Hour
	exampleTicketLabel = "pingauth example-page ticket v1"
)

// exampleTicket returns a ticket for the example page of projectID loaded by
// the client of c, or "" when the project has no shared secret (then /auth
// cannot sign anyway).
func (s *Server) exampleTicket(c *gin.Context, projectID string) string {
	kr, err := s.d.Keyrings.Get(c.Request.Context(), projectID)
	if err != nil {
		return ""
	}
	exp := s.d.Now().Add(exampleTicketTTL).Unix()
	mac := exampleTicketMAC(kr.Current.Value, projectID, c.ClientIP(), exp)
	return strconv.Itoa(kr.Current.Version) + "." + strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// validExampleTicket reports whether the request carries an unexpired
// example ticket for projectID issued to this client IP.
func (s *Server) validExampleTicket(c *gin.Context, projectID string) bool {
	parts := strings.Split(c.Query(exampleTicketParam), ".")
	if len(parts) != 3 {
		return false
	}
	version, err1 := strconv.Atoi(parts[0])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	mac, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	now := s.d.Now()
	if err1 != nil || err2 != nil || err3 != nil || !now.Before(time.Unix(exp, 0)) || time.Unix(exp, 0).After(now.Add(exampleTicketTTL)) {
		return false
	}
	kr, err := s.d.Keyrings.Get(c.Request.Context(), projectID)
	if err != nil {
		return false
	}
	key, ok := kr.Lookup(version, now)
	return ok && hmac.Equal(mac, exampleTicketMAC(key, projectID, c.ClientIP(), exp))
}

// exampleTicketMAC is HMAC-SHA256 under a key derived from the shared secret
// (never the secret itself, which signs widget tokens).
func exampleTicketMAC(secret []byte, projectID, ip string, exp int64) []byte {
	kdf := hmac.New(sha256.New, secret)
	kdf.Write([]byte(exampleTicketLabel))
	m := hmac.New(sha256.New, kdf.Sum(nil))
	m.Write([]byte(projectID + "\n" + ip + "\n" + strconv.FormatInt(exp, 10)))
	return m.Sum(nil)
}
