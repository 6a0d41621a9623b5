package terminal

import (
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/record"
)

// TapKind is what a tap means to the fare.
type TapKind uint8

// The kinds of tap.
const (
	TapAmount TapKind = iota // a POS purchase of a keyed-in amount
	TapFlat                  // boarding a flat-fare vehicle
	TapOn                    // entering: a leg begins
	TapOff                   // leaving: the leg ends
)

func tapKind(m Mode) TapKind {
	switch m {
	case ModeFlat:
		return TapFlat
	case ModeTapOn:
		return TapOn
	case ModeTapOff:
		return TapOff
	}
	return TapAmount
}

// Transit is what the card's transit record file holds between taps.
type Transit struct {
	HasJourney    bool
	JourneyRecord card.JourneyRecord // the last entry (or tap), for tap-off and transfers
	Spend         card.Spend
	Products      []card.Product
}

// FareQuery is everything a fare may look at to price a tap. It holds no
// I/O: pricing is a pure function of it.
type FareQuery struct {
	At            time.Time // local (China) time of the tap
	Tap           TapKind
	Issuer        citycard.IssuerCode
	CardType      uint8
	RiderCategory uint8
	Network       uint16
	Line          uint32
	Station       uint32
	AmountFen     uint32 // the keyed-in amount of a POS purchase
	Transit       Transit
	// BalanceFen is the card's balance before the tap, when BalanceKnown:
	// a terminal reads it (GET BALANCE) for a fare that needs it, the
	// fare engine at a tap-on where the network has a minimum balance.
	BalanceFen   int64
	BalanceKnown bool
}

// Charge is a fare's answer.
type Charge struct {
	AmountFen uint32 // to debit now
	FullFen   uint32 // the fare before discounts and transfers
	Product   uint16 // the fare product used; 0 = stored value
	Transfer  bool   // the leg continues the card's journey
	// PenaltyFen is the part of AmountFen that pays an earlier leg whose
	// tap-off is missing (its maximum fare): it pays that leg, not the
	// one this tap begins, so it is no provisional amount of it.
	PenaltyFen uint32
	// MaxFareFen is the part of AmountFen that is a maximum fare: the
	// penalty, and this leg's own when its start is missing (a tap-off
	// without its tap-on) or no rule prices it. The card's spend leaves
	// it out, as fare caps and spend tiers do (TransitAfter).
	MaxFareFen uint32
	// Closes is true for a tap-off that ends the leg open on the card
	// (its tap-on on the tap-off's network): the record takes that
	// leg's entry, and the leg continues its journey. A tap-off that
	// does not close the open leg (another network's, or one the fare
	// did not take as open) starts a new journey.
	Closes      bool
	Explanation string
	// ProductUpdate is the product record to write back (a count ticket's
	// ride taken, a pass's ride of the day), or nil.
	ProductUpdate *card.Product
}

// Fare prices taps. The fare engine implements it from GTFS-Fares data;
// FlatFare and SectionFare are the simple fares terminals start with.
type Fare interface {
	Price(q FareQuery) (Charge, error)
}

// FlatFare charges one amount per boarding, and the keyed-in amount at a POS.
type FlatFare struct {
	Fen uint32
}

// Price implements Fare.
func (f FlatFare) Price(q FareQuery) (Charge, error) {
	if q.Tap == TapAmount {
		return Charge{AmountFen: q.AmountFen, FullFen: q.AmountFen, Explanation: fmt.Sprintf("purchase of %s", yuan(q.AmountFen))}, nil
	}
	return Charge{AmountFen: f.Fen, FullFen: f.Fen, Explanation: fmt.Sprintf("flat fare %s", yuan(f.Fen))}, nil
}

// SectionFare prices a leg by the number of stations between tap-on and
// tap-off on one network: BaseFen for up to BaseStations, then StepFen for
// each further StepStations or part of them, at most MaxFen. A tap-off
// without a tap-on, and a tap-on while the previous leg was never tapped
// off, pay MaxFen.
type SectionFare struct {
	Network      uint16
	BaseFen      uint32
	BaseStations uint32
	StepFen      uint32
	StepStations uint32
	MaxFen       uint32
}

// Price implements Fare.
func (f SectionFare) Price(q FareQuery) (Charge, error) {
	open := q.Transit.HasJourney && q.Transit.JourneyRecord.Status == card.LegOpen && q.Transit.JourneyRecord.Network == f.Network
	switch q.Tap {
	case TapOn:
		if open {
			return Charge{AmountFen: f.MaxFen, FullFen: f.MaxFen, PenaltyFen: f.MaxFen, MaxFareFen: f.MaxFen, Explanation: fmt.Sprintf("previous leg from station %d was never tapped off: maximum fare %s", q.Transit.JourneyRecord.Station, yuan(f.MaxFen))}, nil
		}
		return Charge{Explanation: fmt.Sprintf("tap-on at station %d", q.Station)}, nil
	case TapOff:
		if !open {
			return Charge{AmountFen: f.MaxFen, FullFen: f.MaxFen, MaxFareFen: f.MaxFen, Explanation: fmt.Sprintf("no tap-on: maximum fare %s", yuan(f.MaxFen))}, nil
		}
		from := q.Transit.JourneyRecord.Station
		n := max(from, q.Station) - min(from, q.Station)
		// In 64 bits, so that many steps of a large StepFen cannot wrap
		// below MaxFen.
		fen64 := uint64(f.BaseFen)
		if n > f.BaseStations && f.StepStations > 0 {
			fen64 += (uint64(n-f.BaseStations) + uint64(f.StepStations) - 1) / uint64(f.StepStations) * uint64(f.StepFen)
		}
		fen := uint32(min(fen64, uint64(f.MaxFen)))
		return Charge{AmountFen: fen, FullFen: fen, Closes: true, Explanation: fmt.Sprintf("%d stations from %d to %d: %s", n, from, q.Station, yuan(fen))}, nil
	}
	return FlatFare{Fen: f.BaseFen}.Price(q)
}

func yuan(fen uint32) string { return citycard.Yuan(int64(fen)) + " yuan" }

// readTransit reads the trip, the spend and the products (slots in order,
// up to the first empty one) of the card's transit record file.
func (t *Terminal) readTransit(op string, c device) (Transit, error) {
	var tr Transit
	read := func(id byte, n int) ([]byte, bool, error) {
		b, _, err := c.send(op, fmt.Sprintf("READ RECORD 17/%02X", id), readRecordCmd(card.SFITransit, id, true, n))
		if SWOf(err) == apdu.SWRecordNotFound {
			return nil, false, nil
		}
		return b, err == nil, err
	}
	b, ok, err := read(card.RecordJourney, card.JourneyRecordLen)
	if err != nil {
		return tr, err
	}
	if ok {
		if err := tr.JourneyRecord.UnmarshalBinary(b); err != nil {
			return tr, citycard.Wrap(op, citycard.Invalid, err)
		}
		tr.HasJourney = true
	}
	if b, ok, err = read(card.RecordSpend, card.SpendLen); err != nil {
		return tr, err
	}
	if ok {
		if err := tr.Spend.UnmarshalBinary(b); err != nil {
			return tr, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	for id := card.RecordProductFirst; id <= card.RecordProductLast; id++ {
		b, ok, err := read(id, card.ProductLen)
		if err != nil {
			return tr, err
		}
		if !ok {
			break
		}
		var p card.Product
		if err := p.UnmarshalBinary(b); err != nil {
			return tr, citycard.Wrap(op, citycard.Invalid, err)
		}
		tr.Products = append(tr.Products, p)
	}
	return tr, nil
}

// Place is where a terminal stands, as its records carry it.
type Place struct {
	Network uint16
	Line    uint32
	Station uint32
}

// TransitAfter is the card's transit file after a tap of kind tap at pl,
// by terminal tid at date and tm, that charged ch, the card having held
// before: the journey record and the spend a terminal writes with UPDATE
// CAPP DATA CACHE (the card commits them with the debit). The fare
// what-if (package whatif) replays the card's transit file with it from
// the records, so that it prices each tap on what the terminal read.
// A maximum fare (Charge.MaxFareFen: a missed tap-off's, a tap-off
// without its tap-on) is left out of the spend, as fare caps and spend
// tiers leave it out (fare/README.md). The products are not its part:
// the fare's Charge.ProductUpdate is.
func TransitAfter(before Transit, tap TapKind, pl Place, tid citycard.TerminalID, date citycard.BCDDate, tm citycard.BCDTime, ch Charge) Transit {
	prev := before.JourneyRecord
	// What this tap pays for its own leg: a missed tap-off's maximum fare
	// (PenaltyFen) paid the earlier leg, and ended its journey.
	ownFen := ch.AmountFen - min(ch.PenaltyFen, ch.AmountFen)
	trip := card.JourneyRecord{
		Network: pl.Network, Line: pl.Line, Station: pl.Station,
		EntryDate: date, EntryTime: tm, Terminal: tid,
		JourneyDate: date, JourneyTime: tm, JourneyLegs: 1, JourneySpendFen: ownFen,
	}
	if ch.Transfer && before.HasJourney {
		trip.JourneyDate, trip.JourneyTime = prev.JourneyDate, prev.JourneyTime
		trip.JourneyLegs = prev.JourneyLegs + 1
		trip.JourneySpendFen = prev.JourneySpendFen + ownFen
	}
	switch tap {
	case TapFlat:
		// A boarding is over once paid: it is the previous leg of the
		// card's next tap.
		pastLeg{network: pl.Network, line: pl.Line, from: pl.Station, to: pl.Station,
			product: ch.Product, startDate: date, startTime: tm, endDate: date, endTime: tm, fen: ownFen}.setPrev(&trip)
	case TapOn:
		// The provisional amount is what the tap-on took for the leg it
		// begins: a missed tap-off's maximum fare is none of it, else
		// the leg's tap-off would give it back.
		trip.Status, trip.ProvisionalFen = card.LegOpen, ownFen
		// The leg just finished stays on the card as the previous leg, so
		// that the tap-off gate can price this leg as a transfer from it.
		// A leg left open (its tap-off missing, now paid at its maximum)
		// ends the journey: nothing carries over.
		if l, ok := pastLegOf(before); ok && prev.Status == card.LegClosed {
			l.setPrev(&trip)
		}
	case TapOff:
		if ch.Closes {
			// The leg continues the journey the tap-on began.
			trip.JourneyDate, trip.JourneyTime = prev.JourneyDate, prev.JourneyTime
			trip.JourneyLegs = prev.JourneyLegs
			trip.JourneySpendFen = prev.JourneySpendFen + ch.AmountFen
		}
		// The leg this tap closes is now the previous leg of the next
		// tap: from its tap-on to here, paid at tap-on and now. Without a
		// tap-on on this network its start is unknown (station 0), so a
		// later tap cannot price it but at its maximum fare.
		l := pastLeg{network: pl.Network, line: pl.Line, to: pl.Station,
			product: ch.Product, endDate: date, endTime: tm, fen: ownFen}
		if ch.Closes {
			l.line, l.from, l.fen = prev.Line, prev.Station, prev.ProvisionalFen+ch.AmountFen
			l.startDate, l.startTime = prev.EntryDate, prev.EntryTime
			if prev.EntryDate.String()+prev.EntryTime.String() > date.String()+tm.String() {
				// This terminal's clock is behind the card's entry. The
				// entry is the card's truth, and a leg cannot end before
				// it began: on the card it ends at its entry (the record
				// keeps this terminal's time, for the back office).
				l.endDate, l.endTime = prev.EntryDate, prev.EntryTime
			}
		}
		l.setPrev(&trip)
		trip.Status = card.LegClosed
	}

	sp := before.Spend
	if sp.Day != date {
		sp.Day, sp.DaySpendFen, sp.DayRides = date, 0, 0
	}
	month := card.BCDMonth{date[0], date[1], date[2]}
	if sp.Month != month {
		sp.Month, sp.MonthSpendFen, sp.MonthRides = month, 0, 0
	}
	spentFen := ch.AmountFen - min(ch.MaxFareFen, ch.AmountFen)
	sp.DaySpendFen += spentFen
	sp.MonthSpendFen += spentFen
	if tap != TapOff {
		sp.DayRides++
		sp.MonthRides++
	}
	return Transit{HasJourney: true, JourneyRecord: trip, Spend: sp}
}

// writeTransit sends the transit records of this tap with UPDATE CAPP DATA
// CACHE: the new trip, the spend (TransitAfter), and the product the fare
// used; the card commits them with the debit. It also fills rec's entry
// fields from the leg the tap-off closes.
func (t *Terminal) writeTransit(op string, c device, q FareQuery, ch Charge, rec *record.Record, now time.Time) error {
	date, tm := citycard.DateTime(now)
	if prev := q.Transit.JourneyRecord; t.cfg.Mode == ModeTapOff && ch.Closes {
		rec.EntryLine, rec.EntryStation = prev.Line, prev.Station
		rec.EntryDate, rec.EntryTime = prev.EntryDate, prev.EntryTime
	}
	after := TransitAfter(q.Transit, tapKind(t.cfg.Mode), Place{t.cfg.Network, t.cfg.Line, t.cfg.Station}, t.tid, date, tm, ch)
	trip, sp := after.JourneyRecord, after.Spend
	recs := []card.TransitRecord{trip, sp}
	if ch.ProductUpdate != nil {
		recs = append(recs, *ch.ProductUpdate)
	}
	for _, r := range recs {
		b, err := r.MarshalBinary()
		if err != nil {
			return citycard.Wrap(op, citycard.Invalid, err)
		}
		cmd := apdu.Command{CLA: 0x80, INS: 0xDC, P1: r.RecordID(), P2: card.SFITransit << 3, Data: b, Le: -1}
		if _, err := c.sendLen(op, fmt.Sprintf("UPDATE CAPP DATA CACHE %02X", r.RecordID()), cmd, 0); err != nil {
			return err
		}
	}
	return nil
}

// pastLeg is a leg of the journey that is over: ended and paid. It is
// what card.JourneyRecord keeps as its previous leg.
type pastLeg struct {
	network  uint16
	line     uint32
	from, to uint32 // stations; 0 when unknown
	product  uint16 // the fare product it used; 0 = stored value
	// When it began and ended; the start is zero when unknown (a tap-off
	// without its tap-on), and then the end stands for it.
	startDate citycard.BCDDate
	startTime citycard.BCDTime
	endDate   citycard.BCDDate
	endTime   citycard.BCDTime
	fen       uint32 // what it paid in all
}

// pastLegOf returns the previous leg the card's journey record holds: on a
// closed trip its last leg, on an open trip the leg before the one in
// progress. A closed trip written before the journey record kept a previous
// leg gives its last tap taken as a boarding (its stop as where the leg
// began, where it ended and what it paid unknown). False when there is
// none. A tap-on or a boarding uses it only after a closed trip (a
// missing tap-off ends the journey), a tap-off only on the open trip it
// closes.
func pastLegOf(tr Transit) (pastLeg, bool) {
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

// setPrev writes l into t's previous-leg fields.
func (l pastLeg) setPrev(t *card.JourneyRecord) {
	t.PrevNetwork, t.PrevLine = l.network, l.line
	t.PrevFromStation, t.PrevToStation = l.from, l.to
	t.PrevProduct, t.PrevFen = l.product, l.fen
	t.PrevStartDate, t.PrevStartTime = l.startDate, l.startTime
	t.PrevEndDate, t.PrevEndTime = l.endDate, l.endTime
}
