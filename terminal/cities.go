package terminal

import (
	"errors"
	"slices"
	"sync"

	"github.com/citycard/citycard"
)

// ErrCityNotAccepted refuses a card of a city that is not (or no longer)
// in the terminal's list of interconnected cities.
var ErrCityNotAccepted = errors.New("card of a city not interconnected here")

// CityChange is one change of the interconnected cities a terminal
// accepts: the city (the first two bytes of its issuers' codes) joins
// (Add) or leaves the list on Effective, a China-time date.
type CityChange struct {
	City      [2]byte
	Add       bool
	Effective citycard.BCDDate
}

// CitiesMax bounds the changes a terminal keeps.
const CitiesMax = 16384

// Cities is a terminal's list of interconnected cities as it downloaded
// it: its own city, whose cards it always accepts, and the changes of the
// others with their effective dates. A card of another city is accepted
// on a day if its city's latest change effective on or before that day
// adds it, so that a terminal offline past a city's removal refuses its
// cards from the effective date without another download. Safe for
// concurrent use; the zero Cities accepts its own city's cards only once
// Set, and every card before.
type Cities struct {
	mu      sync.RWMutex
	set     bool
	own     [2]byte
	changes []CityChange // by Effective, stable
}

// Set replaces the list. Kind Invalid for more than CitiesMax changes.
func (cs *Cities) Set(own [2]byte, changes []CityChange) error {
	if len(changes) > CitiesMax {
		return citycard.E("terminal.Cities.Set", citycard.Invalid, "%d city changes, at most %d", len(changes), CitiesMax)
	}
	cc := slices.Clone(changes)
	slices.SortStableFunc(cc, func(a, b CityChange) int {
		if string(a.Effective[:]) < string(b.Effective[:]) {
			return -1
		}
		if string(a.Effective[:]) > string(b.Effective[:]) {
			return 1
		}
		return 0
	})
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.set, cs.own, cs.changes = true, own, cc
	return nil
}

// Accepts reports whether the terminal accepts a card of issuer on
// today: before the list is Set, every card.
func (cs *Cities) Accepts(issuer citycard.IssuerCode, today citycard.BCDDate) bool {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	city := [2]byte(issuer[:2])
	if !cs.set || city == cs.own {
		return true
	}
	in := false
	for _, c := range cs.changes {
		if string(c.Effective[:]) > string(today[:]) {
			break
		}
		if c.City == city {
			in = c.Add
		}
	}
	return in
}
