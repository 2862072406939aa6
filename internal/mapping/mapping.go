// Package mapping turns a verified identity from the site (an end-user row,
// the site backend's assertion, or the claims of the site's IdP token) into
// the Pingstreams token identity: which claim becomes `_id`, an optional
// per-site prefix so ids never collide across an agency's sites, the name and
// email claims, and an allow-list of custom attributes. It also stores each
// project's enabled verification modes, per-user overrides and blocks, and
// the end-user role rules enforced by the Casbin role gate.
package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/token"
)

// Verification modes.
const (
	ModePassword = "password"
	ModeServer   = "server"
	ModeExchange = "exchange"
)

// AllModes lists every mode.
var AllModes = []string{ModePassword, ModeServer, ModeExchange}

// DefaultModes apply to projects that never chose (existing projects keep working).
var DefaultModes = []string{ModePassword}

// ValidateModes normalises a mode list.
func ValidateModes(modes []string) ([]string, error) {
	var out []string
	for _, m := range modes {
		m = strings.ToLower(strings.TrimSpace(m))
		if m == "" {
			continue
		}
		if !slices.Contains(AllModes, m) {
			return nil, apperr.Invalid("modes", "unknown mode %q (use %s)", truncate(m, 20), strings.Join(AllModes, ", "))
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, apperr.Invalid("modes", "at least one mode is required (%s)", strings.Join(AllModes, ", "))
	}
	return out, nil
}

// ModeSet is a project's enabled modes.
type ModeSet struct {
	ProjectID string    `gorm:"primaryKey" json:"project_id"`
	Modes     []string  `gorm:"serializer:json" json:"modes"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TableName binds ModeSet to project_auth_modes.
func (ModeSet) TableName() string { return "project_auth_modes" }

// Limits.
const (
	MaxPrefixLen     = 32
	MaxIDLen         = 256
	MaxAttributes    = 32
	MaxOverrides     = 10_000
	maxNameLen       = 200
	maxClaimPathLen  = 128
	maxAttrValueJSON = 2048
)

// Mapping is a project's identity mapping rules.
type Mapping struct {
	ProjectID string `gorm:"primaryKey" json:"project_id"`
	// IDClaim is the claim (or field path, e.g. "user.id") that becomes _id. Default "sub".
	IDClaim string `json:"id_claim"`
	// Prefix is prepended to _id (e.g. "shopA|"); unique within a tenant.
	Prefix string `json:"prefix"`
	// Source claims; "" uses the defaults (firstname|given_name, lastname|family_name, email, roles).
	FirstnameClaim string `json:"firstname_claim,omitempty"`
	LastnameClaim  string `json:"lastname_claim,omitempty"`
	EmailClaim     string `json:"email_claim,omitempty"`
	RolesClaim     string `json:"roles_claim,omitempty"`
	// Attributes is the allow-list of custom attributes copied into the token:
	// "name" (from attributes.name, else the claim name) or "name=claim.path";
	// "*" copies every key of the identity's `attributes` object.
	Attributes []string  `gorm:"serializer:json" json:"attributes"`
	UpdatedBy  string    `json:"updated_by,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TableName binds Mapping to identity_mappings.
func (Mapping) TableName() string { return "identity_mappings" }

// Default returns the mapping of a project that has none: _id from sub (the
// user's id in every mode), standard name/email claims, and every attribute
// of the identity's `attributes` object (for password users: those the
// operator stored; IdP tokens rarely carry one, so nothing from them).
func Default(projectID string) Mapping {
	return Mapping{ProjectID: projectID, IDClaim: "sub", Attributes: []string{"*"}}
}

func validClaimPath(s string) bool {
	if s == "" || len(s) > maxClaimPathLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '=' {
			return false
		}
	}
	return true
}

// Validate normalises m.
func (m *Mapping) Validate() error {
	m.IDClaim = strings.TrimSpace(m.IDClaim)
	if m.IDClaim == "" {
		m.IDClaim = "sub"
	}
	if !validClaimPath(m.IDClaim) {
		return apperr.Invalid("id_claim", "id_claim must be a claim name or dotted path (at most %d characters)", maxClaimPathLen)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"firstname_claim", &m.FirstnameClaim}, {"lastname_claim", &m.LastnameClaim}, {"email_claim", &m.EmailClaim}, {"roles_claim", &m.RolesClaim}} {
		*f.v = strings.TrimSpace(*f.v)
		if *f.v != "" && !validClaimPath(*f.v) {
			return apperr.Invalid(f.name, "%s must be a claim name or dotted path", f.name)
		}
	}
	if len(m.Prefix) > MaxPrefixLen || !utf8.ValidString(m.Prefix) {
		return apperr.Invalid("prefix", "prefix must be at most %d characters", MaxPrefixLen)
	}
	for _, r := range m.Prefix {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return apperr.Invalid("prefix", "prefix must not contain spaces or control characters")
		}
	}
	if len(m.Attributes) > MaxAttributes {
		return apperr.Invalid("attributes", "at most %d attributes", MaxAttributes)
	}
	var attrs []string
	for _, a := range m.Attributes {
		a = strings.TrimSpace(a)
		name, path, hasPath := strings.Cut(a, "=")
		switch {
		case a == "*":
		case name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n*"):
			return apperr.Invalid("attributes", "attribute %q must be name or name=claim.path", truncate(a, 40))
		case token.IsReserved(name):
			return apperr.Invalid("attributes", "attribute %q is a reserved token claim and can never be overridden", name)
		case token.AttributeKeyReason(name) != "":
			return apperr.Invalid("attributes", "%s", (&token.AttributeError{Path: name, Reason: token.AttributeKeyReason(name)}).Error())
		case hasPath && !validClaimPath(path):
			return apperr.Invalid("attributes", "attribute %q has an invalid claim path", truncate(a, 40))
		}
		if !slices.Contains(attrs, a) {
			attrs = append(attrs, a)
		}
	}
	if attrs == nil {
		attrs = []string{}
	}
	m.Attributes = attrs
	return nil
}

// PrefixesOverlap reports whether ids under prefixes a and b could collide:
// one is a prefix of the other (including equal). The empty prefix overlaps
// nothing here by convention (it is the "no prefix" setting; see README).
func PrefixesOverlap(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// Override forces or blocks one external identity of a project.
type Override struct {
	ProjectID string `gorm:"primaryKey" json:"project_id"`
	// ExternalID is the mapped id before the prefix (what the site knows).
	ExternalID string `gorm:"primaryKey" json:"external_id"`
	// ForceID, when set, is the exact _id issued (no prefix applied).
	ForceID string `json:"force_id,omitempty"`
	// Attributes are added to the token (after the allow-list; reserved claims never).
	Attributes map[string]any `gorm:"serializer:json" json:"attributes,omitempty"`
	Blocked    bool           `json:"blocked"`
	Note       string         `json:"note,omitempty"`
	UpdatedBy  string         `json:"updated_by,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	// ChatSync is the state of the visitor's ban on the chat server (nil:
	// nothing to sync); filled by bridge.Admin, never stored here.
	ChatSync *ChatSync `gorm:"-" json:"chat_sync,omitempty"`
}

// TableName binds Override to identity_overrides.
func (Override) TableName() string { return "identity_overrides" }

// Validate normalises o.
func (o *Override) Validate() error {
	if err := validID(o.ExternalID); err != nil {
		return apperr.Invalid("external_id", "external_id: %s", err)
	}
	o.ForceID = strings.TrimSpace(o.ForceID)
	if o.ForceID != "" {
		if err := validID(o.ForceID); err != nil {
			return apperr.Invalid("force_id", "force_id: %s", err)
		}
	}
	if len(o.Attributes) > MaxAttributes {
		return apperr.Invalid("attributes", "at most %d attributes", MaxAttributes)
	}
	for k, v := range o.Attributes {
		if k == "" || len(k) > 64 {
			return apperr.Invalid("attributes", "attribute names must be 1-64 characters")
		}
		if token.IsReserved(k) {
			return apperr.Invalid("attributes", "attribute %q is a reserved token claim and can never be overridden", k)
		}
		if b, err := json.Marshal(v); err != nil || len(b) > maxAttrValueJSON {
			return apperr.Invalid("attributes", "attribute %q value is too large", k)
		}
	}
	if err := token.CheckAttributesIn("attributes", o.Attributes); err != nil {
		return err
	}
	if o.Attributes == nil {
		o.Attributes = map[string]any{}
	}
	if len(o.Note) > 500 {
		return apperr.Invalid("note", "note must be at most 500 characters")
	}
	if !o.Blocked && o.ForceID == "" && len(o.Attributes) == 0 {
		return apperr.Invalid("override", "an override needs force_id, attributes or blocked")
	}
	return nil
}

// RoleRule allows end-users having Role to authenticate to a project. The
// rules are Casbin policies kept by internal/rbac with the other policies.
type RoleRule struct {
	ProjectID string `json:"project_id"`
	Role      string `json:"role"`
}

// ValidateRole checks a role name ("*" allows every user that has any role):
// rbac.ValidateEndUserRole, the one validator for role rules.
func ValidateRole(r string) error { return rbac.ValidateEndUserRole(r) }

func validID(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("must not be empty")
	case len(s) > MaxIDLen:
		return fmt.Errorf("must be at most %d bytes", MaxIDLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("must be valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("must not contain control characters")
		}
	}
	return nil
}

// Doc is the identity document a mapping reads: the IdP token's claims in
// exchange mode; in server and password modes the user object, both at the
// top level (with "sub" = its id) and under "user".
type Doc map[string]any

// UserDoc builds the document of a site-asserted or stored user. Both maps
// are sized up front and each value is boxed once, shared by the two maps
// (server mode builds one per request).
func UserDoc(id, email, username, firstname, lastname string, roles []string, attrs map[string]any) Doc {
	fields := [...]struct{ k, v string }{{"id", id}, {"email", email}, {"username", username}, {"firstname", firstname}, {"lastname", lastname}}
	n := 0
	for _, f := range fields {
		if f.v != "" {
			n++
		}
	}
	if roles != nil {
		n++
	}
	if attrs != nil {
		n++
	}
	u := make(map[string]any, n)
	d := make(Doc, n+2)
	d["user"] = u
	put := func(k string, v any) {
		u[k] = v
		d[k] = v
	}
	for _, f := range fields {
		if f.v != "" {
			put(f.k, f.v)
		}
	}
	if roles != nil {
		put("roles", roles)
	}
	if attrs != nil {
		put("attributes", attrs)
	}
	if id != "" {
		d["sub"] = d["id"]
	}
	return d
}

// PutUserField sets a field of the user object, at the top level and under
// "user" (as UserDoc does); empty values are skipped.
func (d Doc) PutUserField(k, v string) {
	if v == "" {
		return
	}
	d[k] = v
	if u, ok := d["user"].(map[string]any); ok {
		u[k] = v
	}
}

// EndUserDoc builds the document of a password user.
func EndUserDoc(u *enduser.User) Doc {
	return UserDoc(u.ExternalID, u.Email, u.Username, u.Firstname, u.Lastname, u.Roles, u.Attributes)
}

// Lookup resolves a claim: an exact top-level key first (claims such as
// "https://example.com/plan" contain dots), then a dotted path.
func (d Doc) Lookup(path string) (any, bool) {
	if v, ok := d[path]; ok {
		return v, true
	}
	if !strings.Contains(path, ".") {
		return nil, false
	}
	var cur any = map[string]any(d)
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// idString formats an id claim (strings and integral numbers only).
func idString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		if _, err := x.Int64(); err != nil {
			return "", false
		}
		return x.String(), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// Result is a mapped identity.
type Result struct {
	// ExternalID is the site's id before the prefix (overrides key on it).
	ExternalID string
	Identity   token.Identity
	Roles      []string
}

// Apply maps d with m.
func (m *Mapping) Apply(d Doc) (Result, error) { return m.apply(source{doc: d}) }

// ApplyUser is m.Apply(u.Doc()) without building the document: the same
// result and errors (FuzzApplyUser checks this), read from u's fields.
func (m *Mapping) ApplyUser(u *User) (Result, error) { return m.apply(source{user: u}) }

func (m *Mapping) apply(d source) (Result, error) {
	var r Result
	v, ok := d.lookup(m.IDClaim)
	if !ok {
		return r, apperr.Unauthorized(fmt.Sprintf("the identity has no %q claim to use as the user id", truncate(m.IDClaim, 60)))
	}
	ext, ok := v.idString()
	if !ok {
		return r, apperr.Unauthorized(fmt.Sprintf("the identity's %q claim is not a string or integer", truncate(m.IDClaim, 60)))
	}
	if err := validID(ext); err != nil {
		return r, apperr.Unauthorized(fmt.Sprintf("the identity's user id %s", err))
	}
	if len(m.Prefix)+len(ext) > MaxIDLen+MaxPrefixLen {
		return r, apperr.Unauthorized("the identity's user id is too long")
	}
	r.ExternalID = ext
	r.Identity.ID = m.Prefix + ext
	r.Identity.Firstname = d.str(m.FirstnameClaim, "firstname", "given_name")
	r.Identity.Lastname = d.str(m.LastnameClaim, "lastname", "family_name")
	if e := d.str(m.EmailClaim, "email", ""); e != "" {
		if n, err := enduser.NormalizeEmail(e); err == nil {
			r.Identity.Email = n
		}
	}
	if ph := d.str("", "phone", "phone_number"); ValidPhone(ph) {
		r.Identity.Phone = ph
	}
	r.Roles = roles(d, m.RolesClaim)
	r.Identity.Attributes = m.attributes(d)
	return r, nil
}

// ValidPhone reports whether s looks like a phone number: 3-32 characters
// of digits, spaces and +-.() with at least 3 digits.
func ValidPhone(s string) bool {
	if len(s) < 3 || len(s) > 32 {
		return false
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' || r == '-' || r == '.' || r == '(' || r == ')' || r == ' ':
		default:
			return false
		}
	}
	return digits >= 3
}

// roles reads the roles claim: the configured path, else "roles".
func roles(d source, configured string) []string {
	p := configured
	if p == "" {
		p = "roles"
	}
	v, ok := d.lookup(p)
	if !ok {
		return nil
	}
	switch v.kind {
	case valString:
		return strings.Fields(v.s)
	case valRoles:
		return v.roles
	case valAny:
		switch x := v.v.(type) {
		case string:
			return strings.Fields(x)
		case []string:
			return x
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return nil
}

func (m *Mapping) attributes(d source) map[string]any {
	if len(m.Attributes) == 0 {
		return nil
	}
	var src map[string]any
	if v, ok := d.lookup("attributes"); ok {
		src, _ = v.value(d).(map[string]any)
	}
	if d.user != nil && d.user.OwnAttributes && len(m.Attributes) == 1 && m.Attributes[0] == "*" && len(src) > 0 && noReserved(src) {
		return src // the copy below would be equal: the caller's map becomes the result
	}
	out := map[string]any{}
	for _, a := range m.Attributes {
		if a == "*" {
			for k, v := range src {
				if !token.IsReserved(k) {
					out[k] = v
				}
			}
			continue
		}
		name, path, hasPath := strings.Cut(a, "=")
		if token.IsReserved(name) {
			continue
		}
		if hasPath {
			if v, ok := d.lookup(path); ok {
				out[name] = v.value(d)
			}
			continue
		}
		if v, ok := src[name]; ok {
			out[name] = v
		} else if v, ok := d.lookup(name); ok && name != "attributes" && name != "user" {
			out[name] = v.value(d)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func noReserved(m map[string]any) bool {
	for k := range m {
		if token.IsReserved(k) {
			return false
		}
	}
	return true
}

// ApplyOverride applies o (may be nil) to r. Blocked identities are refused.
func ApplyOverride(r *Result, o *Override) error {
	if o == nil {
		return nil
	}
	if o.Blocked {
		return apperr.Forbidden("this user is blocked from signing in to this project")
	}
	if o.ForceID != "" {
		r.Identity.ID = o.ForceID
	}
	if len(o.Attributes) > 0 {
		if r.Identity.Attributes == nil {
			r.Identity.Attributes = map[string]any{}
		}
		for k, v := range o.Attributes {
			if !token.IsReserved(k) {
				r.Identity.Attributes[k] = v
			}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
