package terminal

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// TestMinBalanceRefusesTapOn taps virtual cards on the metro gates of
// the Ningbo sample, whose metro takes no card holding less than 2 yuan
// (fare_networks.txt min_balance_amount 2.00, ../fare/README.md): 2.00
// enters, 1.99 is refused with kind Insufficient and ErrBelowMinBalance,
// nothing written to the card and nothing spooled. A tap-on that also
// charges a missing tap-off's maximum fare (8.00) needs 2.00 left after
// it. The bus has no minimum.
func TestMinBalanceRefusesTapOn(t *testing.T) {
	e := ningboEngine(t)
	w := newWorld(t, keys.Alg3DES)
	on := w.terminal(ModeTapOn, stGaoqiao, e, nil)
	on.cfg.Network, on.cfg.Line = netMetro, lineMetro1
	bus := w.terminal(ModeFlat, stBusGulou, e, nil)
	tapAt := func(term testTerminal, c *card.Card, hh, mm int) (Result, error) {
		t.Helper()
		w.now = time.Date(2026, 11, 24, hh, mm, 0, 0, citycard.ChinaTime)
		return term.Tap(c, 0)
	}
	refused := func(err error, c *card.Card, balanceFen int64, counter uint16, spooled int) {
		t.Helper()
		if !errors.Is(err, ErrBelowMinBalance) || !citycard.IsKind(err, citycard.Insufficient) {
			t.Fatalf("tap-on: %v (kind %v), want ErrBelowMinBalance of kind Insufficient", err, citycard.KindOf(err))
		}
		if !strings.Contains(err.Error(), `below the 2.00 yuan network "metro" requires to tap on`) {
			t.Errorf("refusal %q does not say why", err)
		}
		if st := c.State(); st.BalanceFen != balanceFen || st.OfflineCounter != counter {
			t.Errorf("after a refused tap-on: balance %d, counter %d; want %d, %d", st.BalanceFen, st.OfflineCounter, balanceFen, counter)
		}
		if n := len(on.spool.pending(t)); n != spooled {
			t.Errorf("%d records spooled at the gate, want %d", n, spooled)
		}
	}

	poor := w.newCard(card.ProfileMOHURD, 11, 1)
	w.load(poor, 199)
	_, err := tapAt(on, poor, 8, 0)
	refused(err, poor, 199, 0, 0)
	if poor.State().JourneyRecord != nil {
		t.Errorf("a refused tap-on wrote the trip %+v", poor.State().JourneyRecord)
	}
	if _, err := tapAt(bus, poor, 8, 1); err == nil || !citycard.IsKind(err, citycard.Insufficient) || errors.Is(err, ErrBelowMinBalance) {
		t.Errorf("bus with 1.99 for a 2.00 fare: %v, want the card's own refusal", err)
	}

	enough := w.newCard(card.ProfileMOHURD, 12, 1)
	w.load(enough, 200)
	r, err := tapAt(on, enough, 8, 5)
	if err != nil || r.Record.Amount != 0 {
		t.Fatalf("tap-on with 2.00: %v, charged %d", err, r.Record.Amount)
	}
	if tr := enough.State().JourneyRecord; tr == nil || tr.Status != card.LegOpen {
		t.Fatalf("the tap-on with 2.00 opened no leg: %+v", tr)
	}

	// An open leg from 08:00 never tapped off: the next tap-on charges
	// its maximum fare, 8.00, and needs 2.00 more.
	open := func(asn uint32, fen uint32) *card.Card {
		c := w.newCard(card.ProfileMOHURD, asn, 1)
		w.load(c, fen)
		if _, err := tapAt(on, c, 8, 0); err != nil {
			t.Fatalf("first tap-on: %v", err)
		}
		return c
	}
	short := open(13, 999)
	_, err = tapAt(on, short, 18, 0)
	refused(err, short, 999, 1, 2) // the first tap-ons of enough and of short
	if !strings.Contains(err.Error(), "9.99 yuan, less 8.00 yuan due at this tap-on,") {
		t.Errorf("refusal %q does not name the maximum fare due", err)
	}
	full := open(14, 1000)
	if r, err := tapAt(on, full, 18, 0); err != nil || r.Record.Amount != 800 || full.State().BalanceFen != 200 {
		t.Fatalf("tap-on with 10.00 after a missing tap-off: %v, charged %d, balance %d; want 8.00 charged, 2.00 left", err, r.Record.Amount, full.State().BalanceFen)
	}
}

// TestMinBalanceNeedsTheBalance: the fare engine checks the minimum only
// when the query carries the card's balance (a record replayed does not),
// and only at a tap-on.
func TestMinBalanceNeedsTheBalance(t *testing.T) {
	e := ningboEngine(t)
	q := FareQuery{At: at(8, 0), Tap: TapOn, Network: netMetro, Line: lineMetro1, Station: stGaoqiao}
	if _, err := e.Price(q); err != nil {
		t.Errorf("tap-on without the balance: %v", err)
	}
	if !e.needsBalance(q) {
		t.Error("a metro tap-on does not ask for the balance")
	}
	q.BalanceFen, q.BalanceKnown = 199, true
	if _, err := e.Price(q); !errors.Is(err, ErrBelowMinBalance) {
		t.Errorf("tap-on with 1.99: %v, want ErrBelowMinBalance", err)
	}
	q.BalanceFen = 200
	if _, err := e.Price(q); err != nil {
		t.Errorf("tap-on with 2.00: %v", err)
	}
	off := FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming, BalanceKnown: true,
		Transit: trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))}
	if _, err := e.Price(off); err != nil || e.needsBalance(off) {
		t.Errorf("tap-off with a balance of 0: %v, needs the balance %v", err, e.needsBalance(off))
	}
	if e.needsBalance(FareQuery{Tap: TapOn, Network: netBus}) {
		t.Error("a bus network without a minimum asks for the balance")
	}
}

// TestFareEngineMetroRules prices the sample metro's overtime and
// same-station exits at the tap-off gate, which has the leg's entry (time
// and station, from the card) and exit (README "fare_networks.txt"):
// more than 120 minutes pays the highest fare, 8.00, on top; an exit at
// the entry station within 10 minutes pays nothing, later the minimum
// fare.
func TestFareEngineMetroRules(t *testing.T) {
	e := ningboEngine(t)
	for _, tc := range []struct {
		name      string
		exit      time.Time
		station   uint32
		fen, full uint32
		why       string
	}{
		{"120 min", at(10, 0), stFuming, 400, 400, "metro_4"},
		{"121 min", at(10, 1), stFuming, 1200, 1200, "over the 120 min limit of fare_networks.txt line 3: overtime surcharge"},
		{"same station in 10 min", at(8, 10), stGaoqiao, 0, 0, "within the 10 free minutes"},
		{"same station in 11 min", at(8, 11), stGaoqiao, 200, 200, "the same-station fare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := e.Price(FareQuery{At: tc.exit, Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: tc.station,
				Transit: trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))})
			if err != nil {
				t.Fatal(err)
			}
			if ch.AmountFen != tc.fen || ch.FullFen != tc.full || !strings.Contains(ch.Explanation, tc.why) {
				t.Errorf("charged %d (full %d), want %d (full %d), explanation mentioning %q:\n%s", ch.AmountFen, ch.FullFen, tc.fen, tc.full, tc.why, ch.Explanation)
			}
		})
	}
}
