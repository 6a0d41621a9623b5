package clearing

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
)

// TestTwoCycles runs two days through the whole core: gather, clear,
// compute, review, approve, close. A record accepted on day 1 but
// committed after day 1's cycle claimed its range goes into day 2 (the
// issue: "a record arriving after its day's cycle closed goes into the
// next open one, never into a closed one"), and day 1's correction is an
// adjustment in day 2 ("a closed cycle is immutable, and corrections go
// into a later cycle as adjustments").
func TestTwoCycles(t *testing.T) {
	ctx := context.Background()
	cfg := exampleConfig()
	cal := cfg.Calendar
	clr := mustClearer(t, cfg)
	d1, d2 := DayOf(2026, 12, 1), DayOf(2026, 12, 2)
	j := &memJournal{}
	book := func(at time.Time, n byte, fen uint32) {
		r := purchase(ourIssuer, n, termBus, fen, 0)
		j.add(at, acquire.ClassBooked, acquire.OutcomeVerified, &r)
	}
	for i := range 5 {
		book(cst(2026, 12, 1, 8, i, 0), byte(i), 200)
	}

	// Day 1 is computed at 01:00 the next morning, reviewed and approved.
	c1 := Open(cal, d1, cal.Start(d1))
	g1, err := Gather(ctx, j, twoTerminal, &c1, 0)
	if err != nil {
		t.Fatal(err)
	}
	claim1, items1 := g1.Claim, g1.Items
	res1, err := clr.Clear(&Input{Day: d1, Claim: claim1, Items: items1})
	if err != nil {
		t.Fatal(err)
	}
	morning := cal.End(d1).Add(time.Hour)
	if c1, err = c1.Compute(claim1.Range, 0, morning); err != nil {
		t.Fatal(err)
	}
	if c1, err = c1.Review("ann", morning); err != nil {
		t.Fatal(err)
	}
	if c1, err = c1.Approve("bob", morning); err != nil {
		t.Fatal(err)
	}
	// Now a record stamped 23:59:59 on day 1 is committed: day 1 is
	// fixed, so it belongs to day 2.
	lateAt := cst(2026, 12, 1, 23, 59, 59)
	book(lateAt, 9, 300)
	if got := cal.Place(lateAt, c1.Day); got != d2 {
		t.Errorf("the late record placed in %v, want %v", got, d2)
	}
	if c1, err = c1.Close(morning.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Compute(Range{From: 0, To: 6}, 0, morning.Add(2*time.Hour)); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("recomputing a closed cycle: %v, want Conflict", err)
	}

	// Day 2 takes the range after day 1's: the late record and day 2's own.
	book(cst(2026, 12, 2, 9, 0, 0), 10, 400)
	book(cst(2026, 12, 3, 0, 0, 0), 11, 999) // day 3's
	c2 := Open(cal, d2, cal.Start(d2))
	g2, err := Gather(ctx, j, twoTerminal, &c2, c1.Range.To)
	if err != nil {
		t.Fatal(err)
	}
	claim2, items2 := g2.Claim, g2.Items
	if claim2.Range != (Range{From: 5, To: 7}) || claim2.AmountFen != 700 {
		t.Fatalf("day 2 claims %+v, want (5, 7] of 700 fen", claim2)
	}
	adj := Adjustment{Ref: "ADJ-1", Of: d1, Payer: "nb-bus", Payee: our, AmountFen: 200, Reason: "a fare of day 1 charged twice"}
	res2, err := clr.Clear(&Input{Day: d2, Claim: claim2, Items: items2, Adjustments: []Adjustment{adj}})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Late != (Totals{Count: 1, AmountFen: 300}) || res2.Cleared != (Totals{Count: 2, AmountFen: 700}) {
		t.Errorf("day 2: late %+v, cleared %+v", res2.Late, res2.Cleared)
	}
	if _, err := c2.Compute(claim2.Range, c1.Range.To, cal.End(d2)); err != nil {
		t.Errorf("day 2 on the range after day 1's: %v", err)
	}
	// Day 1's result stands as it was: 5 records of 200 fen, 1 fen of fee
	// each; day 2's bus position carries the adjustment.
	if res1.Cleared != (Totals{Count: 5, AmountFen: 1000}) || len(res1.Positions) != 2 || res1.Positions[1].NetFen != 995 {
		t.Errorf("day 1: cleared %+v, positions %+v", res1.Cleared, res1.Positions)
	}
	// Day 2: 300 fen (1.5 fen: 1, 0.5 remains) and 400 fen (2 fen): fees 3
	// and no whole fen of remainder; the adjustment takes 200 back.
	want := []Position{
		{Party: our, ReceivableFen: 3 + 200, PayableFen: 700, NetFen: -497},
		{Party: "nb-bus", ReceivableFen: 700, PayableFen: 3 + 200, NetFen: 497},
	}
	for i, p := range res2.Positions {
		if i >= len(want) || p != want[i] {
			t.Errorf("day 2 positions %+v, want %+v", res2.Positions, want)
			break
		}
	}
}
