package city

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/terminal"
)

// Public bikes (bikes.go). Each bike dock is a terminal.BikeDock: a POS
// of the bike operator (a device of the city, its queue on disk,
// uploading over HTTP at its slots) and a gate of the bike application
// (nb-bikes, the operator's zone) sharing its PSAM, which holds our
// application master key as well as the purchase keys. A hire stamps the
// card's bike slot (a bike out, since the hire) and seals its
// non-financial record; a return stamps it in and pays the time fare the
// fare engine prices (bike_time: the first hour free, then by the hour,
// capped a day), an e-purse purchase at the dock's POS; a bike out past
// the dock's OutMax (apps.BikeOutMaxDefault, 24 h) pays the feed's "bike
// not returned" product (bike_max) instead, at its return or at the
// card's next hire, which closes it first. Both kinds of record share
// the dock's queue and terminal sequence; the back office books the
// purchases and files the stamps under the bike application.
//
// Deposit-free rental is for registered cards: the back office grants
// the bike slot (apps.Office.Grant) to bikeGrantPct of the registered
// riders who bike, and to no one else; an anonymous card, a registered
// one without the grant and a visiting city's card are refused the
// hire (wrong_application), and their rider walks on, and takes no
// bike again. Riders hire and
// return from their daily patterns (plan.go, bikeLeg): most within half
// an hour; some ride an hour or more, charged by the hour; some keep the
// bike at the end of a leg, so that their next leg's hire is refused
// limit (one bike a card) and its return brings the kept bike back, the
// next day if need be, or closes it first when it has been out past
// OutMax. Of the bikes out since an earlier day, some are forgotten
// (planBikesOut): their rider takes no bike until a return drawn past
// OutMax (overdue at its return), or until the evening (whose hire, past
// OutMax, closes the overdue rental first); some stay out at the end.
// A card is not reported lost or damaged, nor handed back, with a bike
// out; a lost card's finder takes no bike. The docks' clocks are right
// (a skewed dock would price a rental by its clock).
//
// The city predicts every answer: the hire refused wrong_application
// for a card without the slot, expired for a card (or slot) past its
// validity, limit for a bike out within OutMax, Insufficient for an
// overdue one the balance cannot pay; otherwise allowed, after closing
// an overdue rental at the maximum fare; a return allowed and paid (its
// time out and overdue as the city reckons them), or returned unpaid
// when the balance cannot pay. The check (InvBikeRentals): the bikes
// out at the end are, card for card, the city's, the cards' slots and
// the back office's open rentals (apps.Office.OpenRentals: the hire's
// time, dock, terminal and whether overdue), and the hires and returns
// filed under the bike application are those the docks stamped.

// Bikes' rates and limits.
const (
	bikeGrantPct        = 85 // percent of the registered riders who bike granted deposit-free rental
	bikeLongPct         = 3  // percent of bike legs ridden one to three hours
	bikeKeepPct         = 4  // percent of bike legs whose bike is kept, not returned at the leg's end
	bikeForgetPct       = 40 // percent of the bikes out since an earlier day forgotten until an overdue return
	bikeForgetNoonPct   = 30 // and forgotten until the evening
	bikeOutMax          = apps.BikeOutMaxDefault
	bikeForgottenReturn = 1 // a return event's fen: the return of a forgotten bike, past OutMax
)

// bikeDock is one of the city's bike docks: its device (the POS, its
// queue, uploader and blacklist), its gate, and the dock over both.
type bikeDock struct {
	dev  *device
	gate *appGate
	dock *terminal.BikeDock
}

// BikeFigures are the public bikes' figures in the report.
type BikeFigures struct {
	Hires         int64  `json:"hires"`
	HiresRefused  counts `json:"hires_refused"` // by reason: wrong_application (not registered for deposit-free rental), limit, insufficient
	Returns       int64  `json:"returns"`
	ReturnsLong   int64  `json:"returns_after_an_hour"` // within OutMax: charged by the hour
	ReturnsLate   int64  `json:"returns_another_day"`   // returned on a later day than hired
	Overdue       int64  `json:"overdue"`               // rentals out past OutMax, paid at the maximum fare
	OverdueAtHire int64  `json:"overdue_closed_at_hire"`
	ReturnsUnpaid int64  `json:"returns_unpaid"` // returned, the time fare more than the balance
	FaresFen      int64  `json:"fares_fen"`
	OutAtEnd      int64  `json:"out_at_end"`
	OverdueAtEnd  int64  `json:"out_at_end_overdue"`
}

// buildDocks commissions the bike docks: each a POS of the bike
// operator whose PSAM also holds our application master key, a gate of
// the bike application on it, and the terminal.BikeDock over both.
func (c *City) buildDocks(ctx context.Context, reg *registry.Registry, rng *rand.Rand) error {
	a := c.apps
	ca := a.apps[appBike]
	for k := 0; k < c.net.docks; k++ {
		d, err := c.addDevice(ctx, reg, rng, devBikeDock, opBike, 1, uint32(3001+k), "")
		if err != nil {
			return err
		}
		ag := &appGate{dev: d, app: ca, key: gateKey{apps.Hire, d.station}, mv: terminal.NewMinVersions(0)}
		ag.gate, err = terminal.NewGate(terminal.GateConfig{PSAM: d.psam, PSAMID: d.psamID, RecordKeyVersion: 1, App: card.AppBike, Scope: bikeScope,
			Place: d.station, Action: apps.Hire, Spool: &appSpool{c: c, g: ag}, Blacklist: d.bl, Versions: ag.mv, Now: func() time.Time { return c.now().Add(d.skew) }})
		if err != nil {
			return err
		}
		bd, err := terminal.NewBikeDock(terminal.BikeConfig{Gate: ag.gate, POS: d.term, Fare: c.engine, OutMax: bikeOutMax})
		if err != nil {
			return err
		}
		d.gate = ag
		ca.gates[ag.key] = ag
		a.gates = append(a.gates, ag)
		c.docks = append(c.docks, &bikeDock{dev: d, gate: ag, dock: bd})
	}
	return nil
}

// planBikesOut draws what becomes of the bikes out since an earlier day
// at the day's start: forgotten until a return past OutMax (the event
// at that time, today's), forgotten until the evening, or ridden back at
// the rider's next bike leg.
func (c *City) planBikesOut(p *planner) {
	rng := rngFor(c.cfg.Seed, "bikes-out", uint64(p.day))
	midnight := c.cfg.Start.AddDate(0, 0, p.day)
	for ri, r := range c.riders {
		if !r.bikeOut || !r.hiredAt.Before(midnight) || r.handedIn() || c.travelling(int32(ri)) {
			continue
		}
		r.bikeForgotUntil = time.Time{}
		switch x := rng.IntN(100); {
		case x < bikeForgetPct:
			at := r.hiredAt.Add(bikeOutMax + time.Duration(10+rng.IntN(170))*time.Minute)
			if at.Sub(midnight) < 24*time.Hour {
				r.bikeForgotUntil = at
				p.add(int64(at.Sub(midnight)/time.Second), evTap, stepBikeReturn, int32(ri), -1, int32(r.dock), bikeForgottenReturn)
			}
		case x < bikeForgetPct+bikeForgetNoonPct:
			r.bikeForgotUntil = midnight.Add(17 * time.Hour)
		}
	}
}

// stampTime is when a gate stamped rec, China time.
func stampTime(d citycard.BCDDate, t citycard.BCDTime) time.Time {
	at, _ := citycard.TimeOf(d, t, citycard.ChinaTime) // a stamp's own date and time: always real
	return at
}

// bikeTap is the bookkeeping around a tap at dock bd of rider ri: the
// tap counted, the tapping card and holder named for the spools, and
// the tap's grey record (none: a dock's taps do not tear) let go.
func (c *City) bikeTap(ri, hi int32, bd *bikeDock, tap func()) {
	a := c.apps
	c.fig.Taps++
	a.taps++
	a.apps[appBike].fig.Taps++
	c.cur, a.curGate, a.curHolder = ri, bd.gate, hi
	tap()
	c.keepGrey()
	c.cur, a.curGate, a.curHolder = -1, nil, -1
}

// bikeStamped counts one stamp of a dock's gate allowed, and now and
// then puts a forged or altered copy of it in the dock's queue.
func (c *City) bikeStamped(bd *bikeDock) {
	ca := c.apps.apps[appBike]
	ca.stamps++
	c.injectAppFaults(bd.gate, c.apps.recs[len(c.apps.recs)-1].raw)
}

// bikePaid counts a rental's purchase at dock bd: its fare, and its
// record now and then forged or altered in the dock's queue.
func (c *City) bikePaid(r *rider, bd *bikeDock, res *terminal.BikeResult, overdue bool) {
	f := &c.fig.Bikes
	f.FaresFen += int64(res.Charge.AmountFen)
	r.balance = int64(res.Purchase.BalanceAfter)
	if overdue && res.Charge.MaxFareFen != res.Charge.AmountFen || !overdue && res.Charge.MaxFareFen != 0 {
		c.violate("card %v at dock %v: a rental out %v (overdue %v) charged %d fen, of which %d the maximum fare (%s)", r.asn, bd.dev.id, res.Out, overdue, res.Charge.AmountFen, res.Charge.MaxFareFen, res.Charge.Explanation)
	}
	c.injectAfterTap(bd.dev, &res.Purchase.Record)
}

// bikeHolder is rider ri's application holder (-1 for none), whether
// their card holds the bike slot, and whether it is past its last day on
// date.
func (c *City) bikeHolder(ri int32, date citycard.BCDDate) (hi int32, slot, ended bool) {
	hi, ok := c.apps.byRider[ri]
	if !ok {
		return -1, false, false
	}
	h := c.apps.holders[hi]
	return hi, h.has[appBike], h.has[appBike] && string(date[:]) > string(h.terms[appBike].ValidTo[:])
}

// bikeHire is rider ri's hire at dock k, as the city expects it to go.
func (c *City) bikeHire(ri int32, k int) {
	r := c.riders[ri]
	if r.lostOn >= 0 || r.noBike || c.now().Before(r.bikeForgotUntil) {
		return // a lost card's finder takes no bike; a rider refused once, or with a bike forgotten, neither
	}
	bd, f := c.docks[k], &c.fig.Bikes
	now := c.now()
	date, _ := citycard.DateTime(now)
	hi, slot, ended := c.bikeHolder(ri, date)
	overdue := r.bikeOut && apps.Overdue(r.hiredAt, now, bikeOutMax)
	bal := r.card.State().BalanceFen
	expect := apps.Allowed
	switch {
	case r.expiredOn(date):
		expect = apps.Expired // the card's: nothing decided, an overdue bike not closed
		overdue = false
	case !slot:
		expect = apps.WrongApplication
	case r.bikeOut && !overdue:
		expect = apps.Limit
	case ended:
		expect = apps.Expired // the slot's: an overdue bike closed first
	}
	var res terminal.BikeResult
	var err error
	c.bikeTap(ri, hi, bd, func() { res, err = bd.dock.Hire(r.card) })
	if res.Closed != nil && res.Closed.Reason == apps.Allowed {
		// The overdue rental closed first: its return stamp, then its
		// purchase at the maximum fare.
		c.bikeStamped(bd)
		r.bikeOut = false
		f.Overdue++
		f.OverdueAtHire++
		if !overdue {
			c.violate("card %v at dock %v: a hire closed a rental out %v, within the dock's limit", r.asn, bd.dev.id, res.Out)
		}
		if res.Paid {
			c.bikePaid(r, bd, &res, true)
		}
	}
	switch {
	case err != nil && citycard.IsKind(err, citycard.Insufficient) && overdue && res.Closed == nil:
		f.HiresRefused["insufficient"]++
		if bal >= int64(res.Charge.AmountFen) {
			c.violate("card %v at dock %v: the hire refused for its overdue rental's %d fen, its balance %d fen", r.asn, bd.dev.id, res.Charge.AmountFen, bal)
		}
		return
	case err != nil:
		c.violate("card %v at dock %v (hire): %v", r.asn, bd.dev.id, err)
		return
	case overdue && res.Closed == nil:
		c.violate("card %v at dock %v: a bike out since %v, past the limit, not closed at the hire (%v)", r.asn, bd.dev.id, r.hiredAt.Format(time.DateTime), res.Reason)
	}
	if res.Reason != apps.Allowed {
		f.HiresRefused[res.Reason.String()]++
		c.apps.apps[appBike].fig.Refusals[res.Reason.String()]++
		r.noBike = r.noBike || res.Reason == apps.WrongApplication // told so once, the rider takes the bus next time
		if res.Reason != expect {
			c.violate("card %v at dock %v: the hire refused %v (%s), the city expected %v", r.asn, bd.dev.id, res.Reason, res.Detail, expect)
		}
		return
	}
	if expect != apps.Allowed {
		c.violate("card %v at dock %v: the hire allowed, the city expected %v", r.asn, bd.dev.id, expect)
	}
	c.apps.apps[appBike].fig.Allowed++
	c.bikeStamped(bd)
	f.Hires++
	r.bikeOut, r.hiredAt, r.hireDock = true, stampTime(res.Stamp.Record.Date, res.Stamp.Record.Time), k
}

// bikeReturn is rider ri's return at dock k of the bike out on the card,
// if any (a hire refused leaves none); forgotten (not forgotten: a
// forgotten bike's own return) it waits.
func (c *City) bikeReturn(ri int32, k int, forgotten bool) {
	r := c.riders[ri]
	if !r.bikeOut || r.lostOn >= 0 || !forgotten && c.now().Before(r.bikeForgotUntil) {
		return
	}
	r.bikeForgotUntil = time.Time{}
	bd, f := c.docks[k], &c.fig.Bikes
	now := c.now()
	date, _ := citycard.DateTime(now)
	hi, _, _ := c.bikeHolder(ri, date)
	out := now.Sub(r.hiredAt)
	overdue := apps.Overdue(r.hiredAt, now, bikeOutMax)
	bal := r.card.State().BalanceFen
	var res terminal.BikeResult
	var err error
	c.bikeTap(ri, hi, bd, func() { res, err = bd.dock.Return(r.card) })
	if res.Reason != apps.Allowed || res.Stamp.Record.Product != uint16(apps.Return) {
		c.apps.apps[appBike].fig.Refusals[res.Reason.String()]++
		if res.Reason != apps.Expired || !r.expiredOn(date) {
			c.violate("card %v at dock %v: its return refused %v (%s), %v", r.asn, bd.dev.id, res.Reason, res.Detail, err)
		}
		return // an expired card cannot pay: the bike stays out on it
	}
	c.apps.apps[appBike].fig.Allowed++
	c.bikeStamped(bd)
	r.bikeOut = false
	f.Returns++
	if res.Out != out || res.Overdue != overdue {
		c.violate("card %v at dock %v: a return out %v (overdue %v); the city hired it %v ago (overdue %v)", r.asn, bd.dev.id, res.Out, res.Overdue, out, overdue)
	}
	if d, _ := citycard.DateTime(r.hiredAt); d != date {
		f.ReturnsLate++
	}
	switch {
	case overdue:
		f.Overdue++
	case out > time.Hour:
		f.ReturnsLong++
	}
	switch {
	case err == nil && res.Paid:
		c.bikePaid(r, bd, &res, overdue)
	case citycard.IsKind(err, citycard.Insufficient) && bal < int64(res.Charge.AmountFen):
		f.ReturnsUnpaid++ // returned: the return's stamp is the back office's trace
	default:
		c.violate("card %v at dock %v: its return paid %v: %v", r.asn, bd.dev.id, res.Paid, err)
	}
}

// InvBikeRentals is the bikes' invariant (bikes.go).
const InvBikeRentals = "bike_rentals_agree"

// checkBikes checks InvBikeRentals, after the back office filed the
// records: the bikes out at the end, by the city, by the cards' bike
// slots and by the back office's open rentals (apps.Office.OpenRentals,
// at the city's time: the hire's time, dock and terminal, overdue past
// OutMax), are the same, card for card; and the hires and returns filed
// under the bike application (hires, returns) are those the docks
// stamped.
func (c *City) checkBikes(ctx context.Context, v *inv, hires, returns int64) {
	o, _ := c.bo.Apps()
	now := c.now()
	rentals, err := o.OpenRentals(ctx, appDefs[appBike].id, now, bikeOutMax)
	if err != nil {
		v.fail("the open rentals of %s: %v", appDefs[appBike].id, err)
		return
	}
	open := map[citycard.ASN]apps.Rental{}
	for _, rt := range rentals {
		if rt.Card.Issuer != Issuer {
			v.fail("an open rental of card %v of another issuer", rt.Card)
			continue
		}
		open[rt.Card.ASN] = rt
	}
	f := &c.fig.Bikes
	f.OutAtEnd, f.OverdueAtEnd = 0, 0
	for ri, r := range c.riders {
		if r.issuer != 0 {
			continue
		}
		if st := r.card.State(); st.Entitlements != nil {
			if i := st.Entitlements.Find(card.AppBike, bikeScope); i >= 0 && st.Entitlements.Slots[i].Inside != r.bikeOut {
				v.failCard(int32(ri), "card %v: its bike slot says a bike out %v, the city %v", r.asn, st.Entitlements.Slots[i].Inside, r.bikeOut)
			}
		} else if r.bikeOut {
			v.failCard(int32(ri), "card %v: a bike out, and no entitlement file", r.asn)
		}
		rt, listed := open[r.asn]
		delete(open, r.asn)
		if !r.bikeOut {
			if listed {
				v.failCard(int32(ri), "card %v: no bike out, the open rentals list one hired %v at dock %d", r.asn, rt.Hired.Format(time.DateTime), rt.Dock)
			}
			continue
		}
		f.OutAtEnd++
		overdue := apps.Overdue(r.hiredAt, now, bikeOutMax)
		if overdue {
			f.OverdueAtEnd++
		}
		bd := c.docks[r.hireDock]
		switch {
		case !listed:
			v.failCard(int32(ri), "card %v: a bike out since %v at dock %v, not in the open rentals", r.asn, r.hiredAt.Format(time.DateTime), bd.dev.id)
		case !rt.Hired.Equal(r.hiredAt) || rt.Dock != bd.dev.station || rt.Terminal != bd.dev.id || rt.Overdue != overdue:
			v.failCard(int32(ri), "card %v: the open rental hired %v at dock %d (terminal %v, overdue %v); the city's %v at %d (%v, overdue %v)",
				r.asn, rt.Hired.Format(time.DateTime), rt.Dock, rt.Terminal, rt.Overdue, r.hiredAt.Format(time.DateTime), bd.dev.station, bd.dev.id, overdue)
		}
	}
	for _, rt := range rentals { // in the report's order: the first offender the same every run
		if _, left := open[rt.Card.ASN]; left {
			v.fail("card %v: an open rental hired %v at dock %d that no card of the city has out", rt.Card.ASN, rt.Hired.Format(time.DateTime), rt.Dock)
		}
	}
	stampedReturns := f.Returns + f.OverdueAtHire
	if hires != f.Hires || returns != stampedReturns {
		v.fail("%s: %d hires and %d returns filed, the docks stamped %d and %d", appDefs[appBike].id, hires, returns, f.Hires, stampedReturns)
	}
	v.detail = fmt.Sprintf("%d bikes out at the end (%d overdue): the city's, the cards' slots and the back office's %d open rentals agree; %d hires and %d returns filed as the docks stamped them",
		f.OutAtEnd, f.OverdueAtEnd, len(rentals), hires, returns)
}
