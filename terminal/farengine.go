package terminal

import (
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// FareEngine prices taps with a fare table (package fare): it maps the
// numeric network, line, station, rider category, card type and product
// codes of the card and the terminal to the feed's ids through the
// table's fare_codes.txt, turns the tap and the card's transit record
// file into a journey, and returns the fare of the tap's leg.
//
// What the card's trip record allows, and so what a terminal prices:
//   - a flat boarding (TapFlat) after a closed leg: both legs, so a
//     transfer rule from the earlier leg applies;
//   - a tap-on: nothing, or the maximum fare of a previous leg left open
//     (less what its tap-on already took); the leg is flagged a transfer
//     when a transfer rule from the previous closed leg would apply;
//   - a tap-off: the leg from the trip's entry, by distance or time; a
//     tap-off with no open entry on the network pays its maximum fare.
//     The trip record keeps only the leg's entry, not the leg before it,
//     so a transfer into a tap-on/tap-off leg is priced by the back
//     office (which has the card's records), not at the gate;
//   - passes and count tickets of the card, with the product record to
//     write back;
//   - caps from the card's day and month spend (the card keeps no week
//     spend: the day's spend stands in for it, a lower bound).
type FareEngine struct {
	Table *fare.Table
}

// NewFareEngine returns a FareEngine pricing with t.
func NewFareEngine(t *fare.Table) *FareEngine { return &FareEngine{Table: t} }

// journeyGap bounds how far back the card's last trip may be to take
// part in pricing this tap: beyond it no transfer or pass day is shared.
const journeyGap = 24 * time.Hour

// Price implements Fare. Kind Invalid for a network, line, station or
// rider category code the table does not map, or a leg no rule prices.
func (e *FareEngine) Price(q FareQuery) (Charge, error) {
	const op = "terminal.FareEngine.Price"
	if q.Tap == TapAmount {
		return FlatFare{}.Price(q)
	}
	t := e.Table
	net, ok := t.NetworkID(q.Network)
	if !ok {
		return Charge{}, citycard.E(op, citycard.Invalid, "network code %d is not in fare table %s (fare_codes.txt)", q.Network, t.Version())
	}
	cat, ok := t.RiderCategoryID(q.RiderCategory)
	if !ok {
		return Charge{}, citycard.E(op, citycard.Invalid, "rider category code %d is not in fare table %s (fare_codes.txt)", q.RiderCategory, t.Version())
	}
	media, _ := t.FareMediaID(q.CardType)
	route, _ := t.RouteID(q.Network, q.Line)
	stop, _ := t.StopID(q.Network, q.Station) // "" when unmapped: the leg has no known stop
	at := q.At.In(citycard.ChinaTime)
	j := fare.Journey{RiderCategory: cat, FareMedia: media}
	today := dateOf(at)
	j.Date = today
	now := clockOf(at)

	tr := q.Transit
	trip := tr.Trip
	var entry time.Time
	hasEntry := false
	if tr.HasTrip && trip.EntryDate != (keys.BCDDate{}) {
		if t0, err := keys.Time(trip.EntryDate, trip.EntryTime, citycard.ChinaTime); err == nil && !t0.After(at) && at.Sub(t0) <= journeyGap {
			entry, hasEntry = t0, true
		}
	}
	open := hasEntry && trip.Status == card.TripOpen
	var prevNet, prevRoute, prevStop string
	if hasEntry {
		prevNet, _ = t.NetworkID(trip.Network)
		prevRoute, _ = t.RouteID(trip.Network, trip.Line)
		prevStop, _ = t.StopID(trip.Network, trip.Station)
		// Count the journey from the day of the entry.
		j.Date = dateOf(entry)
		now += fare.Clock(int(today-j.Date) * 24 * 3600)
	}
	entryClock := fare.NoTime
	if hasEntry {
		entryClock = clockOf(entry)
	}

	cur := fare.Leg{RouteID: route, NetworkID: net, Start: now, End: fare.NoTime}
	var penalty *fare.Leg // an open leg whose tap-off never came
	var prev *fare.Leg    // the closed leg before this one, for transfers
	switch q.Tap {
	case TapFlat, TapOn:
		cur.FromStopID = stop
		if open {
			penalty = &fare.Leg{RouteID: prevRoute, NetworkID: prevNet, FromStopID: prevStop, Start: entryClock, End: fare.NoTime, TapOffMissing: true}
		} else if hasEntry && prevNet != "" {
			prev = &fare.Leg{RouteID: prevRoute, NetworkID: prevNet, FromStopID: prevStop, Start: entryClock, End: fare.NoTime}
		}
		if q.Tap == TapOn {
			// Price the leg as if it ended where it began, only to know
			// whether it continues the journey.
			cur.ToStopID, cur.End = stop, now
		}
	case TapOff:
		cur.ToStopID, cur.End = stop, now
		if open && trip.Network == q.Network {
			cur.FromStopID, cur.Start = prevStop, entryClock
			if prevRoute != "" {
				cur.RouteID = prevRoute
			}
		} else {
			if open {
				penalty = &fare.Leg{RouteID: prevRoute, NetworkID: prevNet, FromStopID: prevStop, Start: entryClock, End: fare.NoTime, TapOffMissing: true}
			}
			cur.TapOffMissing = true
		}
	}

	j.Products = heldOf(t, tr.Products, today)
	if tr.Spend.Day == bcdDate(at) {
		j.Spend.DayFen, j.Spend.WeekFen = int64(tr.Spend.DaySpendFen), int64(tr.Spend.DaySpendFen)
	}
	if m := bcdDate(at); tr.Spend.Month == (card.BCDMonth{m[0], m[1], m[2]}) {
		j.Spend.MonthFen = int64(tr.Spend.MonthSpendFen)
	}

	var ch Charge
	var why []string
	if penalty != nil {
		pj := j
		pj.Legs = []fare.Leg{*penalty}
		var pq fare.Quote
		if err := t.Price(&pj, &pq); err != nil {
			return Charge{}, citycard.Wrap(op, citycard.Invalid, err)
		}
		fen := max(pq.TotalFen-int64(trip.ProvisionalFen), 0)
		ch.AmountFen += uint32(fen)
		ch.FullFen += uint32(fen)
		why = append(why, fmt.Sprintf("leg from station %d was never tapped off: %s", trip.Station, pq.Explanation(0)))
	}
	if q.Tap == TapOn && !cur.TapOffMissing {
		// Nothing is due at a tap-on but a missing tap-off's penalty.
		if prev != nil {
			j.Legs = []fare.Leg{*prev, cur}
			var qq fare.Quote
			if err := t.Price(&j, &qq); err == nil {
				o, _ := qq.Chosen(1)
				ch.Transfer = o.Kind == fare.OfferTransfer
			}
		}
		why = append(why, fmt.Sprintf("tap-on at station %d", q.Station))
		ch.Explanation = strings.Join(why, "; ")
		return ch, nil
	}

	j.Legs = j.Legs[:0]
	if prev != nil && q.Tap == TapFlat {
		j.Legs = append(j.Legs, *prev)
	}
	j.Legs = append(j.Legs, cur)
	var fq fare.Quote
	if err := t.Price(&j, &fq); err != nil {
		return Charge{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	i := len(j.Legs) - 1
	lq := fq.Legs[i]
	fen := lq.AmountFen
	if q.Tap == TapOff && open && trip.Network == q.Network {
		// What the tap-on took already (a provisional maximum fare) counts.
		fen = max(fen-int64(trip.ProvisionalFen), 0)
	}
	ch.AmountFen += uint32(fen)
	ch.FullFen += uint32(lq.FullFen)
	ch.Transfer = lq.Transfer
	why = append(why, fq.Explanation(i))
	if o, ok := fq.Chosen(i); ok && o.Kind == fare.OfferHeld {
		code, _ := t.FareProductCode(o.FareProductID)
		ch.Product = code
		if p := heldSlot(tr.Products, code, today); p != nil {
			u := *p
			if u.Kind == card.ProductCountTicket && u.RidesLeft > 0 {
				u.RidesLeft--
			}
			d := bcdDate(at)
			if u.RidesTodayDate != d {
				u.RidesTodayDate, u.RidesToday = d, 0
			}
			if u.RidesToday < 255 {
				u.RidesToday++
			}
			ch.ProductUpdate = &u
		}
	}
	ch.Explanation = strings.Join(why, "; ")
	return ch, nil
}

// heldOf turns the card's product records into the journey's held
// products, skipping codes the table does not know.
func heldOf(t *fare.Table, ps []card.Product, today fare.Date) []fare.Held {
	var out []fare.Held
	for _, p := range ps {
		id, ok := t.FareProductID(p.ProductID)
		if !ok {
			continue
		}
		if _, ok := t.HeldKindOf(id); !ok {
			continue
		}
		from, err1 := keys.Time(p.ValidFrom, keys.BCDTime{}, citycard.ChinaTime)
		to, err2 := keys.Time(p.ValidTo, keys.BCDTime{}, citycard.ChinaTime)
		if err1 != nil || err2 != nil {
			continue
		}
		h := fare.Held{FareProductID: id, ValidFrom: dateOf(from), ValidTo: dateOf(to), RidesLeft: int(p.RidesLeft), DailyLimit: int(p.DailyLimit)}
		if d, err := keys.Time(p.RidesTodayDate, keys.BCDTime{}, citycard.ChinaTime); err == nil && dateOf(d) == today {
			h.RidesToday = int(p.RidesToday)
		}
		out = append(out, h)
		if len(out) == fare.MaxHeld {
			break
		}
	}
	return out
}

// heldSlot finds the card product record of a product code valid today.
func heldSlot(ps []card.Product, code uint16, today fare.Date) *card.Product {
	for i := range ps {
		if ps[i].ProductID != code {
			continue
		}
		from, err1 := keys.Time(ps[i].ValidFrom, keys.BCDTime{}, citycard.ChinaTime)
		to, err2 := keys.Time(ps[i].ValidTo, keys.BCDTime{}, citycard.ChinaTime)
		if err1 == nil && err2 == nil && dateOf(from) <= today && today <= dateOf(to) {
			return &ps[i]
		}
	}
	return nil
}

func dateOf(t time.Time) fare.Date { return fare.DateOf(t.Year(), int(t.Month()), t.Day()) }

func clockOf(t time.Time) fare.Clock {
	return fare.Clock(t.Hour()*3600 + t.Minute()*60 + t.Second())
}

func bcdDate(t time.Time) keys.BCDDate {
	d, _ := keys.DateTime(t)
	return d
}

// FareCheck is the result of re-pricing a record: the fare the rules give
// against the fare the record states.
type FareCheck struct {
	FullFen       uint32 // the leg's full fare by the rules
	RecordFullFen uint32 // the record's FareFull
	AmountFen     uint32 // the record's Amount
	// Match is false when the full fares differ, or when the record
	// charged more than the full fare (a transfer, pass or cap only ever
	// lowers it).
	Match       bool
	Explanation string
}

// Recheck re-prices a composite purchase record of a distance or flat
// fare, as the back office does for revenue assurance: a record with an
// entry (a tap-off) is the leg from its entry station to its station, any
// other the boarding at its station. The record's rider category and
// card type map through the table. Kind Invalid for a record that is not
// a composite purchase or that the table cannot price.
func (e *FareEngine) Recheck(rec *record.Record) (FareCheck, error) {
	const op = "terminal.FareEngine.Recheck"
	if rec.Type != keys.TxCompositePurchase {
		return FareCheck{}, citycard.E(op, citycard.Invalid, "record type %02X is not a composite purchase", rec.Type)
	}
	t := e.Table
	at, err := keys.Time(rec.Date, rec.Time, citycard.ChinaTime)
	if err != nil {
		return FareCheck{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	net, ok := t.NetworkID(rec.Network)
	if !ok {
		return FareCheck{}, citycard.E(op, citycard.Invalid, "network code %d is not in fare table %s", rec.Network, t.Version())
	}
	cat, ok := t.RiderCategoryID(rec.RiderCategory)
	if !ok {
		return FareCheck{}, citycard.E(op, citycard.Invalid, "rider category code %d is not in fare table %s", rec.RiderCategory, t.Version())
	}
	media, _ := t.FareMediaID(rec.CardType)
	stop, _ := t.StopID(rec.Network, rec.Station)
	j := fare.Journey{Date: dateOf(at), RiderCategory: cat, FareMedia: media}
	leg := fare.Leg{NetworkID: net, Start: clockOf(at), End: fare.NoTime}
	if rec.EntryDate != (keys.BCDDate{}) {
		entry, err := keys.Time(rec.EntryDate, rec.EntryTime, citycard.ChinaTime)
		if err != nil {
			return FareCheck{}, citycard.Wrap(op, citycard.Invalid, err)
		}
		from, _ := t.StopID(rec.Network, rec.EntryStation)
		leg.RouteID, _ = t.RouteID(rec.Network, rec.EntryLine)
		j.Date = dateOf(entry)
		leg.FromStopID, leg.ToStopID = from, stop
		leg.Start = clockOf(entry)
		leg.End = clockOf(at) + fare.Clock(int(dateOf(at)-j.Date)*24*3600)
	} else {
		leg.RouteID, _ = t.RouteID(rec.Network, rec.Line)
		leg.FromStopID = stop
	}
	j.Legs = []fare.Leg{leg}
	var q fare.Quote
	if err := t.Price(&j, &q); err != nil {
		return FareCheck{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	full := uint32(q.Legs[0].FullFen)
	c := FareCheck{FullFen: full, RecordFullFen: rec.FareFull, AmountFen: rec.Amount, Explanation: q.Explanation(0)}
	c.Match = full == rec.FareFull && rec.Amount <= full
	return c, nil
}
