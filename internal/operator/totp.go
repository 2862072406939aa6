package operator

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// TOTP parameters (RFC 6238 defaults, what every authenticator app uses).
const (
	// TOTPDigits is the code length.
	TOTPDigits = 6
	// TOTPPeriod is the time step X in seconds (T0 = 0).
	TOTPPeriod = 30
	// TOTPSkew is how many steps before and after the current one are
	// accepted (clock drift between the server and the phone).
	TOTPSkew = 1
	// TOTPSecretBytes is the secret's length (160 bits, RFC 4226 §4).
	TOTPSecretBytes = 20
	// TOTPIssuer names the account in authenticator apps.
	TOTPIssuer = "pingauth"
	// RecoveryCodeCount is how many recovery codes an enrolment issues.
	RecoveryCodeCount = 10
	// PendingSessionTTL bounds the half-signed-in state between the
	// password and the code.
	PendingSessionTTL = 5 * time.Minute
)

// HOTP is RFC 4226: HMAC-SHA1 of the big-endian counter, dynamic
// truncation, digits decimal digits (zero padded).
func HOTP(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	s := strconv.FormatUint(uint64(bin%mod), 10)
	return strings.Repeat("0", digits-len(s)) + s
}

// TOTPStep is the RFC 6238 time step of t: floor((unix time - T0) / X).
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode is the 6-digit code of secret at time t.
func TOTPCode(secret []byte, t time.Time) string {
	return HOTP(secret, uint64(TOTPStep(t)), TOTPDigits)
}

// MatchTOTP looks for code among the steps within TOTPSkew of now and
// returns the matching step (every candidate is computed and compared in
// constant time).
func MatchTOTP(secret []byte, code string, now time.Time) (step int64, ok bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := TOTPStep(now)
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		s := cur + d
		if s < 0 {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(HOTP(secret, uint64(s), TOTPDigits)), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// EncodeTOTPSecret is the manual-entry form of a secret: base32 without
// padding (RFC 4648, what authenticator apps accept).
func EncodeTOTPSecret(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// DecodeTOTPSecret reverses EncodeTOTPSecret (spaces and case ignored).
func DecodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// TOTPURI is the otpauth:// URI of an enrolment (Key Uri Format), the
// content of the QR code.
func TOTPURI(email string, secret []byte) string {
	q := url.Values{}
	q.Set("secret", EncodeTOTPSecret(secret))
	q.Set("issuer", TOTPIssuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(TOTPDigits))
	q.Set("period", strconv.Itoa(TOTPPeriod))
	return "otpauth://totp/" + url.PathEscape(TOTPIssuer+":"+email) + "?" + q.Encode()
}

// TOTP is an operator's second-factor state (operator_totp). The secret is
// in the secret backend (TOTPSecretID, SecretVersion).
type TOTP struct {
	OperatorID    string `gorm:"primaryKey"`
	SecretVersion int
	// EnrolledAt is nil while an enrolment is started but not confirmed.
	EnrolledAt *time.Time
	// LastStep is the last accepted time step (replays are refused).
	LastStep int64
	// Failures counts consecutive wrong codes.
	Failures      int
	LastFailureAt *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName binds TOTP to operator_totp.
func (TOTP) TableName() string { return "operator_totp" }

// Enrolled reports whether the enrolment was confirmed.
func (t *TOTP) Enrolled() bool { return t != nil && t.EnrolledAt != nil }

// RecoveryCode is the SHA-256 of one single-use recovery code.
type RecoveryCode struct {
	OperatorID string `gorm:"primaryKey"`
	CodeHash   string `gorm:"primaryKey"`
	UsedAt     *time.Time
	CreatedAt  time.Time
}

// TableName binds RecoveryCode to operator_recovery_codes.
func (RecoveryCode) TableName() string { return "operator_recovery_codes" }

// SecretBackend stores TOTP secrets (the project secrets' backend).
type SecretBackend interface {
	Write(ctx context.Context, id string, value []byte) (int, error)
	Read(ctx context.Context, id string, version int) ([]byte, error)
	Delete(ctx context.Context, id string) error
}

// TOTPSecretID is the secret-backend id of an operator's TOTP secret.
func TOTPSecretID(operatorID string) string { return operatorID + ":totp" }

// Errors of code checks. Both are Unauthorized so the sign-in guard counts
// them towards the lockout.
var (
	ErrBadCode    = apperr.Unauthorized("invalid code")
	ErrCodeReplay = apperr.Unauthorized("this code was already used; wait for the next one")
)

// TOTPStore keeps second-factor state and recovery codes. Create it with
// NewTOTPStore.
type TOTPStore struct {
	db      *store.DB
	secrets SecretBackend
	now     func() time.Time
}

// NewTOTPStore returns a store over db and the secret backend.
func NewTOTPStore(db *store.DB, secrets SecretBackend) *TOTPStore {
	return &TOTPStore{db: db, secrets: secrets, now: func() time.Time { return time.Now().UTC() }}
}

// SetClock replaces time.Now (tests).
func (s *TOTPStore) SetClock(now func() time.Time) { s.now = now }

// State returns the operator's TOTP state (apperr.ErrNotFound: none).
func (s *TOTPStore) State(ctx context.Context, operatorID string) (*TOTP, error) {
	return store.First[TOTP](ctx, s.db.DB, "get totp", apperr.NotFound("TOTP is not enrolled"), "operator_id = ?", operatorID)
}

// Enrolled reports whether the operator has confirmed TOTP.
func (s *TOTPStore) Enrolled(ctx context.Context, operatorID string) (bool, error) {
	t, err := s.State(ctx, operatorID)
	if errors.Is(err, apperr.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t.Enrolled(), nil
}

// EnrolledAmong returns which of ids have confirmed TOTP.
func (s *TOTPStore) EnrolledAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var got []string
	if err := s.db.WithContext(ctx).Model(&TOTP{}).Where("operator_id IN ? AND enrolled_at IS NOT NULL", ids).Pluck("operator_id", &got).Error; err != nil {
		return nil, fmt.Errorf("list totp: %w", err)
	}
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}

// Begin starts an enrolment: a fresh secret in the secret backend and an
// unconfirmed state. It returns the secret (shown once). An operator with
// confirmed TOTP must disable it first.
func (s *TOTPStore) Begin(ctx context.Context, operatorID string) ([]byte, error) {
	t, err := s.State(ctx, operatorID)
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return nil, err
	}
	if err == nil && t.Enrolled() {
		return nil, apperr.Conflict("TOTP is already enrolled: disable it first to enrol a new device")
	}
	secret := make([]byte, TOTPSecretBytes)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("totp secret: %w", err)
	}
	v, err := s.secrets.Write(ctx, TOTPSecretID(operatorID), secret)
	if err != nil {
		return nil, backendErr(err)
	}
	now := s.now()
	row := &TOTP{OperatorID: operatorID, SecretVersion: v, CreatedAt: now, UpdatedAt: now}
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "operator_id"}},
		DoUpdates: clause.Assignments(map[string]any{"secret_version": v, "enrolled_at": nil, "last_step": 0, "failures": 0,
			"last_failure_at": nil, "created_at": now, "updated_at": now})}).Create(row).Error
	if err != nil {
		return nil, fmt.Errorf("begin totp: %w", err)
	}
	return secret, nil
}

func backendErr(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Unavailable("secret store unavailable; try again later", err)
}

func (s *TOTPStore) secret(ctx context.Context, t *TOTP) ([]byte, error) {
	b, err := s.secrets.Read(ctx, TOTPSecretID(t.OperatorID), t.SecretVersion)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, apperr.Conflict("the TOTP secret is missing from the secret store: ask a platform admin to reset TOTP")
		}
		return nil, backendErr(err)
	}
	return b, nil
}

// Confirm finishes an enrolment with a valid code and returns the recovery
// codes (shown once; only their SHA-256 is stored).
func (s *TOTPStore) Confirm(ctx context.Context, operatorID, code string) ([]string, error) {
	t, err := s.State(ctx, operatorID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, apperr.Invalid("code", "start the enrolment first")
	}
	if err != nil {
		return nil, err
	}
	if t.Enrolled() {
		return nil, apperr.Conflict("TOTP is already enrolled")
	}
	secret, err := s.secret(ctx, t)
	if err != nil {
		return nil, err
	}
	step, ok := MatchTOTP(secret, normalizeCode(code), s.now())
	if !ok {
		s.fail(ctx, operatorID)
		return nil, ErrBadCode
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
	}
	now := s.now()
	err = s.db.InTx(ctx, func(ctx context.Context) error {
		res := s.db.WithContext(ctx).Model(&TOTP{}).Where("operator_id = ? AND enrolled_at IS NULL AND secret_version = ?", operatorID, t.SecretVersion).
			Updates(map[string]any{"enrolled_at": now, "last_step": step, "failures": 0, "last_failure_at": nil, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("confirm totp: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.Conflict("the enrolment changed meanwhile; start again")
		}
		return s.replaceRecovery(ctx, operatorID, codes, now)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func (s *TOTPStore) replaceRecovery(ctx context.Context, operatorID string, codes []string, now time.Time) error {
	if err := s.db.WithContext(ctx).Delete(&RecoveryCode{}, "operator_id = ?", operatorID).Error; err != nil {
		return fmt.Errorf("delete recovery codes: %w", err)
	}
	rows := make([]RecoveryCode, len(codes))
	for i, c := range codes {
		rows[i] = RecoveryCode{OperatorID: operatorID, CodeHash: recoveryHash(c), CreatedAt: now}
	}
	if err := s.db.WithContext(ctx).Create(&rows).Error; err != nil {
		return fmt.Errorf("store recovery codes: %w", err)
	}
	return nil
}

// Verification is the outcome of a successful Verify.
type Verification struct {
	// Recovery: a recovery code was used (and is now spent).
	Recovery bool
	// RecoveryLeft is how many unused recovery codes remain.
	RecoveryLeft int
}

// Verify checks a sign-in code of an enrolled operator: a 6-digit TOTP code
// (within ±1 step, of a step later than the last accepted one) or an unused
// recovery code (spent by this call). Wrong codes and replays return
// ErrBadCode / ErrCodeReplay and count as failures.
func (s *TOTPStore) Verify(ctx context.Context, operatorID, code string) (Verification, error) {
	t, err := s.State(ctx, operatorID)
	if err == nil && !t.Enrolled() {
		err = apperr.NotFound("TOTP is not enrolled")
	}
	if err != nil {
		return Verification{}, err
	}
	code = normalizeCode(code)
	if code == "" || len(code) > 64 {
		s.fail(ctx, operatorID)
		return Verification{}, ErrBadCode
	}
	if isDigits(code) {
		return Verification{}, s.verifyTOTP(ctx, t, code)
	}
	now := s.now()
	res := s.db.WithContext(ctx).Model(&RecoveryCode{}).Where("operator_id = ? AND code_hash = ? AND used_at IS NULL", operatorID, recoveryHash(code)).Update("used_at", now)
	if res.Error != nil {
		return Verification{}, fmt.Errorf("use recovery code: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		s.fail(ctx, operatorID)
		return Verification{}, ErrBadCode
	}
	s.succeed(ctx, operatorID)
	var left int64
	if err := s.db.WithContext(ctx).Model(&RecoveryCode{}).Where("operator_id = ? AND used_at IS NULL", operatorID).Count(&left).Error; err != nil {
		return Verification{}, fmt.Errorf("count recovery codes: %w", err)
	}
	return Verification{Recovery: true, RecoveryLeft: int(left)}, nil
}

func (s *TOTPStore) verifyTOTP(ctx context.Context, t *TOTP, code string) error {
	secret, err := s.secret(ctx, t)
	if err != nil {
		return err
	}
	step, ok := MatchTOTP(secret, code, s.now())
	if !ok {
		s.fail(ctx, t.OperatorID)
		return ErrBadCode
	}
	// Accept each step once: the conditional update makes concurrent uses
	// of the same code race for one row update.
	res := s.db.WithContext(ctx).Model(&TOTP{}).Where("operator_id = ? AND last_step < ?", t.OperatorID, step).
		Updates(map[string]any{"last_step": step, "failures": 0, "last_failure_at": nil, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("accept totp step: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		s.fail(ctx, t.OperatorID)
		return ErrCodeReplay
	}
	return nil
}

// fail counts a wrong code (best effort: the lockout itself is the
// sign-in guard's).
func (s *TOTPStore) fail(ctx context.Context, operatorID string) {
	s.db.WithContext(ctx).Model(&TOTP{}).Where("operator_id = ?", operatorID).
		Updates(map[string]any{"failures": gorm.Expr("failures + 1"), "last_failure_at": s.now()})
}

func (s *TOTPStore) succeed(ctx context.Context, operatorID string) {
	s.db.WithContext(ctx).Model(&TOTP{}).Where("operator_id = ?", operatorID).
		Updates(map[string]any{"failures": 0, "last_failure_at": nil})
}

// Failures is the operator's count of consecutive wrong codes.
func (s *TOTPStore) Failures(ctx context.Context, operatorID string) int {
	t, err := s.State(ctx, operatorID)
	if err != nil {
		return 0
	}
	return t.Failures
}

// RecoveryLeft counts the operator's unused recovery codes.
func (s *TOTPStore) RecoveryLeft(ctx context.Context, operatorID string) (int, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&RecoveryCode{}).Where("operator_id = ? AND used_at IS NULL", operatorID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return int(n), nil
}

// Remove deletes the operator's TOTP state, recovery codes and secret
// (disable, reset, operator deletion). Removing nothing is not an error.
func (s *TOTPStore) Remove(ctx context.Context, operatorID string) error {
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		if err := s.db.WithContext(ctx).Delete(&RecoveryCode{}, "operator_id = ?", operatorID).Error; err != nil {
			return fmt.Errorf("delete recovery codes: %w", err)
		}
		if err := s.db.WithContext(ctx).Delete(&TOTP{}, "operator_id = ?", operatorID).Error; err != nil {
			return fmt.Errorf("delete totp: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.secrets.Delete(ctx, TOTPSecretID(operatorID)); err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return apperr.Unavailable("TOTP was removed but its secret could not be deleted from the secret store", err)
	}
	return nil
}

// normalizeCode drops spaces and dashes and lowercases (codes are typed by
// hand: "123 456", "ABCD-EFGH-JKMN").
func normalizeCode(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "", "-", "").Replace(s)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// recoveryAlphabet is base32 without easily confused characters (no 0/o,
// 1/l/i); 12 characters carry 60 bits.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

func newRecoveryCode() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, 0, 14)
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, recoveryAlphabet[int(x)%len(recoveryAlphabet)])
	}
	return string(out)
}

// recoveryHash is the stored form of a recovery code: hex SHA-256 of its
// normalized text (the codes carry ~59 bits of entropy, so a fast hash is
// enough; they are never stored or logged in clear).
func recoveryHash(code string) string {
	s := sha256.Sum256([]byte("pingauth-recovery\x00" + normalizeCode(code)))
	return hex.EncodeToString(s[:])
}

// NewPendingSession starts a half-signed-in session: the password was
// right, the second factor is still due. LookupSession refuses it; it lives
// PendingSessionTTL.
func (r *Repo) NewPendingSession(ctx context.Context, operatorID string) (string, error) {
	return r.createSession(ctx, operatorID, true, false, PendingSessionTTL)
}

func (r *Repo) createSession(ctx context.Context, operatorID string, pending, second bool, ttl time.Duration) (string, error) {
	raw := randomToken(32)
	now := r.now()
	s := &Session{TokenHash: Digest(raw), OperatorID: operatorID, CreatedAt: now, ExpiresAt: now.Add(ttl), LastSeenAt: now,
		Pending: pending, SecondFactor: second}
	if err := r.db.WithContext(ctx).Create(s).Error; err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return raw, nil
}

// LookupPending returns the live half-signed-in session of a raw cookie
// token and its enabled operator.
func (r *Repo) LookupPending(ctx context.Context, raw string) (*Session, *Operator, error) {
	if raw == "" || len(raw) > 128 {
		return nil, nil, ErrNoSession
	}
	var s Session
	err := r.db.WithContext(ctx).First(&s, "token_hash = ? AND pending = ?", Digest(raw), true).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lookup session: %w", err)
	}
	if !r.now().Before(s.ExpiresAt) {
		return nil, nil, ErrNoSession
	}
	o, err := r.Get(ctx, s.OperatorID)
	if err != nil || o.Disabled {
		return nil, nil, ErrNoSession
	}
	return &s, o, nil
}

// CompleteSecondFactor ends the half-signed-in session pendingRaw and
// starts a full session that passed the second factor (a new token: the
// pending one never becomes a session).
func (r *Repo) CompleteSecondFactor(ctx context.Context, pendingRaw string) (string, error) {
	var raw string
	err := r.db.InTx(ctx, func(ctx context.Context) error {
		var s Session
		if err := r.db.WithContext(ctx).First(&s, "token_hash = ? AND pending = ?", Digest(pendingRaw), true).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNoSession
			}
			return fmt.Errorf("lookup session: %w", err)
		}
		res := r.db.WithContext(ctx).Delete(&Session{}, "token_hash = ?", s.TokenHash)
		if res.Error != nil {
			return fmt.Errorf("end pending session: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNoSession
		}
		var err error
		raw, err = r.createSession(ctx, s.OperatorID, false, true, r.ttl)
		return err
	})
	return raw, err
}

// MarkSecondFactor records that the session raw passed the second factor
// (the operator just enrolled TOTP in it) and ends every other session of
// the operator, none of which did.
func (r *Repo) MarkSecondFactor(ctx context.Context, raw, operatorID string) error {
	return r.db.Change(ctx, store.KindOperator, operatorID, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Model(&Session{}).Where("token_hash = ? AND operator_id = ?", Digest(raw), operatorID).Update("second_factor", true)
		if res.Error != nil {
			return fmt.Errorf("mark session: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNoSession
		}
		if err := r.db.WithContext(ctx).Delete(&Session{}, "operator_id = ? AND token_hash <> ?", operatorID, Digest(raw)).Error; err != nil {
			return fmt.Errorf("end other sessions: %w", err)
		}
		return nil
	})
}

// EndSessions ends every session of the operator (after a TOTP reset).
func (s *TOTPStore) EndSessions(ctx context.Context, operatorID string) error {
	if err := s.db.Change(ctx, store.KindOperator, operatorID, func(ctx context.Context) error {
		return s.db.WithContext(ctx).Delete(&Session{}, "operator_id = ?", operatorID).Error
	}); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}
