package clearing

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// Fares prices the category discount of a record: what its rider
// category took off its leg's full fare. It must be a pure function of
// the record (and of the fare table it holds), so that a cycle cleared
// again claims the same concessions.
type Fares interface {
	// CategoryDiscount returns the leg's full fare at the default rider
	// category less its full fare at the record's; 0 for a record of the
	// default category, or one whose fare no category discounts (a
	// tap-on, a maximum fare). ok is false when the table does not price
	// the record as the record states it (its full fare): then no
	// category discount is claimed on it, and the cycle counts it
	// (Result.Unpriced).
	CategoryDiscount(r *record.Record) (fen uint32, ok bool)
	// Version names the fare table (its feed_version): the cycle's
	// Result keeps it.
	Version() string
}

// TableFares prices category discounts by re-pricing records with a fare
// table, as the back office's fare check does (terminal.FareEngine).
type TableFares struct {
	e       *terminal.FareEngine
	dflt    uint8 // the default rider category's code
	version string
}

// NewTableFares returns the Fares of t. Kind Invalid for a table without
// a default rider category, or whose default category has no code
// (fare_codes.txt): no record could be priced at it.
func NewTableFares(t *fare.Table) (*TableFares, error) {
	const op = "clearing.NewTableFares"
	id := t.Summary().DefaultCategory
	if id == "" {
		return nil, citycard.E(op, citycard.Invalid, "fare table %s has no default rider category (rider_categories.txt is_default_fare_category): concessions are priced at it", t.Version())
	}
	for code := 0; code <= 0xff; code++ {
		if c, ok := t.RiderCategoryID(uint8(code)); ok && c == id {
			return &TableFares{e: terminal.NewFareEngine(t), dflt: uint8(code), version: t.Version()}, nil
		}
	}
	return nil, citycard.E(op, citycard.Invalid, "fare table %s: the default rider category %q has no code in fare_codes.txt", t.Version(), id)
}

// Version implements Fares.
func (f *TableFares) Version() string { return f.version }

// CategoryDiscount implements Fares: the record is re-checked
// (terminal.FareEngine.Recheck); one the table prices otherwise than it
// states is not ok. A boarding, or a tap-off closing the leg from its
// entry, is priced again at the default category
// (terminal.FareEngine.FullFare), and the discount is that fare less the
// record's leg fare (its full fare less a penalty it paid for an earlier
// leg); a tap-on, or a tap-off without its tap-on (a maximum fare), has
// none. Records other than composite purchases (a POS's) carry none.
func (f *TableFares) CategoryDiscount(r *record.Record) (uint32, bool) {
	if r.RiderCategory == f.dflt || r.Type != citycard.TxCompositePurchase {
		return 0, true
	}
	own, err := f.e.Recheck(r)
	if err != nil || !own.Match {
		return 0, false
	}
	entered := r.EntryDate != (citycard.BCDDate{})
	if own.Tap == terminal.TapOn || own.Tap == terminal.TapOff && !entered {
		return 0, true
	}
	d := *r
	d.RiderCategory = f.dflt
	full, err := f.e.FullFare(&d, own.Tap)
	if err != nil {
		return 0, false
	}
	leg := own.FullFen - own.PenaltyFen
	if full <= leg {
		return 0, true
	}
	return full - leg, true
}
