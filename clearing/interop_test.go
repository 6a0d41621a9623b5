package clearing

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// TestClearInterop: a cycle settles the interconnection files it takes.
// The records another city's issuer accepted pay our operator, less its
// fee (5‰ on the bus, at least 1 fen, as for any record of it); the
// rejected are counted and pay no one; our cards' records taken in that
// city are paid to it by our issuer; a correction paid back reverses the
// fare and the fee. Every figure by hand; the positions net to zero.
func TestClearInterop(t *testing.T) {
	clr, err := NewClearer(exampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	bus := registry.TerminalBusValidator
	in := input(day1, 0)
	in.Interop = []Settling{
		{File: "INC-1", Records: []Settled{{Move: InteropIncoming, Issuer: our, Acquirer: foreign, AmountFen: 300}}},
		{File: "ANS-1", Records: []Settled{
			{Move: InteropAccepted, Issuer: foreign, Acquirer: "nb-bus", TerminalType: bus, AmountFen: 1000},
			{Move: InteropAccepted, Issuer: foreign, Acquirer: "nb-bus", TerminalType: bus, AmountFen: 200},
			{Move: InteropRejected, Issuer: foreign, Acquirer: "nb-bus", TerminalType: bus, AmountFen: 500},
		}},
		{File: "ERR-1", Records: []Settled{{Move: InteropCorrection, Issuer: foreign, Acquirer: "nb-bus", TerminalType: bus, AmountFen: -200}}},
	}
	res, err := clr.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	want := InteropTotals{Accepted: Totals{2, 1200}, Rejected: Totals{1, 500}, Incoming: Totals{1, 300}, Corrections: Totals{1, -200}}
	if res.Interop != want || len(res.InteropFiles) != 3 || res.InteropFiles[0] != "ANS-1" || res.InteropFiles[2] != "INC-1" {
		t.Fatalf("settled %+v of %v, want %+v of the three files by ID", res.Interop, res.InteropFiles, want)
	}
	// Fees: 1000 -> 5, 200 -> 1, the correction of 200 takes back 1.
	net := map[string]int64{}
	for _, p := range res.Positions {
		net[p.Party] = p.NetFen
	}
	if net["nb-bus"] != 1000+200-5-1-200+1 || net[foreign] != -1000-200+200+300 || net[our] != 5+1-1-300 || len(net) != 3 {
		t.Errorf("positions %v", net)
	}
	var lines int
	for _, l := range res.Lines {
		if l.Interop != "" {
			lines++
		}
	}
	if lines != 3 {
		t.Errorf("%d interconnection lines, want accepted, incoming and correction: %+v", lines, res.Lines)
	}
}

// TestClearInteropRefuses: a file twice, a record without a move or
// its parties, a correction of nothing, an amount out of range.
func TestClearInteropRefuses(t *testing.T) {
	clr, err := NewClearer(exampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	ok := Settled{Move: InteropAccepted, Issuer: foreign, Acquirer: "nb-bus", AmountFen: 1}
	for name, files := range map[string][]Settling{
		"a file twice":           {{File: "A"}, {File: "A"}},
		"an unnamed file":        {{File: ""}},
		"no move":                {{File: "A", Records: []Settled{{Issuer: foreign, Acquirer: "nb-bus"}}}},
		"one party":              {{File: "A", Records: []Settled{{Move: InteropAccepted, Issuer: foreign, Acquirer: foreign}}}},
		"a correction of 0":      {{File: "A", Records: []Settled{{Move: InteropCorrection, Issuer: foreign, Acquirer: "nb-bus"}}}},
		"a negative acceptance":  {{File: "A", Records: []Settled{ok, {Move: InteropAccepted, Issuer: foreign, Acquirer: "nb-bus", AmountFen: -1}}}},
		"an amount past 32 bits": {{File: "A", Records: []Settled{{Move: InteropIncoming, Issuer: our, Acquirer: foreign, AmountFen: 1 << 32}}}},
	} {
		in := input(day1, 0)
		in.Interop = files
		if _, err := clr.Clear(in); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
}
