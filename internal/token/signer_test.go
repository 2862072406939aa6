package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSignerSignsLikeSign: tokens of a Signer verify, carry an HMAC over
// their own header and payload with exactly the key given, including after
// the key of a slot changes (rotation) and from concurrent goroutines.
func TestSignerSignsLikeSign(t *testing.T) {
	t.Parallel()
	s := NewSigner()
	now := time.Unix(1_800_000_000, 0)
	id := Identity{ID: "42", Email: "ann@example.com", Attributes: map[string]any{"plan": "gold", "vip": true, "n": 3.5}}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				// Few keys, so slots are shared and replaced all the time.
				key := Key{Version: i%3 + 1, Value: []byte(strings.Repeat(string(rune('a'+(g+i)%5)), 32))}
				iss, err := s.Sign("https://tiledesk.com/projects/p1", key, id, time.Minute, now)
				if err != nil {
					t.Error(err)
					return
				}
				parts := strings.Split(iss.Raw, ".")
				mac := hmac.New(sha256.New, key.Value)
				mac.Write([]byte(parts[0] + "." + parts[1]))
				if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); parts[2] != want {
					t.Errorf("signature %s, want %s", parts[2], want)
					return
				}
				if _, err := Verify(iss.Raw, VerifyOptions{Audience: "https://tiledesk.com/projects/p1", Keys: []Key{key}, Now: func() time.Time { return now }}); err != nil {
					t.Error(err)
					return
				}
				ref, err := Sign("https://tiledesk.com/projects/p1", key, id, time.Minute, now)
				if err != nil {
					t.Error(err)
					return
				}
				if payloadWithoutJTI(t, ref.Raw) != payloadWithoutJTI(t, iss.Raw) {
					t.Errorf("payloads differ:\n%s\n%s", payloadWithoutJTI(t, ref.Raw), payloadWithoutJTI(t, iss.Raw))
					return
				}
			}
		})
	}
	wg.Wait()
}

func payloadWithoutJTI(t *testing.T, raw string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"jti":"`)
	return string(b[:i]) + string(b[i+len(`"jti":"`)+33:])
}

func TestAppendFlatObjectMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, m := range []map[string]any{
		{}, {"plan": "gold"}, {"b": true, "a": "x", "c": nil, "B": false, "<&>": "\u2028 é \xff"},
		{"k": "tab\there"}, {"n": 1.0}, {"nested": map[string]any{"a": "b"}}, {"list": []any{"a"}},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendFlatObject([]byte("prefix"), m)
		if !ok {
			if string(got) != "prefix" {
				t.Fatalf("%v: refused but wrote %q", m, got)
			}
			got, err = appendMember(nil, "x", m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != `"x":`+string(want)+"," {
				t.Fatalf("%v: fallback %s, want %s", m, got, want)
			}
			continue
		}
		if string(got) != "prefix"+string(want) {
			t.Fatalf("%v:\n got %s\nwant %s", m, got[len("prefix"):], want)
		}
	}
}

// FuzzFlatObject: the direct encoding of small flat attribute objects is
// byte-identical to json.Marshal.
func FuzzFlatObject(f *testing.F) {
	f.Add("plan", "gold", "vip", "x<y>&z", true)
	f.Add("", "\u2028", "é", "\xff\xfe", false)
	f.Add("a\x7f", "\x00", "b", "\\\"", true)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, b bool) {
		m := map[string]any{k1: v1, k2: v2, k1 + k2 + "!": b, "z" + k2: nil}
		want, err := json.Marshal(m)
		if err != nil {
			t.Skip()
		}
		got, ok := appendFlatObject(nil, m)
		if ok && string(got) != string(want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// With far more keys than slots (100k projects) most signs miss: they must
// still sign like Sign, and a key used often still gets a slot.
func TestSignerManyKeys(t *testing.T) {
	t.Parallel()
	s := NewSigner()
	now := time.Unix(1_800_000_000, 0)
	id := Identity{ID: "42"}
	keyOf := func(i int) Key {
		return Key{Version: 1, Value: []byte(fmt.Sprintf("project-secret-%06d-0123456789abcdef", i))}
	}
	for i := range 20 * signerSlots {
		key := keyOf(i % (10 * signerSlots))
		iss, err := s.Sign("https://tiledesk.com/projects/p", key, id, time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(iss.Raw, ".")
		mac := hmac.New(sha256.New, key.Value)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if parts[2] != base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) {
			t.Fatalf("key %d: wrong signature", i)
		}
	}
	hot := keyOf(999_999)
	for range 4 * replaceAfter {
		if _, err := s.Sign("https://tiledesk.com/projects/p", hot, id, time.Minute, now); err != nil {
			t.Fatal(err)
		}
	}
	if k := s.slots[maphash.Bytes(s.seed, hot.Value)%signerSlots].Load(); k == nil || string(k.key) != string(hot.Value) {
		t.Error("a key signed over and over did not get its slot")
	}
}
