package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Signer signs like Sign, reusing the keyed HMAC-SHA256 state of recently
// used keys instead of setting one up per token (hmac.New: five
// allocations and the key schedule). It keeps a copy of each such key in a
// direct-mapped table of signerSlots entries (a key replaces whatever shared
// its slot), which is the only difference from Sign. The zero value is not
// usable; use NewSigner. Safe for concurrent use.
type Signer struct {
	seed  maphash.Seed
	slots [signerSlots]atomic.Pointer[keyedMACs]
}

const signerSlots = 256

// keyedMACs is a pool of HMAC states keyed with key.
type keyedMACs struct {
	key  []byte
	pool sync.Pool // of *macState, Reset to the keyed initial state
}

// macState is a keyed HMAC and room for its sum (a local array passed to
// Sum through the interface would be moved to the heap).
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewSigner returns an empty Signer.
func NewSigner() *Signer { return &Signer{seed: maphash.MakeSeed()} }

// Sign is Sign (token.go) with reused HMAC states.
func (s *Signer) Sign(audience string, key Key, id Identity, ttl time.Duration, now time.Time) (Issued, error) {
	return signWith(audience, key, id, ttl, now, s)
}

// mac returns a keyed HMAC-SHA256 state for key and the pool it goes back
// to (put).
func (s *Signer) mac(key []byte) (*macState, *keyedMACs) {
	slot := &s.slots[maphash.Bytes(s.seed, key)%signerSlots]
	k := slot.Load()
	if k == nil || len(k.key) != len(key) || subtle.ConstantTimeCompare(k.key, key) != 1 {
		k = &keyedMACs{key: append([]byte(nil), key...)}
		slot.Store(k)
	}
	if m, ok := k.pool.Get().(*macState); ok {
		return m, k
	}
	return &macState{h: hmac.New(sha256.New, k.key)}, k
}

func (k *keyedMACs) put(m *macState) {
	m.h.Reset()
	m.sum = [sha256.Size]byte{}
	k.pool.Put(m)
}
