package whatif

import (
	"fmt"
	"sync/atomic"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// maxWaitingPerCard bounds the records of one card waiting for an earlier
// one: past it, the earliest is priced, bridging the gap.
const maxWaitingPerCard = 64

// days bound a replay, in operating days (运营日) of the table in
// service (fare.Table.OperatingDay: midnight unless its feed_info.txt
// says otherwise): records of the days first to last are reported, those
// of ctxFirst to ctxLast priced for the cards' journeys and not
// reported.
type days struct {
	table             *fare.Table
	first, last       fare.Date
	ctxFirst, ctxLast fare.Date
}

// of is the operating day of r's date and time (decoded records have
// real BCD dates and times).
func (d *days) of(r *record.Record) fare.Date {
	b := func(x byte) int { return int(x>>4)*10 + int(x&0x0F) }
	day := fare.DateOf(b(r.Date[0])*100+b(r.Date[1]), b(r.Date[2]), b(r.Date[3]))
	return d.table.OperatingDay(day, fare.Clock(b(r.Time[0])*3600+b(r.Time[1])*60+b(r.Time[2])))
}

// in reports whether r is of the days reported.
func (d *days) in(r *record.Record) bool {
	o := d.of(r)
	return o >= d.first && o <= d.last
}

// fifoEntry is a waiting record's place in the reorder window.
type fifoEntry struct {
	cs      *cardState
	pos     int64
	counter uint16
}

// worker replays the cards of one shard: it keeps their states, prices
// their records in each card's counter order, and sums.
type worker struct {
	days    days
	window  int64 // a record waits at most this many journal positions for an earlier one of its card
	eng     *terminal.FareEngine
	old     *terminal.FareEngine // nil without an old table
	cards   map[cardKey]*cardState
	nCards  *atomic.Int64 // cards of every worker
	maxCard int64
	fifo    []fifoEntry
	fifoAt  int
	sums    *sums
	free    []*arrival // pending arrivals to reuse
	probes  map[probeKey]bool
}

func newWorker(d days, window int64, eng, old *terminal.FareEngine, nCards *atomic.Int64, maxCards int64) *worker {
	return &worker{days: d, window: window, eng: eng, old: old, cards: map[cardKey]*cardState{}, probes: map[probeKey]bool{}, nCards: nCards, maxCard: maxCards, sums: newSums()}
}

// add takes a booked purchase record journaled at pos. Kind Invalid when
// the replay holds more cards than its bound.
func (w *worker) add(r *record.Record, pos int64) error {
	w.expire(pos)
	k := cardKey{r.Issuer, r.ASN}
	cs := w.cards[k]
	if cs == nil {
		if n := w.nCards.Add(1); n > w.maxCard {
			return citycard.E("whatif.Run", citycard.Invalid, "more than %d cards in the journal read: replay fewer days (Config.MaxCards bounds the memory a replay takes)", w.maxCard)
		}
		cs = &cardState{}
		if w.old != nil {
			cs.old = &terminal.Transit{}
		}
		w.cards[k] = cs
	}
	a := arrival{rec: *r, pos: pos}
	switch {
	case cs.anchored && r.Counter == cs.head+1:
		w.process(cs, &a)
		w.drain(cs)
	case cs.anchored && !after(r.Counter, cs.head):
		w.late(cs, &a)
	default:
		if !cs.insertWaiting(a) {
			w.late(cs, &a)
			return nil
		}
		w.fifo = append(w.fifo, fifoEntry{cs: cs, pos: pos, counter: r.Counter})
		if len(cs.waiting) > maxWaitingPerCard {
			w.release(cs, cs.waiting[0].rec.Counter)
		}
	}
	return nil
}

// expire prices the records that waited the whole window: their card's
// earlier records are taken never to come.
func (w *worker) expire(pos int64) {
	for w.fifoAt < len(w.fifo) && w.fifo[w.fifoAt].pos <= pos-w.window {
		e := w.fifo[w.fifoAt]
		w.fifo[w.fifoAt] = fifoEntry{}
		w.fifoAt++
		w.release(e.cs, e.counter)
	}
	if w.fifoAt > 4096 && w.fifoAt*2 > len(w.fifo) {
		n := copy(w.fifo, w.fifo[w.fifoAt:])
		clear(w.fifo[n:])
		w.fifo, w.fifoAt = w.fifo[:n], 0
	}
}

// release prices cs's waiting records up to counter (if it still waits),
// in counter order, bridging the gaps before them, then those that
// follow on without a gap.
func (w *worker) release(cs *cardState, counter uint16) {
	if !waits(cs, counter) {
		return
	}
	for len(cs.waiting) > 0 && !after(cs.waiting[0].rec.Counter, counter) {
		a := cs.waiting[0]
		cs.waiting = cs.waiting[1:]
		a.afterGap = cs.anchored && a.rec.Counter != cs.head+1
		w.process(cs, &a)
	}
	w.drain(cs)
}

func waits(cs *cardState, counter uint16) bool {
	for i := range cs.waiting {
		if cs.waiting[i].rec.Counter == counter {
			return true
		}
	}
	return false
}

// drain prices the waiting records that follow cs's head without a gap.
func (w *worker) drain(cs *cardState) {
	for len(cs.waiting) > 0 && cs.waiting[0].rec.Counter == cs.head+1 {
		a := cs.waiting[0]
		cs.waiting = cs.waiting[1:]
		w.process(cs, &a)
	}
	if len(cs.waiting) == 0 {
		cs.waiting = nil
	}
}

// finish prices what still waits, card by card: the waiting records in
// counter order, then the composite purchase still waiting for its
// successor.
func (w *worker) finish() {
	for _, cs := range w.cards {
		for len(cs.waiting) > 0 {
			w.release(cs, cs.waiting[0].rec.Counter)
		}
		if p := cs.pending; p != nil {
			cs.pending = nil
			w.price(cs, p, w.kindOf(cs, p, nil), true)
		}
		w.sums.card(cs)
	}
	w.fifo, w.fifoAt = nil, 0
}

// kindOf tells what tap made p, a composite purchase without an entry,
// from the card's next composite purchase next (nil when there is none)
// and the fare table:
//   - a tap-on, if next carries p's entry;
//   - a boarding, on a network whose legs need no tap-off;
//   - else (a gate of a distance or time fare) a tap-on if the card has
//     a leg open (p paid its missing tap-off's maximum fare: a tap-off
//     would have carried that leg's entry) or p charged nothing, and a
//     tap-off without a tap-on if it charged something.
func (w *worker) kindOf(cs *cardState, p *arrival, next *record.Record) terminal.TapKind {
	if next != nil && hasEntry(next) && entered(next, &p.rec) {
		return terminal.TapOn
	}
	if !w.needsTapOff(&p.rec) {
		return terminal.TapFlat
	}
	if cs != nil && cs.tr.HasJourney && cs.tr.JourneyRecord.Status == card.LegOpen || p.rec.Amount == 0 {
		return terminal.TapOn
	}
	return terminal.TapOff
}

// maxProbes bounds the stops whose need of a tap-off a worker remembers.
const maxProbes = 1 << 16

type probeKey struct {
	network       uint16
	line, station uint32
}

// needsTapOff reports whether a leg from r's stop on r's network and
// line needs a tap-off to be priced: whether the table prices it without
// an end other than ending where it began (a distance fare's shortest
// leg, a time fare's shortest stay), for the table's default rider
// category. The table is the old one when there is one: how a terminal
// worked is a fact of the table it priced with, which a new table that
// prices a network otherwise (buses by distance) does not change.
func (w *worker) needsTapOff(r *record.Record) bool {
	k := probeKey{r.Network, r.Line, r.Station}
	if v, ok := w.probes[k]; ok {
		return v
	}
	t := w.eng.Table
	if w.old != nil {
		t = w.old.Table // what the terminals did is the table in service's to tell
	}
	net, _ := t.NetworkID(r.Network)
	route, _ := t.RouteID(r.Network, r.Line)
	stop, _ := t.StopID(r.Network, r.Station)
	// At noon of the record's day: a probe of the fare, not of its night
	// rules.
	const noon = fare.Clock(12 * 3600)
	d := r.Date
	bcd := func(b byte) int { return int(b>>4)*10 + int(b&0x0F) }
	leg := fare.Leg{RouteID: route, NetworkID: net, FromStopID: stop, Start: noon, End: fare.NoTime}
	j := fare.Journey{Date: fare.DateOf(bcd(d[0])*100+bcd(d[1]), bcd(d[2]), bcd(d[3])), Legs: []fare.Leg{leg}}
	var q fare.Quote
	openErr := t.Price(&j, &q)
	open := q.TotalFen
	j.Legs[0].ToStopID, j.Legs[0].End = stop, noon
	closedErr := t.Price(&j, &q)
	v := closedErr == nil && (openErr != nil || open != q.TotalFen)
	if len(w.probes) < maxProbes {
		w.probes[k] = v
	}
	return v
}

// process prices a in its card's order and moves the card's head on. A
// composite purchase without an entry waits for the card's next
// composite purchase: if that one carries its entry, it was a tap-on,
// else a boarding.
func (w *worker) process(cs *cardState, a *arrival) {
	cs.anchored, cs.head = true, a.rec.Counter
	r := &a.rec
	if r.Type != citycard.TxCompositePurchase {
		w.price(cs, a, terminal.TapAmount, false)
		return
	}
	if p := cs.pending; p != nil {
		cs.pending = nil
		w.price(cs, p, w.kindOf(cs, p, r), false)
		w.free = append(w.free, p)
	}
	if hasEntry(r) {
		w.price(cs, a, terminal.TapOff, false)
		return
	}
	var p *arrival
	if n := len(w.free); n > 0 {
		p, w.free = w.free[n-1], w.free[:n-1]
	} else {
		p = new(arrival)
	}
	*p = *a
	cs.pending = p
}

// late prices a record older than what its card's chain has reached:
// on its own, with no journey before it.
func (w *worker) late(cs *cardState, a *arrival) {
	r := &a.rec
	kind := terminal.TapAmount
	switch {
	case r.Type != citycard.TxCompositePurchase:
	case hasEntry(r):
		kind = terminal.TapOff
	default:
		kind = w.kindOf(nil, a, nil)
	}
	var tr, old terminal.Transit
	w.priceWith(cs, a, kind, &tr, &old, true, r.Type == citycard.TxCompositePurchase && !hasEntry(r))
}

// price prices a as a tap of kind (TapAmount: a plain purchase, priced as
// a boarding on its own) on cs's transit files, and moves them on.
func (w *worker) price(cs *cardState, a *arrival, kind terminal.TapKind, guessed bool) {
	w.priceWith(cs, a, kind, &cs.tr, cs.old, false, guessed)
}

func (w *worker) priceWith(cs *cardState, a *arrival, kind terminal.TapKind, tr, old *terminal.Transit, late, guessed bool) {
	r := &a.rec
	in := w.days.in(r)
	if _, ok := w.eng.Table.NetworkID(r.Network); !ok {
		// Not a fare the table prices (a shop's POS): it leaves the
		// card's journey as it was.
		if in {
			w.sums.skipped.NotInTableRecords++
			w.sums.skipped.NotInTableFen += int64(r.Amount)
		}
		return
	}
	ch, fromRecord, newErr := w.charge(w.eng, tr, kind, r)
	p := priced{leg: kind != terminal.TapOn, oldFen: int64(r.Amount), reproduced: true}
	if newErr == nil {
		p.newFen = int64(ch.AmountFen)
		p.journey = p.leg && !ch.Transfer
	}
	var oldErr error
	if w.old != nil && old != nil {
		var och terminal.Charge
		och, _, oldErr = w.charge(w.old, old, kind, r)
		p.reFen = int64(och.AmountFen)
		p.reproduced = oldErr == nil && och.AmountFen == r.Amount
	}
	if !in {
		return
	}
	switch {
	case newErr != nil:
		w.sums.unpriced(a.pos, p.oldFen, fmt.Sprintf("journal position %d: new table: %v", a.pos, newErr))
		return
	case oldErr != nil:
		w.sums.unpriced(a.pos, p.oldFen, fmt.Sprintf("journal position %d: old table: %v", a.pos, oldErr))
		return
	}
	cs.inRange = true
	cs.oldFen += p.oldFen
	cs.newFen += p.newFen
	if p.newFen != p.oldFen {
		cs.affected = true
	}
	as := &w.sums.assumed
	if late {
		as.LateRecords++
	}
	if a.afterGap {
		as.AfterGapRecords++
	}
	if fromRecord {
		as.EntryFromRecord++
	}
	if guessed {
		as.TapKindGuessed++
	}
	if r.Product != 0 {
		as.HeldProducts++
	}
	hour := int(r.Time[0]>>4)*10 + int(r.Time[0]&0x0F)
	w.sums.count(r.Network, r.Line, r.RiderCategory, hour, &p)
}

// charge prices r as a tap of kind with engine e on the transit file tr,
// and moves tr on as the terminal would have written it. fromRecord says
// tr did not hold the entry of tap-off r, which r's own fields gave. A
// refusal leaves tr moved on by what r charged.
func (w *worker) charge(e *terminal.FareEngine, tr *terminal.Transit, kind terminal.TapKind, r *record.Record) (ch terminal.Charge, fromRecord bool, err error) {
	at, err := citycard.TimeOf(r.Date, r.Time, citycard.ChinaTime)
	if err != nil {
		return ch, false, err
	}
	q := terminal.FareQuery{At: at, Tap: kind, Issuer: r.Issuer, CardType: r.CardType, RiderCategory: r.RiderCategory,
		Network: r.Network, Line: r.Line, Station: r.Station}
	if kind == terminal.TapAmount {
		// A plain purchase: the terminal read no transit file, and wrote
		// none. Priced as a boarding on its own.
		q.Tap = terminal.TapFlat
		if r.Product != 0 {
			q.Transit.Products = heldOf(r)
		}
		ch, err = e.Price(q)
		return ch, false, err
	}
	q.Transit = *tr
	if kind == terminal.TapOff && hasEntry(r) && !openAt(tr, r) {
		q.Transit, fromRecord = withEntry(*tr, r), true
	}
	before := q.Transit
	if r.Product != 0 {
		q.Transit.Products = heldOf(r)
	}
	ch, err = e.Price(q)
	moved := ch
	if err != nil {
		// Refused: the card moves on by what r charged; a tap-off closed
		// the leg open on its network.
		prev := &before.JourneyRecord
		moved = terminal.Charge{AmountFen: r.Amount, FullFen: r.FareFull, Product: r.Product,
			Closes: kind == terminal.TapOff && before.HasJourney && prev.Status == card.LegOpen && prev.Network == r.Network}
	}
	advance(tr, before, kind, r, moved)
	return ch, fromRecord, err
}
