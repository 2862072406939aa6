package httpapi

import (
	"hash/maphash"
	"sync/atomic"
)

// audienceMemo remembers the audiences built by project.Project.Audience
// (a URL parse and checks per call) for the (audience base, project id)
// pairs seen recently: a direct-mapped table of audienceSlots entries, a new
// pair replacing whatever shared its slot. An entry is only ever the result
// of Audience for exactly its base and id, which depends on nothing else
// (the server's default base is fixed), so a hit returns what the call
// would.
type audienceMemo struct {
	seed  maphash.Seed
	slots [audienceSlots]atomic.Pointer[audienceEntry]
}

const audienceSlots = 4096

type audienceEntry struct{ base, id, aud string }

func newAudienceMemo() *audienceMemo { return &audienceMemo{seed: maphash.MakeSeed()} }

func (m *audienceMemo) slot(base, id string) *atomic.Pointer[audienceEntry] {
	var h maphash.Hash
	h.SetSeed(m.seed)
	_, _ = h.WriteString(base)
	_ = h.WriteByte(0)
	_, _ = h.WriteString(id)
	return &m.slots[h.Sum64()%audienceSlots]
}

func (m *audienceMemo) get(base, id string) (string, bool) {
	if e := m.slot(base, id).Load(); e != nil && e.base == base && e.id == id {
		return e.aud, true
	}
	return "", false
}

func (m *audienceMemo) put(base, id, aud string) {
	m.slot(base, id).Store(&audienceEntry{base: base, id: id, aud: aud})
}
