package city

import (
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/interop/interoptest"
	"github.com/citycard/citycard/record"
)

// TestCounterpartAnswers: a counterpart city answers the records of its
// cards in our OUT file under its own keys: its genuine records
// accepted, a forged TAC rejected (tac), another city's record left
// unanswered; a grey record (G line) its card's history confirms (the
// record after it begins at the balance it left) accepted, one of a tap
// its history does not hold (another tap took its counter) rejected
// unconfirmed; with FaultCounterpart it rejects some genuine ones as
// late, and never a forged one as anything but tac.
func TestCounterpartAnswers(t *testing.T) {
	national := make([]byte, 16)
	for i := range national {
		national[i] = byte(7*i + 1)
	}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, citycard.ChinaTime)
	them, err := interoptest.NewCity(interoptest.Config{Seed: 3, Code: citycard.IssuerCode{0x20, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}, National: national, Operator: "sh", Terminals: 1, Cards: 1, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	other, err := interoptest.NewCity(interoptest.Config{Seed: 4, Code: citycard.IssuerCode{0x10, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}, National: national, Operator: "bj", Terminals: 1, Cards: 1, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	const genuine = 400
	out := &interop.File{Header: interop.Header{Type: interop.FileOutgoing, ID: "OUT-X-20260601", Sender: Issuer, Receiver: interop.Centre, Day: interop.Day(20260601), Created: start}}
	add := func(r record.Record) {
		cl, err := interop.ClearingOf(&r)
		if err != nil {
			t.Fatal(err)
		}
		out.Clearing = append(out.Clearing, cl)
	}
	for i := range genuine {
		r, err := them.Tap(them.Cards[0], 0, start.Add(time.Duration(i)*time.Minute), 1)
		if err != nil {
			t.Fatal(err)
		}
		add(r)
	}
	forged := out.Clearing[0].Record()
	forged.TAC[0] ^= 1
	add(forged)
	r, err := other.Tap(other.Cards[0], 0, start, 1)
	if err != nil {
		t.Fatal(err)
	}
	add(r)
	// The grey records: the tap of counter genuine-2 as its terminal
	// would have sealed it had the card torn (confirmed by the record of
	// counter genuine-1), and one of another terminal sequence.
	grey := out.Clearing[genuine-2]
	grey.Grey, grey.TAC = true, [4]byte{}
	out.Clearing = append(out.Clearing, grey)
	grey.TerminalSeq++
	out.Clearing = append(out.Clearing, grey)
	for _, fault := range []bool{false, true} {
		cp := &counterpart{rng: rngFor(1, "faults-counterpart")}
		ans := cp.answer(out, them.Code, them.Store, fault)
		var late int
		for _, a := range ans.Answers {
			switch {
			case a.RefSeq == genuine+1 && (a.Accepted || a.Reason != interop.ReasonTAC):
				t.Errorf("fault %v: the forged record answered %+v, want rejected tac", fault, a)
			case a.RefSeq == genuine+3 && !a.Accepted && (!fault || a.Reason != interop.ReasonLate):
				t.Errorf("fault %v: the confirmed grey record answered %+v, want accepted", fault, a)
			case a.RefSeq == genuine+4 && (a.Accepted || a.Reason != interop.ReasonUnconfirmed):
				t.Errorf("fault %v: the grey record another tap's counter took answered %+v, want rejected unconfirmed", fault, a)
			case a.RefSeq <= genuine && a.Reason == interop.ReasonLate && !a.Accepted:
				late++
			case a.RefSeq <= genuine && !a.Accepted:
				t.Errorf("fault %v: genuine record %d answered %+v", fault, a.RefSeq, a)
			}
		}
		if len(ans.Answers) != genuine+3 || ans.Header.Sender != them.Code || ans.Header.Refers != out.Header.ID {
			t.Errorf("fault %v: %d answers from %v to %s, want %d from the counterpart to our OUT file (none of the other city's)", fault, len(ans.Answers), ans.Header.Sender, ans.Header.Refers, genuine+3)
		}
		// 5% of 400: 20 expected; well away from 0 and from all.
		if fault && (late < 5 || late > 50) || !fault && late != 0 {
			t.Errorf("fault %v: %d genuine records rejected as late", fault, late)
		}
	}
}
