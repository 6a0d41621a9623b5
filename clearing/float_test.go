package clearing

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/record"
)

// TestReconcileFloat puts each of the three figures off in turn (issue
// 10, "Card float": "reconciled three ways"; the package doc's "Card
// float"): the report names the one that disagrees and its difference.
func TestReconcileFloat(t *testing.T) {
	const fen = 123456
	tests := []struct {
		name                 string
		f                    FloatFigures
		off                  string
		shadowDiff, bookDiff int64
	}{
		{"all agree", FloatFigures{"own", "", fen, fen, fen, true}, "", 0, 0},
		{"ledger off", FloatFigures{"own", "", fen - 1, fen, fen, true}, "ledger", 1, 1},
		{"shadows off", FloatFigures{"own", "", fen, fen + 500, fen, true}, "shadows", 500, 0},
		{"book off", FloatFigures{"own", "", fen, fen, fen - 200, true}, "book", 0, -200},
		{"none agree", FloatFigures{"own", "", 1, 2, 3, true}, "all", 1, 2},
		{"no book, agree", FloatFigures{"other", "", -fen, -fen, 0, false}, "", 0, 0},
		{"no book, off", FloatFigures{"other", "", -fen, -fen + 1, 0, false}, "ledger or shadows", 1, 0},
		{"zero float", FloatFigures{"own", "", 0, 0, 0, true}, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := ReconcileFloat([]FloatFigures{tt.f})
			if len(rep.Lines) != 1 {
				t.Fatalf("lines %d, want 1", len(rep.Lines))
			}
			l := rep.Lines[0]
			if l.Off != tt.off || l.ShadowDiffFen != tt.shadowDiff || l.BookDiffFen != tt.bookDiff {
				t.Errorf("off %q, shadow diff %d, book diff %d; want %q, %d, %d", l.Off, l.ShadowDiffFen, l.BookDiffFen, tt.off, tt.shadowDiff, tt.bookDiff)
			}
			if rep.Sound != (tt.off == "") {
				t.Errorf("sound %v with off %q", rep.Sound, tt.off)
			}
		})
	}
}

// TestReconcileFloatOrder: one unsound issuer makes the report unsound,
// and lines come in issuer order whatever the order given.
func TestReconcileFloatOrder(t *testing.T) {
	rep := ReconcileFloat([]FloatFigures{{Issuer: "b", LedgerFen: 1, ShadowFen: 2}, {Issuer: "a", LedgerFen: 5, ShadowFen: 5, BookFen: 5, HasBook: true}})
	if rep.Sound || rep.Lines[0].Issuer != "a" || rep.Lines[1].Issuer != "b" || rep.Lines[0].Off != "" || rep.Lines[1].Off == "" {
		t.Errorf("report %+v", rep)
	}
}

// TestFloatSplitPerProduct: the float of two products of our issuer and
// another city's cards, three ways (issue 10, "Card float": "per issuer
// and product"): card management's flows and ledger entries name each
// card, acquisition's batch entries are put on products by their records;
// a load card management booked on the ledger and not as a flow shows on
// its product, a batch posting its records do not explain on the
// unexplained line, and another city's purchase pending its issuer does
// not count against the float.
func TestFloatSplitPerProduct(t *testing.T) {
	own, other := our, foreign
	var a1, a2, a3 citycard.ASN
	a1[9], a2[9], a3[9] = 1, 2, 3
	f := NewFloatSplit(own, map[citycard.ASN]string{a1: "student", a2: "senior"})
	term := citycard.TerminalID{1, 2, 3, 4, 5, 6}
	batch := acquire.LedgerSource(term, "b1")
	// Loads of 10.00 and 5.00 (card management's entries and flows).
	f.Posting(own, "card:"+own+"/"+a1.String(), -1000)
	f.Posting(own, "card:"+own+"/"+a2.String(), -500)
	f.Book(map[string]map[cms.FlowType]int64{"student": {cms.FlowLoad: 1000}, "senior": {cms.FlowLoad: 500}})
	// One batch: the student spends 2.00, the senior 1.00; the ledger's
	// one entry takes 3.00 off the float.
	rec := func(asn citycard.ASN, issuer citycard.IssuerCode, fen uint32, out acquire.Outcome) *acquire.Journaled {
		r := record.Record{Type: citycard.TxPurchase, Issuer: issuer, ASN: asn, Amount: fen, TerminalID: term, PSAMID: citycard.PSAMID{1}, Date: citycard.BCDDate{0x20, 0x26, 0x12, 0x01}}
		e := &acquire.Journaled{Terminal: term, BatchID: "b1", Class: acquire.ClassBooked, Outcome: out}
		copy(e.Raw[:], r.AppendBinary(nil))
		return e
	}
	ownCode, _ := citycard.ParseIssuerCode(own)
	otherCode, _ := citycard.ParseIssuerCode(other)
	for _, e := range []*acquire.Journaled{rec(a1, ownCode, 200, acquire.OutcomeVerified), rec(a2, ownCode, 100, acquire.OutcomeVerified), rec(a3, otherCode, 400, acquire.OutcomePendingIssuer)} {
		if err := f.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	f.Posting(own, batch, 300)
	f.Shadow(ownCode, a1, -200, 0) // the shadows saw no load record: booked = -purchases
	f.Shadow(ownCode, a2, -100, 0)
	f.Shadow(otherCode, a3, -400, 0)
	rep := ReconcileFloat(f.Figures())
	if !rep.Sound {
		t.Fatalf("report %+v: want sound", rep.Lines)
	}
	want := map[string]int64{own + "/": 1200, own + "/student": 800, own + "/senior": 400, other + "/": 0, other + "/-": 0}
	for _, l := range rep.Lines {
		if w, ok := want[l.Issuer+"/"+l.Product]; !ok || l.LedgerFen != w || l.ShadowFen != w || l.HasBook != (l.Issuer == own) || l.HasBook && l.BookFen != w {
			t.Errorf("line %+v: want %d fen three ways", l, w)
		}
		delete(want, l.Issuer+"/"+l.Product)
	}
	if len(want) != 0 {
		t.Errorf("lines missing: %v", want)
	}
	// A student load on the ledger with no flow, and 0.50 more taken by
	// the batch's entry than its records explain.
	f.Posting(own, "card:"+own+"/"+a1.String(), -700)
	f.Posting(own, batch, 50)
	rep = ReconcileFloat(f.Figures())
	off := map[string]string{}
	for _, l := range rep.Lines {
		off[l.Product] = l.Off
		if l.Product == UnexplainedProduct && l.LedgerFen != -50 {
			t.Errorf("the unexplained line %+v: want -50 fen", l)
		}
	}
	if rep.Sound || off["student"] != "ledger" || off["senior"] != "" || off[UnexplainedProduct] == "" {
		t.Errorf("offs %v: want the student's ledger off, the senior's sound, the unexplained off", off)
	}
}

// TestFloatSplitForeignGreys: another city's card's grey records go to
// suspense from the interconnection receivable, never from the float: one
// recovered later (300), one released by another tap (150). The ledger
// takes nothing off that city's float; the shadows (a booked 300, nothing
// in suspense) agree once the records pending their issuer (the greys
// and the release) are added back.
func TestFloatSplitForeignGreys(t *testing.T) {
	f := NewFloatSplit(our, nil)
	term := citycard.TerminalID{1, 2, 3, 4, 5, 6}
	otherCode, _ := citycard.ParseIssuerCode(foreign)
	var asn citycard.ASN
	asn[9] = 7
	rec := func(fen uint32, k acquire.Class, out acquire.Outcome, flags acquire.Flags) *acquire.Journaled {
		r := record.Record{Type: citycard.TxPurchase, Issuer: otherCode, ASN: asn, Amount: fen, TerminalID: term, PSAMID: citycard.PSAMID{1}, Date: citycard.BCDDate{0x20, 0x26, 0x12, 0x01}}
		e := &acquire.Journaled{Terminal: term, BatchID: "b1", Class: k, Outcome: out, Flags: flags}
		copy(e.Raw[:], r.AppendBinary(nil))
		return e
	}
	greyFlags := acquire.FlagGrey | acquire.FlagPendingIssuer
	for _, e := range []*acquire.Journaled{
		rec(300, acquire.ClassSuspense, acquire.OutcomeGrey, greyFlags),
		rec(150, acquire.ClassSuspense, acquire.OutcomeGrey, greyFlags),
		rec(300, acquire.ClassRecovered, acquire.OutcomePendingIssuer, acquire.FlagPendingIssuer),
	} {
		if err := f.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	f.Grey(acquire.LedgerSource(term, "b2"), &acquire.GreyDecision{Move: acquire.GreyReleased, Issuer: otherCode, ASN: asn, AmountFen: 150})
	f.Shadow(otherCode, asn, -300, 0)
	rep := ReconcileFloat(f.Figures())
	if !rep.Sound || len(rep.Lines) != 2 || rep.Lines[0].LedgerFen != 0 || rep.Lines[0].ShadowFen != 0 {
		t.Fatalf("report %+v: want the other city's float sound at 0 fen", rep.Lines)
	}
	// The same figures without the release: the shadows hold 150 in
	// suspense, pending its issuer, and still agree.
	g := NewFloatSplit(our, nil)
	for _, e := range []*acquire.Journaled{rec(150, acquire.ClassSuspense, acquire.OutcomeGrey, greyFlags)} {
		if err := g.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	g.Shadow(otherCode, asn, 0, 150)
	if rep := ReconcileFloat(g.Figures()); !rep.Sound || rep.Lines[0].ShadowFen != 0 {
		t.Fatalf("a grey in suspense: report %+v, want sound at 0 fen", rep.Lines)
	}
}

// TestFloatSplitIncoming: our cards' records taken in another city
// (interop.EntryIncoming, one entry of the INC file for two cards) and a
// correction paying one back (EntryCorrection) come off the float and
// the shadows alike, each on its card's product; an INC entry whose
// records are not fed shows on the unexplained line and the shadows
// disagree.
func TestFloatSplitIncoming(t *testing.T) {
	var a1, a2 citycard.ASN
	a1[9], a2[9] = 1, 2
	split := func(feed bool) FloatReport {
		f := NewFloatSplit(our, map[citycard.ASN]string{a1: "student", a2: "senior"})
		f.Posting(our, "card:"+our+"/"+a1.String(), -1000)
		f.Posting(our, "card:"+our+"/"+a2.String(), -500)
		f.Book(map[string]map[cms.FlowType]int64{"student": {cms.FlowLoad: 1000}, "senior": {cms.FlowLoad: 500}})
		ownCode, _ := citycard.ParseIssuerCode(our)
		f.Shadow(ownCode, a1, 0, 0)
		f.Shadow(ownCode, a2, 0, 0)
		f.Posting(our, "INC-1", 300) // the student 2.00, the senior 1.00
		f.Posting(our, "ERR-1", -50) // 0.50 of the student's paid back
		if feed {
			f.Incoming("INC-1", a1, 200)
			f.Incoming("INC-1", a2, 100)
			f.Incoming("ERR-1", a1, -50)
		}
		return ReconcileFloat(f.Figures())
	}
	rep := split(true)
	want := map[string]int64{"": 1250, "student": 850, "senior": 400}
	for _, l := range rep.Lines {
		if w, ok := want[l.Product]; !ok || l.LedgerFen != w || l.ShadowFen != w || !l.HasBook || l.BookFen != w {
			t.Errorf("line %+v: want %d fen three ways", l, w)
		}
		delete(want, l.Product)
	}
	if !rep.Sound || len(want) != 0 {
		t.Errorf("sound %v, lines missing %v: want sound, every line", rep.Sound, want)
	}
	rep = split(false)
	off := map[string]string{}
	for _, l := range rep.Lines {
		off[l.Product] = l.Off
		if l.Product == UnexplainedProduct && l.LedgerFen != -250 {
			t.Errorf("the unexplained line %+v: want -250 fen", l)
		}
	}
	if rep.Sound || off[""] == "" || off[UnexplainedProduct] == "" {
		t.Errorf("records not fed: offs %v, want the issuer and the unexplained line off", off)
	}
}
