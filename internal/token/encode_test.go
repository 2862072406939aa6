package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestSignMatchesGolangJWT: the direct encoder produces the claims golang-jwt
// would (same names and values), with a header pinned to HS256 and the kid.
func TestSignMatchesGolangJWT(t *testing.T) {
	t.Parallel()
	key := Key{Version: 3, Value: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_800_000_000, 500)
	for _, id := range []Identity{
		{ID: "42"},
		{ID: `we"ird\ id <&>`, Firstname: "Zoë", Lastname: "O'Brien", Email: "z@example.com", Phone: "+39 055 123",
			Attributes: map[string]any{"plan": "gold", "n": 3.5, "tags": []any{"a", "b"}, "obj": map[string]any{"k": true}, "sub": "forged", "_id": "forged", "aud": "x", "exp": 1.0}},
	} {
		iss, err := Sign("https://tiledesk.com/projects/p1", key, id, 10*time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		claims, err := Verify(iss.Raw, VerifyOptions{Audience: "https://tiledesk.com/projects/p1", Keys: []Key{key}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatalf("golang-jwt rejects the token: %v", err)
		}
		want := jwt.MapClaims{"_id": id.ID, "sub": Subject, "aud": "https://tiledesk.com/projects/p1", "iat": float64(1_800_000_000),
			"exp": float64(1_800_000_600), "jti": iss.ID}
		if len(id.Attributes) > 0 { // one object, whatever the names inside it
			want["attributes"] = map[string]any(id.Attributes)
		}
		for k, v := range map[string]string{"firstname": id.Firstname, "lastname": id.Lastname, "email": id.Email, "phone": id.Phone} {
			if v != "" {
				want[k] = v
			}
		}
		if !reflect.DeepEqual(claims, want) {
			t.Fatalf("claims\n got %v\nwant %v", claims, want)
		}
		hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(iss.Raw, ".")[0])
		var hdr map[string]any
		if err := json.Unmarshal(hb, &hdr); err != nil || hdr["alg"] != "HS256" || hdr["kid"] != "v3" || hdr["typ"] != "JWT" || len(hdr) != 3 {
			t.Fatalf("header %s", hb)
		}
		if !iss.ExpiresAt.Equal(time.Unix(1_800_000_600, 0)) || len(iss.ID) != 32 {
			t.Fatalf("issued %+v", iss)
		}
	}
	if _, err := Sign("a", key, Identity{ID: "x", Attributes: map[string]any{"bad": make(chan int)}}, time.Minute, now); err == nil {
		t.Fatal("unencodable attribute accepted")
	}
	if _, err := Sign("a", key, Identity{}, time.Minute, now); err == nil {
		t.Fatal("empty _id accepted")
	}
	if _, err := Sign("a", Key{Version: 1}, Identity{ID: "x"}, time.Minute, now); err == nil {
		t.Fatal("empty key accepted")
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r", "\x00\x01\x1f", "<script>&", "Zoë 日本", "\u2028\u2029", "bad\xffutf8", "\xe2\x82"} {
		want, _ := json.Marshal(in)
		if got := string(AppendJSONString(nil, in)); got != string(want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestAppendJSONStringEveryByte checks the escape table byte by byte, alone
// and inside safe text (fast path prefix, then the escaping loop).
func TestAppendJSONStringEveryByte(t *testing.T) {
	t.Parallel()
	for c := 0; c < 256; c++ {
		for _, in := range []string{string([]byte{byte(c)}), "eyJhbGci." + string([]byte{byte(c)}) + "-_x"} {
			want, _ := json.Marshal(in)
			if c == '\b' || c == '\f' {
				// encoding/json (Go >= 1.22) writes \b and \f; AppendJSONString has
				// always written \u0008 and \u000c (equivalent JSON). Pinned here so
				// that changing the bytes of issued tokens is a deliberate choice.
				want = bytes.ReplaceAll(bytes.ReplaceAll(want, []byte(`\b`), []byte(`\u0008`)), []byte(`\f`), []byte(`\u000c`))
			}
			if got := string(AppendJSONString(nil, in)); got != string(want) {
				t.Errorf("AppendJSONString(%q) = %s, want %s", in, got, want)
			}
		}
	}
}

func BenchmarkAppendJSONStringJWT(b *testing.B) {
	jwt := "eyJhbGciOiJIUzI1NiIsImtpZCI6InYzIiwidHlwIjoiSldUIn0.eyJfaWQiOiI0MiIsImF1ZCI6Imh0dHBzOi8vdGlsZWRlc2suY29tL3Byb2plY3RzL3AxIiwiZW1haWwiOiJhbm5AZXhhbXBsZS5jb20iLCJleHAiOjE3MDAwMDA5MDAsImZpcnN0bmFtZSI6IkFubiIsImlhdCI6MTcwMDAwMDAwMCwianRpIjoiMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJwbGFuIjoiZ29sZCIsInN1YiI6InVzZXJleHRlcm5hbCJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSONString(buf[:0], jwt)
	}
}

// TestSignHeaderBytes pins the JOSE header byte for byte, for versions of
// every width, against the strconv.Quote(KeyID()) definition.
func TestSignHeaderBytes(t *testing.T) {
	t.Parallel()
	for _, v := range []int{0, 1, 7, 10, 99, 123456, -3, math.MaxInt64, math.MinInt64} {
		key := Key{Version: v, Value: []byte("k-0123456789abcdef")}
		iss, err := Sign("aud", key, Identity{ID: "x"}, time.Minute, time.Unix(1_700_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		got, err := base64.RawURLEncoding.DecodeString(strings.SplitN(iss.Raw, ".", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"alg":"HS256","kid":` + strconv.Quote(key.KeyID()) + `,"typ":"JWT"}`; string(got) != want {
			t.Errorf("version %d: header %s, want %s", v, got, want)
		}
	}
}
