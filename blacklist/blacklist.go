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

// Delta is what a terminal downloads: one page of at most MaxDeltaItems
// cards or changes.
type Delta struct {
	Version int64 // the list's version after applying the delta
	// Full is true when Cards is the whole list, or a page of it (the
	// terminal's version was too old, or zero); otherwise Changes are the
	// changes after its version.
	Full bool
	// After, on a page of the whole list, is the card the page follows
	// (nil: the first page). Cards are in card order (compareCards).
	After   *Card
	Cards   []Card
	Changes []Change
	// More says the answer is one page: ask again (Cursor says how).
	More bool
}

// MaxDeltaItems bounds the cards or changes of one Delta: a city's list
// of lost cards holds hundreds of thousands, which no terminal downloads
// in one answer.
const MaxDeltaItems = 10000

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
	sorted  []Card // the cards in card order, for pages of the whole list
	// by is who made each listed card's listing (ListedBy), from the
	// changes applied; a copy built from pages of the whole list does not
	// know it. names interns the authors: they are few (staff, systems).
	by      map[Card]string
	names   map[string]string
	recent  []Change // the last keep changes
	keep    int
	store   Store
	now     func() time.Time
	loading bool // Load: sorted is built once at the end
	// A terminal's copy downloading the whole list in pages: the cards so
	// far, the version of the first page, and the last card received.
	building     map[Card]bool
	buildVersion int64
	buildLast    Card
}

// New returns an empty list persisting to store (nil: memory only).
func New(store Store, now func() time.Time) *List {
	if now == nil {
		now = time.Now
	}
	return &List{cards: map[Card]bool{}, by: map[Card]string{}, names: map[string]string{}, keep: DefaultKeep, store: store, now: now}
}

// Load rebuilds a list from store's changes.
func Load(ctx context.Context, store Store, now func() time.Time) (*List, error) {
	l := New(store, now)
	l.loading = true
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
	l.sortCards()
	return l, nil
}

// sortCards rebuilds sorted from cards.
func (l *List) sortCards() {
	l.sorted = make([]Card, 0, len(l.cards))
	for c := range l.cards {
		l.sorted = append(l.sorted, c)
	}
	slices.SortFunc(l.sorted, compareCards)
	l.loading = false
}

// compareCards orders cards by issuer code, then ASN: the order of the
// pages of the whole list.
func compareCards(a, b Card) int {
	if c := slices.Compare(a.Issuer[:], b.Issuer[:]); c != 0 {
		return c
	}
	return slices.Compare(a.ASN[:], b.ASN[:])
}

func (l *List) apply(c Change) {
	l.version = c.Version
	i, found := slices.BinarySearchFunc(l.sorted, c.Card, compareCards)
	if c.Added {
		l.cards[c.Card] = true
		name, ok := l.names[c.By]
		if !ok {
			name = c.By
			l.names[name] = name
		}
		l.by[c.Card] = name
		if !l.loading && !found {
			l.sorted = slices.Insert(l.sorted, i, c.Card)
		}
	} else {
		delete(l.cards, c.Card)
		delete(l.by, c.Card)
		if !l.loading && found {
			l.sorted = slices.Delete(l.sorted, i, i+1)
		}
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

// ListedBy reports whether the card is listed and, if it is, who made
// its listing (Change.By): "" when the list was built from pages of the
// whole list, which do not say.
func (l *List) ListedBy(c Card) (by string, listed bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.by[c], l.cards[c]
}

// Version returns the list's version.
func (l *List) Version() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.version
}

// Since returns the first page of what a terminal at version v needs:
// Page(v, nil, MaxDeltaItems).
func (l *List) Since(v int64) (Delta, error) { return l.Page(v, nil, MaxDeltaItems) }

// Page returns one page of what a terminal at version v needs, at most
// limit items (1 to MaxDeltaItems): the changes after v, or, if v is zero
// or older than the changes kept, the whole list in card order, from the
// card after (nil: from the first). A terminal's copy says what to ask
// next (Cursor). Kind Invalid for a version ahead of the list's or a
// limit out of bounds.
func (l *List) Page(v int64, after *Card, limit int) (Delta, error) {
	const op = "blacklist.List.Page"
	if limit < 1 || limit > MaxDeltaItems {
		return Delta{}, citycard.E(op, citycard.Invalid, "page of %d: want 1 to %d", limit, MaxDeltaItems)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if v > l.version || v < 0 {
		return Delta{}, citycard.E(op, citycard.Invalid, "version %d: the list is at %d", v, l.version)
	}
	d := Delta{Version: l.version}
	oldest := l.version - int64(len(l.recent)) // changes after oldest are kept
	if after != nil || v == 0 || v < oldest {
		d.Full = true
		i := 0
		if after != nil {
			a := *after
			d.After = &a
			var found bool
			i, found = slices.BinarySearchFunc(l.sorted, a, compareCards)
			if found {
				i++
			}
		}
		end := min(i+limit, len(l.sorted))
		d.Cards = slices.Clone(l.sorted[i:end])
		d.More = end < len(l.sorted)
		return d, nil
	}
	n := min(int(l.version-v), limit)
	first := len(l.recent) - int(l.version-v)
	d.Changes = slices.Clone(l.recent[first : first+n])
	if n > 0 {
		d.Version = d.Changes[n-1].Version
	} else {
		d.Version = v
	}
	d.More = d.Version < l.version
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

// Apply brings a terminal's copy of the list up to d. The whole list
// comes in pages: the first (After nil) starts a new copy, each next one
// must follow the last card received, and the copy replaces the list once
// the last page is in, at the version of the first page; the changes made
// while the pages came are then asked for from that version (Cursor), and
// applying them again where a page already showed them changes nothing.
// Changes must follow the copy's version without a hole. Kind Conflict
// when a delta does not follow (the terminal asks for the whole list
// again); the copy is unchanged then. A terminal's copy keeps no store:
// Apply does not persist.
func (l *List) Apply(d Delta) error {
	const op = "blacklist.List.Apply"
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.Full {
		switch {
		case d.After == nil:
			l.building, l.buildVersion = make(map[Card]bool, len(d.Cards)), d.Version
		case l.building == nil || *d.After != l.buildLast:
			l.building = nil
			return citycard.E(op, citycard.Conflict, "a page of the whole list that does not follow the last card received: ask for the whole list again")
		}
		for _, c := range d.Cards {
			if len(l.building) > 0 && compareCards(c, l.buildLast) <= 0 {
				l.building = nil
				return citycard.E(op, citycard.Conflict, "a page of the whole list out of card order: ask for the whole list again")
			}
			l.building[c], l.buildLast = true, c
		}
		if d.More {
			return nil
		}
		l.cards, l.version, l.recent = l.building, l.buildVersion, nil
		clear(l.by)
		l.building = nil
		l.sortCards()
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

// Cursor says what a terminal's copy asks for next: the changes after
// version since, or, while it receives the whole list in pages, the page
// after card after (since is then the first page's version).
func (l *List) Cursor() (since int64, after *Card) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.building != nil {
		a := l.buildLast
		return l.buildVersion, &a
	}
	return l.version, nil
}
