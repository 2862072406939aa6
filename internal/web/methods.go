package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apikey"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/mapping"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	assets "github.com/pingstreams/pingauth/web"
)

// ModesAdmin manages a project's verification modes, API keys, identity
// mapping, per-user overrides and blocks, and identity provider (implemented
// by *bridge.Admin, which audits every change with the actor it is given).
type ModesAdmin interface {
	Modes(ctx context.Context, projectID string) ([]string, error)
	SetModes(ctx context.Context, actor, projectID string, modes []string) ([]string, error)
	ListAPIKeys(ctx context.Context, projectID string) ([]apikey.Key, error)
	CreateAPIKey(ctx context.Context, actor, projectID, name string) (*apikey.Key, string, error)
	RevokeAPIKey(ctx context.Context, actor, projectID, keyID string) (*apikey.Key, error)
	Mapping(ctx context.Context, projectID string) (*mapping.Mapping, error)
	SetMapping(ctx context.Context, actor string, m *mapping.Mapping) error
	IdP(ctx context.Context, projectID string) (*idp.Config, error)
	SetIdP(ctx context.Context, actor string, c *idp.Config, hsSecret []byte) error
	DeleteIdP(ctx context.Context, actor, projectID string) error
	Overrides(ctx context.Context, projectID string) ([]mapping.Override, error)
	PutOverride(ctx context.Context, actor string, o *mapping.Override) error
	DeleteOverride(ctx context.Context, actor, projectID, externalID string) error
	SetTenantEmailDenyList(ctx context.Context, actor, tenantID string, entries []string) ([]string, error)
}

// snippet is one copy-paste integration example on the project pages.
type snippet struct {
	ID, Title string
	Hint      template.HTML // constant text only
	Code      string
	Link      string
}

// modeSnippets are the integration examples of the enabled modes; key
// ("" for a placeholder) fills the server-mode example. Every page-side
// example uses the widget session kit (web/sdk), loaded with its SRI hash.
func (c *Console) modeSnippets(p *project.Project, authURL string, modes []string, key string) []snippet {
	var out []snippet
	base := strings.TrimSuffix(authURL, "/auth/"+p.ID)
	if slices.Contains(modes, mapping.ModePassword) {
		out = append(out, snippet{ID: "snippet", Title: "Widget snippet · password mode", Link: "/example/" + url.PathEscape(p.ID),
			Hint: "Add this to the pages where the chat widget runs (their origin must be in the allowed origins), with a sign-in form whose fields are named <code>email</code> and <code>password</code>. The widget session kit signs the visitor in, renews the token before it expires and, with a refresh credential, keeps returning visitors signed in without the password.",
			Code: pageSnippet(p.ID, base, c.d.WidgetScript, mapping.ModePassword)})
	}
	if slices.Contains(modes, mapping.ModeServer) {
		out = append(out, snippet{ID: "snippet-server", Title: "Server mode · from your backend",
			Hint: "Your backend mints the token for a visitor it already knows and hands pingauth's answer to its page. Send the API key only from servers: a request with a key and an <code>Origin</code> header is refused.",
			Code: serverSnippet(authURL, key)})
		out = append(out, snippet{ID: "snippet-server-page", Title: "Server mode · in the page",
			Hint: "The widget session kit asks your backend (the call above, behind your own session) whenever it needs a token: at sign-in and before each token expires.",
			Code: pageSnippet(p.ID, base, c.d.WidgetScript, mapping.ModeServer)})
	}
	if slices.Contains(modes, mapping.ModeExchange) {
		out = append(out, snippet{ID: "snippet-exchange", Title: "Exchange mode · from the page",
			Hint: "Give the widget session kit a function returning the ID token your identity provider gave the page (its origin must be in the allowed origins); it exchanges a fresh one whenever the widget token needs renewing.",
			Code: pageSnippet(p.ID, base, c.d.WidgetScript, mapping.ModeExchange)})
	}
	return out
}

// pageSnippet is the code an operator pastes into the pages where the widget
// runs: widget settings, the standard widget loader, the widget session kit
// (with its SRI hash, computed from the served bytes) and the mode's call.
func pageSnippet(projectID, base, widgetScript, mode string) string {
	loader := widgetScript
	if loader == "" {
		loader = "https://…/launch.js" // the Pingstreams widget script
	}
	sdk := assets.SDK()
	authURL := base + "/auth/" + projectID
	var call string
	switch mode {
	case mapping.ModeExchange:
		call = fmt.Sprintf(`  // Exchange mode: the kit posts { id_token: idToken } to
  // %s now and whenever the widget token needs renewing, so
  // return a fresh ID token each time (most IdP SDKs refresh it for you).
  chat.exchange(function () {
    return myIdentityProvider.getIdToken(); // your IdP SDK's call
  });`, authURL)
	case mapping.ModeServer:
		call = `  // Server mode: your backend calls pingauth with its API key (see above)
  // for its signed-in visitor and returns the answer as it is.
  chat.server(function () {
    return fetch("/chat-token", { credentials: "same-origin" }).then(function (r) { return r.json(); });
  });`
	default:
		call = fmt.Sprintf(`  // Password mode: the form's email (or username) and password fields are
  // posted once to %s with "refresh": true; later
  // tokens come from the refresh credential, kept in localStorage (pass
  // storage: "memory" to connect to keep it in memory only; reloads then
  // ask for the password again). Or call chat.password(email, password).
  chat.passwordForm(document.getElementById("login"));`, authURL)
	}
	return fmt.Sprintf(`<script>
  // Widget settings: autoStart false so the widget waits for the sign-in.
  window.tiledeskSettings = { projectid: %q, autoStart: false };
  // Standard widget loader: window.Tiledesk queues calls until it loads.
  (function (d, s, id, src) {
    var w = window, i = function () { i.c(arguments); }; i.q = []; i.c = function (a) { i.q.push(a); }; w.Tiledesk = i;
    var js = d.createElement(s), fjs = d.getElementsByTagName(s)[0];
    js.id = id; js.async = true; js.src = src; fjs.parentNode.insertBefore(js, fjs);
  }(document, "script", "tiledesk-jssdk", %q));
</script>
<!-- pingauth widget session kit %s (%d bytes): it calls
     window.Tiledesk("signInWithCustomToken", "JWT " + token), renews the
     token before it expires and recovers when the widget gets a 401. -->
<script src="%s%s" integrity="%s" crossorigin="anonymous"></script>
<script>
  var chat = pingauth.connect({ url: %q, projectId: %q });
%s
  chat.on(function (s) {
    // s.state is "signed-in", "signing-in" or "signed-out" (show your sign-in then)
    if (s.state === "signed-in") window.Tiledesk("show");
  });
  // On sign-out: chat.logout() signs the widget out and forgets the visitor.
</script>`, projectID, loader, sdk.Version, len(sdk.Body), base, sdk.Path, sdk.Integrity, base, projectID, call)
}

// serverSnippet is the server-mode call; key "" shows an environment variable.
func serverSnippet(authURL, key string) string {
	if key == "" {
		key = "$PINGAUTH_API_KEY"
	}
	return fmt.Sprintf(`curl -s '%s' \
  -H "Authorization: Bearer %s" \
  -H 'Content-Type: application/json' \
  -d '{"user":{"id":"123","email":"user@example.com","firstname":"Andrea","lastname":"Leo"}}'
# → {"token":"eyJ…","jwt":"JWT eyJ…","expires_in":…,"user":{…}}
# Serve this answer to your page (e.g. at /chat-token, behind your own
# session): the widget session kit hands it to the widget with
# window.Tiledesk("signInWithCustomToken", jwt) and asks again before it expires.`, authURL, key)
}

// --- sign-in methods page ---

// claimsForm is the identity mapping as the form shows it.
type claimsForm struct {
	IDClaim, Prefix                                       string
	FirstnameClaim, LastnameClaim, EmailClaim, RolesClaim string
	Attributes                                            string
}

// idpForm is the issuer config as the form shows it (never the HS secret).
type idpForm struct {
	Issuer, JWKSURL, Audiences, Algorithms, Leeway string
	HasHSSecret, EmailsVerified                    bool
	UpdatedBy                                      string
	UpdatedAt                                      time.Time
}

// overrideForm is a per-user override or block as the form shows it.
type overrideForm struct {
	ExternalID, ForceID, Attributes, Note string
	Blocked                               bool
}

// overrideRow is a stored override as the table shows it.
type overrideRow struct {
	mapping.Override
	AttributesJSON string // compact JSON, "" when none
}

type methodsPage struct {
	*projectPage
	Enabled       map[string]bool
	Keys          []apikey.Key
	Claims        claimsForm
	IdP           idpForm
	HasIdP        bool
	CanKeys       bool
	CanSettings   bool
	KeyName       string
	NewKey        string
	NewKeyInfo    *apikey.Key
	ModesError    string
	KeyError      string
	ClaimsError   string
	IdPError      string
	Overrides     []overrideRow
	Override      overrideForm
	OverrideError string
}

func methodsPath(p *project.Project) string {
	return "/console/projects/" + url.PathEscape(p.ID) + "/methods"
}

func (c *Console) methodsData(g *gin.Context, p *project.Project) (*methodsPage, error) {
	ctx := g.Request.Context()
	pd, err := c.projectData(g, p)
	if err != nil {
		return nil, err
	}
	d := &methodsPage{projectPage: pd, Enabled: map[string]bool{},
		CanKeys: c.can(g, p.TenantID, rbac.ObjSecret, rbac.ActRead), CanSettings: pd.CanMapping}
	for _, m := range pd.Modes {
		d.Enabled[m] = true
	}
	// The password widget snippet stays on the project page; here only the other modes'.
	d.Snippets = c.modeSnippets(p, pd.AuthURL, slices.DeleteFunc(slices.Clone(pd.Modes), func(m string) bool { return m == mapping.ModePassword }), "")
	if d.CanKeys {
		if d.Keys, err = c.d.Modes.ListAPIKeys(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	m, err := c.d.Modes.Mapping(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	d.Claims = claimsForm{IDClaim: m.IDClaim, Prefix: m.Prefix, FirstnameClaim: m.FirstnameClaim, LastnameClaim: m.LastnameClaim,
		EmailClaim: m.EmailClaim, RolesClaim: m.RolesClaim, Attributes: strings.Join(m.Attributes, "\n")}
	ovs, err := c.d.Modes.Overrides(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	d.Overrides = make([]overrideRow, 0, len(ovs))
	for _, o := range ovs {
		row := overrideRow{Override: o}
		if len(o.Attributes) > 0 {
			b, err := json.Marshal(o.Attributes)
			if err != nil {
				return nil, fmt.Errorf("web: override attributes of %s: %w", p.ID, err)
			}
			row.AttributesJSON = string(b)
		}
		d.Overrides = append(d.Overrides, row)
	}
	d.IdP = idpForm{Leeway: humanDuration(int(idp.DefaultLeeway.Seconds()))}
	switch cfg, err := c.d.Modes.IdP(ctx, p.ID); {
	case err == nil:
		d.HasIdP = true
		d.IdP = idpForm{Issuer: cfg.Issuer, JWKSURL: cfg.JWKSURL, Audiences: strings.Join(cfg.Audiences, "\n"),
			Algorithms: strings.Join(cfg.Algorithms, ", "), Leeway: humanDuration(cfg.LeewaySeconds),
			HasHSSecret: cfg.HasHSSecret, EmailsVerified: cfg.EmailsVerified, UpdatedBy: cfg.UpdatedBy, UpdatedAt: cfg.UpdatedAt}
	case !errors.Is(err, apperr.ErrNotFound):
		return nil, err
	}
	return d, nil
}

func (c *Console) renderMethods(g *gin.Context, status int, d *methodsPage) {
	c.render(g, status, "methods", "Sign-in methods · "+d.P.Name, d)
}

func (c *Console) methodsPage(g *gin.Context, p *project.Project) {
	d, err := c.methodsData(g, p)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.renderMethods(g, http.StatusOK, d)
}

// methodsError re-renders the sign-in methods page after a validation error;
// show puts the message (and the operator's input) into the form's slot.
func (c *Console) methodsError(g *gin.Context, p *project.Project, err error, show func(d *methodsPage, msg string)) {
	c.formError(g, err, func(msg string, status int) {
		d, err := c.methodsData(g, p)
		if err != nil {
			c.fail(g, err)
			return
		}
		show(d, msg)
		c.renderMethods(g, status, d)
	})
}

// methodsSubmit applies change to the guarded project, then redirects back
// to the sign-in methods page with the done flash, or shows the error inline.
func (c *Console) methodsSubmit(g *gin.Context, p *project.Project, done string, change func(ctx context.Context, actor string, p *project.Project) error, show func(d *methodsPage, msg string)) {
	if err := change(g.Request.Context(), operatorOf(g).Email, p); err != nil {
		c.methodsError(g, p, err, show)
		return
	}
	redirect(g, methodsPath(p), done)
}

func (c *Console) modesUpdate(g *gin.Context, p *project.Project) {
	modes := g.PostFormArray("mode")
	c.methodsSubmit(g, p, "modes", func(ctx context.Context, actor string, p *project.Project) error {
		_, err := c.d.Modes.SetModes(ctx, actor, p.ID, modes)
		return err
	}, func(d *methodsPage, msg string) {
		d.ModesError, d.Enabled = msg, map[string]bool{}
		for _, m := range modes {
			d.Enabled[m] = true
		}
	})
}

func (c *Console) claimsUpdate(g *gin.Context, p *project.Project) {
	f := claimsForm{IDClaim: g.PostForm("id_claim"), Prefix: strings.TrimSpace(g.PostForm("prefix")),
		FirstnameClaim: g.PostForm("firstname_claim"), LastnameClaim: g.PostForm("lastname_claim"),
		EmailClaim: g.PostForm("email_claim"), RolesClaim: g.PostForm("roles_claim"), Attributes: g.PostForm("attributes")}
	c.methodsSubmit(g, p, "claims", func(ctx context.Context, actor string, p *project.Project) error {
		return c.d.Modes.SetMapping(ctx, actor, &mapping.Mapping{ProjectID: p.ID, IDClaim: f.IDClaim, Prefix: f.Prefix,
			FirstnameClaim: f.FirstnameClaim, LastnameClaim: f.LastnameClaim, EmailClaim: f.EmailClaim, RolesClaim: f.RolesClaim,
			Attributes: admin.SplitList(strings.NewReplacer(",", "\n", "\r", "").Replace(f.Attributes), "\n")})
	}, func(d *methodsPage, msg string) { d.ClaimsError, d.Claims = msg, f })
}

func (c *Console) idpUpdate(g *gin.Context, p *project.Project) {
	f := idpForm{Issuer: g.PostForm("issuer"), JWKSURL: strings.TrimSpace(g.PostForm("jwks_url")), Audiences: g.PostForm("audiences"),
		Algorithms: g.PostForm("algorithms"), Leeway: strings.TrimSpace(g.PostForm("leeway")), EmailsVerified: g.PostForm("emails_verified") == "on"}
	var hs []byte
	if v := g.PostForm("hs_secret"); v != "" {
		hs = []byte(v)
	}
	c.methodsSubmit(g, p, "idp", func(ctx context.Context, actor string, p *project.Project) error {
		leeway := int(idp.DefaultLeeway.Seconds())
		if f.Leeway != "" {
			var err error
			if leeway, err = parseSeconds("leeway", f.Leeway, "leeway"); err != nil {
				return err
			}
		}
		cfg := &idp.Config{ProjectID: p.ID, Issuer: f.Issuer, JWKSURL: f.JWKSURL, LeewaySeconds: leeway, EmailsVerified: f.EmailsVerified,
			Audiences:  admin.SplitList(strings.NewReplacer(",", "\n", " ", "\n", "\r", "").Replace(f.Audiences), "\n"),
			Algorithms: admin.SplitList(strings.NewReplacer(";", ",", " ", ",").Replace(f.Algorithms), ",")}
		return c.d.Modes.SetIdP(ctx, actor, cfg, hs)
	}, func(d *methodsPage, msg string) {
		f.HasHSSecret = d.IdP.HasHSSecret
		d.IdPError, d.IdP = msg, f
	})
}

func (c *Console) idpDelete(g *gin.Context, p *project.Project) {
	c.methodsSubmit(g, p, "idp_deleted", func(ctx context.Context, actor string, p *project.Project) error {
		return c.d.Modes.DeleteIdP(ctx, actor, p.ID)
	}, func(d *methodsPage, msg string) { d.IdPError = msg })
}

func (c *Console) apiKeyRevoke(g *gin.Context, p *project.Project) {
	c.methodsSubmit(g, p, "key_revoked", func(ctx context.Context, actor string, p *project.Project) error {
		_, err := c.d.Modes.RevokeAPIKey(ctx, actor, p.ID, g.Param("keyId"))
		return err
	}, func(d *methodsPage, msg string) { d.KeyError = msg })
}

func (c *Console) apiKeyCreate(g *gin.Context, p *project.Project) {
	name := strings.TrimSpace(g.PostForm("name"))
	k, full, err := c.d.Modes.CreateAPIKey(g.Request.Context(), operatorOf(g).Email, p.ID, name)
	if err != nil {
		c.methodsError(g, p, err, func(d *methodsPage, msg string) { d.KeyError, d.KeyName = msg, name })
		return
	}
	d, err := c.methodsData(g, p)
	if err != nil {
		c.fail(g, err)
		return
	}
	d.NewKey, d.NewKeyInfo = full, k
	d.Snippets = c.modeSnippets(p, d.AuthURL, []string{mapping.ModeServer}, full)
	// Rendered directly (no redirect), never stored: the key is shown once.
	c.render(g, http.StatusOK, "apikey_once", "New API key", d)
}

func (c *Console) overridePut(g *gin.Context, p *project.Project) {
	// Trimmed: a stray space pasted into the form would make an override
	// that never matches (the API takes the id exactly as given).
	f := overrideForm{ExternalID: strings.TrimSpace(g.PostForm("external_id")), ForceID: strings.TrimSpace(g.PostForm("force_id")),
		Attributes: g.PostForm("attributes"), Blocked: g.PostForm("blocked") != "", Note: strings.TrimSpace(g.PostForm("note"))}
	c.methodsSubmit(g, p, "override", func(ctx context.Context, actor string, p *project.Project) error {
		attrs, err := parseOverrideAttributes(f.Attributes)
		if err != nil {
			return err
		}
		return c.d.Modes.PutOverride(ctx, actor, &mapping.Override{ProjectID: p.ID, ExternalID: f.ExternalID, ForceID: f.ForceID,
			Attributes: attrs, Blocked: f.Blocked, Note: f.Note})
	}, func(d *methodsPage, msg string) { d.OverrideError, d.Override = msg, f })
}

func (c *Console) overrideRemove(g *gin.Context, p *project.Project) {
	// Exactly as stored (the row's hidden field), so ids with spaces still match.
	ext := g.PostForm("external_id")
	c.methodsSubmit(g, p, "override_removed", func(ctx context.Context, actor string, p *project.Project) error {
		if ext == "" {
			return apperr.Invalid("external_id", "external id is required")
		}
		return c.d.Modes.DeleteOverride(ctx, actor, p.ID, ext)
	}, func(d *methodsPage, msg string) { d.OverrideError = msg })
}

// parseOverrideAttributes reads the attributes field of the override form:
// empty, or a JSON object of attribute names to values (checked further by
// mapping.Override.Validate, as for the API).
func parseOverrideAttributes(raw string) (map[string]any, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var attrs map[string]any
	if err := httpkit.DecodeStrictJSON([]byte(raw), &attrs); err != nil {
		var je *httpkit.JSONError
		if errors.As(err, &je) && je.Syntactic() {
			return nil, apperr.Invalid("attributes", `attributes are not valid JSON (%s): use an object such as {"tier": "gold"}`, je.Reason)
		}
		return nil, apperr.Invalid("attributes", `attributes must be a JSON object such as {"tier": "gold"}`)
	}
	return attrs, nil
}

// parseSeconds reads a duration field given as 15m, 1h30m or a number of seconds.
func parseSeconds(field, raw, what string) (int, error) {
	if days, ok := strings.CutSuffix(raw, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 3650 {
			return n * 86400, nil
		}
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		if n, err2 := strconv.Atoi(raw); err2 == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil {
		return 0, apperr.Invalid(field, "%s %q must look like 15m, 1h, 30d or a number of seconds", what, httpkit.Truncate(raw, 20))
	}
	return int(d.Seconds()), nil
}
