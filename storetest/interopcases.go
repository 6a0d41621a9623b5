package storetest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/ledger"
)

var updateCases = flag.Bool("storetest.update", false, "rewrite storetest/testdata/interop_cases.golden")

// golden compares got with the golden file name of storetest/testdata
// (both stores make the same bytes), or rewrites it with
// -storetest.update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	_, src, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(src), "testdata", name)
	if *updateCases {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden form:\n%s\nwant\n%s", name, got, want)
	}
}

// testInteropCases: our own error and dispute cases (差错, 争议). After
// day 1's round trip (the counterpart's cards on our terminals accepted
// by its answer; our cards' records on its terminals accepted by us),
// staff raise on day 2: an error case claiming 50 fen more for the
// counterpart's card's record of 200 (C), one paying the counterpart
// back 30 of our card's record of 250 (D), and a dispute of 100 of our
// card's record of 150. Bad input is refused, naming what, and stores
// nothing; a retry is the same case. Day 2's cycle closes first; the
// day's ERR and DSP files (the same bytes on every export, their golden
// form) are answered by the counterpart, which accepts the claim and the
// dispute and rejects the payback: the accepted ones are booked at once
// and settled by day 3's cycle, never by the closed day 2's.
func testInteropCases(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d1, d2, d3 := clearDay, clearDay+1, clearDay+2
	g.visit(d1, 200, 300, 400, 500)
	incRecs := g.travel(d1, 150, 250, 350)
	g.clear(d1)
	out, err := g.x.Export(ctx, d1)
	if err != nil {
		t.Fatal(err)
	}
	g.answer(out)
	inc, err := g.them.Incoming(interopOurs, interop.Day(d1), g.now.Truncate(time.Second), incRecs)
	if err != nil {
		t.Fatal(err)
	}
	if imp, err := g.x.Import(ctx, "inc.txt", inc); err != nil || imp.Accepted.Count != 3 {
		t.Fatalf("the INC file: %+v %v", imp, err)
	}
	outID, incID := g.x.OutgoingID(d1), "INC-"+interopThem.String()+"-"+interop.Day(d1).String()

	g.at(d2, 10)
	claim := interop.CaseInput{Ref: "E-1", Type: interop.FileError, RefFile: outID, RefSeq: 1, Credit: true, AmountFen: 50, Reason: interop.ReasonAmount, Note: "fare under-charged", By: "sue"}
	// The payback's reference and note are as long as they may be.
	long := "E-2" + strings.Repeat("X", interop.CaseRefMax-3)
	payback := interop.CaseInput{Ref: long, Type: interop.FileError, RefFile: incID, RefSeq: 2, AmountFen: 30, Reason: interop.ReasonAmount,
		Note: strings.Repeat("n", interop.CaseNoteMax), By: "sue"}
	dispute := interop.CaseInput{Ref: "D-1", Type: interop.FileDispute, RefFile: incID, RefSeq: 1, AmountFen: 100, Reason: interop.ReasonCardholder, Note: "持卡人未乘车", By: "sue"}
	for _, in := range []interop.CaseInput{claim, payback, dispute} {
		c, already, err := g.x.Raise(ctx, in)
		if err != nil || already || c.State != interop.Pending || c.Day != interop.Day(d2) || c.By != "sue" {
			t.Fatalf("raise %s: %+v %v %v", in.Ref, c, already, err)
		}
	}
	if c, already, err := g.x.Raise(ctx, claim); err != nil || !already || c.AmountFen != 50 {
		t.Errorf("the claim raised again: %+v %v %v, want the same case", c, already, err)
	}
	with := func(in interop.CaseInput, f func(*interop.CaseInput)) interop.CaseInput { f(&in); return in }
	for _, c := range []struct {
		name string
		in   interop.CaseInput
		kind citycard.Kind
	}{
		{"the same ref, another amount", with(claim, func(in *interop.CaseInput) { in.AmountFen = 60 }), citycard.Conflict},
		{"a second error case of the record", with(claim, func(in *interop.CaseInput) { in.Ref = "E-9" }), citycard.Conflict},
		{"a rejected record", with(claim, func(in *interop.CaseInput) { in.Ref, in.RefSeq = "E-4", 4 }), citycard.Conflict},
		{"a record past the file", with(claim, func(in *interop.CaseInput) { in.Ref, in.RefSeq = "E-5", 5 }), citycard.NotFound},
		{"no such file", with(claim, func(in *interop.CaseInput) { in.Ref, in.RefFile = "E-6", "OUT-NONE" }), citycard.NotFound},
		{"an answer file", with(claim, func(in *interop.CaseInput) { in.Ref, in.RefFile = "E-7", interop.AnswerID(incID) }), citycard.NotFound},
		{"no amount", with(claim, func(in *interop.CaseInput) { in.Ref, in.AmountFen = "E-8", 0 }), citycard.Invalid},
		{"reason 00", with(claim, func(in *interop.CaseInput) { in.Ref, in.Reason = "E-10", interop.ReasonAccepted }), citycard.Invalid},
		{"a ref with |", with(claim, func(in *interop.CaseInput) { in.Ref = "E|11" }), citycard.Invalid},
		{"a ref too long", with(claim, func(in *interop.CaseInput) { in.Ref = long + "X" }), citycard.Invalid},
		{"a note too long", with(claim, func(in *interop.CaseInput) { in.Ref, in.Note = "E-14", strings.Repeat("n", interop.CaseNoteMax+1) }), citycard.Invalid},
		{"a note with |", with(claim, func(in *interop.CaseInput) { in.Ref, in.Note = "E-12", "a|b" }), citycard.Invalid},
		{"a dispute as acquirer", with(dispute, func(in *interop.CaseInput) { in.Ref, in.RefFile = "D-2", outID }), citycard.Invalid},
		{"a dispute past the record", with(dispute, func(in *interop.CaseInput) { in.Ref, in.RefSeq, in.AmountFen = "D-3", 3, 351 }), citycard.Invalid},
		{"a dispute with a direction", with(dispute, func(in *interop.CaseInput) { in.Ref, in.Credit = "D-4", true }), citycard.Invalid},
		{"an OUT type", with(claim, func(in *interop.CaseInput) { in.Ref, in.Type = "E-13", interop.FileOutgoing }), citycard.Invalid},
	} {
		if _, _, err := g.x.Raise(ctx, c.in); !citycard.IsKind(err, c.kind) {
			t.Errorf("%s: %v, want kind %v", c.name, err, c.kind)
		}
	}
	if cs, err := s.Interop.Cases(ctx, interop.FileError, interop.Day(d2)); err != nil || len(cs) != 2 || cs[0].Ref != "E-1" || cs[1].Ref != long {
		t.Fatalf("the day's error cases: %+v %v, want E-1 and E-2 only", cs, err)
	}
	if _, err := g.x.ExportCases(ctx, interop.FileError, interop.Day(d2)); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("the ERR file of a day not over: %v, want Conflict", err)
	}

	_, net := g.clear(d2) // the OUT file's answer and the INC file
	errFile, err := g.x.ExportCases(ctx, interop.FileError, interop.Day(d2))
	if err != nil {
		t.Fatal(err)
	}
	dspFile, err := g.x.ExportCases(ctx, interop.FileDispute, interop.Day(d2))
	if err != nil {
		t.Fatal(err)
	}
	g.now = g.now.Add(3 * time.Hour) // another time of export: the files have none of it
	if again, err := g.x.ExportCases(ctx, interop.FileError, interop.Day(d2)); err != nil || !bytes.Equal(again, errFile) {
		t.Fatalf("the ERR file exported again: %v, or other bytes:\n%s", err, again)
	}
	golden(t, "interop_cases.golden", append(append([]byte(nil), errFile...), dspFile...))
	if f, err := interop.Decode("err", errFile); err != nil || len(f.Errors) != 2 || f.Header.AmountFen != 50-30 || f.Header.ID != g.x.CaseFileID(interop.FileError, interop.Day(d2)) {
		t.Fatalf("the ERR file: %+v %v", f, err)
	}

	receivable := ledger.Account{Type: ledger.InterconnectReceivable, Party: interopThem.String()}
	payable := ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}
	float := ledger.Account{Type: ledger.CardFloat, Party: interopOurs.String()}
	recv, pay, fl := g.balance(receivable), g.balance(payable), g.balance(float)
	ans, err := g.them.AnswerCases(errFile, func(i int) interop.Reason {
		if i == 1 {
			return interop.ReasonAmount
		}
		return interop.ReasonAccepted
	})
	if err != nil {
		t.Fatal(err)
	}
	var fe *interop.FieldError
	for _, c := range []struct {
		name, field string
		f           func(*interop.File)
	}{
		{"an amount not the case's", "amount_fen", func(f *interop.File) { f.Answers[0].AmountFen++ }},
		{"another card", "asn", func(f *interop.File) { f.Answers[0].ASN[9]++ }},
		{"a case past the file", "ref_seq", func(f *interop.File) { f.Answers[0].RefSeq = 3 }},
		{"another sender", "ref_seq", func(f *interop.File) { f.Header.Sender[1]++ }},
	} {
		if _, err := g.x.Import(ctx, c.name, reencoded(t, ans, c.f)); !errors.As(err, &fe) || fe.Field != c.field || fe.Line != 2 {
			t.Errorf("an answer with %s: %v, want line 2 field %s", c.name, err, c.field)
		}
	}
	if g.balance(receivable) != recv || g.balance(payable) != pay {
		t.Fatalf("a refused answer moved the ledger")
	}
	imp, err := g.x.Import(ctx, "ans-err.txt", ans)
	if err != nil || imp.Accepted != (interop.Totals{Count: 1, AmountFen: 50}) || imp.Rejected != (interop.Totals{Count: 1, AmountFen: 30}) {
		t.Fatalf("the answer to our ERR file: %+v %v, want the claim accepted, the payback rejected", imp, err)
	}
	if again, err := g.x.Import(ctx, "ans-err.txt", ans); err != nil || !again.Already {
		t.Errorf("the answer imported again: %+v %v, want a no-op", again, err)
	}
	if _, err := g.x.Import(ctx, "again.txt", reencoded(t, ans, func(f *interop.File) { f.Header.ID = "ANS-AGAIN" })); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("the cases answered again by another file: %v, want Conflict", err)
	}
	dspAns, err := g.them.AnswerCases(dspFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if imp, err := g.x.Import(ctx, "ans-dsp.txt", dspAns); err != nil || imp.Accepted != (interop.Totals{Count: 1, AmountFen: 100}) {
		t.Fatalf("the answer to our DSP file: %+v %v", imp, err)
	}
	// The claim: the counterpart owes our operator 50 more; the dispute:
	// it pays our card float back 100 (it owes us that much more).
	if g.balance(receivable) != recv+50+100 || g.balance(payable) != pay-50 || g.balance(float) != fl-100 {
		t.Errorf("after the answers: receivable %d, payable %d, float %d; want %d, %d, %d",
			g.balance(receivable), g.balance(payable), g.balance(float), recv+50+100, pay-50, fl-100)
	}
	if cs, err := s.Interop.Cases(ctx, interop.FileError, interop.Day(d2)); err != nil || len(cs) != 2 ||
		cs[0].State != interop.Accepted || cs[1].State != interop.Rejected || cs[1].Answer != interop.ReasonAmount || cs[0].AnsweredBy != interop.AnswerID(g.x.CaseFileID(interop.FileError, interop.Day(d2))) {
		t.Errorf("the error cases answered: %+v %v", cs, err)
	}
	for _, stmt := range []string{`UPDATE interop_cases SET amount_fen = 1`, `UPDATE interop_cases SET state = 'pending', answered_by = ''`, `DELETE FROM interop_cases`} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: done, want it refused (a case changes once, by its answer)", stmt)
		}
	}

	// Day 2 is closed and stays as it was; day 3 settles the answers.
	if c2, err := g.cs.Cycle(ctx, d2); err != nil || len(c2.Result.InteropFiles) != 2 || len(c2.Result.Positions) != len(net) {
		t.Fatalf("day 2 after the answers: %+v %v", c2.Result, err)
	}
	res, net := g.clear(d3)
	if len(res.InteropFiles) != 2 || res.Interop.Corrections != (clearing.Totals{Count: 2, AmountFen: 50 - 100}) {
		t.Errorf("day 3 took %v, corrections %+v; want the two answers, 50 and -100", res.InteropFiles, res.Interop.Corrections)
	}
	if net["nb-bus"] != 50 || net[interopThem.String()] != -50-100 || net[interopOurs.String()] != 100 || len(net) != 3 {
		t.Errorf("day 3 positions %v: want the counterpart paying our operator 50 and our issuer paid back 100", net)
	}
}
