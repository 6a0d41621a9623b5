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
// the tap-on would have kept as its previous leg).
func withEntry(tr terminal.Transit, r *record.Record) terminal.Transit {
	out := terminal.Transit{HasJourney: true, Spend: tr.Spend}
	t := &out.JourneyRecord
	t.Status, t.Network, t.Line, t.Station = card.LegOpen, r.Network, r.EntryLine, r.EntryStation
	t.EntryDate, t.EntryTime = r.EntryDate, r.EntryTime
	t.JourneyDate, t.JourneyTime, t.JourneyLegs = r.EntryDate, r.EntryTime, 1
	if l, ok := pastLegOf(tr); ok && tr.JourneyRecord.Status == card.LegClosed {
		l.setPrev(t)
	}
	return out
}

// heldOf is the product record r was paid with, as the card held it on
// r's day: valid that day, a ride left. What else the card held, and for
// how long, no record says.
func heldOf(r *record.Record) []card.Product {
	return []card.Product{{Record: card.RecordProductFirst, ProductID: r.Product, Type: card.ProductPass, Network: r.Network,
		ValidFrom: r.Date, ValidTo: r.Date, RidesLeft: 1}}
}

// pastLeg is a finished leg, as card.JourneyRecord keeps its previous
// leg (the terminal package's own, which the replay follows).
type pastLeg struct {
	network   uint16
	line      uint32
	from, to  uint32
	product   uint16
	startDate citycard.BCDDate
	startTime citycard.BCDTime
	endDate   citycard.BCDDate
	endTime   citycard.BCDTime
	fen       uint32
}

// pastLegOf is the previous leg the journey record holds: on a closed
// trip its last leg, on an open one the leg before the one in progress;
// a closed trip without a previous leg gives its tap as a boarding.
func pastLegOf(tr terminal.Transit) (pastLeg, bool) {
	if !tr.HasJourney {
		return pastLeg{}, false
	}
	t := tr.JourneyRecord
	if t.HasPrev() {
		return pastLeg{network: t.PrevNetwork, line: t.PrevLine, from: t.PrevFromStation, to: t.PrevToStation,
			product: t.PrevProduct, startDate: t.PrevStartDate, startTime: t.PrevStartTime,
			endDate: t.PrevEndDate, endTime: t.PrevEndTime, fen: t.PrevFen}, true
	}
	if t.Status != card.LegClosed || t.EntryDate == (citycard.BCDDate{}) {
		return pastLeg{}, false
	}
	return pastLeg{network: t.Network, line: t.Line, from: t.Station, startDate: t.EntryDate, startTime: t.EntryTime,
		endDate: t.EntryDate, endTime: t.EntryTime}, true
}

func (l pastLeg) setPrev(t *card.JourneyRecord) {
	t.PrevNetwork, t.PrevLine = l.network, l.line
	t.PrevFromStation, t.PrevToStation = l.from, l.to
	t.PrevProduct, t.PrevFen = l.product, l.fen
	t.PrevStartDate, t.PrevStartTime = l.startDate, l.startTime
	t.PrevEndDate, t.PrevEndTime = l.endDate, l.endTime
}

// advance writes into tr what a terminal of the tap's kind writes into
// the card's transit file (UPDATE CAPP DATA CACHE) after charging ch for
// r, before being the transit file the terminal read. It follows the
// terminal package's writeTransit; the end-to-end test replays real
// terminals' records under their own table and fails on any difference.
func advance(tr *terminal.Transit, before terminal.Transit, kind terminal.TapKind, r *record.Record, ch terminal.Charge) {
	date, tm := r.Date, r.Time
	prev := before.JourneyRecord
	// A missed tap-off's maximum fare (PenaltyFen) paid the earlier leg.
	ownFen := ch.AmountFen - min(ch.PenaltyFen, ch.AmountFen)
	trip := card.JourneyRecord{
		Network: r.Network, Line: r.Line, Station: r.Station,
		EntryDate: date, EntryTime: tm, Terminal: r.TerminalID,
		JourneyDate: date, JourneyTime: tm, JourneyLegs: 1, JourneySpendFen: ownFen,
	}
	if ch.Transfer && before.HasJourney {
		trip.JourneyDate, trip.JourneyTime = prev.JourneyDate, prev.JourneyTime
		trip.JourneyLegs = prev.JourneyLegs + 1
		trip.JourneySpendFen = prev.JourneySpendFen + ownFen
	}
	open := before.HasJourney && prev.Status == card.LegOpen
	switch kind {
	case terminal.TapFlat:
		pastLeg{network: r.Network, line: r.Line, from: r.Station, to: r.Station, product: ch.Product,
			startDate: date, startTime: tm, endDate: date, endTime: tm, fen: ownFen}.setPrev(&trip)
	case terminal.TapOn:
		trip.Status, trip.ProvisionalFen = card.LegOpen, ownFen
		if l, ok := pastLegOf(before); ok && prev.Status == card.LegClosed {
			l.setPrev(&trip)
		}
	case terminal.TapOff:
		// Only the leg open on this network continues its journey: a
		// tap-off after another network's tap-on starts a new one.
		if open && prev.Network == r.Network {
			trip.JourneyDate, trip.JourneyTime = prev.JourneyDate, prev.JourneyTime
			trip.JourneyLegs = prev.JourneyLegs
			trip.JourneySpendFen = prev.JourneySpendFen + ch.AmountFen
		}
		l := pastLeg{network: r.Network, line: r.Line, to: r.Station, product: ch.Product, endDate: date, endTime: tm, fen: ownFen}
		if open && prev.Network == r.Network {
			l.line, l.from, l.fen = prev.Line, prev.Station, prev.ProvisionalFen+ch.AmountFen
			l.startDate, l.startTime = prev.EntryDate, prev.EntryTime
		}
		l.setPrev(&trip)
		trip.Status = card.LegClosed
	}
	sp := before.Spend
	if sp.Day != date {
		sp.Day, sp.DaySpendFen, sp.DayRides = date, 0, 0
	}
	if month := (card.BCDMonth{date[0], date[1], date[2]}); sp.Month != month {
		sp.Month, sp.MonthSpendFen, sp.MonthRides = month, 0, 0
	}
	sp.DaySpendFen += ch.AmountFen
	sp.MonthSpendFen += ch.AmountFen
	if kind != terminal.TapOff {
		sp.DayRides++
		sp.MonthRides++
	}
	*tr = terminal.Transit{HasJourney: true, JourneyRecord: trip, Spend: sp}
}
