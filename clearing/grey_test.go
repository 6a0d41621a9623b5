package clearing

import (
	"context"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

// withGreys adds grey decisions to in, claimed as the journal would.
func withGreys(in *Input, gs ...Grey) *Input {
	for _, g := range gs {
		in.Greys = append(in.Greys, g)
		in.Claim.Greys.add(g.AmountFen)
	}
	return in
}

// TestGreyConfirmedPaysItsOperator: a grey record confirmed by a later
// record of its card pays its operator in the cycle of that record, as a
// record would, fee included; a reversal takes back exactly the fare and
// the fee; a release moves no party (DESIGN.md: a grey record "is
// confirmed (booked) when the card's next genuine record shows the
// counter after it and the lower balance, or released if it shows the
// debit never happened").
func TestGreyConfirmedPaysItsOperator(t *testing.T) {
	clr := mustClearer(t, exampleConfig())
	grey := func(pos int64, m acquire.GreyMove, fen int64) Grey {
		return Grey{Pos: pos, Move: m, Issuer: our, Operator: "nb-bus", TerminalType: registry.TerminalBusValidator, CardType: 1, AmountFen: fen}
	}
	// The deciding record is the metro's, 300 fen; the bus's grey of 200
	// fen is confirmed: the bus is paid 200 less its 1 fen fee.
	in := withGreys(input(day1, 0, item(our, "nb-metro", registry.TerminalGate, 1, 300)), grey(1, acquire.GreyConfirmed, 200))
	res, err := clr.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Confirmed != (Totals{Count: 1, AmountFen: 200}) || res.Cleared != (Totals{Count: 1, AmountFen: 300}) {
		t.Fatalf("confirmed %+v, cleared %+v", res.Confirmed, res.Cleared)
	}
	net := map[string]int64{}
	for _, p := range res.Positions {
		net[p.Party] = p.NetFen
	}
	// metro: 300 less 6 ppm-thousand (1.8 fen, rounded down: 1); bus: 200 less 1.
	if net["nb-bus"] != 199 || net["nb-metro"] != 299 || net[our] != -498 {
		t.Fatalf("positions %+v", res.Positions)
	}
	if l := res.Lines[len(res.Lines)-1]; l.Grey != "confirmed" || l.Operator != "nb-bus" || l.GrossFen != 200 || l.FeeFen != 1 {
		t.Errorf("the confirmation's line %+v", l)
	}

	// The next cycle: a record shows the debit never happened: the
	// confirmation is reversed, fare and fee back; another grey released.
	in2 := withGreys(input(day1+1, 1), grey(1, acquire.GreyReversed, 200), grey(1, acquire.GreyReleased, 50))
	in2.Claim = Claim{Range: Range{From: 1, To: 2}, Totals: Totals{Count: 1, AmountFen: 120}, Greys: in2.Claim.Greys}
	in2.Items = []Item{item(our, "nb-metro", registry.TerminalGate, 1, 120)}
	in2.Items[0].Pos, in2.Items[0].AcceptedAt = 2, cst(2026, 12, 2, 9, 0, 0)
	in2.Greys[0].Pos, in2.Greys[1].Pos = 2, 2
	res2, err := clr.Clear(in2)
	if err != nil {
		t.Fatal(err)
	}
	net = map[string]int64{}
	for _, p := range res2.Positions {
		net[p.Party] = p.NetFen
	}
	if net["nb-bus"] != -199 || net["nb-metro"] != 120-0 || net[our] != 199-120 {
		t.Fatalf("day 2 positions %+v", res2.Positions)
	}
	if res2.Reversed != (Totals{Count: 1, AmountFen: 200}) || res2.Released != (Totals{Count: 1, AmountFen: 50}) {
		t.Errorf("reversed %+v, released %+v", res2.Reversed, res2.Released)
	}
}

// TestGreysIncomplete: a grey decision of the range missing from what
// the cycle read, or one outside its range, fails before anything is
// summed.
func TestGreysIncomplete(t *testing.T) {
	clr := mustClearer(t, exampleConfig())
	g := Grey{Pos: 1, Move: acquire.GreyConfirmed, Issuer: our, Operator: "nb-bus", AmountFen: 200}
	in := withGreys(input(day1, 0, item(our, "nb-bus", registry.TerminalBusValidator, 1, 100)), g)
	in.Greys = nil
	if _, err := clr.Clear(in); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a grey decision missing: %v, want Conflict", err)
	}
	in = withGreys(input(day1, 0, item(our, "nb-bus", registry.TerminalBusValidator, 1, 100)), g)
	in.Greys[0].Pos = 2
	if _, err := clr.Clear(in); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a grey decision past the range: %v, want Conflict", err)
	}
}

// TestGreyOfForeignCardPendsItsIssuer: a grey record of another city's
// card confirmed on its balance (by the card's next record, or by itself
// arriving after that record) is pending its issuer, as its recovered
// record would be (acquire.PendingIssuer): the cycle clears no line of
// it and no party moves for it; our card's confirmation beside it is
// cleared as ever. The confirmation's reversal is pending too: nothing
// was paid, so nothing is paid back.
func TestGreyOfForeignCardPendsItsIssuer(t *testing.T) {
	cal := DefaultCalendar()
	them := citycard.IssuerCode{0x20, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01}
	j := &memJournal{}
	at := cst(2026, 12, 1, 9, 0, 0)
	// 1: the foreign card's next record (pending its issuer) confirms its
	// grey of 200; 2: a foreign grey arriving after the record above it
	// confirms itself (100); 3: our card's record confirms our grey (50).
	next := purchase(them, 1, termGate, 300, 0)
	j.add(at, acquire.ClassBooked, acquire.OutcomePendingIssuer, &next)
	j.entries[0].Flags = acquire.FlagPendingIssuer
	late := purchase(them, 2, termBus, 100, 0)
	late.Status = record.StatusGrey
	j.add(at, acquire.ClassSuspense, acquire.OutcomeGrey, &late)
	j.entries[1].Flags = acquire.FlagPendingIssuer | acquire.FlagGrey
	ours := purchase(ourIssuer, 3, termGate, 400, 0)
	j.add(at, acquire.ClassBooked, acquire.OutcomeVerified, &ours)
	j.greys = []acquire.GreyDecision{
		{Pos: 1, Move: acquire.GreyConfirmed, Terminal: termBus, Issuer: them, CardType: 1, AmountFen: 200},
		{Pos: 2, Move: acquire.GreyConfirmed, Terminal: termBus, Issuer: them, CardType: 1, AmountFen: 100},
		{Pos: 3, Move: acquire.GreyConfirmed, Terminal: termBus, Issuer: ourIssuer, CardType: 1, AmountFen: 50},
	}
	c := Open(cal, day1, cal.Start(day1))
	g, err := Gather(context.Background(), j, twoTerminal, &c, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := mustClearer(t, exampleConfig()).Clear(&Input{Day: day1, Claim: g.Claim, Items: g.Items, Greys: g.Greys})
	if err != nil {
		t.Fatal(err)
	}
	if res.GreysPending != (Totals{Count: 2, AmountFen: 300}) || res.Confirmed != (Totals{Count: 3, AmountFen: 350}) {
		t.Errorf("greys pending %+v, confirmed %+v; want 2 of 300 pending of the 3 of 350 confirmed", res.GreysPending, res.Confirmed)
	}
	for _, p := range res.Positions {
		if p.Party == them.String() {
			t.Errorf("the foreign issuer has a position %+v: its card's confirmed grey was cleared as verified", p)
		}
	}
	var greyLines int
	for _, l := range res.Lines {
		if l.Grey != "" {
			greyLines++
			if l.Issuer != ourIssuer.String() || l.GrossFen != 50 {
				t.Errorf("grey line %+v: want only our card's 50 fen", l)
			}
		}
	}
	if greyLines != 1 {
		t.Errorf("%d grey lines, want 1 (ours): %+v", greyLines, res.Lines)
	}

	// The next cycle: another tap took the foreign grey's counter, so its
	// confirmation is reversed: pending too, nothing paid back.
	j.add(cst(2026, 12, 2, 9, 0, 0), acquire.ClassBooked, acquire.OutcomePendingIssuer, &next)
	j.entries[3].Flags = acquire.FlagPendingIssuer
	j.greys = append(j.greys, acquire.GreyDecision{Pos: 4, Move: acquire.GreyReversed, Terminal: termBus, Issuer: them, CardType: 1, AmountFen: 200})
	c2 := Open(cal, day1+1, c.Cutoff)
	g2, err := Gather(context.Background(), j, twoTerminal, &c2, g.Claim.To)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := mustClearer(t, exampleConfig()).Clear(&Input{Day: day1 + 1, Claim: g2.Claim, Items: g2.Items, Greys: g2.Greys})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Positions) != 0 || len(res2.Lines) != 0 || res2.GreysPending != (Totals{Count: 1, AmountFen: -200}) {
		t.Errorf("day 2: positions %+v, lines %+v, greys pending %+v; want none, none, the reversal of 200", res2.Positions, res2.Lines, res2.GreysPending)
	}
}
