package keys

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/citycard/citycard"
)

// MemStore is a Store that keeps keys in memory only: the fake used in
// tests and by trace, and the core the file store persists.
type MemStore struct {
	mu   sync.RWMutex
	keys map[Ref]*entry
	// sub caches the diversifiers of intermediate keys (a two-level path's
	// first level, an interconnected issuer's key).
	sub map[subKey]*Diversifier
}

type entry struct {
	info Info
	key  []byte
	div  *Diversifier
}

type subKey struct {
	ref Ref
	id  [8]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{keys: map[Ref]*entry{}, sub: map[subKey]*Diversifier{}}
}

// Put adds a master key. origin says how it was made. The newest version
// of each issuer and type is the active one. Kind Exists if ref is taken,
// Invalid for a bad key.
func (s *MemStore) Put(ref Ref, alg Alg, key []byte, origin string, created time.Time) (Info, error) {
	const op = "keys.MemStore.Put"
	d, err := NewDiversifier(alg, key)
	if err != nil {
		return Info{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	kcv, err := KCV(alg, key)
	if err != nil {
		return Info{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[ref]; ok {
		return Info{}, citycard.E(op, citycard.Exists, "key %v already exists", ref)
	}
	e := &entry{
		info: Info{Ref: ref, Alg: alg, KCV: kcv, Created: created.UTC(), Origin: origin},
		key:  append([]byte(nil), key...),
		div:  d,
	}
	s.keys[ref] = e
	s.markActive(ref.Issuer, ref.Type)
	return e.info, nil
}

// markActive makes the highest version of (issuer, type) the active one.
func (s *MemStore) markActive(issuer citycard.IssuerCode, t KeyType) {
	var best *entry
	for r, e := range s.keys {
		if r.Issuer != issuer || r.Type != t {
			continue
		}
		e.info.Active = false
		if best == nil || r.Version > best.info.Version {
			best = e
		}
	}
	if best != nil {
		best.info.Active = true
	}
}

// List implements Store.
func (s *MemStore) List() ([]Info, error) {
	s.mu.RLock()
	out := make([]Info, 0, len(s.keys))
	for _, e := range s.keys {
		out = append(out, e.info)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Info) int {
		if c := slices.Compare(a.Issuer[:], b.Issuer[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return cmp.Compare(a.Version, b.Version)
	})
	return out, nil
}

// Info implements Store.
func (s *MemStore) Info(ref Ref) (Info, error) {
	// Copy the info under the lock: Put rewrites the Active flags of
	// existing entries.
	s.mu.RLock()
	e, ok := s.keys[ref]
	var info Info
	if ok {
		info = e.info
	}
	s.mu.RUnlock()
	if !ok {
		return Info{}, citycard.E("keys.MemStore.Info", citycard.KeyMissing, "no key %v", ref)
	}
	return info, nil
}

// Active returns the active version of (issuer, type). Kind KeyMissing if
// there is none.
func (s *MemStore) Active(issuer citycard.IssuerCode, t KeyType) (Info, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.keys {
		if e.info.Issuer == issuer && e.info.Type == t && e.info.Active {
			return e.info, nil
		}
	}
	return Info{}, citycard.E("keys.MemStore.Active", citycard.KeyMissing, "no %v key of issuer %v", t, issuer)
}

// DeriveInto implements Store.
func (s *MemStore) DeriveInto(dst *[KeyLen]byte, ref Ref, path ...[]byte) (Alg, error) {
	const op = "keys.MemStore.DeriveInto"
	if ref.Type == KeyTransport {
		return 0, citycard.E(op, citycard.Permission, "%v is a transport key: its children decrypt master keys and stay in the store (use Wrap)", ref)
	}
	s.mu.RLock()
	e, ok := s.keys[ref]
	s.mu.RUnlock()
	if !ok {
		return 0, citycard.E(op, citycard.KeyMissing, "no key %v", ref)
	}
	if err := s.derive(dst, ref, e, path); err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	return e.info.Alg, nil
}

// derive writes the child of e's key (ref's) along path into dst.
func (s *MemStore) derive(dst *[KeyLen]byte, ref Ref, e *entry, path [][]byte) error {
	switch len(path) {
	case 1:
		e.div.DeriveInto(dst, path[0])
		return nil
	case 2:
		sk := subKey{ref: ref, id: divInput(path[0])}
		s.mu.RLock()
		d, ok := s.sub[sk]
		s.mu.RUnlock()
		if !ok {
			var mid [KeyLen]byte
			e.div.DeriveInto(&mid, path[0])
			var err error
			d, err = NewDiversifier(e.info.Alg, mid[:])
			clear(mid[:])
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.sub[sk] = d
			s.mu.Unlock()
		}
		d.DeriveInto(dst, path[1])
		return nil
	}
	return citycard.E("keys.MemStore.derive", citycard.Invalid, "diversification path of %d levels, want 1 or 2", len(path))
}

// Wrap implements Store. The PSAM's transport key is derived into a local
// array, used, and cleared before Wrap returns.
func (s *MemStore) Wrap(ref Ref, transport Ref, path ...[]byte) ([]byte, error) {
	const op = "keys.MemStore.Wrap"
	if err := checkWrap(ref, transport, path); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	s.mu.RLock()
	e, ok := s.keys[ref]
	t, tok := s.keys[transport]
	s.mu.RUnlock()
	if !ok {
		return nil, citycard.E(op, citycard.KeyMissing, "no key %v", ref)
	}
	if !tok {
		return nil, citycard.E(op, citycard.KeyMissing, "no transport key %v", transport)
	}
	var kt [KeyLen]byte
	defer clear(kt[:])
	if err := s.derive(&kt, transport, t, path); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	w, err := wrapKey(kt[:], ref, e.info.Alg, e.key)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return w, nil
}
