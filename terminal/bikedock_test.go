package terminal

import (
	"errors"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// The bike network of ../fare/testdata/ningbo: network 3, route 1, the
// docks' stops 3001 (Gulou) and 3002 (Dongmenkou); the operator's zone.
const (
	bikeNetwork = 3
	bikeZone    = 3
	bikeMaxFen  = 5000 // bike_max
)

type testDock struct {
	*BikeDock
	gate testGate
	pos  testTerminal
}

// dock sets a bike dock of the sample feed up at stop (its number the
// gate's place), with its versions vs (nil: none) and outMax.
func (w *world) dock(t *testing.T, stop uint32, vs Versions, outMax time.Duration) testDock {
	w.t.Helper()
	g := w.gate(card.AppBike, bikeZone, stop, apps.Hire, nil, vs)
	pos := w.terminal(ModePOS, stop, FlatFare{}, nil)
	pos.cfg.Network, pos.cfg.Line = bikeNetwork, 1
	k, err := NewBikeDock(BikeConfig{Gate: g.Gate, POS: pos.Terminal, Fare: ningboEngine(t), OutMax: outMax})
	if err != nil {
		w.t.Fatal(err)
	}
	return testDock{k, g, pos}
}

// riderCard is a card with the bike slot and balanceFen loaded.
func (w *world) riderCard(asnLow uint32, balanceFen uint32) *card.Card {
	w.t.Helper()
	cd := w.appCard(asnLow, 2, card.Entitlement{App: card.AppBike, Scope: bikeZone, ValidFrom: lastWeek, ValidTo: nextYear})
	w.load(cd, balanceFen)
	return cd
}

func bikeOut(cd *card.Card) bool {
	f := cd.State().Entitlements
	return f.Slots[f.Find(card.AppBike, bikeZone)].Inside
}

// TestBikeHireAndReturn: a hire stamps the bike out and charges
// nothing; a second hire while it is out is refused limit, nothing
// written; a return stamps it in and pays the time fare by the fare
// engine (bike_time: the first 60 minutes free, 1.00 an hour after:
// 60 minutes 0.00, 61 minutes 1.00); every record verifies.
func TestBikeHireAndReturn(t *testing.T) {
	w := appWorld(t)
	gulou, dmk := w.dock(t, 3001, nil, 0), w.dock(t, 3002, nil, 0)
	cd := w.riderCard(1, 5000)
	v := w.verifier()
	for _, c := range []struct {
		ride    time.Duration
		wantFen uint32
	}{{60 * time.Minute, 0}, {61 * time.Minute, 100}} {
		res, err := gulou.Hire(cd)
		if err != nil || res.Reason != apps.Allowed || !bikeOut(cd) || res.Paid || res.Stamp.Record.Product != uint16(apps.Hire) || res.Stamp.Record.Station != 3001 {
			t.Fatalf("hire: %v %v (%s) paid %v, record %+v", res.Reason, err, res.Detail, res.Paid, res.Stamp.Record)
		}
		before := cd.State()
		if res, err := dmk.Hire(cd); err != nil || res.Reason != apps.Limit {
			t.Fatalf("a second bike: %v %v, want limit", res.Reason, err)
		}
		if after := cd.State(); after.Entitlements.Counter != before.Entitlements.Counter || after.BalanceFen != before.BalanceFen {
			t.Fatal("a second bike refused, yet the card moved")
		}
		w.now = w.now.Add(c.ride)
		res, err = dmk.Return(cd)
		if err != nil || res.Reason != apps.Allowed || bikeOut(cd) || !res.Paid || res.Overdue || res.Out != c.ride {
			t.Fatalf("return after %v: %v %v paid %v overdue %v out %v", c.ride, res.Reason, err, res.Paid, res.Overdue, res.Out)
		}
		if p := res.Purchase.Record; p.Amount != c.wantFen || p.Network != bikeNetwork || p.Station != 3002 || cd.State().BalanceFen != before.BalanceFen-int64(c.wantFen) {
			t.Fatalf("return after %v: paid %d fen at network %d station %d (%s), want %d", c.ride, p.Amount, p.Network, p.Station, res.Charge.Explanation, c.wantFen)
		}
		if r := res.Stamp.Record; r.Product != uint16(apps.Return) || v.Verify(&r) != nil {
			t.Fatalf("the return's record %+v: %v", r, v.Verify(&r))
		}
		if r := res.Purchase.Record; v.Verify(&r) != nil {
			t.Fatalf("the purchase record: %v", v.Verify(&r))
		}
	}
	// A return with no bike out: stamped, nothing charged.
	res, err := dmk.Return(cd)
	if err != nil || res.Reason != apps.Allowed || res.Paid {
		t.Fatalf("a return with no bike out: %v %v paid %v", res.Reason, err, res.Paid)
	}
}

// TestBikeNotRegistered: a card without the bike slot (never granted
// deposit-free rental: the back office grants registered cards only) is
// refused wrong_application, and so is one with no entitlement file.
func TestBikeNotRegistered(t *testing.T) {
	w := appWorld(t)
	k := w.dock(t, 3001, nil, 0)
	pupil := w.appCard(2, 2, card.Entitlement{App: card.AppCampus, Scope: 1001, ValidFrom: lastWeek, ValidTo: nextYear, Class: 3})
	plain := w.newCard(card.ProfileCitizen, 3, 1)
	for name, cd := range map[string]*card.Card{"another application's slot": pupil, "no file": plain} {
		if res, err := k.Hire(cd); err != nil || res.Reason != apps.WrongApplication {
			t.Errorf("%s: %v %v, want wrong_application", name, res.Reason, err)
		}
	}
	if n := len(k.gate.spool.pending(t)); n != 0 {
		t.Fatalf("%d records, want none", n)
	}
}

// TestBikeOverdueBoundary: out exactly the limit pays the time fare, one
// second more the network's maximum fare (bike_max), at its return or,
// never returned, at the next hire, which closes the overdue rental
// (its return stamp and purchase) and then hires; a second hire exactly
// at the limit is still one bike too many. A card that cannot pay the
// overdue rental is refused Insufficient, nothing written.
func TestBikeOverdueBoundary(t *testing.T) {
	for _, outMax := range []time.Duration{0, 2 * time.Hour} {
		limit := outMax
		if limit == 0 {
			limit = apps.BikeOutMaxDefault
		}
		w := appWorld(t)
		gulou, dmk := w.dock(t, 3001, nil, outMax), w.dock(t, 3002, nil, outMax)
		ret := func(asn uint32, out time.Duration) BikeResult {
			t.Helper()
			cd := w.riderCard(asn, 20000)
			w.now = day0
			if res, err := gulou.Hire(cd); err != nil || res.Reason != apps.Allowed {
				t.Fatalf("hire: %v %v", res.Reason, err)
			}
			w.now = day0.Add(out)
			res, err := dmk.Return(cd)
			if err != nil || !res.Paid {
				t.Fatalf("%v: return after %v: %v %v", outMax, out, res.Reason, err)
			}
			return res
		}
		if res := ret(10, limit); res.Overdue || res.Purchase.Record.Amount == bikeMaxFen {
			t.Errorf("%v: out exactly the limit: overdue %v, %d fen (%s), want the time fare", outMax, res.Overdue, res.Purchase.Record.Amount, res.Charge.Explanation)
		}
		if res := ret(11, limit+time.Second); !res.Overdue || res.Purchase.Record.Amount != bikeMaxFen {
			t.Errorf("%v: out one second past the limit: overdue %v, %d fen (%s), want %d", outMax, res.Overdue, res.Purchase.Record.Amount, res.Charge.Explanation, bikeMaxFen)
		}

		// Never returned: the next hire at any dock.
		cd := w.riderCard(12, 20000)
		w.now = day0
		if res, err := gulou.Hire(cd); err != nil || res.Reason != apps.Allowed {
			t.Fatalf("hire: %v %v", res.Reason, err)
		}
		w.now = day0.Add(limit)
		if res, err := dmk.Hire(cd); err != nil || res.Reason != apps.Limit || res.Closed != nil {
			t.Fatalf("%v: a hire exactly at the limit: %v %v, want limit", outMax, res.Reason, err)
		}
		w.now = day0.Add(limit + time.Second)
		before := cd.State()
		res, err := dmk.Hire(cd)
		if err != nil || res.Reason != apps.Allowed || res.Closed == nil || !res.Overdue || !res.Paid || res.Purchase.Record.Amount != bikeMaxFen {
			t.Fatalf("%v: the hire after an overdue bike: %v %v closed %v paid %v %d fen", outMax, res.Reason, err, res.Closed != nil, res.Paid, res.Purchase.Record.Amount)
		}
		after := cd.State()
		d, tm := citycard.DateTime(w.now)
		e := after.Entitlements.Slots[0]
		if !e.Inside || e.LastDate != d || e.LastTime != tm || after.Entitlements.Counter != before.Entitlements.Counter+2 || after.BalanceFen != before.BalanceFen-bikeMaxFen {
			t.Fatalf("%v: after the overdue rental closed and the new hire: %+v counter %d -> %d balance %d -> %d", outMax, e,
				before.Entitlements.Counter, after.Entitlements.Counter, before.BalanceFen, after.BalanceFen)
		}
		if res.Closed.Record.Product != uint16(apps.Return) || res.Stamp.Record.Product != uint16(apps.Hire) {
			t.Fatalf("%v: records %d then %d, want a return then a hire", outMax, res.Closed.Record.Product, res.Stamp.Record.Product)
		}

		// A bike out on the slot's last day, never returned: the next
		// hire closes it, charged, and is refused expired once the slot
		// has ended (the next day, 24 h later), allowed the same day.
		last, _ := citycard.DateTime(day0)
		ended := w.appCard(14, 2, card.Entitlement{App: card.AppBike, Scope: bikeZone, ValidFrom: lastWeek, ValidTo: last})
		w.load(ended, 20000)
		w.now = day0
		if res, err := gulou.Hire(ended); err != nil || res.Reason != apps.Allowed {
			t.Fatalf("hire on the slot's last day: %v %v", res.Reason, err)
		}
		w.now = day0.Add(limit + time.Second)
		want, d := apps.Allowed, func() citycard.BCDDate { d, _ := citycard.DateTime(w.now); return d }()
		if d != last {
			want = apps.Expired
		}
		if res, err := dmk.Hire(ended); err != nil || res.Reason != want || res.Closed == nil || !res.Paid || res.Purchase.Record.Amount != bikeMaxFen || bikeOut(ended) != (want == apps.Allowed) {
			t.Fatalf("%v: a hire after an overdue bike out on the slot's last day: %v %v closed %v paid %v, want %v", outMax, res.Reason, err, res.Closed != nil, res.Paid, want)
		}

		// Cannot pay the overdue rental: refused, nothing written.
		poor := w.riderCard(13, bikeMaxFen-1)
		w.now = day0
		if res, err := gulou.Hire(poor); err != nil || res.Reason != apps.Allowed {
			t.Fatalf("hire: %v %v", res.Reason, err)
		}
		w.now = day0.Add(limit + time.Second)
		before = poor.State()
		if _, err := dmk.Hire(poor); !citycard.IsKind(err, citycard.Insufficient) {
			t.Fatalf("%v: balance %d, an overdue bike: %v, want Insufficient", outMax, before.BalanceFen, err)
		}
		if after := poor.State(); after.Entitlements.Counter != before.Entitlements.Counter || after.BalanceFen != before.BalanceFen || !bikeOut(poor) {
			t.Fatalf("%v: refused, yet the card moved", outMax)
		}
	}
}

// TestBikeDockRefusals: a forged file is refused at a hire and at a
// return, a stale one at a hire, nothing written; a stale card's return
// is taken and paid (the bike out comes back); a dock of the wrong parts
// or an OutMax out of range is not made (1 minute and 24 hours are
// taken).
func TestBikeDockRefusals(t *testing.T) {
	w := appWorld(t)
	vs := NewMinVersions(0)
	k := w.dock(t, 3001, vs, 0)
	forged := w.riderCard(20, 5000)
	f := *forged.State().Entitlements
	f.Slots[0].ValidTo = citycard.BCDDate{0x20, 0x99, 0x12, 0x31}
	if err := forged.SetEntitlements(f); err != nil {
		t.Fatal(err)
	}
	stale := w.riderCard(21, 5000)
	if err := vs.Apply([]apps.GateVersion{{Seq: 1, Card: apps.CardRef{Issuer: ourIssuer, ASN: w.appCardASN(21)}, Version: 3}}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		cd   *card.Card
		want apps.Reason
		taps map[string]func(apdu.Transport) (BikeResult, error)
	}{"forged": {forged, apps.Forged, map[string]func(apdu.Transport) (BikeResult, error){"hire": k.Hire, "return": k.Return}},
		"stale": {stale, apps.Stale, map[string]func(apdu.Transport) (BikeResult, error){"hire": k.Hire}}} {
		before := c.cd.State()
		for what, tap := range c.taps {
			if res, err := tap(c.cd); err != nil || res.Reason != c.want || res.Paid {
				t.Errorf("%s %s: %v %v, want %v", name, what, res.Reason, err, c.want)
			}
		}
		if after := c.cd.State(); after.Entitlements.Counter != before.Entitlements.Counter || after.BalanceFen != before.BalanceFen {
			t.Errorf("%s: refused, yet the card moved", name)
		}
	}
	if n := len(k.gate.spool.pending(t)); n != 0 {
		t.Fatalf("%d records, want none", n)
	}
	// The stale card hired before its grant changed: its return is taken.
	f = *stale.State().Entitlements
	f.Slots[0].Inside, f.Slots[0].LastDate, f.Slots[0].LastTime = true, lastWeek, citycard.BCDTime{0x08}
	if err := stale.SetEntitlements(f); err != nil {
		t.Fatal(err)
	}
	w.now = day0
	if res, err := k.Return(stale); err != nil || res.Reason != apps.Allowed || !res.Paid || !res.Overdue || bikeOut(stale) {
		t.Errorf("a stale card's return: %v %v paid %v overdue %v", res.Reason, err, res.Paid, res.Overdue)
	}

	e := ningboEngine(t)
	hire := w.gate(card.AppBike, bikeZone, 1, apps.Hire, nil, nil)
	ret := w.gate(card.AppBike, bikeZone, 1, apps.Return, nil, nil)
	pos := w.terminal(ModePOS, 3001, FlatFare{}, nil)
	tapOff := w.terminal(ModeTapOff, 3001, FlatFare{}, nil)
	for name, c := range map[string]struct {
		cfg  BikeConfig
		good bool
	}{
		"a return gate":        {BikeConfig{Gate: ret.Gate, POS: pos.Terminal, Fare: e}, false},
		"a validator":          {BikeConfig{Gate: hire.Gate, POS: tapOff.Terminal, Fare: e}, false},
		"no fare engine":       {BikeConfig{Gate: hire.Gate, POS: pos.Terminal}, false},
		"out max 59 s":         {BikeConfig{Gate: hire.Gate, POS: pos.Terminal, Fare: e, OutMax: time.Minute - time.Second}, false},
		"out max 1 minute":     {BikeConfig{Gate: hire.Gate, POS: pos.Terminal, Fare: e, OutMax: time.Minute}, true},
		"out max 24 h":         {BikeConfig{Gate: hire.Gate, POS: pos.Terminal, Fare: e, OutMax: 24 * time.Hour}, true},
		"out max 24 h and 1 s": {BikeConfig{Gate: hire.Gate, POS: pos.Terminal, Fare: e, OutMax: 24*time.Hour + time.Second}, false},
	} {
		_, err := NewBikeDock(c.cfg)
		if c.good != (err == nil) || err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// cutAt is a card (or PSAM) that stops answering (kind IO) at the n-th
// command of instruction ins (and P1 p1, unless -1) it is sent, the
// commands before passing through.
type cutAt struct {
	c   apdu.Transport
	ins byte
	p1  int
	n   int
}

var errCut = citycard.E("cutAt", citycard.IO, "the card left the field")

func (x *cutAt) Transmit(cmd []byte) ([]byte, error) {
	if len(cmd) > 2 && cmd[1] == x.ins && (x.p1 < 0 || int(cmd[2]) == x.p1) {
		if x.n--; x.n == 0 {
			return nil, errCut
		}
	}
	return x.c.Transmit(cmd)
}

// TestBikeDockFaults injects each write's failure: the hire's stamp,
// the return's stamp (nothing paid, the bike still out), the return's
// purchase (the bike in, unpaid: the error is the purchase's), and at a
// hire after an overdue bike the balance read, the closing stamp, the
// closing purchase, the PSAM's new session and the new hire's stamp:
// each an IO error, never a second purchase, never a hire before the
// overdue one is paid; a fare the engine cannot price fails before
// anything is written.
func TestBikeDockFaults(t *testing.T) {
	const stamp, debit, balance = 0xDE, 0x54, 0x5C
	w := appWorld(t)
	gulou, dmk := w.dock(t, 3001, nil, time.Hour), w.dock(t, 3002, nil, time.Hour)
	n := uint32(30)
	rider := func(out bool) *card.Card {
		n++
		cd := w.riderCard(n, 20000)
		w.now = day0
		if out {
			if res, err := gulou.Hire(cd); err != nil || res.Reason != apps.Allowed {
				t.Fatalf("hire: %v %v", res.Reason, err)
			}
		}
		return cd
	}
	for _, c := range []struct {
		name     string
		out      bool // a bike out before
		after    time.Duration
		ins      byte
		nth      int
		tap      func(k *BikeDock, x apdu.Transport) (BikeResult, error)
		stillOut bool
		paidFen  int64
	}{
		{"the hire's stamp", false, 0, stamp, 1, (*BikeDock).Hire, false, 0},
		{"the return's stamp", true, 30 * time.Minute, stamp, 1, (*BikeDock).Return, true, 0},
		{"the return's purchase", true, 30 * time.Minute, debit, 1, (*BikeDock).Return, false, 0},
		{"an overdue bike: the balance", true, 2 * time.Hour, balance, 1, (*BikeDock).Hire, true, 0},
		{"an overdue bike: the closing stamp", true, 2 * time.Hour, stamp, 1, (*BikeDock).Hire, true, 0},
		{"an overdue bike: the closing purchase", true, 2 * time.Hour, debit, 1, (*BikeDock).Hire, false, 0},
		{"an overdue bike: the new hire's stamp", true, 2 * time.Hour, stamp, 2, (*BikeDock).Hire, false, bikeMaxFen},
	} {
		cd := rider(c.out)
		w.now = day0.Add(c.after)
		before := cd.State()
		_, err := c.tap(dmk.BikeDock, &cutAt{c: cd, ins: c.ins, p1: -1, n: c.nth})
		if !errors.Is(err, errCut) && !citycard.IsKind(err, citycard.IO) {
			t.Errorf("%s: %v, want the cut (IO)", c.name, err)
			continue
		}
		after := cd.State()
		if bikeOut(cd) != c.stillOut || before.BalanceFen-after.BalanceFen != c.paidFen {
			t.Errorf("%s: bike out %v (want %v), paid %d fen (want %d)", c.name, bikeOut(cd), c.stillOut, before.BalanceFen-after.BalanceFen, c.paidFen)
		}
	}

	// The PSAM fails to open the new hire's stamp session after the
	// overdue rental was closed and paid: the error, the bike in, paid
	// once.
	cd := rider(true)
	w.now = day0.Add(2 * time.Hour)
	psam := dmk.gate.psam.t
	dmk.gate.psam.t = &cutAt{c: psam, ins: insStampSAM, p1: p1StampOpen, n: 2}
	before := cd.State()
	if _, err := dmk.Hire(cd); !errors.Is(err, errCut) {
		t.Errorf("the PSAM's second session: %v, want the cut", err)
	}
	dmk.gate.psam.t = psam
	if after := cd.State(); bikeOut(cd) || before.BalanceFen-after.BalanceFen != bikeMaxFen {
		t.Errorf("the PSAM's second session: bike out %v, paid %d fen, want in, %d", bikeOut(cd), before.BalanceFen-after.BalanceFen, bikeMaxFen)
	}

	// A fare the engine cannot price (the POS on a network the table
	// does not map): the error (Invalid) before anything is written, at
	// a return and at a hire closing an overdue bike.
	dmk.pos.cfg.Network = 9
	for what, tap := range map[string]func(apdu.Transport) (BikeResult, error){"return": dmk.Return, "hire": dmk.Hire} {
		cd := rider(true)
		w.now = day0.Add(2 * time.Hour)
		before := cd.State()
		if _, err := tap(cd); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s priced on an unmapped network: %v, want Invalid", what, err)
		}
		if after := cd.State(); !bikeOut(cd) || after.BalanceFen != before.BalanceFen || after.Entitlements.Counter != before.Entitlements.Counter {
			t.Errorf("%s priced on an unmapped network: the card moved", what)
		}
	}
}
