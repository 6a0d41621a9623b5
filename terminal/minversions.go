package terminal

import (
	"sync"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// MinVersions is a gate's copy of its application's gate versions, part
// of the parameters it downloads from the back office
// (apps.Office.GateVersions, GET /v1/terminals/{terminal}/entitlement-versions):
// the least entitlement file version it accepts of each card whose grant
// of the application changed, so that a card whose grant was revoked,
// narrowed or blocked by a loss is refused stale until its next online
// contact rewrites its file. It implements Versions, and is safe for
// concurrent use: the gate reads it at every tap while a sync applies
// pages.
type MinVersions struct {
	mu    sync.RWMutex
	seq   int64
	min   map[apps.CardRef]uint32
	limit int
}

// DefaultMinVersionsMax bounds the cards a MinVersions holds: a city's
// library has a few hundred thousand borrowers; each card costs about 60
// bytes.
const DefaultMinVersionsMax = 4 << 20

// NewMinVersions returns an empty copy holding at most limit cards (0:
// DefaultMinVersionsMax).
func NewMinVersions(limit int) *MinVersions {
	if limit <= 0 {
		limit = DefaultMinVersionsMax
	}
	return &MinVersions{min: map[apps.CardRef]uint32{}, limit: limit}
}

// Seq returns the number of the last change the copy holds (0: none):
// the after of the next download.
func (m *MinVersions) Seq() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.seq
}

// Len returns the cards the copy names.
func (m *MinVersions) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.min)
}

// Apply takes a page of changes, in their numbers' order, each after the
// copy's Seq: all of them or none. Kind Invalid for a page out of order
// (a page applied twice, or one that skips back), Unavailable when the
// copy would hold more cards than its bound.
func (m *MinVersions) Apply(page []apps.GateVersion) error {
	const op = "terminal.MinVersions.Apply"
	m.mu.Lock()
	defer m.mu.Unlock()
	last, added := m.seq, 0
	for _, v := range page {
		if v.Seq <= last {
			return citycard.E(op, citycard.Invalid, "change %d after %d: out of order", v.Seq, last)
		}
		last = v.Seq
		if _, ok := m.min[v.Card]; !ok {
			added++
		}
	}
	if len(m.min)+added > m.limit {
		return citycard.E(op, citycard.Unavailable, "%d cards and %d more: the copy holds %d", len(m.min), added, m.limit)
	}
	for _, v := range page {
		m.min[v.Card] = v.Version
	}
	m.seq = last
	return nil
}

// MinVersion implements Versions: the least file version the gate
// accepts of the card, 0 for a card the copy does not name.
func (m *MinVersions) MinVersion(issuer citycard.IssuerCode, asn citycard.ASN) uint32 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.min[apps.CardRef{Issuer: issuer, ASN: asn}]
}
