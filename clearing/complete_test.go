package clearing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
)

// dayJournal journals n purchases during 2026-12-01 and two after its
// cut-off.
func dayJournal(n int) *memJournal {
	j := &memJournal{}
	for i := range n {
		term := termBus
		if i%3 == 0 {
			term = termGate
		}
		r := purchase(ourIssuer, byte(i), term, uint32(100+i), 0)
		j.add(cst(2026, 12, 1, 6, 0, i), acquire.ClassBooked, acquire.OutcomeVerified, &r)
	}
	for i := range 2 {
		r := purchase(ourIssuer, byte(200+i), termBus, 1, 0)
		j.add(cst(2026, 12, 2, 0, 0, i), acquire.ClassBooked, acquire.OutcomeVerified, &r)
	}
	return j
}

func TestGather(t *testing.T) {
	cal := DefaultCalendar()
	c := Open(cal, DayOf(2026, 12, 1), cal.Start(DayOf(2026, 12, 1)))
	j := dayJournal(10)
	g, err := Gather(context.Background(), j, twoTerminal, &c, 0)
	if err != nil {
		t.Fatal(err)
	}
	cl, items := g.Claim, g.Items
	// The two records committed at and after the cut-off are not claimed.
	wantSum := int64(0)
	for i := range 10 {
		wantSum += int64(100 + i)
	}
	if cl.Range != (Range{From: 0, To: 10}) || cl.Count != 10 || cl.AmountFen != wantSum || len(items) != 10 {
		t.Fatalf("claim %+v, %d items; want (0, 10], 10 records of %d fen", cl, len(items), wantSum)
	}
	if it := items[0]; it.Operator != "nb-metro" || it.Issuer != ourIssuer.String() || it.AmountFen != 100 || it.Pos != 1 {
		t.Errorf("item 0: %+v", it)
	}
	if it := items[1]; it.Operator != "nb-bus" || it.TerminalType.String() != "bus_validator" {
		t.Errorf("item 1: %+v", it)
	}
	// The next cycle takes the range after it.
	c2 := Open(cal, DayOf(2026, 12, 2), c.Cutoff)
	if g, err := Gather(context.Background(), j, twoTerminal, &c2, cl.To); err != nil || g.Claim.Range != (Range{From: 10, To: 12}) {
		t.Errorf("next cycle: %+v %v", g, err)
	}
}

// The issue: "Before computing, the cycle proves it is complete: the count
// and sum of the journaled records it takes equal those of the journal range
// it claims (Mojaloop lost a dollar at 10 TPS to a join that silently
// dropped rows not yet written)".
func TestGatherMissingRowFails(t *testing.T) {
	cal := DefaultCalendar()
	c := Open(cal, DayOf(2026, 12, 1), time.Time{})
	for _, drop := range []int64{1, 5, 10} {
		j := dayJournal(10)
		j.drop = drop
		g, err := Gather(context.Background(), j, twoTerminal, &c, 0)
		if !citycard.IsKind(err, citycard.Conflict) || g != nil {
			t.Fatalf("row %d dropped: %v, %+v; want Conflict and nothing", drop, err, g)
		}
		want := "position " + itoa(drop) + " missing"
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "holds 10 records") || !strings.Contains(err.Error(), "took 9") {
			t.Errorf("row %d dropped: %q does not say %q and the counts", drop, err, want)
		}
	}
}

func TestGatherUnknownTerminal(t *testing.T) {
	c := Open(DefaultCalendar(), DayOf(2026, 12, 1), time.Time{})
	_, err := Gather(context.Background(), dayJournal(3), memTerminals{}, &c, 0)
	if !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("unknown terminal: %v, want NotFound", err)
	}
}

func TestCheck(t *testing.T) {
	items := func(pos ...int64) []Item {
		var out []Item
		for _, p := range pos {
			out = append(out, Item{Pos: p, AmountFen: 10 * p})
		}
		return out
	}
	claim := Claim{Range: Range{From: 4, To: 8}, Totals: Totals{Count: 4, AmountFen: 50 + 60 + 70 + 80}}
	for _, c := range []struct {
		name  string
		claim Claim
		items []Item
		want  string // "" for no error
	}{
		{"whole", claim, items(5, 6, 7, 8), ""},
		{"empty", Claim{Range: Range{From: 4, To: 4}}, nil, ""},
		{"first missing", claim, items(6, 7, 8), "position 5 missing"},
		{"middle missing", claim, items(5, 6, 8), "position 7 missing"},
		{"last missing", claim, items(5, 6, 7), "position 8 missing"},
		{"repeated", claim, items(5, 6, 6, 7), "position 6 out of order or repeated"},
		{"one past", claim, items(5, 6, 7, 8, 9), "position 9 past the range"},
		{"amount differs", Claim{Range: claim.Range, Totals: Totals{Count: 4, AmountFen: 259}}, items(5, 6, 7, 8), "the amounts differ"},
		{"journal miscounts", Claim{Range: claim.Range, Totals: Totals{Count: 3, AmountFen: 260}}, items(5, 6, 7, 8), "counts 3 records in range (4, 8] of 4 positions"},
	} {
		err := Check(DayOf(2026, 12, 1), c.claim, c.items)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want Conflict saying %q", c.name, err, c.want)
		}
	}
}
