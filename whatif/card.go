package whatif

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// cardKey names a card: its issuer and ASN.
type cardKey struct {
	issuer citycard.IssuerCode
	asn    citycard.ASN
}

// arrival is a record as it came out of the journal: its position, and
// what the replay had to assume to price it.
type arrival struct {
	rec      record.Record
	pos      int64
	afterGap bool // priced after a counter gap bridged: the card's previous record never came
}

// cardState is what the replay keeps per card: where its counter chain
// stands, the records waiting for an earlier one, the composite purchase
// waiting for its successor to tell a tap-on from a boarding, the card's
// transit file as terminals of the new (and old) table would have left
// it, and its sums over the replayed days.
type cardState struct {
	anchored bool   // a record of the card was priced in order: head is its counter
	head     uint16 // the counter of the last record priced in order
	waiting  []arrival
	pending  *arrival
	tr       terminal.Transit  // the transit file under the new table
	old      *terminal.Transit // under the old table, when there is one
	oldFen   int64             // charged: the records' amounts
	newFen   int64
	inRange  bool // a record of the card was priced in the replayed days
	affected bool // a record of it priced differently
}

// after reports whether counter a comes after b, in the serial order of
// 16-bit counters (a card's counter wraps after 65,535 purchases).
func after(a, b uint16) bool { return int16(a-b) > 0 }

// insertWaiting puts a into cs.waiting in counter order. false when a
// record of that counter waits already (a released grey record's counter
// taken again): a is then priced late, on its own.
func (cs *cardState) insertWaiting(a arrival) bool {
	i := len(cs.waiting)
	for i > 0 && after(cs.waiting[i-1].rec.Counter, a.rec.Counter) {
		i--
	}
	if i > 0 && cs.waiting[i-1].rec.Counter == a.rec.Counter {
		return false
	}
	cs.waiting = append(cs.waiting, arrival{})
	copy(cs.waiting[i+1:], cs.waiting[i:])
	cs.waiting[i] = a
	return true
}

// hasEntry reports whether r carries the entry of the leg it closes: a
// tap-off.
func hasEntry(r *record.Record) bool { return r.EntryDate != (citycard.BCDDate{}) }

// entered reports whether tap-off r closes the leg record on opened: on
// carries no entry, and r's entry is on's date, time, line and station,
// as the tap-off terminal copied them from the card's journey record.
func entered(r, on *record.Record) bool {
	return r.EntryDate == on.Date && r.EntryTime == on.Time && r.EntryLine == on.Line && r.EntryStation == on.Station
}

// openAt reports whether the transit file holds an open leg entered
// where and when tap-off r says its leg began.
func openAt(tr *terminal.Transit, r *record.Record) bool {
	t := &tr.JourneyRecord
	return tr.HasJourney && t.Status == card.LegOpen && t.EntryDate == r.EntryDate && t.EntryTime == r.EntryTime &&
		t.Line == r.EntryLine && t.Station == r.EntryStation
}

// withEntry returns the transit file a tap-off terminal read before r, as
// far as r tells it, when tr does not hold r's entry (its tap-on was
// never replayed): the leg open since r's entry, on r's network, nothing
// paid at its tap-on, and the leg before it the one tr ended with (what
// the tap-on would have kept as its previous leg); the spend tr's.
func withEntry(tr terminal.Transit, r *record.Record) terminal.Transit {
	out := terminal.TransitAfter(tr, terminal.TapOn, terminal.Place{Network: r.Network, Line: r.EntryLine, Station: r.EntryStation},
		citycard.TerminalID{}, r.EntryDate, r.EntryTime, terminal.Charge{})
	out.Spend = tr.Spend
	return out
}

// heldOf is the product record r was paid with, as the card held it on
// r's day: valid that day, a ride left. What else the card held, and for
// how long, no record says.
func heldOf(r *record.Record) []card.Product {
	return []card.Product{{Record: card.RecordProductFirst, ProductID: r.Product, Type: card.ProductPass, Network: r.Network,
		ValidFrom: r.Date, ValidTo: r.Date, RidesLeft: 1}}
}

// advance writes into tr what a terminal of the tap's kind writes into
// the card's transit file (UPDATE CAPP DATA CACHE) after charging ch for
// r, before being the transit file the terminal read: terminal.TransitAfter,
// the very function the terminal writes it with; the end-to-end test
// replays real terminals' records under their own table and fails on any
// difference.
func advance(tr *terminal.Transit, before terminal.Transit, kind terminal.TapKind, r *record.Record, ch terminal.Charge) {
	*tr = terminal.TransitAfter(before, kind, terminal.Place{Network: r.Network, Line: r.Line, Station: r.Station}, r.TerminalID, r.Date, r.Time, ch)
}
