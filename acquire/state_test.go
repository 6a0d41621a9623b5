package acquire

import (
	"fmt"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/terminal"
)

// model is the exact answer a track must give: the set of values seen.
type model map[uint32]bool

// checkTrack sees every value of order in turn, in a track and in the
// model, and fails at the first value the track answers otherwise than
// the model: new (never seen) against repeat (seen).
func checkTrack(t *testing.T, name string, order []uint32) *track {
	t.Helper()
	tr := newTrack()
	m := model{}
	for i, v := range order {
		got, _ := tr.see(v, noBalance)
		if want := m[v]; (got == seenRepeat) != want {
			t.Fatalf("%s: value %d (step %d of %d): track says %v, the exact answer is repeat=%v (open spans %d)",
				name, v, i, len(order), got, want, len(tr.spans()))
		}
		m[v] = true
	}
	return &tr
}

// TestTrackIsExact: whatever the order and repetition of values, a
// track tells a value seen from one never seen. A card tapping often
// (campus canteen, a commuter's week on many terminals uploading out of
// order) opens many gaps at once; none may be forgotten.
func TestTrackIsExact(t *testing.T) {
	evensThenOdds := func(n uint32) []uint32 {
		var o []uint32
		for v := uint32(0); v < n; v += 2 {
			o = append(o, v)
		}
		for v := uint32(1); v < n; v += 2 {
			o = append(o, v, v) // each odd one twice: the second is a repeat
		}
		return o
	}
	// Every other value of the whole 16-bit counter first: 32767 spans
	// open at once, the most a card's counter can have.
	checkTrack(t, "evens then odds, 2000", evensThenOdds(2000))
	tr := checkTrack(t, "evens then odds, 16-bit", evensThenOdds(1<<16))
	if n := len(tr.spans()); n != 0 {
		t.Fatalf("all values seen, %d spans left open", n)
	}

	// Newest first: every value arrives below the floor.
	var down []uint32
	for v := uint32(3000); v > 0; v -= 2 {
		down = append(down, v)
	}
	for v := uint32(1); v < 3000; v += 2 {
		down = append(down, v, v)
	}
	checkTrack(t, "newest first", down)

	// Random orders with repeats, over a window wider than any bound.
	rng := newRand(7)
	for round := 0; round < 20; round++ {
		n := 200 + rng.IntN(4000)
		var o []uint32
		for i := 0; i < 2*n; i++ {
			o = append(o, uint32(rng.IntN(n))+uint32(round)*1000)
		}
		checkTrack(t, fmt.Sprintf("random round %d", round), o)
	}
}

// TestTrackSpansBoundedByTheCounter: a card's counters are 16 bits, so
// a card's track cannot open more spans than half the counter's values:
// the bound that keeps a card's memory finite is the counter's width.
func TestTrackSpansBoundedByTheCounter(t *testing.T) {
	tr := newTrack()
	for v := uint32(0); v < 1<<16; v += 2 {
		tr.see(v, noBalance)
	}
	if n := len(tr.spans()); n != 1<<15-1 || n > maxSpans {
		t.Fatalf("%d spans open, want %d (within maxSpans %d)", n, 1<<15-1, maxSpans)
	}
}

// TestManyOpenGapsBookedOnce: one card taps 600 times, in turn on two
// buses, and one bus uploads all its records before the other: 299 of
// the card's counters are missing at once, each a span of its own (more
// than the 256 spans the back office used to remember), and more open
// below the floor when the other bus uploads newest first. Every genuine
// record is booked once, every re-sent copy is a duplicate.
func TestManyOpenGapsBookedOnce(t *testing.T) {
	c, j, a := newBackOffice(t)
	devs := []*device{c.device(terminal.ModeFlat, "bus"), c.device(terminal.ModeFlat, "bus")}
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0, 0, 0, 77}
	ks, err := card.DeriveKeySet(c.store, ourIssuer, asn, 1)
	if err != nil {
		t.Fatal(err)
	}
	cd := c.cardWith(ourIssuer, asn, ks, 200000)
	const taps, fare = 600, 200
	recs := make([][][]byte, len(devs))
	for i := 0; i < taps; i++ {
		d := devs[i%len(devs)] // bus 0 takes the even counters, bus 1 the odd
		c.tap(d, cd, 0)
		recs[i%len(devs)] = append(recs[i%len(devs)], d.spool.take()...)
	}
	// Bus 1 first, newest record first, one at a time: each opens a gap
	// below the floor. Then bus 0 in one batch.
	for i := len(recs[1]) - 1; i >= 0; i-- {
		if ans := submit(t, a, batchOf(devs[1].id, fmt.Sprintf("r%d", i), recs[1][i:i+1])); ans.Duplicates != 0 {
			t.Fatalf("bus 1 record %d: a genuine record answered duplicate", i)
		}
	}
	sh, _ := a.Shadow(ourIssuer, cd.State().ASN)
	t.Logf("after bus 1: %d counters missing in %d spans", sh.OpenGaps, len(sh.GapSpans))
	if len(sh.GapSpans) != 299 {
		t.Fatalf("%d spans open, want 299", len(sh.GapSpans))
	}
	if ans := submit(t, a, batchOf(devs[0].id, "all", recs[0])); ans.Duplicates != 0 {
		t.Fatalf("bus 0: %d genuine records answered duplicate", ans.Duplicates)
	}
	var bookedN int
	for _, e := range j.Records() {
		if e.Class == ClassBooked {
			bookedN++
		}
	}
	if bookedN != taps {
		t.Fatalf("%d records booked, %d genuine", bookedN, taps)
	}
	if got := booked(j); got[busPayable] != taps*fare {
		t.Fatalf("booked %v fen to the bus operator, the card spent %d", got[busPayable], taps*fare)
	}
	// Every record again, under new batch IDs: all duplicates.
	for k := range devs {
		if ans := submit(t, a, batchOf(devs[k].id, "again", recs[k])); ans.Duplicates != len(recs[k]) {
			t.Fatalf("terminal %d re-sent: %v", k, verdicts(ans))
		}
	}
	sh, _ = a.Shadow(ourIssuer, cd.State().ASN)
	if sh.OpenGaps != 0 || sh.BookedFen != -taps*fare {
		t.Fatalf("shadow after all: %+v", sh)
	}
}

// TestOverdrawnBalanceFollows: a purchase may take a card below zero, into
// its overdraw limit, and the card writes that balance in two's
// complement; the back office reads it as the negative balance it is: the
// next record's balance follows (no balance flag) and the shadow reports
// the card's real balance, not four billion fen.
func TestOverdrawnBalanceFollows(t *testing.T) {
	c, _, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0, 0, 0, 78}
	ks, err := card.DeriveKeySet(c.store, ourIssuer, asn, 1)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := citycard.DateTime(day0.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(day0.AddDate(3, 0, 0))
	cd, err := card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: ourIssuer, ASN: asn, CardType: 1, Start: start, Expiry: expiry,
		KeySets: []card.KeySet{ks}, InitialBalanceFen: 300, BalanceMaxFen: 200000, OverdrawLimitFen: 500})
	if err != nil {
		t.Fatal(err)
	}
	var results []terminal.Result
	for i := 0; i < 3; i++ { // 300 -> 100 -> -100 -> -300
		results = append(results, c.tap(bus, cd, 0))
	}
	if got := results[2].BalanceAfter; got != -300 || cd.State().BalanceFen != -300 {
		t.Fatalf("the terminal says %d after the third tap, the card holds %d; want -300", got, cd.State().BalanceFen)
	}
	ans := submit(t, a, batchOf(bus.id, "od", bus.spool.take()))
	if ans.Accepted != 3 {
		t.Fatalf("overdrawn purchases: %v, want 3 accepted (no balance flag)", verdicts(ans))
	}
	sh, _ := a.Shadow(ourIssuer, asn)
	if sh.ReportedFen != -300 || sh.BookedFen != -600 {
		t.Fatalf("shadow reports %d fen (booked %d), want -300 (-600)", sh.ReportedFen, sh.BookedFen)
	}
}
