package terminal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
)

// FareEngine prices taps with a fare table (package fare): it maps the
// numeric network, line, station, rider category, card type and product
// codes of the card and the terminal to the feed's ids through the
// table's fare_codes.txt, turns the tap and the card's transit record
// file into a journey, and returns the fare of the tap's leg.
//
// What the card's journey record allows, and so what a terminal prices:
//   - a flat boarding (TapFlat) after a closed trip: the trip's previous
//     leg (its last one) and the boarding, so that a transfer rule from
//     the earlier leg applies;
//   - a tap-on: nothing, or the maximum fare of a previous leg left open
//     (less what its tap-on already took); the leg is flagged a transfer
//     when a transfer rule from the previous leg would apply;
//   - a tap-off: the leg from the trip's entry, by distance or time,
//     priced after the leg before it, which the tap-on kept in the trip's
//     previous-leg fields: a transfer rule into the leg (bus, then metro)
//     applies at the gate, and a leg the fare joins to the previous one
//     pays the joined fare less what the previous leg paid. A tap-off
//     with no open entry on the network pays its maximum fare, and for
//     a leg left open on another network (a coach tap-on, then a metro
//     gate) that network's maximum fare as a missing tap-off, or nothing
//     where it has none (a gate never keeps a rider in for want of a
//     rule); such a tap-off does not close the open leg (Charge.Closes
//     false): its record has no entry, and a new journey begins;
//   - a tap-off whose terminal's clock is behind the card's entry on its
//     network: the entry is the card's truth and the rider is leaving,
//     so the leg is priced as ending at its entry and the rider let out;
//     the card keeps the leg ending there, the record keeps the
//     terminal's time, before its entry, and Recheck flags it
//     (FareCheck.ExitBeforeEntry);
//   - passes and count tickets of the card, with the product record to
//     write back;
//   - caps and spend tiers from the card's day and month spend and rides
//     (the card keeps no week: the day's stands in for it, a lower
//     bound). The card counts every network, and a ride at each boarding
//     and tap-on: a tap-off takes its own tap-on's ride out, and a spend
//     tier takes the card's counts as those of its networks, exact where
//     the card rides only them;
//   - a leg the table's rules do not price (its quote has the leg
//     unpriced): the network's maximum fare, as at a missing tap-off; a
//     network without one cannot take the tap (kind Invalid);
//   - a tap-on at a network with a minimum balance
//     (fare_networks.txt min_balance_amount) is refused (kind
//     Insufficient, ErrBelowMinBalance) when the card's balance, less
//     what the tap-on charges, is below it; the terminal reads the
//     balance for it (FareQuery.BalanceFen).
//
// Only this tap's leg is charged: the previous leg was paid at its own
// taps, which the card's spend and rides count, and the journey says so
// (fare.Journey.SpentLegs), so that caps and spend tiers count it once. A
// leg the fare joins to the previous one is one fare leg with it, which
// began before the previous leg's spend and ride: they are taken out of
// the card's for it.
// A previous leg paid with a pass or count ticket is not priced again (no
// transfer rule starts from one). The card keeps when the previous leg
// ended, not when it began, so a transfer window the feed counts from its
// departure (duration_limit_type 0 or 1) is counted from its end: exact
// for a boarding, the length of the ride more generous for a metro leg.
type FareEngine struct {
	Table *fare.Table

	netsOnce sync.Once
	nets     []string // the networks of the table's fare_codes.txt (codedNetworks)
}

// NewFareEngine returns a FareEngine pricing with t.
func NewFareEngine(t *fare.Table) *FareEngine { return &FareEngine{Table: t} }

// FareFenMax bounds the fare a FareEngine charges for one tap, and the
// full fare it states: 1,000 yuan, the default maximum balance of a card
// (card.BalanceMaxFenDefault) and far above any transit or parking fare.
// A record's amount is a uint32 of fen; a fare table that prices a tap
// beyond the bound (or below zero) is an error, never an amount cut to
// 32 bits.
const FareFenMax = 100_000

// fareFen checks that a fare the table computed fits a record: 0 to
// FareFenMax fen. Kind Invalid naming what and the amount.
func fareFen(op, what string, fen int64) (uint32, error) {
	if fen < 0 || fen > FareFenMax {
		return 0, citycard.E(op, citycard.Invalid, "%s of %d fen: a tap's fare is 0 to %d fen (FareFenMax)", what, fen, FareFenMax)
	}
	return uint32(fen), nil
}

// journeyGap bounds how far back the card's last trip may be to take
// part in pricing this tap: beyond it no transfer or pass day is shared.
const journeyGap = 24 * time.Hour

// Price implements Fare. Kind Invalid for a network, line, station or
// rider category code the table does not map, a leg no rule prices on a
// network without a maximum fare, or a fare (or full fare) above
// FareFenMax or below zero.
func (e *FareEngine) Price(q FareQuery) (Charge, error) {
	const op = "terminal.FareEngine.Price"
	if q.Tap == TapAmount {
		return FlatFare{}.Price(q)
	}
	t := e.Table
	net, cat, media, err := e.ids(op, q.Network, q.RiderCategory, q.CardType)
	if err != nil {
		return Charge{}, err
	}
	route, _ := t.RouteID(q.Network, q.Line)
	stop, _ := t.StopID(q.Network, q.Station) // "" when unmapped: the leg has no known stop
	at := q.At.In(citycard.ChinaTime)
	j := fare.Journey{RiderCategory: cat, FareMedia: media}

	tr := q.Transit
	trip := tr.JourneyRecord
	var entry time.Time
	hasEntry := false
	var behind string // the terminal's clock behind the card's entry, said in the explanation
	if tr.HasJourney && trip.EntryDate != (citycard.BCDDate{}) {
		t0, err := citycard.TimeOf(trip.EntryDate, trip.EntryTime, citycard.ChinaTime)
		switch {
		case err != nil:
		case !t0.After(at) && at.Sub(t0) <= journeyGap:
			entry, hasEntry = t0, true
		case t0.After(at) && trip.Status == card.LegOpen && (q.Tap == TapOff && trip.Network == q.Network || q.Tap != TapOff && t0.Sub(at) <= journeyGap):
			// This terminal's clock is behind the card's open entry. The
			// entry is the card's truth: a tap-off ends the leg no
			// earlier than it began, priced as of its entry; any other
			// tap charges the open leg's missing tap-off as it would at
			// a right clock, priced as of the entry too. The record keeps
			// the terminal's time, before the entry, for the back office
			// to see.
			entered, what := "entry", "the leg priced as ending at its entry"
			if q.Tap != TapOff {
				entered, what = "open entry", "its missing tap-off charged, this tap priced as of the entry"
			}
			behind = fmt.Sprintf("the terminal's clock (%s) is behind the card's %s (%s): %s",
				at.Format("2006-01-02 15:04:05"), entered, t0.Format("2006-01-02 15:04:05"), what)
			entry, hasEntry, at = t0, true, t0
		}
	}
	today := dateOf(at)
	open := hasEntry && trip.Status == card.LegOpen
	// closing: the tap-off ends the leg the trip's tap-on began.
	closing := q.Tap == TapOff && open && trip.Network == q.Network

	// The previous leg: the last leg the card finished, if this tap may
	// continue its journey. A tap-off takes it from the open trip it
	// closes (the tap-on kept it there), a tap-on or a boarding from a
	// closed trip. A leg paid with a pass or count ticket is left out: no
	// transfer rule starts from it, and pricing it again would count its
	// ride twice.
	past, hasPast := pastLegOf(tr)
	var pastStart, pastEnd time.Time
	if hasPast {
		usable := closing || (q.Tap != TapOff && trip.Status == card.LegClosed)
		t1, err := citycard.TimeOf(past.endDate, past.endTime, citycard.ChinaTime)
		hasPast = usable && err == nil && past.product == 0 && !t1.After(at) && at.Sub(t1) <= journeyGap
		if hasPast && hasEntry && open && t1.After(entry) {
			hasPast = false // a previous leg ending after the entry it precedes: not ours to trust
		}
		pastEnd, pastStart = t1, t1
		if t0, err := citycard.TimeOf(past.startDate, past.startTime, citycard.ChinaTime); err == nil && !t0.After(t1) {
			pastStart = t0
		}
	}

	// Count the journey from the day of its first leg; clocks pass 24:00
	// for the legs of the next day.
	first := at
	if hasEntry && entry.Before(first) {
		first = entry
	}
	if hasPast && pastStart.Before(first) {
		first = pastStart
	}
	j.Date = dateOf(first)
	rel := func(x time.Time) fare.Clock { return clockOf(x) + fare.Clock(int(dateOf(x)-j.Date)*24*3600) }
	now := rel(at)

	var prevNet, prevRoute, prevStop string
	entryClock := fare.NoTime
	if hasEntry {
		prevNet, _ = t.NetworkID(trip.Network)
		prevRoute, _ = t.RouteID(trip.Network, trip.Line)
		prevStop, _ = t.StopID(trip.Network, trip.Station)
		entryClock = rel(entry)
	}

	cur := fare.Leg{RouteID: route, NetworkID: net, Start: now, End: fare.NoTime}
	var penalty *fare.Leg // an open leg whose tap-off never came
	var prev *fare.Leg    // the leg before this one, for transfers
	if hasPast {
		if pnet, ok := t.NetworkID(past.network); ok {
			// The card keeps when the previous leg began and ended, so
			// that every duration_limit_type counts from the right
			// instant (the same one for a boarding).
			pl := fare.Leg{NetworkID: pnet, Start: rel(pastStart), End: rel(pastEnd)}
			pl.RouteID, _ = t.RouteID(past.network, past.line)
			if past.from != 0 {
				pl.FromStopID, _ = t.StopID(past.network, past.from)
			}
			if past.to != 0 {
				pl.ToStopID, _ = t.StopID(past.network, past.to)
			}
			prev = &pl
		}
	}
	switch q.Tap {
	case TapFlat, TapOn:
		cur.FromStopID = stop
		if open {
			penalty = &fare.Leg{RouteID: prevRoute, NetworkID: prevNet, FromStopID: prevStop, Start: entryClock, End: fare.NoTime, TapOffMissing: true}
		}
		if q.Tap == TapOn {
			// Price the leg as if it ended where it began, only to know
			// whether it continues the journey.
			cur.ToStopID, cur.End = stop, now
		}
	case TapOff:
		cur.ToStopID, cur.End = stop, now
		if closing {
			cur.FromStopID, cur.Start = prevStop, entryClock
			if prevRoute != "" {
				cur.RouteID = prevRoute
			}
		} else {
			if open {
				penalty = &fare.Leg{RouteID: prevRoute, NetworkID: prevNet, FromStopID: prevStop, Start: entryClock, End: fare.NoTime, TapOffMissing: true}
			}
			// A tap-off with no tap-on on the network: the leg's start is
			// what is missing, and the maximum fare applies, as for a
			// missing tap-off (fare.Price refuses a missing tap-off with
			// an exit stop as contradictory).
			cur.ToStopID, cur.End, cur.TapOffMissing = "", fare.NoTime, true
		}
	}

	j.Products = heldOf(t, tr.Products, today)
	j.Spend = spendOf(tr.Spend, at)
	if closing {
		// The card counts a ride at each boarding and tap-on: this
		// leg's tap-on counted it, and its tiers count the rides before.
		unspend(&j.Spend, 0, 1, trip.EntryDate, trip.EntryDate, at)
	}

	ch := Charge{Closes: closing}
	var why []string
	if behind != "" {
		why = append(why, behind)
	}
	// The amounts in fen, summed in int64 and bounded before they become
	// the uint32 a record carries.
	var amountFen, fullFen, penaltyFen, maxLegFen int64
	charge := func() (Charge, error) {
		var err error
		if ch.AmountFen, err = fareFen(op, "fare", amountFen); err != nil {
			return Charge{}, err
		}
		ch.PenaltyFen = uint32(penaltyFen) // a part of amountFen, bounded with it
		ch.MaxFareFen = uint32(penaltyFen + maxLegFen)
		if ch.FullFen, err = fareFen(op, "full fare", fullFen); err != nil {
			return Charge{}, err
		}
		ch.Explanation = strings.Join(why, "; ")
		return ch, nil
	}
	if penalty != nil {
		pj := j
		pj.Legs = []fare.Leg{*penalty}
		var pq fare.Quote
		if err := t.Price(&pj, &pq); err != nil {
			return Charge{}, citycard.Wrap(op, citycard.Invalid, err)
		}
		switch {
		case !pq.Complete && q.Tap == TapOff:
			// The open leg is another network's (a tap-off closing it
			// has no penalty), and its rules say nothing of a missing
			// tap-off: nothing is due for it, and the gate lets the
			// rider out.
			why = append(why, fmt.Sprintf("leg from station %d on network %q was never tapped off; the network has no maximum fare: nothing due for it", trip.Station, penalty.NetworkID))
		case !pq.Complete:
			return Charge{}, citycard.E(op, citycard.Invalid, "the leg from station %d was never tapped off, and network %q has no maximum fare in fare table %s", trip.Station, penalty.NetworkID, t.Version())
		default:
			// The full fare states the whole maximum fare, what the
			// tap-on took already apart: so the back office's re-check
			// finds a network's maximum fare in it (Recheck).
			fen := max(pq.TotalFen-int64(trip.ProvisionalFen), 0)
			amountFen += fen
			fullFen += pq.TotalFen
			penaltyFen = fen
			why = append(why, fmt.Sprintf("leg from station %d was never tapped off: %s", trip.Station, pq.Explanation(0)))
		}
	}
	var legs [2]fare.Leg
	if q.Tap == TapOn && !cur.TapOffMissing {
		// Nothing is due at a tap-on but a missing tap-off's penalty.
		if err := e.checkMinBalance(op, q, net, amountFen); err != nil {
			return Charge{}, err
		}
		if prev != nil {
			legs[0], legs[1] = *prev, cur
			j.Legs = legs[:2]
			var qq fare.Quote
			if err := t.Price(&j, &qq); err == nil {
				o, _ := qq.Chosen(1)
				ch.Transfer = o.Origin == fare.OfferTransfer
			}
		}
		why = append(why, fmt.Sprintf("tap-on at station %d", q.Station))
		return charge()
	}

	// A boarding or a tap-off is priced with the previous leg before it,
	// so that the transfer rules from it apply; only this leg's amount is
	// charged (the previous leg was paid at its own taps).
	withPrev := prev != nil && (q.Tap == TapFlat || closing)
	var fq fare.Quote
	if withPrev {
		legs[0], legs[1] = *prev, cur
		pj := j
		pj.Legs = legs[:2]
		// The card's spend and rides count the previous leg already (its
		// taps wrote them): caps and spend tiers count it no more.
		pj.SpentLegs = 1
		err := t.Price(&pj, &fq)
		if err == nil && fq.Legs[1].JoinedTo == 0 {
			// Joined to the previous leg, this leg is one fare leg with
			// it, which began before the previous leg's spend and ride:
			// take them out, and the through leg counts them.
			pj.SpentLegs = 0
			unspend(&pj.Spend, int64(past.fen), 1, past.endDate, cond(past.startDate != citycard.BCDDate{}, past.startDate, past.endDate), at)
			err = t.Price(&pj, &fq)
		}
		if o, ok := fq.Chosen(0); err != nil || ok && o.Origin == fare.OfferHeld {
			// The previous leg paid stored value, or cannot be priced
			// again: this leg is priced on its own.
			withPrev = false
		} else {
			j = pj
		}
	}
	if !withPrev {
		legs[0] = cur
		j.Legs = legs[:1]
		if err := t.Price(&j, &fq); err != nil {
			return Charge{}, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	i := len(j.Legs) - 1
	if head := fq.Legs[i].JoinedTo; !fq.Legs[i].Priced || head >= 0 && !fq.Legs[head].Priced {
		// No rule prices the leg: the network's maximum fare, as for a
		// leg whose tap-off is missing.
		mj := j
		mj.SpentLegs = 0
		mj.Legs = []fare.Leg{{RouteID: cur.RouteID, NetworkID: cur.NetworkID, FromStopID: cur.FromStopID, Start: cur.Start, End: fare.NoTime, TapOffMissing: true}}
		i = 0
		if err := t.Price(&mj, &fq); err != nil {
			return Charge{}, citycard.Wrap(op, citycard.Invalid, err)
		}
		if !fq.Complete {
			return Charge{}, citycard.E(op, citycard.Invalid, "no fare rule of fare table %s prices the leg on network %q, and the network has no maximum fare", t.Version(), cur.NetworkID)
		}
		why = append(why, "no fare rule prices the leg")
	}
	lq := fq.Legs[i]
	fen, full := lq.AmountFen, lq.FullFen
	ch.Transfer = lq.Transfer
	expl := i
	if lq.JoinedTo >= 0 {
		// The fare joins this leg to the previous one (an interchange
		// through the street): the two are one fare leg, of which the
		// previous leg paid its part already.
		through := fq.Legs[lq.JoinedTo]
		fen = max(through.AmountFen-int64(past.fen), 0)
		full = max(through.FullFen-int64(past.fen), fen)
		ch.Transfer, expl = true, lq.JoinedTo
		why = append(why, "joined to the previous leg, which paid "+yuan(past.fen))
	}
	if closing {
		// What the tap-on took already (a provisional maximum fare) counts.
		fen = max(fen-int64(trip.ProvisionalFen), 0)
	}
	amountFen += fen
	fullFen += full
	o, chosen := fq.Chosen(i)
	if chosen && o.Origin == fare.OfferMaxFare {
		maxLegFen = fen // a tap-off without its tap-on, or a leg no rule prices
	}
	why = append(why, fq.Explanation(expl))
	if chosen && o.Origin == fare.OfferHeld {
		code, _ := t.FareProductCode(o.FareProductID)
		ch.Product = code
		if p := heldSlot(tr.Products, code, today); p != nil {
			u := *p
			if u.Type == card.ProductCountTicket && u.RidesLeft > 0 {
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
	return charge()
}

// spendOf is what the card's spend record says was spent and ridden
// before a tap at at: the day's, when it is of at's day, and the
// month's, when of at's month. The card keeps no week: the day stands
// in for it, a lower bound. The card counts every network; a spend tier
// takes it as the count of the networks it counts (fare/README.md).
func spendOf(sp card.Spend, at time.Time) fare.Spend {
	var s fare.Spend
	d := bcdDate(at)
	if sp.Day == d {
		s.DayFen, s.WeekFen = int64(sp.DaySpendFen), int64(sp.DaySpendFen)
		s.DayRides, s.WeekRides = int(sp.DayRides), int(sp.DayRides)
	}
	if sp.Month == (card.BCDMonth{d[0], d[1], d[2]}) {
		s.MonthFen, s.MonthRides = int64(sp.MonthSpendFen), int(sp.MonthRides)
	}
	return s
}

// unspend takes out of s (spendOf's, for a tap at at) fen paid on day
// paid and rides ridden on day rode, where s counts those days: what the
// card counted of a leg that pricing counts again.
func unspend(s *fare.Spend, fen int64, rides int, paid, rode citycard.BCDDate, at time.Time) {
	d := bcdDate(at)
	if paid == d {
		s.DayFen, s.WeekFen = max(s.DayFen-fen, 0), max(s.WeekFen-fen, 0)
	}
	if rode == d {
		s.DayRides, s.WeekRides = max(s.DayRides-rides, 0), max(s.WeekRides-rides, 0)
	}
	if paid[0] == d[0] && paid[1] == d[1] && paid[2] == d[2] {
		s.MonthFen = max(s.MonthFen-fen, 0)
	}
	if rode[0] == d[0] && rode[1] == d[1] && rode[2] == d[2] {
		s.MonthRides = max(s.MonthRides-rides, 0)
	}
}

func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
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
		from, err1 := citycard.TimeOf(p.ValidFrom, citycard.BCDTime{}, citycard.ChinaTime)
		to, err2 := citycard.TimeOf(p.ValidTo, citycard.BCDTime{}, citycard.ChinaTime)
		if err1 != nil || err2 != nil {
			continue
		}
		h := fare.Held{FareProductID: id, ValidFrom: dateOf(from), ValidTo: dateOf(to), RidesLeft: int(p.RidesLeft), DailyLimit: int(p.DailyLimit)}
		if d, err := citycard.TimeOf(p.RidesTodayDate, citycard.BCDTime{}, citycard.ChinaTime); err == nil && dateOf(d) == today {
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
		from, err1 := citycard.TimeOf(ps[i].ValidFrom, citycard.BCDTime{}, citycard.ChinaTime)
		to, err2 := citycard.TimeOf(ps[i].ValidTo, citycard.BCDTime{}, citycard.ChinaTime)
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

func bcdDate(t time.Time) citycard.BCDDate {
	d, _ := citycard.DateTime(t)
	return d
}

// FareCheck is the result of re-pricing a record: the fare the rules give
// against the fare the record states.
type FareCheck struct {
	// FullFen is the full fare by the rules of what the record is taken
	// for (Tap), PenaltyFen included.
	FullFen       uint32
	RecordFullFen uint32 // the record's FareFull
	AmountFen     uint32 // the record's Amount
	// ExitBeforeEntry is true for a tap-off whose time is before its
	// entry: one of the two terminals' clocks was wrong (the tap-off's,
	// most often, behind). The leg is priced as ending at its entry, and
	// Match is false: the back office flags the record's clock (its
	// fare cannot be confirmed from its times).
	ExitBeforeEntry bool
	// Tap is what the record is taken for: TapOff (the leg from its
	// entry; without an entry, a tap-off without its tap-on, charged the
	// network's maximum fare), TapOn (0, or what it took provisionally),
	// or TapFlat (a boarding).
	Tap TapKind
	// PenaltyFen is the part of FullFen that paid an earlier leg's
	// missing tap-off: one network's maximum fare; 0 for none.
	PenaltyFen uint32
	// Match is false when the full fares differ, or when the record
	// charged more than the full fare (a transfer, pass, cap or
	// provisional amount only ever lowers it).
	Match       bool
	Explanation string
}

// ids maps the codes cards and terminals carry to the fare table's ids:
// the network and the rider category must be in the table's
// fare_codes.txt (kind Invalid naming the code); the card type's fare
// media may be absent (no particular media).
func (e *FareEngine) ids(op string, network uint16, riderCategory, cardType uint8) (net, cat, media string, err error) {
	t := e.Table
	net, ok := t.NetworkID(network)
	if !ok {
		return "", "", "", citycard.E(op, citycard.Invalid, "network code %d is not in fare table %s (fare_codes.txt)", network, t.Version())
	}
	if cat, ok = t.RiderCategoryID(riderCategory); !ok {
		return "", "", "", citycard.E(op, citycard.Invalid, "rider category code %d is not in fare table %s (fare_codes.txt)", riderCategory, t.Version())
	}
	media, _ = t.FareMediaID(cardType)
	return net, cat, media, nil
}

// recordLeg is a record's leg as Recheck reads it, priced alone.
type recordLeg struct {
	j                   fare.Journey
	q                   fare.Quote
	at                  time.Time
	cat, media          string
	entered, exitBefore bool
}

// recordLeg builds and prices the leg of composite purchase rec: from
// its entry to its station when it has one, else from its station. Kind
// Invalid (Recheck's).
func (e *FareEngine) recordLeg(op string, rec *record.Record) (*recordLeg, error) {
	if rec.Type != citycard.TxCompositePurchase {
		return nil, citycard.E(op, citycard.Invalid, "record type %02X is not a composite purchase", rec.Type)
	}
	t := e.Table
	at, err := citycard.TimeOf(rec.Date, rec.Time, citycard.ChinaTime)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	net, cat, media, err := e.ids(op, rec.Network, rec.RiderCategory, rec.CardType)
	if err != nil {
		return nil, err
	}
	stop, _ := t.StopID(rec.Network, rec.Station)
	l := &recordLeg{at: at, cat: cat, media: media}
	l.j = fare.Journey{Date: dateOf(at), RiderCategory: cat, FareMedia: media}
	leg := fare.Leg{NetworkID: net, Start: clockOf(at), End: fare.NoTime}
	l.entered = rec.EntryDate != (citycard.BCDDate{})
	if l.entered {
		entry, err := citycard.TimeOf(rec.EntryDate, rec.EntryTime, citycard.ChinaTime)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
		from, _ := t.StopID(rec.Network, rec.EntryStation)
		leg.RouteID, _ = t.RouteID(rec.Network, rec.EntryLine)
		l.j.Date = dateOf(entry)
		leg.FromStopID, leg.ToStopID = from, stop
		leg.Start = clockOf(entry)
		leg.End = clockOf(at) + fare.Clock(int(dateOf(at)-l.j.Date)*24*3600)
		if entry.After(at) {
			// As the terminal priced it: ending at its entry.
			l.exitBefore, leg.End = true, leg.Start
		}
	} else {
		leg.RouteID, _ = t.RouteID(rec.Network, rec.Line)
		leg.FromStopID = stop
	}
	l.j.Legs = []fare.Leg{leg}
	if err := t.Price(&l.j, &l.q); err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	return l, nil
}

// FullFare returns the full fare of composite purchase rec's leg read as
// tap (a boarding, or a tap-off closing the leg from its entry), under
// rec's rider category and card type, alone (no transfer, held product
// or earlier leg's penalty): what Recheck's reading of that kind gives
// before a penalty. Clearing prices a concession rider's leg at the
// default category with it. Kind Invalid for a record Recheck refuses, a
// tap-off without an entry, a tap-on, a reading the table does not give
// (a boarding on a network that prices legs only from their exit), or a
// leg no rule prices.
func (e *FareEngine) FullFare(rec *record.Record, tap TapKind) (uint32, error) {
	const op = "terminal.FareEngine.FullFare"
	l, err := e.recordLeg(op, rec)
	if err != nil {
		return 0, err
	}
	o, chosen := l.q.Chosen(0)
	switch {
	case tap == TapOff && !l.entered, tap == TapFlat && l.entered, tap != TapOff && tap != TapFlat:
		return 0, citycard.E(op, citycard.Invalid, "tap kind %d of a record with an entry %v: want a boarding without an entry or a tap-off with one", tap, l.entered)
	case !l.q.Complete:
		return 0, citycard.E(op, citycard.Invalid, "no fare rule of fare table %s prices the record's leg: %s", e.Table.Version(), l.q.Explanation(0))
	case tap == TapFlat && chosen && o.Origin == fare.OfferMaxFare:
		return 0, citycard.E(op, citycard.Invalid, "network %d prices a leg from its station alone at its maximum fare: not a boarding", rec.Network)
	}
	return fareFen(op, "full fare", l.q.Legs[0].FullFen)
}

// Recheck re-prices a composite purchase record of a distance or flat
// fare, as the back office does for revenue assurance. A record with an
// entry (a tap-off) is the leg from its entry station to its station.
// A record without one is what its terminal charged at its station, read
// from the rules alone (the record does not say which terminal it was):
// on a network whose rules price a leg only from its exit or its end (a
// distance band, a zone of arrival, a time fare: the leg from the station
// alone gets the network's maximum fare, or no price) a tap-on, full
// fare 0, or a tap-off without its tap-on, the network's maximum fare;
// on any other, a boarding. Either may also have paid an earlier leg's
// missing tap-off (FareEngine.Price charges it at the next tap): the
// maximum fare of one of the table's networks, on top of the full fare
// (PenaltyFen). Where readings agree with the record, the first of them
// without a penalty is given, as a tap-on is before a tap-off. The
// record's rider category and card type map through the table. Kind
// Invalid for a record that is not a composite purchase or that the
// table cannot price, or prices above FareFenMax.
func (e *FareEngine) Recheck(rec *record.Record) (FareCheck, error) {
	const op = "terminal.FareEngine.Recheck"
	l, err := e.recordLeg(op, rec)
	if err != nil {
		return FareCheck{}, err
	}
	t, j, q, at, cat, media := e.Table, l.j, &l.q, l.at, l.cat, l.media
	entered, exitBefore := l.entered, l.exitBefore
	// The readings of the record, in the order they are preferred.
	type reading struct {
		tap     TapKind
		fullFen int64
		why     string
	}
	var readings []reading
	o, chosen := q.Chosen(0)
	switch {
	case entered:
		if !q.Complete {
			return FareCheck{}, citycard.E(op, citycard.Invalid, "no fare rule of fare table %s prices the record's leg: %s", t.Version(), q.Explanation(0))
		}
		readings = []reading{{TapOff, q.Legs[0].FullFen, q.Explanation(0)}}
	case !q.Complete:
		// No rule prices a leg from the station alone, and the network
		// has no maximum fare: a tap-off without its tap-on could not
		// have been charged.
		readings = []reading{{TapOn, 0, fmt.Sprintf("tap-on at station %d", rec.Station)}}
	case chosen && o.Origin == fare.OfferMaxFare:
		readings = []reading{
			{TapOn, 0, fmt.Sprintf("tap-on at station %d", rec.Station)},
			{TapOff, q.Legs[0].FullFen, "tap-off without its tap-on: " + q.Explanation(0)},
		}
	default:
		readings = []reading{{TapFlat, q.Legs[0].FullFen, q.Explanation(0)}}
	}
	c := FareCheck{RecordFullFen: rec.FareFull, AmountFen: rec.Amount}
	pick := func(r reading, penaltyFen int64, why string) (FareCheck, error) {
		full, err := fareFen(op, "full fare", r.fullFen+penaltyFen)
		if err != nil {
			return FareCheck{}, err
		}
		c.FullFen, c.Tap, c.PenaltyFen, c.Explanation = full, r.tap, uint32(penaltyFen), r.why+why
		c.Match = full == rec.FareFull && rec.Amount <= full && !exitBefore
		if exitBefore {
			c.ExitBeforeEntry = true
			c.Explanation = fmt.Sprintf("the tap-off at %s is before its entry at %s (a terminal's clock is wrong): the fare is not confirmed; priced as ending at its entry: %s",
				at.Format("2006-01-02 15:04:05"), rec.EntryDate.String()+" "+rec.EntryTime.String(), c.Explanation)
		}
		return c, nil
	}
	for _, r := range readings {
		if r.fullFen == int64(rec.FareFull) {
			return pick(r, 0, "")
		}
	}
	if !entered {
		// A tap-off closes the leg whose entry the record carries: only a
		// tap without one may have paid an earlier leg's missing tap-off.
		for _, m := range e.maxFares(j.Date, clockOf(at), cat, media) {
			for _, r := range readings {
				if r.fullFen+m.fen == int64(rec.FareFull) {
					return pick(r, m.fen, fmt.Sprintf("; and an earlier leg's missing tap-off on network %q: %s", m.network, m.why))
				}
			}
		}
	}
	return pick(readings[0], 0, "")
}

// maxFare is a network's maximum fare, as a missing tap-off pays it.
type maxFare struct {
	network string
	fen     int64
	why     string
}

// maxFares returns the maximum fare of each network of the table's
// fare_codes.txt that has one, for the rider category and fare media on
// day d at clock c: what a tap may have paid for an earlier leg whose
// tap-off is missing.
func (e *FareEngine) maxFares(d fare.Date, c fare.Clock, cat, media string) []maxFare {
	var out []maxFare
	for _, n := range e.codedNetworks() {
		j := fare.Journey{Date: d, RiderCategory: cat, FareMedia: media,
			Legs: []fare.Leg{{NetworkID: n, Start: c, End: fare.NoTime, TapOffMissing: true}}}
		var q fare.Quote
		if err := e.Table.Price(&j, &q); err != nil || !q.Complete {
			continue
		}
		if o, ok := q.Chosen(0); ok && o.Origin == fare.OfferMaxFare {
			out = append(out, maxFare{network: n, fen: q.TotalFen, why: q.Explanation(0)})
		}
	}
	return out
}

// codedNetworks returns the networks the table's fare_codes.txt gives a
// code, in code order: those a card's journey record can name. Computed
// once (65,536 lookups, about a millisecond).
func (e *FareEngine) codedNetworks() []string {
	e.netsOnce.Do(func() {
		seen := map[string]bool{}
		for code := 0; code <= math.MaxUint16; code++ {
			if id, ok := e.Table.NetworkID(uint16(code)); ok && !seen[id] {
				seen[id] = true
				e.nets = append(e.nets, id)
			}
		}
	})
	return e.nets
}

// ErrBelowMinBalance refuses a tap-on (kind Insufficient): the card's
// balance, less what the tap-on charges, is below the minimum balance
// the network requires to enter (fare_networks.txt min_balance_amount).
// Check with errors.Is.
var ErrBelowMinBalance = errors.New("balance below the network's minimum to tap on")

// balanceFare is a Fare that needs the card's balance to price a tap:
// the terminal reads it (GET BALANCE) before pricing only where
// needsBalance says so, so that other taps send no command more.
type balanceFare interface {
	needsBalance(q FareQuery) bool
}

// needsBalance: a tap-on at a network with a minimum balance.
func (e *FareEngine) needsBalance(q FareQuery) bool {
	net, ok := e.Table.NetworkID(q.Network)
	if !ok || q.Tap != TapOn {
		return false
	}
	_, ok = e.Table.MinBalanceFen(net)
	return ok
}

// checkMinBalance refuses a tap-on at network net when the card's
// balance, less dueFen (what the tap-on charges: a missing tap-off's
// maximum fare), is below the network's minimum balance: kind
// Insufficient wrapping ErrBelowMinBalance. A query without the balance
// (a record replayed) is not checked.
func (e *FareEngine) checkMinBalance(op string, q FareQuery, net string, dueFen int64) error {
	minFen, ok := e.Table.MinBalanceFen(net)
	if !ok || !q.BalanceKnown || q.BalanceFen-dueFen >= minFen {
		return nil
	}
	due := ""
	if dueFen > 0 {
		due = fmt.Sprintf(", less %s yuan due at this tap-on,", citycard.Yuan(dueFen))
	}
	return citycard.E(op, citycard.Insufficient, "the card's balance of %s yuan%s is below the %s yuan network %q requires to tap on (min_balance_amount, fare table %s): %w",
		citycard.Yuan(q.BalanceFen), due, citycard.Yuan(minFen), net, e.Table.Version(), ErrBelowMinBalance)
}

// fareErrKind is the kind of a tap refused by its fare: Insufficient for
// a balance below the minimum, Invalid for any other.
func fareErrKind(err error) citycard.Kind {
	if citycard.IsKind(err, citycard.Insufficient) {
		return citycard.Insufficient
	}
	return citycard.Invalid
}

// readBalance reads the card's balance (GET BALANCE), below zero when it
// used its overdraw limit.
func readBalance(op string, c device) (int64, error) {
	b, err := c.sendLen(op, "GET BALANCE", apdu.Command{CLA: 0x80, INS: 0x5C, P1: 0x00, P2: 0x02, Le: 4}, 4)
	if err != nil {
		return 0, err
	}
	return signedFen(binary.BigEndian.Uint32(b)), nil
}
