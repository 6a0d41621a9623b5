package terminal

import (
	"fmt"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// A BikeDock is a public bike dock (公共自行车): a paying application
// terminal, the bike operator's gate and a POS together, as the canteen
// is. A card hires deposit-free on its bike slot (package apps: the
// slot's inside is a bike out, its last stamp the hire), which the back
// office grants registered cards only; a card without one is refused
// wrong_application, and a card with a bike out is refused limit (one
// bike a card). A hire stamps the slot (inside, the hire's time) and
// seals its non-financial record; it charges nothing.
//
// A return is never refused by the rules, nor stale (a grant revoked or
// changed since the card's last online contact stops its next hire, not
// the return of the bike it has out); a file that does not verify is
// (forged), and so are a card expired or blacklisted, which could not
// pay. It stamps the slot out, then charges the
// time fare for the hire's duration, an e-purse purchase (8050 01 at the
// POS, whose network, line and station are the bike network's and the
// dock's) priced by the fare engine as the tap-off of a leg entered at
// the hire (the time periods of the network's fare product: bike_time
// on the sample feed). A bike out longer than OutMax is overdue: it pays
// the network's maximum fare (bike_max, 50.00 on the sample feed), at
// its return or, never returned, at the card's next hire at any dock,
// which first closes the overdue rental (a return stamp and its
// purchase) and then hires. Exactly OutMax out is not overdue, one
// second more is. Before it closes an overdue rental at a hire, the dock
// reads the balance: a card that cannot pay it is refused (kind
// Insufficient), nothing written, the bike still out on the card.
//
// The stamp comes before the purchase, as the canteen counts before it
// pays: a card pulled away between them has returned its bike unpaid
// (the return's record, type A0, is the back office's trace), never paid
// for a bike still out. The fare is the bike leg's alone: the dock
// neither reads nor writes the card's transit record file, so a bike
// ride joins no journey and no transit cap.
type BikeDock struct {
	mu     sync.Mutex
	gate   *Gate     // application bike, the operator's scope, the dock's number as its place
	pos    *Terminal // ModePOS: the bike network, line and the dock's station
	fare   *FareEngine
	outMax time.Duration
}

// BikeConfig sets a bike dock up.
type BikeConfig struct {
	Gate *Gate     // a gate of application bike, action hire
	POS  *Terminal // a POS (ModePOS) with the bike network's codes and the dock's station
	Fare *FareEngine
	// OutMax is how long a bike may be out before it is overdue
	// (apps.BikeOutMaxMin to apps.BikeOutMaxMax); 0:
	// apps.BikeOutMaxDefault, 24 h.
	OutMax time.Duration
}

// NewBikeDock returns the dock of cfg. Kind Invalid for a gate that is
// not a bike gate of action hire, a terminal that is not a POS, no fare
// engine, or an OutMax out of range.
func NewBikeDock(cfg BikeConfig) (*BikeDock, error) {
	const op = "terminal.NewBikeDock"
	switch {
	case cfg.Gate == nil || cfg.POS == nil || cfg.Fare == nil:
		return nil, citycard.E(op, citycard.Invalid, "gate, POS and fare engine are required")
	case cfg.Gate.cfg.App != card.AppBike || cfg.Gate.cfg.Action != apps.Hire:
		return nil, citycard.E(op, citycard.Invalid, "a %v gate of action %v: want a bike gate of action hire", cfg.Gate.cfg.App, cfg.Gate.cfg.Action)
	case cfg.POS.cfg.Mode != ModePOS:
		return nil, citycard.E(op, citycard.Invalid, "terminal mode %v: want POS", cfg.POS.cfg.Mode)
	}
	if cfg.OutMax == 0 {
		cfg.OutMax = apps.BikeOutMaxDefault
	}
	if err := apps.CheckBikeOutMax(cfg.OutMax); err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	return &BikeDock{gate: cfg.Gate, pos: cfg.POS, fare: cfg.Fare, outMax: cfg.OutMax}, nil
}

// BikeResult is what a tap at a dock did.
type BikeResult struct {
	// Reason is apps.Allowed, or why the hire was refused
	// (wrong_application, limit, expired, forged, stale, blacklisted).
	Reason apps.Reason
	Stamp  GateResult // the tap's own stamp: the hire's or the return's
	// Closed is the return stamp of an overdue rental a hire closed
	// first; nil for none.
	Closed *GateResult
	// Out is the closed rental's time out (a return's, or the overdue
	// one a hire closed); Overdue says it was past the dock's OutMax.
	Out     time.Duration
	Overdue bool
	// Charge is the closed rental's fare and Purchase its purchase; a
	// hire with nothing to close, or a return with no bike out, has
	// none (Paid false).
	Charge   Charge
	Purchase Result
	Paid     bool
	Detail   string // what a refusal saw
}

// Hire hires a bike to the card cd: refused (a result with its reason,
// a nil error), or stamped, after closing an overdue rental first. The
// errors are the gate's (Gate.Tap) and the purchase's (Terminal.Tap);
// Insufficient for a card that cannot pay its overdue rental, nothing
// written.
func (k *BikeDock) Hire(cd apdu.Transport) (BikeResult, error) {
	const op = "terminal.BikeDock.Hire"
	k.mu.Lock()
	defer k.mu.Unlock()
	var res BikeResult
	c := device{name: "card", t: cd}
	k.gate.mu.Lock()
	defer k.gate.mu.Unlock()
	t, gr, err := k.gate.decide(op, c, apps.Hire, 0)
	res.Stamp, res.Reason, res.Detail = gr, gr.Reason, gr.Detail
	// A bike out is closed first when overdue, whether the hire would
	// be refused for it (limit) or for the slot's end (expired).
	out := err == nil && t.decision && t.d.Slot >= 0 && t.f.Slots[t.d.Slot].Inside
	if !out || gr.Reason != apps.Limit && gr.Reason != apps.Expired {
		if err == nil && gr.Reason == apps.Allowed {
			res.Stamp, err = k.gate.stamp(op, c, &t)
			res.Reason, res.Detail = res.Stamp.Reason, res.Stamp.Detail
		}
		return res, err
	}
	e := t.f.Slots[t.d.Slot]
	hired, ok := apps.HireTime(&e)
	now := k.gate.cfg.Now()
	if !ok || !apps.Overdue(hired, now, k.outMax) {
		if gr.Reason == apps.Limit {
			res.Detail = "a bike is out since " + hired.Format("2006-01-02 15:04:05") + ": one bike a card"
		}
		return res, nil
	}
	// Overdue: close it (its return stamp and the maximum fare), then hire.
	res.Out, res.Overdue = now.Sub(hired), true
	if res.Charge, err = k.price(op, &t, hired, true); err != nil {
		return res, err
	}
	var bal int64
	if bal, err = readBalance(op, c); err == nil && bal < int64(res.Charge.AmountFen) {
		err = citycard.E(op, citycard.Insufficient, "balance %d fen, the bike out since %s owes %d fen: no new hire before it is paid",
			bal, hired.Format("2006-01-02 15:04:05"), res.Charge.AmountFen)
	}
	if err != nil {
		return res, err
	}
	closed, err := k.returnStamp(op, c, &t)
	res.Closed, res.Reason = &closed, closed.Reason
	if err != nil || closed.Reason != apps.Allowed {
		return res, err
	}
	if res.Purchase, err = k.pos.Tap(cd, res.Charge.AmountFen); err != nil {
		return res, err
	}
	res.Paid = true
	if res.Reason = k.gate.redecide(&t, apps.Hire); res.Reason != apps.Allowed {
		return res, nil
	}
	if _, err := k.gate.openStamp(op, &t.pub, &t.f); err != nil {
		return res, err
	}
	res.Stamp, err = k.gate.stamp(op, c, &t)
	res.Reason, res.Detail = res.Stamp.Reason, res.Stamp.Detail
	return res, err
}

// Return takes a bike back from the card cd: stamped out, never refused
// by the rules (a file that does not verify, a card not the issuer's,
// still are: forged), then the rental's fare paid: the time fare, or the
// network's maximum fare when overdue. A return with no bike out stamps
// and charges nothing. The errors are Hire's; a card that cannot pay has
// its bike returned (Stamp) and the purchase's error (Insufficient).
func (k *BikeDock) Return(cd apdu.Transport) (BikeResult, error) {
	const op = "terminal.BikeDock.Return"
	k.mu.Lock()
	defer k.mu.Unlock()
	var res BikeResult
	c := device{name: "card", t: cd}
	k.gate.mu.Lock()
	t, gr, err := k.gate.decide(op, c, apps.Return, 0)
	res.Stamp, res.Reason, res.Detail = gr, gr.Reason, gr.Detail
	var hired time.Time
	out := false
	if err == nil && gr.Reason == apps.Allowed {
		e := t.f.Slots[t.d.Slot]
		hired, out = apps.HireTime(&e)
		if out {
			now := k.gate.cfg.Now()
			res.Out = now.Sub(hired)
			res.Overdue = apps.Overdue(hired, now, k.outMax)
			res.Charge, err = k.price(op, &t, hired, res.Overdue)
		}
		if err == nil {
			res.Stamp, err = k.gate.stamp(op, c, &t)
			res.Reason, res.Detail = res.Stamp.Reason, res.Stamp.Detail
		}
	}
	k.gate.mu.Unlock()
	if err != nil || res.Reason != apps.Allowed || !out {
		return res, err
	}
	if res.Purchase, err = k.pos.Tap(cd, res.Charge.AmountFen); err != nil {
		return res, err
	}
	res.Paid = true
	return res, nil
}

// redecide decides t's tap again as action, on t's file as it stands
// (after a stamp of this tap), and returns the reason.
func (g *Gate) redecide(t *gateTap, action apps.Action) apps.Reason {
	t.d = apps.Decide(&t.f, g.tap(action, t.date, t.tm, 0))
	t.action, t.res.Reason, t.res.Detail = action, t.d.Reason, ""
	return t.d.Reason
}

// returnStamp stamps the return of the bike out on t's slot (decided
// again as a return) and leaves t's file as the card has it after.
func (k *BikeDock) returnStamp(op string, c device, t *gateTap) (GateResult, error) {
	if k.gate.redecide(t, apps.Return) != apps.Allowed {
		return t.res, nil
	}
	gr, err := k.gate.stamp(op, c, t)
	if err == nil && gr.Reason == apps.Allowed {
		t.f.Slots[t.d.Slot] = t.d.After
		t.f.Counter++
	}
	return gr, err
}

// price is the fare of the rental hired at hire ending now at this dock:
// the fare engine's tap-off of a leg entered at the hire on the POS's
// network, or, overdue, its tap-off with no entry: the network's
// maximum fare.
func (k *BikeDock) price(op string, t *gateTap, hired time.Time, overdue bool) (Charge, error) {
	now, err := citycard.TimeOf(t.date, t.tm, citycard.ChinaTime)
	if err != nil {
		return Charge{}, citycard.E(op, citycard.Invalid, "the dock's clock: %v", err)
	}
	p := k.pos.cfg
	q := FareQuery{At: now, Tap: TapOff, Issuer: t.pub.Issuer, CardType: t.pub.CardType, RiderCategory: t.pub.RiderCategory,
		Network: p.Network, Line: p.Line, Station: p.Station}
	if !overdue {
		d, tm := citycard.DateTime(hired)
		q.Transit = Transit{HasJourney: true, JourneyRecord: card.JourneyRecord{Status: card.LegOpen, Network: p.Network, Line: p.Line, Station: p.Station,
			EntryDate: d, EntryTime: tm, JourneyDate: d, JourneyTime: tm, JourneyLegs: 1}}
	}
	ch, err := k.fare.Price(q)
	if err != nil {
		return Charge{}, citycard.Wrap(op, fareErrKind(err), err)
	}
	if overdue {
		ch.Explanation = fmt.Sprintf("a bike out since %s, past the dock's limit of %v: %s", hired.Format("2006-01-02 15:04:05"), k.outMax, ch.Explanation)
	}
	return ch, nil
}
