// Package blacklist is the list of cards terminals must refuse (and
// block), kept as a versioned log of changes so that a terminal with
// version V downloads only what changed since V: a few entries a day
// instead of the whole list. A terminal whose version is older than the
// changes kept gets the whole list.
//
// List is in memory and safe for concurrent use; it is the terminals' and
// acquisition's view. Store persists the changes; Load rebuilds a List.
package blacklist

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/citycard/citycard"
)

// Card names a card application.
type Card struct {
	Issuer citycard.IssuerCode
	ASN    citycard.ASN
}

// Change is one change to the list: a card added or removed, at a version.
type Change struct {
	Version int64
	Card    Card
	Added   bool   // true: listed; false: delisted
	Reason  string // why: "reported lost", "fraud", ...
	By      string // who: the member of staff or the system that decided
	At      time.Time
}

// Delta is what a terminal downloads.
type Delta struct {
	Version int64 // the list's version after applying the delta
	// Full is true when Cards is the whole list (the terminal's version was
	// too old, or zero); otherwise Changes are the changes after its version.
	Full    bool
	Cards   []Card   `json:",omitempty"`
	Changes []Change `json:",omitempty"`
}

// Store persists changes.
type Store interface {
	// AppendChange stores c; its version is one more than the last's.
	AppendChange(ctx context.Context, c Change) error
	// Changes calls fn for every change in version order.
	Changes(ctx context.Context, fn func(c Change) error) error
}

// DefaultKeep is how many recent changes a List keeps for deltas.
const DefaultKeep = 100000

// List is the blacklist. Acquisition asks Contains for every record, so
// its lock (mu) is never held across a database write: writers are
// serialized by writeMu, persist the change with mu released, and take mu
// only to apply it in memory.
type List struct {
	writeMu sync.Mutex // serializes Set and Apply
	mu      sync.RWMutex
	version int64
	cards   map[Card]bool
	recent  []Change // the last keep changes
	keep    int
	store   Store
	now     func() time.Time
}

// New returns an empty list persisting to store (nil: memory only).
func New(store Store, now func() time.Time) *List {
	if now == nil {
		now = time.Now
	}
	return &List{cards: map[Card]bool{}, keep: DefaultKeep, store: store, now: now}
}

// Load rebuilds a list from store's changes.
func Load(ctx context.Context, store Store, now func() time.Time) (*List, error) {
	l := New(store, now)
	err := store.Changes(ctx, func(c Change) error {
		if c.Version != l.version+1 {
			return citycard.E("blacklist.Load", citycard.Invalid, "change version %d follows %d", c.Version, l.version)
		}
		l.apply(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (l *List) apply(c Change) {
	l.version = c.Version
	if c.Added {
		l.cards[c.Card] = true
	} else {
		delete(l.cards, c.Card)
	}
	l.recent = append(l.recent, c)
	if len(l.recent) > l.keep {
		l.recent = slices.Delete(l.recent, 0, len(l.recent)-l.keep)
	}
}

// Set lists (added) or delists a card, recording why and by whom; a
// change that changes nothing is not recorded. It returns the list's
// version after it. Kind Invalid for a missing reason or author.
func (l *List) Set(ctx context.Context, c Card, added bool, reason, by string) (int64, error) {
	if reason == "" || by == "" || len(reason) > 200 || len(by) > 64 {
		return 0, citycard.E("blacklist.List.Set", citycard.Invalid, "a change needs a reason (at most 200 bytes) and who made it (at most 64)")
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	// Only writers change the list, and writeMu is ours: what we read
	// here stays true until we apply.
	l.mu.RLock()
	listed, version := l.cards[c], l.version
	l.mu.RUnlock()
	if listed == added {
		return version, nil
	}
	ch := Change{Version: version + 1, Card: c, Added: added, Reason: reason, By: by, At: l.now().UTC()}
	if l.store != nil {
		if err := l.store.AppendChange(ctx, ch); err != nil {
			return version, citycard.Wrap("blacklist.List.Set", citycard.IO, err)
		}
	}
	l.mu.Lock()
	l.apply(ch)
	l.mu.Unlock()
	return ch.Version, nil
}

// Contains reports whether the card is listed.
func (l *List) Contains(issuer citycard.IssuerCode, asn citycard.ASN) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cards[Card{issuer, asn}]
}

// Version returns the list's version.
func (l *List) Version() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.version
}

// Since returns what a terminal at version v needs: the changes after v,
// or the whole list if v is zero or older than the changes kept. Kind
// Invalid for a version ahead of the list's.
func (l *List) Since(v int64) (Delta, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if v > l.version || v < 0 {
		return Delta{}, citycard.E("blacklist.List.Since", citycard.Invalid, "version %d: the list is at %d", v, l.version)
	}
	d := Delta{Version: l.version}
	oldest := l.version - int64(len(l.recent)) // changes after oldest are kept
	if v == 0 || v < oldest {
		d.Full = true
		d.Cards = make([]Card, 0, len(l.cards))
		for c := range l.cards {
			d.Cards = append(d.Cards, c)
		}
		slices.SortFunc(d.Cards, func(a, b Card) int {
			if c := slices.Compare(a.Issuer[:], b.Issuer[:]); c != 0 {
				return c
			}
			return slices.Compare(a.ASN[:], b.ASN[:])
		})
		return d, nil
	}
	d.Changes = append([]Change(nil), l.recent[len(l.recent)-int(l.version-v):]...)
	return d, nil
}

// Rows is the part of a query result a store reads changes with
// (database/sql's *Rows and pgx's Rows both have it).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanChanges calls fn for each change in rows of columns version, issuer,
// asn, added, reason, by, at_ns: the stores share it and differ only in
// their SQL.
func ScanChanges(rows Rows, fn func(c Change) error) error {
	const op = "blacklist.ScanChanges"
	for rows.Next() {
		var c Change
		var issuer, asn string
		var atNs int64
		if err := rows.Scan(&c.Version, &issuer, &asn, &c.Added, &c.Reason, &c.By, &atNs); err != nil {
			return err
		}
		var err error
		if c.Card.Issuer, err = citycard.ParseIssuerCode(issuer); err != nil {
			return citycard.E(op, citycard.IO, "change %d: %w", c.Version, err)
		}
		if c.Card.ASN, err = citycard.ParseASN(asn); err != nil {
			return citycard.E(op, citycard.IO, "change %d: %w", c.Version, err)
		}
		c.At = time.Unix(0, atNs).UTC()
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Apply brings a terminal's copy of the list up to d: the whole list when
// d.Full, else d's changes, which must follow the copy's version without a
// hole. Kind Conflict when they do not (the terminal asks for the full
// list again); the copy is unchanged then. A terminal's copy keeps no
// store: Apply does not persist.
func (l *List) Apply(d Delta) error {
	const op = "blacklist.List.Apply"
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.Full {
		l.cards = make(map[Card]bool, len(d.Cards))
		for _, c := range d.Cards {
			l.cards[c] = true
		}
		l.version, l.recent = d.Version, nil
		return nil
	}
	v := l.version
	for _, c := range d.Changes {
		if c.Version != v+1 {
			return citycard.E(op, citycard.Conflict, "change %d follows version %d: ask for the whole list", c.Version, v)
		}
		v = c.Version
	}
	if v != d.Version {
		return citycard.E(op, citycard.Conflict, "changes end at %d, the delta says %d", v, d.Version)
	}
	for _, c := range d.Changes {
		l.apply(c)
	}
	return nil
}
