package apps

import (
	"context"
	"sort"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// Limits of the bikes (the package doc's "Bikes").
const (
	// BikeOutMaxDefault is how long a bike may be out before it is
	// overdue: a return (or the card's next hire) after it pays the
	// network's maximum fare, not the time fare.
	BikeOutMaxDefault = 24 * time.Hour
	// BikeOutMaxMax bounds a dock's limit: the fare engine takes a
	// card's entry of at most a day ago (terminal's journey gap), so a
	// longer limit would price an older hire as a missing tap-on.
	BikeOutMaxMax = 24 * time.Hour
	// BikeOutMaxMin is the shortest limit a dock takes.
	BikeOutMaxMin = time.Minute
)

// CheckBikeOutMax checks a dock's or a report's limit: BikeOutMaxMin to
// BikeOutMaxMax. Kind Invalid.
func CheckBikeOutMax(d time.Duration) error {
	if d < BikeOutMaxMin || d > BikeOutMaxMax {
		return citycard.E("apps.CheckBikeOutMax", citycard.Invalid, "a bike's time out of %v: want %v to %v", d, BikeOutMaxMin, BikeOutMaxMax)
	}
	return nil
}

// HireTime is when the bike out on slot e was hired: its last stamp,
// China time; false when e has no bike out or no real last stamp.
func HireTime(e *card.Entitlement) (time.Time, bool) {
	if e.App != card.AppBike || !e.Inside {
		return time.Time{}, false
	}
	t, err := citycard.TimeOf(e.LastDate, e.LastTime, citycard.ChinaTime)
	return t, err == nil
}

// Overdue reports whether a bike hired at hire is overdue at now under
// the limit outMax: out longer than it (exactly outMax is not overdue,
// one second more is).
func Overdue(hire, now time.Time, outMax time.Duration) bool {
	return now.Sub(hire) > outMax
}

// Rental is a bike out, as the back office knows it from the filed
// records: a card's hire with no later stamp (by the card's application
// counter) of the application.
type Rental struct {
	Card     CardRef
	Hired    time.Time // the hire, China time
	Dock     uint32    // the dock hired from (the record's place)
	Terminal citycard.TerminalID
	Pos      int64 // the hire record's journal position
	Overdue  bool  // out longer than the limit at the report's time
}

// OpenRentals returns the bikes out of application app (kind bike) at
// now: each card whose last filed record (the highest application
// counter, the latest journal position among equals) is a hire, overdue
// when out longer than outMax (0: BikeOutMaxDefault), by hire time then
// card. It reads the application's records in pages, one pass: the
// back office knows only what the docks uploaded, so a return a dock
// holds unsent still shows its bike out. Kinds: Invalid (an application
// that is not a bike operator's, a limit out of range), NotFound, IO.
func (o *Office) OpenRentals(ctx context.Context, app string, now time.Time, outMax time.Duration) ([]Rental, error) {
	const op = "apps.Office.OpenRentals"
	if outMax == 0 {
		outMax = BikeOutMaxDefault
	}
	if err := CheckBikeOutMax(outMax); err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	a, err := o.store.App(ctx, app)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if a.Kind != card.AppBike {
		return nil, citycard.E(op, citycard.Invalid, "application %s is a %v application: open rentals are a bike operator's", app, a.Kind)
	}
	last := map[CardRef]AppRecord{}
	for after := int64(0); ; {
		recs, err := o.store.Records(ctx, app, after, RecordsPageMax)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		for _, r := range recs {
			if x, ok := last[r.Card]; !ok || r.Counter >= x.Counter {
				last[r.Card] = r
			}
		}
		if len(recs) < RecordsPageMax {
			break
		}
		after = recs[len(recs)-1].Pos
	}
	var out []Rental
	for _, r := range last {
		if r.Action != Hire {
			continue
		}
		hired, err := citycard.TimeOf(r.Date, r.Time, citycard.ChinaTime)
		if err != nil {
			continue // a record acquisition accepted has a real date: never here
		}
		out = append(out, Rental{Card: r.Card, Hired: hired, Dock: r.Place, Terminal: r.Terminal, Pos: r.Pos, Overdue: Overdue(hired, now, outMax)})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Hired.Equal(out[j].Hired) {
			return out[i].Hired.Before(out[j].Hired)
		}
		return out[i].Card.String() < out[j].Card.String()
	})
	return out, nil
}
