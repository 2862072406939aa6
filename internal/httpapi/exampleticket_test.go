package httpapi

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/secret"
)

type fixedKeyrings map[string]*secret.Keyring

func (k fixedKeyrings) Get(_ context.Context, id string) (*secret.Keyring, error) {
	if kr, ok := k[id]; ok {
		return kr, nil
	}
	return nil, apperr.NotFound("no secret")
}

// TestExampleTicket: a ticket is valid for its project, from the address
// that loaded the page, for exampleTicketTTL, across a secret rotation within
// the grace window; anything else is refused.
func TestExampleTicket(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	keys := fixedKeyrings{
		"p1": {ProjectID: "p1", Current: secret.Version{Version: 1, Value: []byte("secret-one-0123456789abcdef")}},
		"p2": {ProjectID: "p2", Current: secret.Version{Version: 1, Value: []byte("secret-two-0123456789abcdef")}},
	}
	s := New(Deps{Keyrings: keys, Now: func() time.Time { return now }})
	ctx := func(ip, ticket string) *gin.Context {
		c := gin.CreateTestContextOnly(httptest.NewRecorder(), s.engine)
		c.Request = httptest.NewRequest("POST", "/auth/p1?"+exampleTicketParam+"="+ticket, nil)
		c.Request.RemoteAddr = ip + ":40000"
		return c
	}
	const ip = "198.51.100.7"
	tk := s.exampleTicket(ctx(ip, ""), "p1")
	if tk == "" || !s.validExampleTicket(ctx(ip, tk), "p1") {
		t.Fatalf("fresh ticket %q refused", tk)
	}
	parts := strings.Split(tk, ".")
	exp, _ := strconv.ParseInt(parts[1], 10, 64)
	forged := func(exp int64) string {
		mac := exampleTicketMAC(keys["p1"].Current.Value, "p1", ip, exp)
		return "1." + strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(mac)
	}
	for name, c := range map[string]struct {
		ip, ticket, project string
	}{
		"other address":    {"203.0.113.9", tk, "p1"},
		"other project":    {ip, tk, "p2"},
		"no ticket":        {ip, "", "p1"},
		"garbage":          {ip, "not-a-ticket", "p1"},
		"expiry changed":   {ip, parts[0] + "." + strconv.FormatInt(exp+3600, 10) + "." + parts[2], "p1"},
		"version changed":  {ip, "2." + parts[1] + "." + parts[2], "p1"},
		"mac changed":      {ip, parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:], "p1"},
		"expiry too far":   {ip, forged(now.Add(exampleTicketTTL + time.Minute).Unix()), "p1"},
		"project unknown":  {ip, tk, "p3"},
		"expired (forged)": {ip, forged(now.Add(-time.Second).Unix()), "p1"},
	} {
		if s.validExampleTicket(ctx(c.ip, c.ticket), c.project) {
			t.Errorf("%s: ticket accepted", name)
		}
	}
	if s.exampleTicket(ctx(ip, ""), "p3") != "" {
		t.Error("ticket issued for a project without a shared secret")
	}

	// Rotation: the old version verifies until its grace ends.
	grace := now.Add(2 * time.Hour)
	keys["p1"] = &secret.Keyring{ProjectID: "p1", Current: secret.Version{Version: 2, Value: []byte("secret-one-rotated-0123456789")},
		Previous: []secret.Version{{Version: 1, Value: keys["p1"].Current.Value, ValidUntil: &grace}}}
	if !s.validExampleTicket(ctx(ip, tk), "p1") {
		t.Error("ticket refused after a rotation within the grace window")
	}
	now = now.Add(exampleTicketTTL)
	if s.validExampleTicket(ctx(ip, tk), "p1") {
		t.Error("ticket accepted at its expiry")
	}
}
