package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/pingstreams/pingauth/internal/adminapi"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/bridge"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/httpapi"
	"github.com/pingstreams/pingauth/internal/httpkit"
	"github.com/pingstreams/pingauth/internal/idp"
	"github.com/pingstreams/pingauth/internal/outbound"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

const (
	mProjA   = "shopA-project"
	mProjB   = "shopB-project"
	mProjC   = "other-tenant-project"
	mSecretA = "modes-secret-of-project-A-0123456789"
	mSecretB = "modes-secret-of-project-B-0123456789"
	mSecretC = "modes-secret-of-project-C-0123456789"
	adminTok = "Bearer test-admin-token"
	idpIss   = "https://idp.shop.example"
	idpAud   = "shop-widget"
)

// modesEnv is a real server (real listener, real DB) with the verification
// modes wired, two projects of tenant "agency" and one of tenant "other".
type modesEnv struct {
	srv     *httptest.Server
	handler http.Handler
	key     string
	db      *store.DB
	stack   *bridge.Stack
	users   *enduser.Repo
	audit   *audit.Log
	secrets map[string]string
}

// blockingPasswords simulates a saturated password pool: every password
// check blocks until release is closed.
type blockingPasswords struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingPasswords) Authenticate(ctx context.Context, _, _, _ string) (*enduser.User, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return nil, enduser.ErrBadCredentials
}

func newModesEnv(t testing.TB, db *store.DB, passwords bridge.Passwords) *modesEnv {
	t.Helper()
	return newModesEnvWith(t, db, passwords, nil)
}

// newModesEnvWith is newModesEnv with the stack options adjusted by tune.
func newModesEnvWith(t testing.TB, db *store.DB, passwords bridge.Passwords, tune func(*bridge.StackOptions)) *modesEnv {
	t.Helper()
	ctx := context.Background()
	sealed, err := secret.NewSealed(db, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	projects := project.NewRepo(db)
	users := enduser.NewRepo(db, enduser.NewHasher(enduser.TestParams, 0), nil)
	al := audit.New(db)
	secrets := secret.NewCache(secret.NewManager(db, sealed, al, time.Hour), time.Minute, nil)
	e := &modesEnv{db: db, users: users, audit: al, secrets: map[string]string{mProjA: mSecretA, mProjB: mSecretB, mProjC: mSecretC}}
	for _, tn := range []string{"agency", "other"} {
		if _, err := projects.EnsureTenant(ctx, tn, tn); err != nil {
			t.Fatal(err)
		}
	}
	for id, tn := range map[string]string{mProjA: "agency", mProjB: "agency", mProjC: "other"} {
		p := &project.Project{ID: id, TenantID: tn, Name: id, TokenTTLSeconds: 600, AllowedOrigins: []string{"https://shop.example.com"}}
		if err := projects.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := secrets.Put(ctx, id, []byte(e.secrets[id]), secret.WriteOptions{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if passwords == nil {
		passwords = users
	}
	roles, err := rbac.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	so := bridge.StackOptions{
		Roles:    roles,
		CacheTTL: time.Minute,
		Secrets:  sealed,
		JWKS:     idp.JWKSOptions{MinRefetch: time.Nanosecond},
		// The test IdPs are httptest servers on 127.0.0.1.
		Outbound: outbound.New(outbound.Options{Policy: outbound.Policy{AllowHTTPLoopback: true}}),
	}
	if tune != nil {
		tune(&so)
		if passwords == users { // the end-user store refuses denied emails too
			users = enduser.NewRepo(db, enduser.NewHasher(enduser.TestParams, 0), nil, enduser.WithDenyEmails(so.DenyEmails))
			passwords, e.users = users, users
		}
	}
	e.stack = bridge.NewStack(db, projects, passwords, al, so)
	t.Cleanup(e.stack.Bridge.Close)
	srv := httpapi.New(httpapi.Deps{
		Projects: projects, EndUsers: users, Keyrings: secrets, AudienceBase: "https://tiledesk.com",
		Bridge: e.stack.Bridge,
	})
	adminapi.RegisterModeAdminRoutes(srv.Engine(), func(c *gin.Context) {
		if c.GetHeader("Authorization") != adminTok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "admin auth required"})
			return
		}
		c.Set("actor", "test-operator")
	}, e.stack.Admin, nil, nil)
	e.handler = srv
	e.srv = httptest.NewServer(srv)
	t.Cleanup(e.srv.Close)
	return e
}

// newModesEnvB is newModesEnv for benchmarks: project A in server mode with a key.
func newModesEnvB(b *testing.B, db *store.DB) *modesEnv {
	e := newModesEnv(b, db, nil)
	ctx := context.Background()
	if _, err := e.stack.Admin.SetModes(ctx, "bench", mProjA, []string{"server"}); err != nil {
		b.Fatal(err)
	}
	_, key, err := e.stack.Admin.CreateAPIKey(ctx, "bench", mProjA, "bench")
	if err != nil {
		b.Fatal(err)
	}
	e.key = key
	return e
}

func (e *modesEnv) do(t *testing.T, method, path, body string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// admin calls the admin API and fails the test unless it answers want.
func (e *modesEnv) admin(t *testing.T, method, path, body string, want int) []byte {
	t.Helper()
	code, b := e.do(t, method, "/api/v1/projects/"+path, body, map[string]string{"Authorization": adminTok})
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	return b
}

func (e *modesEnv) setModes(t *testing.T, pid string, modes ...string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"modes": modes})
	e.admin(t, "PUT", pid+"/modes", string(b), 200)
}

func (e *modesEnv) newKey(t *testing.T, pid string) (id, key string) {
	t.Helper()
	var out struct {
		APIKey struct {
			ID string `json:"id"`
		} `json:"api_key"`
		Key string `json:"key"`
	}
	if err := json.Unmarshal(e.admin(t, "POST", pid+"/apikeys", `{"name":"backend"}`, 201), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Key, "pa_live_"+out.APIKey.ID+"_") {
		t.Fatalf("key %q does not carry its id %q", out.Key, out.APIKey.ID)
	}
	return out.APIKey.ID, out.Key
}

// claims verifies a /auth response's token with the project's secret and returns its claims.
func (e *modesEnv) claims(t *testing.T, pid string, body []byte) jwt.MapClaims {
	t.Helper()
	var out httpapi.AuthResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("bad response %s: %v", body, err)
	}
	if out.JWT != "JWT "+out.Token || out.ExpiresIn != 600 {
		t.Fatalf("response contract broken: %+v", out)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(out.Token, claims, func(*jwt.Token) (any, error) { return []byte(e.secrets[pid]), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("https://tiledesk.com/projects/"+pid), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify with %s's secret: %v", pid, err)
	}
	if claims["sub"] != "userexternal" || claims["_id"] != out.User.ID {
		t.Fatalf("claims %v / user %+v", claims, out.User)
	}
	return claims
}

func serverAuth(t *testing.T, e *modesEnv, pid, key, body string) (int, []byte) {
	t.Helper()
	return e.do(t, "POST", "/auth/"+pid, body, map[string]string{"Authorization": "Bearer " + key})
}

func TestServerModeMintsMappedTokens(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		e.setModes(t, mProjA, "password", "server")
		_, key := e.newKey(t, mProjA)
		e.admin(t, "PUT", mProjA+"/mapping", `{"id_claim":"user.id","prefix":"shopA|","attributes":["plan","tier=attributes.level"]}`, 200)

		body := `{"user":{"id":"42","email":"Ann@Example.com","firstname":"Ann","lastname":"Lee",
			"attributes":{"plan":"gold","level":3,"secret_flag":"x","sub":"attacker","_id":"forged"}}}`
		for name, hdr := range map[string]map[string]string{
			"bearer":    {"Authorization": "Bearer " + key},
			"x-api-key": {"X-Api-Key": key},
		} {
			t.Run(name, func(t *testing.T) {
				code, b := e.do(t, "POST", "/auth/"+mProjA, body, hdr)
				if code != 200 {
					t.Fatalf("status %d: %s", code, b)
				}
				c := e.claims(t, mProjA, b)
				want := map[string]any{"_id": "shopA|42", "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee", "attributes.plan": "gold", "attributes.tier": float64(3)}
				for k, v := range want {
					if claimAt(c, k) != v {
						t.Errorf("claim %s = %v, want %v", k, claimAt(c, k), v)
					}
				}
				for _, k := range []string{"secret_flag", "level", "attributes.secret_flag", "attributes.level"} {
					if claimAt(c, k) != nil {
						t.Errorf("attribute %s is not allow-listed but reached the token", k)
					}
				}
			})
		}
		// Numeric ids are accepted.
		code, b := serverAuth(t, e, mProjA, key, `{"user":{"id":1001}}`)
		if code != 200 || e.claims(t, mProjA, b)["_id"] != "shopA|1001" {
			t.Fatalf("numeric id: %d %s", code, b)
		}
	})
}

func TestServerModeRejections(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		e.setModes(t, mProjA, "server")
		e.setModes(t, mProjB, "server")
		keyIDA, keyA := e.newKey(t, mProjA)
		_, keyA2 := e.newKey(t, mProjA)
		_, keyB := e.newKey(t, mProjB)
		user := `{"user":{"id":"42"}}`
		if code, b := serverAuth(t, e, mProjA, keyA, user); code != 200 {
			t.Fatalf("valid key: %d %s", code, b)
		}
		// Revoke through the admin API: refused at once in this process.
		e.admin(t, "DELETE", mProjA+"/apikeys/"+keyIDA, "", 200)
		tamperedKey := keyA2[:len(keyA2)-1] + map[bool]string{true: "A", false: "B"}[keyA2[len(keyA2)-1] != 'A']
		cases := []struct {
			name string
			pid  string
			hdr  map[string]string
			body string
			want int
		}{
			{"revoked key", mProjA, map[string]string{"Authorization": "Bearer " + keyA}, user, 401},
			{"key of project B on project A", mProjA, map[string]string{"X-Api-Key": keyB}, user, 401},
			{"key of project A on project B", mProjB, map[string]string{"X-Api-Key": keyA2}, user, 401},
			{"tampered secret", mProjA, map[string]string{"X-Api-Key": tamperedKey}, user, 401},
			{"not a key", mProjA, map[string]string{"Authorization": "Bearer hello"}, user, 401},
			{"from a browser", mProjA, map[string]string{"X-Api-Key": keyA2, "Origin": "https://shop.example.com"}, user, 403},
			{"missing user", mProjA, map[string]string{"X-Api-Key": keyA2}, `{}`, 400},
			{"missing id", mProjA, map[string]string{"X-Api-Key": keyA2}, `{"user":{"email":"a@b.co"}}`, 400},
			{"unknown field", mProjA, map[string]string{"X-Api-Key": keyA2}, `{"user":{"id":"1","admin":true}}`, 400},
			{"bad json", mProjA, map[string]string{"X-Api-Key": keyA2}, `{"user":`, 400},
			{"unknown project", "nope", map[string]string{"X-Api-Key": keyA2}, user, 404},
			// Another project's key is refused as a key before C's modes are
			// looked at (valid key + mode off: TestServerModeKeyIsCheckedBeforeTheModeSetting).
			{"key of project A on project C (server mode off there)", mProjC, map[string]string{"X-Api-Key": keyA2}, user, 401},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				code, b := e.do(t, "POST", "/auth/"+tc.pid, tc.body, tc.hdr)
				if code != tc.want {
					t.Fatalf("status %d, want %d: %s", code, tc.want, b)
				}
				var eb httpkit.ErrorBody
				if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
					t.Fatalf("not a JSON error: %s", b)
				}
				if strings.Contains(string(b), "pa_live_") {
					t.Fatalf("error echoes the key: %s", b)
				}
			})
		}
		// Listing never shows key material; the revoked key is marked.
		list := string(e.admin(t, "GET", mProjA+"/apikeys", "", 200))
		if strings.Contains(list, "pa_live_") || strings.Contains(list, "secret_hash") || !strings.Contains(list, `"revoked_at"`) {
			t.Fatalf("key list leaks or misses revocation: %s", list)
		}
	})
}

func TestModeDispatchAndDefaults(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		ctx := context.Background()
		u := &enduser.User{ProjectID: mProjA, ExternalID: "u-1", Email: "ann@example.com", Enabled: true, Attributes: map[string]any{"customAttr": "gold"}}
		if err := e.users.Create(ctx, u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		pw := `{"email":"ann@example.com","password":"correct horse battery"}`
		// Default modes: password only, attributes kept as before.
		code, b := e.do(t, "POST", "/auth/"+mProjA, pw, nil)
		if code != 200 {
			t.Fatalf("password by default: %d %s", code, b)
		}
		if c := e.claims(t, mProjA, b); c["_id"] != "u-1" || claimAt(c, "attributes.customAttr") != "gold" {
			t.Fatalf("claims %v", c)
		}
		if string(e.admin(t, "GET", mProjA+"/modes", "", 200)) != `{"modes":["password"]}` {
			t.Fatal("default modes must be [password]")
		}
		if code, _ := e.do(t, "POST", "/auth/"+mProjA, `{"id_token":"x.y.z"}`, nil); code != 403 {
			t.Fatalf("exchange while disabled: %d, want 403", code)
		}
		e.setModes(t, mProjA, "exchange")
		if code, _ := e.do(t, "POST", "/auth/"+mProjA, pw, nil); code != 403 {
			t.Fatalf("password while disabled: %d, want 403", code)
		}
		// Exchange enabled but no IdP configured: 503, not 500.
		if code, b := e.do(t, "POST", "/auth/"+mProjA, `{"id_token":"x.y.z"}`, nil); code != 503 {
			t.Fatalf("exchange without IdP: %d %s", code, b)
		}
		if code, _ := e.do(t, "POST", "/auth/"+mProjA, `{"id_token":"x","email":"a@b.co"}`, nil); code != 400 {
			t.Fatal("mixed exchange body must be 400")
		}
		e.admin(t, "PUT", mProjA+"/modes", `{"modes":["magic"]}`, 400)
		e.admin(t, "PUT", mProjA+"/modes", `{"modes":[]}`, 400)
	})
}

// TestPasswordFloodDoesNotBlockServerMode saturates the password path (every
// check blocks, as when the hashing pool is full) and shows that server-mode
// requests of another project still complete: the server mode never waits on
// the password pool.
func TestPasswordFloodDoesNotBlockServerMode(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		bp := &blockingPasswords{entered: make(chan struct{}, 64), release: make(chan struct{})}
		e := newModesEnv(t, db, bp)
		e.setModes(t, mProjB, "server")
		_, key := e.newKey(t, mProjB)
		const flood = 16
		var wg sync.WaitGroup
		for range flood {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _ := e.do(t, "POST", "/auth/"+mProjA, `{"email":"a@b.co","password":"whatever123"}`, nil)
				if code != 401 {
					t.Errorf("flood request: %d", code)
				}
			}()
		}
		for range flood {
			<-bp.entered // every flood request is now stuck in the password check
		}
		for i := range 20 {
			if code, b := serverAuth(t, e, mProjB, key, `{"user":{"id":"x"}}`); code != 200 {
				t.Fatalf("server request %d during the flood: %d %s", i, code, b)
			}
		}
		close(bp.release)
		wg.Wait()
	})
}

// --- exchange mode ---

type jwksServer struct {
	mu      sync.Mutex
	keys    []map[string]any
	fetches atomic.Int32
	srv     *httptest.Server
}

func newJWKSServer(t *testing.T) *jwksServer {
	j := &jwksServer{}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": j.keys})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwksServer) serve(keys ...map[string]any) {
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PrivateKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	x, y := make([]byte, 32), make([]byte, 32)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64u(x), "y": b64u(y)}
}

func upstream(t *testing.T, method jwt.SigningMethod, kid string, key any, mutate func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": idpIss, "aud": idpAud, "sub": "auth0|77", "email": "zoe@example.com", "given_name": "Zoe",
		"family_name": "Ng", "plan": "pro", "roles": []string{"customer"}, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if mutate != nil {
		mutate(c)
	}
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimAt reads a claim by dotted path ("attributes.plan").
func claimAt(c map[string]any, path string) any {
	var cur any = c
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func exchange(t *testing.T, e *modesEnv, pid, tok string) (int, []byte) {
	t.Helper()
	return e.do(t, "POST", "/auth/"+pid, `{"id_token":"`+tok+`"}`, map[string]string{"Origin": "https://shop.example.com"})
}

func TestExchangeModeJWKS(t *testing.T) {
	t.Parallel()
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		j := newJWKSServer(t)
		j.serve(rsaJWK("k1", k1), ecJWK("e1", ec))
		e.setModes(t, mProjA, "exchange")
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"`+idpIss+`","jwks_url":"`+j.srv.URL+`/jwks","audiences":["`+idpAud+`"],"algorithms":["RS256","ES256"],"leeway_seconds":30}`, 200)
		e.admin(t, "PUT", mProjA+"/mapping", `{"prefix":"shopA|","attributes":["plan"]}`, 200)

		code, b := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodRS256, "k1", k1, func(c jwt.MapClaims) { c["email_verified"] = true }))
		if code != 200 {
			t.Fatalf("RS256 k1: %d %s", code, b)
		}
		c := e.claims(t, mProjA, b)
		for k, v := range map[string]any{"_id": "shopA|auth0|77", "email": "zoe@example.com", "firstname": "Zoe", "lastname": "Ng", "attributes.plan": "pro"} {
			if claimAt(c, k) != v {
				t.Errorf("claim %s = %v, want %v", k, claimAt(c, k), v)
			}
		}
		// An email the IdP does not say it verified never reaches the token.
		for _, verified := range []any{nil, false, "false"} {
			code, b := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodRS256, "k1", k1, func(c jwt.MapClaims) {
				if verified != nil {
					c["email_verified"] = verified
				}
			}))
			if c := e.claims(t, mProjA, b); code != 200 || c["email"] != nil || c["_id"] != "shopA|auth0|77" {
				t.Errorf("email_verified %v: %d %v", verified, code, c)
			}
		}
		if _, ok := c["roles"]; ok {
			t.Error("roles claim is not allow-listed but reached the token")
		}
		if code, b := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodES256, "e1", ec, nil)); code != 200 {
			t.Fatalf("ES256: %d %s", code, b)
		}
		fetches := j.fetches.Load()
		if code, _ := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodRS256, "k1", k1, nil)); code != 200 || j.fetches.Load() != fetches {
			t.Fatal("a known kid must be served from the cached JWKS")
		}

		// Key rollover: k1 removed, k2 published. A k2 token triggers a refetch.
		j.serve(rsaJWK("k2", k2))
		if code, b := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodRS256, "k2", k2, nil)); code != 200 {
			t.Fatalf("after rollover, new kid: %d %s", code, b)
		}
		if j.fetches.Load() <= fetches {
			t.Fatal("unknown kid did not refetch the JWKS")
		}

		hsConfusion := upstream(t, jwt.SigningMethodHS256, "k2", x509.MarshalPKCS1PublicKey(&k2.PublicKey), nil)
		noneTok := upstream(t, jwt.SigningMethodNone, "", jwt.UnsafeAllowNoneSignatureType, nil)
		rejected := []struct {
			name, tok string
		}{
			{"old kid after rollover", upstream(t, jwt.SigningMethodRS256, "k1", k1, nil)},
			{"unknown kid", upstream(t, jwt.SigningMethodRS256, "k9", k2, nil)},
			{"expired", upstream(t, jwt.SigningMethodRS256, "k2", k2, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })},
			{"not yet valid", upstream(t, jwt.SigningMethodRS256, "k2", k2, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(5 * time.Minute).Unix() })},
			{"no exp", upstream(t, jwt.SigningMethodRS256, "k2", k2, func(c jwt.MapClaims) { delete(c, "exp") })},
			{"wrong audience", upstream(t, jwt.SigningMethodRS256, "k2", k2, func(c jwt.MapClaims) { c["aud"] = "another-app" })},
			{"wrong issuer", upstream(t, jwt.SigningMethodRS256, "k2", k2, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })},
			{"alg confusion HS256 with the public key", hsConfusion},
			{"alg none", noneTok},
			{"signed by another key", upstream(t, jwt.SigningMethodRS256, "k2", k1, nil)},
			{"garbage", "not-a-jwt"},
		}
		for _, tc := range rejected {
			t.Run(tc.name, func(t *testing.T) {
				code, b := exchange(t, e, mProjA, tc.tok)
				if code != 401 {
					t.Fatalf("status %d, want 401: %s", code, b)
				}
			})
		}
		// Within leeway: expired 10s ago, leeway 30s.
		if code, b := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodRS256, "k2", k2, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })); code != 200 {
			t.Fatalf("within leeway: %d %s", code, b)
		}
		// The token is for project A's IdP; project B has none and exchange disabled.
		if code, _ := exchange(t, e, mProjB, upstream(t, jwt.SigningMethodRS256, "k2", k2, nil)); code != 403 {
			t.Fatalf("project B: %d, want 403", code)
		}
	})
}

// A JWKS URL that redirects to another host is not followed: the exchange
// fails with the uniform 503, which names no host, port or redirect.
func TestExchangeModeJWKSRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		evil := newJWKSServer(t)
		evil.serve(rsaJWK("k1", attacker))
		redirector := httptest.NewServer(http.RedirectHandler(evil.srv.URL+"/jwks", http.StatusFound))
		t.Cleanup(redirector.Close)
		e.setModes(t, mProjA, "exchange")
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"`+idpIss+`","jwks_url":"`+redirector.URL+`/jwks","audiences":["`+idpAud+`"]}`, 200)
		code, b := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodRS256, "k1", attacker, nil))
		if code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", code, b)
		}
		var body httpkit.ErrorBody
		if err := json.Unmarshal(b, &body); err != nil || body.Error.Message != "could not fetch the identity provider's keys; try again later" {
			t.Fatalf("body %s", b)
		}
		for _, leak := range []string{"127.0.0.1", evil.srv.Listener.Addr().String(), "redirect", "outbound"} {
			if strings.Contains(string(b), leak) {
				t.Fatalf("response reveals %q: %s", leak, b)
			}
		}
		if n := evil.fetches.Load(); n != 0 {
			t.Fatalf("the redirect target was fetched %d times", n)
		}
		// An internal address is refused when saved, naming the field.
		b = e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"x","audiences":["a"],"jwks_url":"https://169.254.169.254/jwks"}`, 400)
		if err := json.Unmarshal(b, &body); err != nil || body.Error.Field != "jwks_url" {
			t.Fatalf("body %s", b)
		}
	})
}

func TestExchangeModeHSSecretIsNeverStoredInSQL(t *testing.T) {
	t.Parallel()
	const hs = "the-sites-idp-hs256-secret-0123456789abcdef"
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		e.setModes(t, mProjA, "exchange", "password")
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"`+idpIss+`","audiences":["`+idpAud+`"],"hs_secret":"`+hs+`"}`, 200)
		got := string(e.admin(t, "GET", mProjA+"/idp", "", 200))
		if strings.Contains(got, hs) || !strings.Contains(got, `"has_hs_secret":true`) || !strings.Contains(got, `"HS256"`) {
			t.Fatalf("GET /idp = %s", got)
		}
		if code, b := exchange(t, e, mProjA, upstream(t, jwt.SigningMethodHS256, "", []byte(hs), nil)); code != 200 {
			t.Fatalf("HS256 token: %d %s", code, b)
		}
		rk, _ := rsa.GenerateKey(rand.Reader, 2048)
		for name, tok := range map[string]string{
			"RS256 against an HS issuer": upstream(t, jwt.SigningMethodRS256, "", rk, nil),
			"HS384 not allowed":          upstream(t, jwt.SigningMethodHS384, "", []byte(hs), nil),
			"wrong HS secret":            upstream(t, jwt.SigningMethodHS256, "", []byte(strings.ToUpper(hs)), nil),
		} {
			if code, _ := exchange(t, e, mProjA, tok); code != 401 {
				t.Errorf("%s: %d, want 401", name, code)
			}
		}
		// No table holds the plaintext: dump the text of every relevant table.
		for _, table := range []string{"idp_configs", "audit_events", "sealed_secrets", "secret_versions"} {
			var rows []map[string]any
			if err := db.Table(table).Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			dump, _ := json.Marshal(rows)
			if bytes.Contains(dump, []byte(hs)) || bytes.Contains(dump, []byte(base64.StdEncoding.EncodeToString([]byte(hs)))) {
				t.Fatalf("table %s contains the HS secret", table)
			}
		}
		var n int64
		db.Table("sealed_secrets").Where("project_id = ?", idp.SecretID(mProjA)).Count(&n)
		if n != 1 {
			t.Fatalf("sealed HS secret rows = %d, want 1", n)
		}
		// Misconfigurations are 400s.
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"x","audiences":["a"],"jwks_url":"http://example.com/jwks"}`, 400)
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"x","audiences":["a"],"jwks_url":"https://idp.example/jwks","algorithms":["HS256"]}`, 400)
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"x","audiences":[],"jwks_url":"https://idp.example/jwks"}`, 400)
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"x","audiences":["a"],"hs_secret":"short"}`, 400)
		// Switching to a JWKS drops the HS secret from the backend.
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"x","audiences":["a"],"jwks_url":"https://idp.example/jwks"}`, 200)
		db.Table("sealed_secrets").Where("project_id = ?", idp.SecretID(mProjA)).Count(&n)
		if n != 0 {
			t.Fatalf("HS secret still stored after switching to JWKS (%d rows)", n)
		}
	})
}

// --- mappings, overrides, blocks, role gate ---

func TestMappingPrefixesSeparateSites(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		keys := map[string]string{}
		for _, pid := range []string{mProjA, mProjB} {
			e.setModes(t, pid, "server")
			_, keys[pid] = e.newKey(t, pid)
		}
		e.admin(t, "PUT", mProjA+"/mapping", `{"prefix":"shopA|"}`, 200)
		e.admin(t, "PUT", mProjB+"/mapping", `{"prefix":"shopB|"}`, 200)
		ids := map[string]any{}
		for _, pid := range []string{mProjA, mProjB} {
			code, b := serverAuth(t, e, pid, keys[pid], `{"user":{"id":"same-upstream-sub"}}`)
			if code != 200 {
				t.Fatalf("%s: %d %s", pid, code, b)
			}
			ids[pid] = e.claims(t, pid, b)["_id"]
		}
		if ids[mProjA] != "shopA|same-upstream-sub" || ids[mProjB] != "shopB|same-upstream-sub" {
			t.Fatalf("ids = %v", ids)
		}
		// Overlapping prefixes within one tenant are rejected...
		for _, p := range []string{"shopA|", "shop", "shopA|x"} {
			e.admin(t, "PUT", mProjB+"/mapping", `{"prefix":"`+p+`"}`, 409)
		}
		// ...but another tenant may use any prefix.
		e.admin(t, "PUT", mProjC+"/mapping", `{"prefix":"shopA|"}`, 200)
		// Reserved claims can never be allow-listed.
		for _, a := range []string{"sub", "_id", "aud", "exp", "email"} {
			e.admin(t, "PUT", mProjA+"/mapping", `{"attributes":["`+a+`"]}`, 400)
		}
	})
}

func TestOverridesBlocksAndRoleGate(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		e.setModes(t, mProjA, "server", "password")
		_, key := e.newKey(t, mProjA)
		e.admin(t, "PUT", mProjA+"/mapping", `{"prefix":"A-","attributes":["*"]}`, 200)
		e.admin(t, "PUT", mProjA+"/mapping/overrides/vip", `{"force_id":"legacy-007","attributes":{"tier":"platinum"}}`, 200)
		e.admin(t, "PUT", mProjA+"/mapping/overrides/troll", `{"blocked":true,"note":"abuse"}`, 200)
		e.admin(t, "PUT", mProjA+"/mapping/overrides/x", `{"attributes":{"sub":"forged"}}`, 400)

		code, b := serverAuth(t, e, mProjA, key, `{"user":{"id":"vip","attributes":{"tier":"basic","color":"red"}}}`)
		if code != 200 {
			t.Fatalf("vip: %d %s", code, b)
		}
		if c := e.claims(t, mProjA, b); c["_id"] != "legacy-007" || claimAt(c, "attributes.tier") != "platinum" || claimAt(c, "attributes.color") != "red" {
			t.Fatalf("override not applied: %v", c)
		}
		if code, _ := serverAuth(t, e, mProjA, key, `{"user":{"id":"troll"}}`); code != 403 {
			t.Fatalf("blocked user: %d, want 403", code)
		}
		// Blocks apply in password mode too (keyed on the mapped id before the prefix).
		ctx := context.Background()
		if err := e.users.Create(ctx, &enduser.User{ProjectID: mProjA, ExternalID: "troll", Email: "troll@example.com", Enabled: true, Roles: []string{"customer"}}, "troll-password-1"); err != nil {
			t.Fatal(err)
		}
		if code, _ := e.do(t, "POST", "/auth/"+mProjA, `{"email":"troll@example.com","password":"troll-password-1"}`, nil); code != 403 {
			t.Fatalf("blocked password user: %d, want 403", code)
		}
		e.admin(t, "DELETE", mProjA+"/mapping/overrides/troll", "", 204)
		if code, b := e.do(t, "POST", "/auth/"+mProjA, `{"email":"troll@example.com","password":"troll-password-1"}`, nil); code != 200 {
			t.Fatalf("unblocked: %d %s", code, b)
		}

		// Role gate: no rules -> everyone; a rule -> only that role.
		if code, _ := serverAuth(t, e, mProjA, key, `{"user":{"id":"staff-1","roles":["staff"]}}`); code != 200 {
			t.Fatal("without role rules everyone may authenticate")
		}
		e.admin(t, "POST", mProjA+"/role-rules", `{"role":"customer"}`, 201)
		for _, tc := range []struct {
			body string
			want int
		}{
			{`{"user":{"id":"c1","roles":["customer"]}}`, 200},
			{`{"user":{"id":"c2","roles":["staff","customer"]}}`, 200},
			{`{"user":{"id":"s1","roles":["staff"]}}`, 403},
			{`{"user":{"id":"n1"}}`, 403},
		} {
			if code, b := serverAuth(t, e, mProjA, key, tc.body); code != tc.want {
				t.Errorf("%s: %d, want %d (%s)", tc.body, code, tc.want, b)
			}
		}
		// Password users' stored roles go through the same gate.
		if code, _ := e.do(t, "POST", "/auth/"+mProjA, `{"email":"troll@example.com","password":"troll-password-1"}`, nil); code != 200 {
			t.Fatal("customer password user must pass the gate")
		}
		if got := string(e.admin(t, "GET", mProjA+"/role-rules", "", 200)); !strings.Contains(got, `"customer"`) || !strings.Contains(got, `"everyone_allowed":false`) {
			t.Fatalf("role rules = %s", got)
		}
		e.admin(t, "DELETE", mProjA+"/role-rules/customer", "", 204)
		if code, _ := serverAuth(t, e, mProjA, key, `{"user":{"id":"s1","roles":["staff"]}}`); code != 200 {
			t.Fatal("after removing the rule everyone may authenticate again")
		}
	})
}

func TestModeAdminAPIIsGuardedAndAudited(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newModesEnv(t, db, nil)
		if code, _ := e.do(t, "GET", "/api/v1/projects/"+mProjA+"/apikeys", "", nil); code != 401 {
			t.Fatalf("admin API without auth: %d", code)
		}
		e.admin(t, "GET", "nope/apikeys", "", 404)
		e.admin(t, "PUT", mProjA+"/mapping", `{"bogus":1}`, 400)
		_, key := e.newKey(t, mProjA)
		e.setModes(t, mProjA, "password", "server")
		e.admin(t, "PUT", mProjA+"/mapping", `{"prefix":"p|"}`, 200)
		e.admin(t, "POST", mProjA+"/role-rules", `{"role":"customer"}`, 201)
		e.admin(t, "PUT", mProjA+"/idp", `{"issuer":"i","audiences":["a"],"hs_secret":"an-hs-secret-long-enough-0123456789"}`, 200)
		evs, err := e.audit.List(context.Background(), audit.Query{ProjectID: mProjA})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, ev := range evs {
			seen[ev.Action] = true
			if ev.Actor == "" || ev.TenantID != "agency" {
				t.Errorf("event %s: actor %q tenant %q", ev.Action, ev.Actor, ev.TenantID)
			}
			d := ev.MarshalDetails()
			if strings.Contains(d, key) || strings.Contains(d, "pa_live_") || strings.Contains(d, "an-hs-secret") {
				t.Errorf("audit event %s leaks a secret: %s", ev.Action, d)
			}
		}
		for _, a := range []string{"apikey.create", "modes.set", "mapping.set", "role_rules.update", "idp.set"} {
			if !seen[a] {
				t.Errorf("no audit event %s (got %v)", a, seen)
			}
		}
	})
}
