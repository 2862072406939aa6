package enduser

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// OWASPParams follow the OWASP Password Storage Cheat Sheet's first argon2id
// option (m=19 MiB, t=2, p=1).
var OWASPParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// TestParams are cheap parameters for unit tests only.
var TestParams = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// ErrMismatch means the password does not match the hash.
var ErrMismatch = errors.New("password mismatch")

// Hasher hashes and verifies passwords with argon2id. Hashing runs in a
// bounded pool (one slot per core by default) so a flood of password logins
// cannot starve the rest of the process; it also verifies bcrypt hashes
// imported from other systems (and reports them as needing a rehash).
type Hasher struct {
	params   Params
	slots    chan struct{}
	dummy    string
	cooldown float64
}

// HasherOption tunes a Hasher.
type HasherOption func(*Hasher)

// WithCooldown keeps a pool slot busy for f times the duration of each hash
// after it finished (the caller is not delayed). It caps the share of CPU a
// flood of password logins can take: with cooldown f, each slot hashes at
// most 1/(1+f) of the time, leaving the rest to other work.
func WithCooldown(f float64) HasherOption {
	return func(h *Hasher) {
		if f > 0 && f <= 10 {
			h.cooldown = f
		}
	}
}

// NewHasher returns a Hasher with the given parameters and pool size (<= 0: GOMAXPROCS).
func NewHasher(p Params, poolSize int, opts ...HasherOption) *Hasher {
	if poolSize <= 0 {
		poolSize = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, slots: make(chan struct{}, poolSize)}
	for _, o := range opts {
		o(h)
	}
	h.dummy = h.hashNow("pingauth-dummy-password-for-timing")
	return h
}

// Params returns the hasher's current parameters.
func (h *Hasher) Params() Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// releaseAfter frees the slot taken at start, after the cooldown if any.
func (h *Hasher) releaseAfter(start time.Time) {
	if h.cooldown <= 0 {
		h.release()
		return
	}
	time.AfterFunc(time.Duration(float64(time.Since(start))*h.cooldown), h.release)
}

// Hash returns the PHC-encoded argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.releaseAfter(time.Now())
	return h.hashNow(password), nil
}

func (h *Hasher) hashNow(password string) string {
	p := h.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify checks password against encoded. It returns needsRehash when the
// hash was made with other parameters or another algorithm. An empty encoded
// hash is checked against a dummy hash so that timing does not reveal it.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (needsRehash bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.releaseAfter(time.Now())
	if encoded == "" {
		_, _ = verifyArgon2(h.dummy, password)
		return false, ErrMismatch
	}
	if strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$") {
		if err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)); err != nil {
			return false, ErrMismatch
		}
		return true, nil
	}
	p, err := verifyArgon2(encoded, password)
	if err != nil {
		return false, err
	}
	return p != h.params, nil
}

// VerifyDummy spends the same work as a real verification (unknown users).
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _ = h.Verify(ctx, "", password)
}

func verifyArgon2(encoded, password string) (Params, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, fmt.Errorf("unsupported password hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, fmt.Errorf("unsupported argon2 version")
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, fmt.Errorf("bad argon2 parameters")
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<21 || p.Iterations == 0 || p.Iterations > 64 || p.Parallelism == 0 {
		return Params{}, fmt.Errorf("argon2 parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return Params{}, fmt.Errorf("bad argon2 salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return Params{}, fmt.Errorf("bad argon2 hash")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(want))
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return p, ErrMismatch
	}
	return p, nil
}
