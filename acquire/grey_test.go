package acquire

import (
	"github.com/citycard/citycard"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/terminal"
)

// greyCity is a card with one booked purchase (counter 0, 0.50 on the bus),
// then a tap on the bus that tore before the card committed (a grey record
// at counter 1 whose debit never happened), then the card's next taps: the
// metro (counter 1, metroFen) and the shop (counter 2, 2.00).
type greyCity struct {
	c                *city
	a                *Acquirer
	j                *MemJournal
	bus, metro, shop *device
	cd               *card.Card
	grey, m, s       [][]byte
}

func newGreyCity(t *testing.T, greyFen, metroFen uint32, tear card.TearStep) *greyCity {
	t.Helper()
	c, j, a := newBackOffice(t)
	g := &greyCity{c: c, a: a, j: j, bus: c.device(terminal.ModePOS, "bus"), metro: c.device(terminal.ModePOS, "metro"), shop: c.device(terminal.ModePOS, "shop")}
	g.cd = c.card(90)
	c.tap(g.bus, g.cd, 50)
	submit(t, a, batchOf(g.bus.id, "b0", g.bus.spool.take()))
	g.grey = c.tornTap(t, g.bus, g.cd, tear, greyFen)
	c.tap(g.metro, g.cd, metroFen)
	g.m = g.metro.spool.take()
	c.tap(g.shop, g.cd, 200)
	g.s = g.shop.spool.take()
	return g
}

// check asserts the books: what each operator was paid, suspense empty,
// the float moved by what the card spent, every genuine record booked once.
func (g *greyCity) check(t *testing.T, busFen, metroFen int64) {
	t.Helper()
	spent := 100000 - g.cd.State().BalanceFen
	got := booked(g.j)
	if got[busPayable] != busFen || got["operator_payable:metro"] != metroFen || got["operator_payable:shop"] != 200 ||
		got[suspenseAcct] != 0 || got[floatAcct] != -spent {
		t.Fatalf("booked %v; want bus %d, metro %d, shop 200, suspense 0, float -%d", got, busFen, metroFen, spent)
	}
	sh, _ := g.a.Shadow(ourIssuer, g.cd.State().ASN)
	if sh.GreysPending != 0 || sh.SuspenseFen != 0 || sh.BookedFen != -spent || sh.ReportedFen != g.cd.State().BalanceFen {
		t.Fatalf("shadow %+v; the card holds %d", sh, g.cd.State().BalanceFen)
	}
}

// TestGreyNotConfirmedByAnotherTapsCounter: the card's counter moved past
// the grey record's because another tap (the metro's) took that counter,
// not because the torn debit happened. The shop's record (counter 2)
// arriving first must not confirm the grey: its balance shows the debit at
// counter 1 was not the bus's. The metro's record then releases the grey,
// and is booked, not answered duplicate. (Found by citycard sim, seed 11.)
func TestGreyNotConfirmedByAnotherTapsCounter(t *testing.T) {
	g := newGreyCity(t, 100, 300, card.TearBeforeCommit)
	submit(t, g.a, batchOf(g.bus.id, "grey", g.grey))
	if ans := submit(t, g.a, batchOf(g.shop.id, "s", g.s)); ans.Accepted+ans.Flagged != 1 {
		t.Fatalf("the shop: %v", verdicts(ans))
	}
	if ans := submit(t, g.a, batchOf(g.metro.id, "m", g.m)); ans.Accepted+ans.Flagged != 1 {
		t.Fatalf("the metro's genuine record: %v, want booked", verdicts(ans))
	}
	g.check(t, 50, 300)
}

// TestGreyConfirmedThenContradicted: the metro charged what the torn bus
// tap would have, so the shop's record shows the balance the grey debit
// would have left, and the grey is confirmed; the metro's record, with the
// same counter, arriving later proves the torn debit never happened: the
// confirmation is reversed, the metro's record booked.
func TestGreyConfirmedThenContradicted(t *testing.T) {
	g := newGreyCity(t, 120, 120, card.TearBeforeCommit)
	submit(t, g.a, batchOf(g.bus.id, "grey", g.grey))
	submit(t, g.a, batchOf(g.shop.id, "s", g.s))
	if got := booked(g.j); got[busPayable] != 50+120 {
		t.Fatalf("before the metro's record: %v, want the grey confirmed on the balance", got)
	}
	if ans := submit(t, g.a, batchOf(g.metro.id, "m", g.m)); ans.Accepted+ans.Flagged != 1 {
		t.Fatalf("the metro's genuine record: %v, want booked", verdicts(ans))
	}
	g.check(t, 50, 120)
	// The journal keeps both moves of the grey at the entries that made
	// them: the shop's record confirmed it, the metro's reversed it.
	gs := g.j.Greys()
	entries := g.j.Records()
	if len(gs) != 2 || gs[0].Move != GreyConfirmed || gs[1].Move != GreyReversed {
		t.Fatalf("grey decisions %+v, want confirmed then reversed", gs)
	}
	for i, want := range []citycard.TerminalID{g.shop.id, g.metro.id} {
		s := gs[i]
		if e := entries[s.Pos-1]; e.Terminal != want || s.Terminal != g.bus.id || s.AmountFen != 120 || s.Index != 0 || s.ASN != g.cd.State().ASN {
			t.Errorf("settlement %d: %+v at the entry of %v, want the bus's grey of 120 fen at %v's", i, s, e.Terminal, want)
		}
	}
}

// TestLateGreyOfATapThatNeverHappened: the grey record arrives after the
// card's later records (the shop's first, leaving counter 1 missing); its
// debit never happened, as the shop's balance shows, so it is held in
// suspense, not confirmed; the metro's record of counter 1 releases it.
func TestLateGreyOfATapThatNeverHappened(t *testing.T) {
	g := newGreyCity(t, 100, 300, card.TearBeforeCommit)
	submit(t, g.a, batchOf(g.shop.id, "s", g.s))
	if ans := submit(t, g.a, batchOf(g.bus.id, "grey", g.grey)); ans.Flagged != 1 {
		t.Fatalf("the late grey: %v", verdicts(ans))
	}
	if got := booked(g.j); got[busPayable] != 50 || got[suspenseAcct] != 100 {
		t.Fatalf("after the late grey: %v, want it held in suspense", got)
	}
	submit(t, g.a, batchOf(g.metro.id, "m", g.m))
	g.check(t, 50, 300)
}

// TestLateGreyConfirmedByTheBalanceAfterIt: the torn debit did happen;
// the shop's record arrives first (counter 2, the metro's counter 1 not yet
// here), then the grey (counter 1): the shop's balance is not the one just
// after the grey (the metro's record is between), so the grey waits; the
// metro's record shows the balance the grey left and confirms it.
func TestLateGreyConfirmedByTheBalanceAfterIt(t *testing.T) {
	g := newGreyCity(t, 100, 300, card.TearAfterCommit)
	// The card committed the bus's debit: the metro took counter 2, the
	// shop 3.
	submit(t, g.a, batchOf(g.shop.id, "s", g.s))
	submit(t, g.a, batchOf(g.bus.id, "grey", g.grey))
	if got := booked(g.j); got[suspenseAcct] != 100 {
		t.Fatalf("before the metro's record: %v, want the grey in suspense", got)
	}
	submit(t, g.a, batchOf(g.metro.id, "m", g.m))
	g.check(t, 150, 300)
}

// TestGreyBelowTheFirstRecordSeen: the card's first tap tore after the
// card committed (a grey record at counter 0); the card's next record
// (counter 1) arrives first, so the grey falls below every record seen.
// The back office kept the balance before of that first record, which
// shows the grey's debit happened: confirmed at once.
func TestGreyBelowTheFirstRecordSeen(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro")
	cd := c.card(91)
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 150)
	c.tap(metro, cd, 300)
	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	if ans := submit(t, a, batchOf(bus.id, "g", grey)); ans.Flagged != 1 {
		t.Fatalf("the grey: %v", verdicts(ans))
	}
	got := booked(j)
	if got[busPayable] != 150 || got[suspenseAcct] != 0 || got[floatAcct] != -450 {
		t.Fatalf("booked %v: the grey below the first record should be confirmed by its balance", got)
	}
}

// tornTap taps cd on dev a minute later for fen, the card tearing at
// step tear, and returns the grey record the terminal queued.
func (c *city) tornTap(t *testing.T, dev *device, cd *card.Card, tear card.TearStep, fen uint32) [][]byte {
	t.Helper()
	cd.Tear(tear)
	c.now = c.now.Add(time.Minute)
	if r, _ := dev.Tap(cd, fen); !r.Grey {
		t.Fatal("no grey record")
	}
	return dev.spool.take()
}

// loadOnto loads fen onto cd at kiosk and returns the load's record.
func (c *city) loadOnto(t *testing.T, kiosk *device, cd *card.Card, fen uint32) []byte {
	t.Helper()
	c.now = c.now.Add(time.Minute)
	if _, err := kiosk.Load(cd, fen, terminal.StoreHost{Store: c.store}); err != nil {
		t.Fatalf("load: %v", err)
	}
	recs := kiosk.spool.take()
	if len(recs) != 1 {
		t.Fatalf("%d load records", len(recs))
	}
	return recs[0]
}

// TestLoadUploadedEarly: a load made after two purchases
// reaches the back office before them: the purchases' balances follow
// the previous record's without it (the load came later), so they are
// neither flagged nor do they hide a grey record's confirmation; the load
// counts towards the record after it.
func TestLoadUploadedEarly(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, shop := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "shop")
	kiosk := c.device(terminal.ModePOS, "kiosk")
	cd := c.card(92)
	c.tap(bus, cd, 100) // counter 0
	submit(t, a, batchOf(bus.id, "b0", bus.spool.take()))
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 200) // counter 1, torn after the debit
	c.tap(metro, cd, 300)                                    // counter 2
	load := c.loadOnto(t, kiosk, cd, 5000)
	c.tap(shop, cd, 400) // counter 3, after the load
	submit(t, a, batchOf(bus.id, "g", grey))
	if ans := submit(t, a, batchOf(kiosk.id, "l", [][]byte{load})); ans.Accepted != 1 {
		t.Fatalf("the load: %v", verdicts(ans))
	}
	if ans := submit(t, a, batchOf(metro.id, "m", metro.spool.take())); ans.Accepted != 1 {
		t.Fatalf("the metro after an early load: %v, want accepted, no balance flag", verdicts(ans))
	}
	if ans := submit(t, a, batchOf(shop.id, "s", shop.spool.take())); ans.Accepted != 1 {
		t.Fatalf("the shop after the load: %v, want accepted", verdicts(ans))
	}
	got := booked(j)
	if got[busPayable] != 300 || got[suspenseAcct] != 0 {
		t.Fatalf("booked %v: the grey should be confirmed by the metro's balance", got)
	}
	if sh, _ := a.Shadow(ourIssuer, cd.State().ASN); sh.ReportedFen != cd.State().BalanceFen || sh.GreysPending != 0 {
		t.Fatalf("shadow %+v, card holds %d", sh, cd.State().BalanceFen)
	}
}

// TestLoadConfirmsAGrey: the record after a grey one arrives before the
// load between them, so its balance does not follow and proves nothing;
// the load's balance before, the very balance the grey debit left, shows
// the debit happened: the grey is confirmed when the load arrives.
func TestLoadConfirmsAGrey(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, kiosk := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "kiosk")
	cd := c.card(93)
	c.tap(bus, cd, 100)
	submit(t, a, batchOf(bus.id, "b0", bus.spool.take()))
	submit(t, a, batchOf(bus.id, "g", c.tornTap(t, bus, cd, card.TearAfterCommit, 200)))
	load := c.loadOnto(t, kiosk, cd, 5000)
	c.tap(metro, cd, 300)
	if ans := submit(t, a, batchOf(metro.id, "m", metro.spool.take())); ans.Flagged != 1 || ans.Records[0].Reasons[0] != "balance_discontinuity" {
		t.Fatalf("the metro before the load: %v, want a balance flag", verdicts(ans))
	}
	if got := booked(j); got[suspenseAcct] != 200 {
		t.Fatalf("before the load: %v, want the grey in suspense", got)
	}
	submit(t, a, batchOf(kiosk.id, "l", [][]byte{load}))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 300 {
		t.Fatalf("after the load: %v, want the grey confirmed", got)
	}
}

// TestLateGreyBehindALoad: the record after the load that followed a
// grey record arrives first (leaving the grey's counter missing), then
// the load, then the grey: the gap kept the balance after the load, which
// the load steps back over, so the grey is confirmed. (A load arriving
// before that record, when no gap is open yet, is only a sum of loads
// seen: the grey then waits in suspense; see the package doc.)
func TestLateGreyBehindALoad(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, kiosk := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "kiosk")
	cd := c.card(94)
	c.tap(bus, cd, 100)
	submit(t, a, batchOf(bus.id, "b0", bus.spool.take()))
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 200)
	load := c.loadOnto(t, kiosk, cd, 5000)
	c.tap(metro, cd, 300)
	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	submit(t, a, batchOf(kiosk.id, "l", [][]byte{load}))
	submit(t, a, batchOf(bus.id, "g", grey))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 300 {
		t.Fatalf("booked %v, want the late grey confirmed across the load", got)
	}
}

// TestLateGreyBehindALoadUploadedFirst: as TestLateGreyBehindALoad, but
// the load (online, so it comes at once) arrives before the record after
// it, before the grey's counter is even known to be missing: the gap
// opened by the metro's record starts from the load's balance before, the
// newest load's being kept, so the late grey is confirmed. (Found by
// citycard sim, seed 128: a bus offline for a day.)
func TestLateGreyBehindALoadUploadedFirst(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, kiosk := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "kiosk")
	cd := c.card(95)
	c.tap(bus, cd, 100)
	submit(t, a, batchOf(bus.id, "b0", bus.spool.take()))
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 200)
	load := c.loadOnto(t, kiosk, cd, 5000)
	c.tap(metro, cd, 300)
	submit(t, a, batchOf(kiosk.id, "l", [][]byte{load}))
	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 100 {
		t.Fatalf("before the grey: %v", got)
	}
	submit(t, a, batchOf(bus.id, "g", grey))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 300 {
		t.Fatalf("booked %v, want the late grey confirmed across the load uploaded first", got)
	}
	// Rebuilt from the journal (and from a checkpoint), the state is the same.
	sh, _ := a.Shadow(ourIssuer, cd.State().ASN)
	if sh.GreysPending != 0 || sh.ReportedFen != cd.State().BalanceFen {
		t.Fatalf("shadow %+v, card holds %d", sh, cd.State().BalanceFen)
	}
}

// TestLoadBeforeTheFirstRecordSeen: a grey below the first purchase seen,
// with a load between them that arrived before that purchase: the floor's
// balance steps back over the load, and the grey is confirmed.
func TestLoadBeforeTheFirstRecordSeen(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, kiosk := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "kiosk")
	cd := c.card(96)
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 200)
	load := c.loadOnto(t, kiosk, cd, 5000)
	c.tap(metro, cd, 300)
	submit(t, a, batchOf(kiosk.id, "l", [][]byte{load}))
	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	submit(t, a, batchOf(bus.id, "g", grey))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 200 {
		t.Fatalf("booked %v, want the grey below the floor confirmed across the load", got)
	}
}

// TestGreyAfterALoadUploadedFirst: the load that followed a grey record
// arrives first, then the grey with a counter missing below it (the
// metro's record is late): the load's balance before is the balance the
// grey debit left, so the grey is confirmed on arrival, and the load
// counts towards the record after the grey, whose balance then follows.
// (Found by citycard sim, seed 128.)
func TestGreyAfterALoadUploadedFirst(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, shop := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "shop")
	kiosk := c.device(terminal.ModePOS, "kiosk")
	cd := c.card(97)
	c.tap(bus, cd, 100) // counter 0
	submit(t, a, batchOf(bus.id, "b0", bus.spool.take()))
	c.tap(metro, cd, 300)                                    // counter 1, uploaded late
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 200) // counter 2
	load := c.loadOnto(t, kiosk, cd, 5000)
	c.tap(shop, cd, 400) // counter 3
	submit(t, a, batchOf(kiosk.id, "l", [][]byte{load}))
	submit(t, a, batchOf(bus.id, "g", grey))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 300 {
		t.Fatalf("after the grey: %v, want it confirmed by the load that arrived first", got)
	}
	if ans := submit(t, a, batchOf(metro.id, "m", metro.spool.take())); ans.Accepted != 1 {
		t.Fatalf("the late metro record: %v", verdicts(ans))
	}
	if ans := submit(t, a, batchOf(shop.id, "s", shop.spool.take())); ans.Accepted != 1 {
		t.Fatalf("the shop after the grey and the load: %v, want accepted (its balance follows)", verdicts(ans))
	}
	got := booked(j)
	if got[busPayable] != 300 || got["operator_payable:metro"] != 300 || got["operator_payable:shop"] != 400 || got[suspenseAcct] != 0 {
		t.Fatalf("booked %v", got)
	}
	if sh, _ := a.Shadow(ourIssuer, cd.State().ASN); sh.ReportedFen != cd.State().BalanceFen || sh.GreysPending != 0 {
		t.Fatalf("shadow %+v, card holds %d", sh, cd.State().BalanceFen)
	}
}

// TestLateGreyInAGapBelowTheFirstRecordSeen: the card's third record
// arrives first, then its first, opening a gap between them below the
// first record seen; the grey record of the second tap arrives last.
// The gap keeps the balance before the third record, so the grey is
// confirmed by it. (Found by citycard sim, seed 1 at 20,000 cards.)
func TestLateGreyInAGapBelowTheFirstRecordSeen(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, shop := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "shop")
	cd := c.card(98)
	c.tap(shop, cd, 400)                                     // counter 0
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 200) // counter 1
	c.tap(metro, cd, 300)                                    // counter 2
	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	submit(t, a, batchOf(shop.id, "s", shop.spool.take()))
	submit(t, a, batchOf(bus.id, "g", grey))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 200 {
		t.Fatalf("booked %v, want the grey in the gap below the first record seen confirmed", got)
	}
}

// TestLoadJustBelowALateRecordBelowTheFloor: a grey record (counter 0),
// a load, the metro (counter 1), the shop (counter 2); the shop's record
// arrives first, then the load, then the metro's below it, then the grey:
// the newest load's balance after is the metro's balance before, so the
// balance below the metro is the load's balance before, which the grey
// debit left: confirmed. (Found by citycard sim, seed 20.)
func TestLoadJustBelowALateRecordBelowTheFloor(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus, metro, shop := c.device(terminal.ModePOS, "bus"), c.device(terminal.ModePOS, "metro"), c.device(terminal.ModePOS, "shop")
	kiosk := c.device(terminal.ModePOS, "kiosk")
	cd := c.card(99)
	grey := c.tornTap(t, bus, cd, card.TearAfterCommit, 200) // counter 0
	load := c.loadOnto(t, kiosk, cd, 5000)
	c.tap(metro, cd, 300) // counter 1
	c.tap(shop, cd, 400)  // counter 2
	submit(t, a, batchOf(shop.id, "s", shop.spool.take()))
	submit(t, a, batchOf(kiosk.id, "l", [][]byte{load}))
	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	submit(t, a, batchOf(bus.id, "g", grey))
	if got := booked(j); got[suspenseAcct] != 0 || got[busPayable] != 200 {
		t.Fatalf("booked %v, want the grey below the load confirmed", got)
	}
}

// TestGreyOfNothingConfirmedAtOnce: a grey record of 0 fen (a tap-on
// whose TAC was never read) holds nothing in suspense and no balance can
// tell whether it happened: it is confirmed on arrival, and a record of
// another tap with its counter reverses it (of nothing).
func TestGreyOfNothingConfirmedAtOnce(t *testing.T) {
	g := newGreyCity(t, 0, 300, card.TearBeforeCommit)
	submit(t, g.a, batchOf(g.bus.id, "grey", g.grey))
	if sh, _ := g.a.Shadow(ourIssuer, g.cd.State().ASN); sh.GreysPending != 0 || sh.SuspenseFen != 0 {
		t.Fatalf("shadow %+v: want the grey of nothing confirmed at once", sh)
	}
	if ans := submit(t, g.a, batchOf(g.metro.id, "m", g.m)); ans.Accepted+ans.Flagged != 1 {
		t.Fatalf("the metro, with the grey's counter: %v, want booked", verdicts(ans))
	}
	submit(t, g.a, batchOf(g.shop.id, "s", g.s))
	g.check(t, 50, 300)
}

// TestGreyDecisionNamesTheGrey: every decision names the grey record's
// own journal position (GreyPos), whichever entry made it, across a
// restart from a checkpoint (which keeps the position) and from the
// journal alone: the grey at position 2 is confirmed by the shop's record
// after the restart, and that confirmation reversed by the metro's.
func TestGreyDecisionNamesTheGrey(t *testing.T) {
	for _, from := range []string{"checkpoint", "journal"} {
		t.Run(from, func(t *testing.T) {
			g := newGreyCity(t, 120, 120, card.TearBeforeCommit)
			submit(t, g.a, batchOf(g.bus.id, "grey", g.grey))
			if err := g.a.Close(); err != nil {
				t.Fatal(err)
			}
			if from == "journal" {
				g.j.checkpoints = nil
			}
			a := g.c.open(g.j)
			defer a.Close()
			submit(t, a, batchOf(g.shop.id, "s", g.s))
			submit(t, a, batchOf(g.metro.id, "m", g.m))
			entries := g.j.Records()
			gs := g.j.Greys()
			if len(gs) != 2 {
				t.Fatalf("grey decisions %+v, want the confirmation and its reversal", gs)
			}
			for _, s := range gs {
				if s.GreyPos != 2 || entries[s.GreyPos-1].Outcome != OutcomeGrey || entries[s.GreyPos-1].Terminal != g.bus.id || s.GreyPos >= s.Pos {
					t.Errorf("%v decision %+v: grey position %d, want 2, the bus's grey record", s.Move, s, s.GreyPos)
				}
			}
		})
	}
}
