package operator_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/operator"
	"github.com/pingstreams/pingauth/internal/secret"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

// TestTOTPRFC6238Vectors: the SHA-1 test vectors of RFC 6238 appendix B
// (8 digits, X = 30 s, T0 = 0) and the HOTP vectors of RFC 4226 appendix D.
func TestTOTPRFC6238Vectors(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		step uint64
		want string
	}{
		{59, 0x1, "94287082"},
		{1111111109, 0x23523EC, "07081804"},
		{1111111111, 0x23523ED, "14050471"},
		{1234567890, 0x273EF07, "89005924"},
		{2000000000, 0x3F940AA, "69279037"},
		{20000000000, 0x27BC86AA, "65353130"},
	} {
		at := time.Unix(tc.unix, 0).UTC()
		if s := operator.TOTPStep(at); uint64(s) != tc.step {
			t.Errorf("step(%d) = %x, want %x", tc.unix, s, tc.step)
		}
		if got := operator.HOTP(key, uint64(operator.TOTPStep(at)), 8); got != tc.want {
			t.Errorf("TOTP(%d) = %s, want %s", tc.unix, got, tc.want)
		}
		// The 6-digit code is the last six digits of the 8-digit one.
		if got := operator.TOTPCode(key, at); got != tc.want[2:] {
			t.Errorf("6-digit TOTP(%d) = %s, want %s", tc.unix, got, tc.want[2:])
		}
	}
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"} {
		if got := operator.HOTP(key, uint64(i), 6); got != want {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestMatchTOTPWindow(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	now := time.Unix(1234567890, 0)
	for _, tc := range []struct {
		name   string
		at     time.Time
		wantOK bool
	}{
		{"current step", now, true},
		{"previous step", now.Add(-30 * time.Second), true},
		{"next step", now.Add(30 * time.Second), true},
		{"two steps back", now.Add(-60 * time.Second), false},
		{"two steps ahead", now.Add(60 * time.Second), false},
	} {
		step, ok := operator.MatchTOTP(key, operator.TOTPCode(key, tc.at), now)
		if ok != tc.wantOK || (ok && step != operator.TOTPStep(tc.at)) {
			t.Errorf("%s: MatchTOTP = %d %v, want %v at step %d", tc.name, step, ok, tc.wantOK, operator.TOTPStep(tc.at))
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := operator.MatchTOTP(key, bad, now); ok {
			t.Errorf("MatchTOTP(%q) matched", bad)
		}
	}
}

func TestTOTPURIAndSecretEncoding(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	enc := operator.EncodeTOTPSecret(key)
	if enc != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
		t.Fatalf("base32 = %s", enc)
	}
	back, err := operator.DecodeTOTPSecret(strings.ToLower(enc[:4]) + " " + enc[4:])
	if err != nil || !bytes.Equal(back, key) {
		t.Fatalf("decode: %q %v", back, err)
	}
	uri := operator.TOTPURI("ops@example.com", key)
	for _, part := range []string{"otpauth://totp/pingauth:ops@example.com?", "secret=" + enc, "issuer=pingauth", "algorithm=SHA1", "digits=6", "period=30"} {
		if !strings.Contains(uri, part) {
			t.Errorf("URI %s lacks %s", uri, part)
		}
	}
}

// TestTOTPStore: enrolment (secret in the backend, never in SQL), wrong
// code refused, recovery codes hashed and single use, replay refused, and
// the half-signed-in session that grants nothing until the code.
func TestTOTPStore(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sealed, err := secret.NewSealed(db, bytes.Repeat([]byte{7}, secret.MasterKeySize))
		if err != nil {
			t.Fatal(err)
		}
		r := operator.NewRepo(db, enduser.NewHasher(enduser.TestParams, 1))
		ts := operator.NewTOTPStore(db, sealed)
		now := time.Date(2030, 1, 1, 12, 0, 10, 0, time.UTC)
		ts.SetClock(func() time.Time { return now })
		o, err := r.Create(ctx, "ops@example.com", "", "operator-pass-1")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := ts.Enrolled(ctx, o.ID); ok || err != nil {
			t.Fatalf("enrolled before enrolment: %v %v", ok, err)
		}
		if _, err := ts.Verify(ctx, o.ID, "123456"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("verify without enrolment: %v", err)
		}
		key, err := ts.Begin(ctx, o.ID)
		if err != nil || len(key) != operator.TOTPSecretBytes {
			t.Fatalf("begin: %d bytes, %v", len(key), err)
		}
		if ok, _ := ts.Enrolled(ctx, o.ID); ok {
			t.Fatal("an unconfirmed enrolment counts as enrolled")
		}
		// The secret is in the backend only.
		st, _ := ts.State(ctx, o.ID)
		if v, err := sealed.Read(ctx, operator.TOTPSecretID(o.ID), st.SecretVersion); err != nil || !bytes.Equal(v, key) {
			t.Fatalf("backend secret: %v", err)
		}
		assertNoSecretInSQL(t, db, key)

		wrong := operator.TOTPCode(key, now.Add(5*time.Minute))
		if _, err := ts.Confirm(ctx, o.ID, wrong); !errors.Is(err, operator.ErrBadCode) {
			t.Fatalf("confirm with a wrong code: %v", err)
		}
		if n := ts.Failures(ctx, o.ID); n != 1 {
			t.Errorf("failures after a wrong code = %d", n)
		}
		codes, err := ts.Confirm(ctx, o.ID, operator.TOTPCode(key, now))
		if err != nil || len(codes) != operator.RecoveryCodeCount {
			t.Fatalf("confirm: %d codes, %v", len(codes), err)
		}
		if n := ts.Failures(ctx, o.ID); n != 0 {
			t.Errorf("failures after a good code = %d", n)
		}
		if ok, _ := ts.Enrolled(ctx, o.ID); !ok {
			t.Fatal("not enrolled after confirm")
		}
		if _, err := ts.Begin(ctx, o.ID); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("begin while enrolled: %v", err)
		}
		var hashes []string
		db.WithContext(ctx).Model(&operator.RecoveryCode{}).Where("operator_id = ?", o.ID).Pluck("code_hash", &hashes)
		if len(hashes) != operator.RecoveryCodeCount {
			t.Fatalf("stored recovery codes: %d", len(hashes))
		}
		for _, h := range hashes {
			for _, c := range codes {
				if strings.Contains(h, c) || strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
					t.Fatal("a recovery code is stored in clear")
				}
			}
		}

		// The enrolment's own code cannot sign in (same step), nor can it twice.
		if _, err := ts.Verify(ctx, o.ID, operator.TOTPCode(key, now)); !errors.Is(err, operator.ErrCodeReplay) {
			t.Fatalf("reuse of the enrolment code: %v", err)
		}
		now = now.Add(30 * time.Second)
		code := operator.TOTPCode(key, now)
		if v, err := ts.Verify(ctx, o.ID, code[:3]+" "+code[3:]); err != nil || v.Recovery {
			t.Fatalf("verify next step: %+v %v", v, err)
		}
		if _, err := ts.Verify(ctx, o.ID, code); !errors.Is(err, operator.ErrCodeReplay) {
			t.Fatalf("replay: %v", err)
		}
		// A code of an earlier step (inside the window) is a replay too.
		if _, err := ts.Verify(ctx, o.ID, operator.TOTPCode(key, now.Add(-30*time.Second))); !errors.Is(err, operator.ErrCodeReplay) {
			t.Fatalf("earlier step: %v", err)
		}
		if _, err := ts.Verify(ctx, o.ID, "000000"); !errors.Is(err, operator.ErrBadCode) && operator.TOTPCode(key, now) != "000000" {
			t.Fatalf("wrong code: %v", err)
		}

		v, err := ts.Verify(ctx, o.ID, strings.ToUpper(codes[3]))
		if err != nil || !v.Recovery || v.RecoveryLeft != operator.RecoveryCodeCount-1 {
			t.Fatalf("recovery code: %+v %v", v, err)
		}
		if _, err := ts.Verify(ctx, o.ID, codes[3]); !errors.Is(err, operator.ErrBadCode) {
			t.Fatalf("recovery code used twice: %v", err)
		}
		if _, err := ts.Verify(ctx, o.ID, "aaaa-bbbb-cccc"); !errors.Is(err, operator.ErrBadCode) {
			t.Fatalf("unknown recovery code: %v", err)
		}

		// Half-signed-in sessions grant nothing until completed.
		pending, err := r.NewPendingSession(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.LookupSession(ctx, pending); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Fatalf("pending session looks up as a session: %v", err)
		}
		if _, po, err := r.LookupPending(ctx, pending); err != nil || po.ID != o.ID {
			t.Fatalf("lookup pending: %v", err)
		}
		full, err := r.CompleteSecondFactor(ctx, pending)
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := r.LookupSession(ctx, full)
		if err != nil || !s.SecondFactor {
			t.Fatalf("completed session: %+v %v", s, err)
		}
		if _, err := r.CompleteSecondFactor(ctx, pending); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Fatalf("pending session completed twice: %v", err)
		}
		if _, _, err := r.LookupPending(ctx, full); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Fatalf("a full session looks up as pending: %v", err)
		}

		// MarkSecondFactor upgrades one session and ends the others.
		a, _, _ := r.NewSession(ctx, o.ID)
		b, _, _ := r.NewSession(ctx, o.ID)
		if err := r.MarkSecondFactor(ctx, a, o.ID); err != nil {
			t.Fatal(err)
		}
		if s, _, err := r.LookupSession(ctx, a); err != nil || !s.SecondFactor {
			t.Fatalf("marked session: %v", err)
		}
		for _, gone := range []string{b, full} {
			if _, _, err := r.LookupSession(ctx, gone); err == nil {
				t.Error("another session survived MarkSecondFactor")
			}
		}

		if err := ts.Remove(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if ok, _ := ts.Enrolled(ctx, o.ID); ok {
			t.Fatal("enrolled after Remove")
		}
		if _, err := sealed.Read(ctx, operator.TOTPSecretID(o.ID), st.SecretVersion); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("secret after Remove: %v", err)
		}
		if n, _ := ts.RecoveryLeft(ctx, o.ID); n != 0 {
			t.Fatalf("recovery codes after Remove: %d", n)
		}
	})
}

// assertNoSecretInSQL: no operator_totp column holds the secret or its
// base32 form.
func assertNoSecretInSQL(t *testing.T, db *store.DB, key []byte) {
	t.Helper()
	var rows []map[string]any
	if err := db.WithContext(context.Background()).Table("operator_totp").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	enc := operator.EncodeTOTPSecret(key)
	for _, r := range rows {
		for col, v := range r {
			var s string
			switch x := v.(type) {
			case string:
				s = x
			case []byte:
				s = string(x)
			}
			if s != "" && (strings.Contains(s, enc) || strings.Contains(s, string(key))) {
				t.Fatalf("operator_totp.%s holds the secret", col)
			}
		}
	}
}
