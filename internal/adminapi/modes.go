// Package adminapi is the admin JSON API of the verification modes under
// /api/v1/projects/:projectId (API keys, modes, mappings, overrides, IdP,
// role rules): thin handlers over bridge.Admin, mounted by the console server
// (internal/web) through its one route/permission table.
package adminapi

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/mapping"
)

// ModeAdminRoutes lists the routes under /api/v1/projects/:projectId for
// API keys, modes, mappings, overrides, IdP and role rules. actor names the
// caller for audit events (nil: gin key "actor", else "api").
func ModeAdminRoutes(a *bridge.Admin, actor func(*gin.Context) string, log *slog.Logger) []httpkit.AdminRoute {
	if actor == nil {
		actor = func(c *gin.Context) string {
			if s := c.GetString("actor"); s != "" {
				return s
			}
			return "api"
		}
	}
	h := &modeAdmin{a: a, actor: actor, log: log}
	const p = "/api/v1/projects/:projectId"
	r := func(m, path string, write, cred bool, fn gin.HandlerFunc) httpkit.AdminRoute {
		return httpkit.AdminRoute{Method: m, Path: p + path, Write: write, Credential: cred, Handler: fn}
	}
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	return []httpkit.AdminRoute{
		r(get, "/apikeys", false, true, h.listKeys),
		r(post, "/apikeys", true, true, h.createKey),
		r(del, "/apikeys/:keyId", true, true, h.revokeKey),
		r(get, "/modes", false, false, h.getModes),
		r(put, "/modes", true, false, h.setModes),
		r(get, "/mapping", false, false, h.getMapping),
		r(put, "/mapping", true, false, h.setMapping),
		r(get, "/mapping/overrides", false, false, h.listOverrides),
		r(put, "/mapping/overrides/:externalId", true, false, h.putOverride),
		r(del, "/mapping/overrides/:externalId", true, false, h.deleteOverride),
		r(get, "/idp", false, false, h.getIdP),
		r(put, "/idp", true, false, h.setIdP),
		r(del, "/idp", true, false, h.deleteIdP),
		r(get, "/role-rules", false, false, h.listRoles),
		r(post, "/role-rules", true, false, h.allowRole),
		r(put, "/role-rules", true, false, h.setRoles),
		r(del, "/role-rules/:role", true, false, h.removeRole),
	}
}

// RegisterModeAdminRoutes mounts ModeAdminRoutes on e behind auth (tests and
// embedders without the console).
func RegisterModeAdminRoutes(e gin.IRoutes, auth gin.HandlerFunc, a *bridge.Admin, actor func(*gin.Context) string, log *slog.Logger) {
	for _, r := range ModeAdminRoutes(a, actor, log) {
		e.Handle(r.Method, r.Path, auth, r.Handler)
	}
}

type modeAdmin struct {
	a     *bridge.Admin
	actor func(*gin.Context) string
	log   *slog.Logger
}

const adminBodyLimit = 64 << 10

// decodeStrict reads a JSON body into v, rejecting unknown fields.
func decodeStrict(c *gin.Context, v any) error {
	return httpkit.DecodeJSONRequest(c.Request, adminBodyLimit, v, "the body must be a JSON object with the documented fields")
}

func (h *modeAdmin) fail(c *gin.Context, err error) { httpkit.WriteError(c, h.log, err) }

func (h *modeAdmin) pid(c *gin.Context) string { return c.Param("projectId") }

func (h *modeAdmin) listKeys(c *gin.Context) {
	ks, err := h.a.ListAPIKeys(c.Request.Context(), h.pid(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"api_keys": ks})
}

func (h *modeAdmin) createKey(c *gin.Context) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeStrict(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	k, full, err := h.a.CreateAPIKey(c.Request.Context(), h.actor(c), h.pid(c), in.Name)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"api_key": k, "key": full, "note": "store this key now; it is not shown again"})
}

func (h *modeAdmin) revokeKey(c *gin.Context) {
	k, err := h.a.RevokeAPIKey(c.Request.Context(), h.actor(c), h.pid(c), c.Param("keyId"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"api_key": k})
}

func (h *modeAdmin) getModes(c *gin.Context) {
	ms, err := h.a.Modes(c.Request.Context(), h.pid(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"modes": ms})
}

func (h *modeAdmin) setModes(c *gin.Context) {
	var in struct {
		Modes []string `json:"modes"`
	}
	if err := decodeStrict(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	ms, err := h.a.SetModes(c.Request.Context(), h.actor(c), h.pid(c), in.Modes)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"modes": ms})
}

func (h *modeAdmin) getMapping(c *gin.Context) {
	m, err := h.a.Mapping(c.Request.Context(), h.pid(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

type mappingInput struct {
	IDClaim        string   `json:"id_claim"`
	Prefix         string   `json:"prefix"`
	FirstnameClaim string   `json:"firstname_claim"`
	LastnameClaim  string   `json:"lastname_claim"`
	EmailClaim     string   `json:"email_claim"`
	RolesClaim     string   `json:"roles_claim"`
	Attributes     []string `json:"attributes"`
}

func (h *modeAdmin) setMapping(c *gin.Context) {
	var in mappingInput
	if err := decodeStrict(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	m := &mapping.Mapping{ProjectID: h.pid(c), IDClaim: in.IDClaim, Prefix: in.Prefix, FirstnameClaim: in.FirstnameClaim,
		LastnameClaim: in.LastnameClaim, EmailClaim: in.EmailClaim, RolesClaim: in.RolesClaim, Attributes: in.Attributes}
	if err := h.a.SetMapping(c.Request.Context(), h.actor(c), m); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

func (h *modeAdmin) listOverrides(c *gin.Context) {
	os, err := h.a.Overrides(c.Request.Context(), h.pid(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"overrides": os})
}

func (h *modeAdmin) putOverride(c *gin.Context) {
	var in struct {
		ForceID    string         `json:"force_id"`
		Attributes map[string]any `json:"attributes"`
		Blocked    bool           `json:"blocked"`
		Note       string         `json:"note"`
	}
	if err := decodeStrict(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	o := &mapping.Override{ProjectID: h.pid(c), ExternalID: c.Param("externalId"), ForceID: in.ForceID, Attributes: in.Attributes, Blocked: in.Blocked, Note: in.Note}
	if err := h.a.PutOverride(c.Request.Context(), h.actor(c), o); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, o)
}

func (h *modeAdmin) deleteOverride(c *gin.Context) {
	if err := h.a.DeleteOverride(c.Request.Context(), h.actor(c), h.pid(c), c.Param("externalId")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *modeAdmin) getIdP(c *gin.Context) {
	cfg, err := h.a.IdP(c.Request.Context(), h.pid(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, cfg)
}

func (h *modeAdmin) setIdP(c *gin.Context) {
	var in struct {
		Issuer        string   `json:"issuer"`
		JWKSURL       string   `json:"jwks_url"`
		Audiences     []string `json:"audiences"`
		Algorithms    []string `json:"algorithms"`
		LeewaySeconds *int     `json:"leeway_seconds"`
		HSSecret      *string  `json:"hs_secret"`
		// EmailsVerified: the issuer only issues verified emails (default false).
		EmailsVerified bool `json:"emails_verified"`
	}
	if err := decodeStrict(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	cfg := &idp.Config{ProjectID: h.pid(c), Issuer: in.Issuer, JWKSURL: in.JWKSURL, Audiences: in.Audiences, Algorithms: in.Algorithms,
		LeewaySeconds: int(idp.DefaultLeeway.Seconds()), EmailsVerified: in.EmailsVerified}
	if in.LeewaySeconds != nil {
		cfg.LeewaySeconds = *in.LeewaySeconds
	}
	var secret []byte
	if in.HSSecret != nil {
		secret = []byte(*in.HSSecret)
	}
	if err := h.a.SetIdP(c.Request.Context(), h.actor(c), cfg, secret); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, cfg)
}

func (h *modeAdmin) deleteIdP(c *gin.Context) {
	if err := h.a.DeleteIdP(c.Request.Context(), h.actor(c), h.pid(c)); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *modeAdmin) listRoles(c *gin.Context) {
	rs, err := h.a.RoleRules(c.Request.Context(), h.pid(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"role_rules": rs, "everyone_allowed": len(rs) == 0})
}

// setRoles replaces the whole list (PUT {"roles":[...]}; [] lets everyone
// sign in). PUT .../enduser-roles is its documented alias.
func (h *modeAdmin) setRoles(c *gin.Context) {
	var in struct {
		Roles []string `json:"roles"`
	}
	if err := decodeStrict(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	if _, err := h.a.SetRoleRules(c.Request.Context(), h.actor(c), h.pid(c), in.Roles); err != nil {
		h.fail(c, err)
		return
	}
	h.listRoles(c)
}

func (h *modeAdmin) allowRole(c *gin.Context) {
	var in struct {
		Role string `json:"role"`
	}
	if err := decodeStrict(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	rr, err := h.a.AllowRole(c.Request.Context(), h.actor(c), h.pid(c), in.Role)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, rr)
}

func (h *modeAdmin) removeRole(c *gin.Context) {
	if err := h.a.RemoveRole(c.Request.Context(), h.actor(c), h.pid(c), c.Param("role")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
