package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"hash/maphash"
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

// keyedMACs holds up to macsPerKey idle HMAC states keyed with key, in
// lock-free slots. Not a sync.Pool: with many projects the slots are
// replaced all the time, and every new sync.Pool registers itself in the
// runtime's global pool list (a mutex and a slice that grows until the
// next GC) — at 100k projects that cost more than it saved.
type keyedMACs struct {
	key    []byte
	idle   [macsPerKey]atomic.Pointer[macState]
	misses atomic.Uint32 // signs of other keys that hashed to this slot
}

// replaceAfter misses of other keys let a new key take a slot.
const replaceAfter = 8

// macsPerKey idle states are kept per key (concurrent signers of one key
// beyond that set up their own).
const macsPerKey = 4

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
		// A miss. With many more active keys than slots (100k projects)
		// replacing the slot on every miss would only churn: a key takes an
		// occupied slot after replaceAfter misses on it; otherwise this
		// token is signed with a state of its own, as Sign does.
		if k != nil && k.misses.Add(1) < replaceAfter {
			return &macState{h: hmac.New(sha256.New, key)}, nil
		}
		k = &keyedMACs{key: append([]byte(nil), key...)}
		slot.Store(k)
	}
	for i := range k.idle {
		if m := k.idle[i].Swap(nil); m != nil {
			return m, k
		}
	}
	return &macState{h: hmac.New(sha256.New, k.key)}, k
}

func (k *keyedMACs) put(m *macState) {
	if k == nil {
		return // a one-off state (slot kept by another key)
	}
	m.h.Reset()
	m.sum = [sha256.Size]byte{}
	for i := range k.idle {
		if k.idle[i].CompareAndSwap(nil, m) {
			return
		}
	}
}
