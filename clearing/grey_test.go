package clearing

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
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
