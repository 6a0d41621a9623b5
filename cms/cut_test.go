package cms_test

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// citizen sells a registered citizen card, ASN low byte n, with loadFen
// on it.
func (r *rig) citizen(t *testing.T, n byte, loadFen int64) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	h, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236", DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}})
	if err != nil {
		t.Fatal(err)
	}
	asn := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, n}
	if _, err := r.m.Apply(ctx, clerk, issuer, asn, "citizen", h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-"+asn.String(), issuer, asn, cash, loadFen); err != nil {
		t.Fatal(err)
	}
	return asn
}

// TestLateLosses: a lost card refunded after its cooling period from its
// book less its purchases; a purchase after the cut that comes later is
// the issuer's, booked once however often the sweep runs; purchases
// fewer than the book covers are refused; a card not closed owes none.
func TestLateLosses(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	asn := r.citizen(t, 0x42, 5000)
	c, err := r.m.Move(ctx, clerk, issuer, asn, cms.ReportLoss)
	if err != nil {
		t.Fatal(err)
	}
	cut := c.LostAt
	purchases := []cms.Purchase{{At: cut.Add(-time.Hour), AmountFen: 200}, {At: cut.Add(time.Hour), AmountFen: 300}}
	if due, err := r.m.LateLossDue(ctx, &c, purchases); err != nil || due != 0 {
		t.Fatalf("a lost card not closed: %d %v, want 0", due, err)
	}
	r.clk.advance(8 * 24 * time.Hour)
	bal, err := r.m.BookPurse(ctx, issuer, asn, purchases)
	if err != nil || bal != 4500 {
		t.Fatalf("book less purchases: %d %v, want 4500", bal, err)
	}
	if _, err := r.m.Refund(ctx, clerk, "refund", issuer, asn, cash, bal, purchases); err != nil {
		t.Fatal(err)
	}
	terms := func() map[cms.FlowType]int64 {
		fs, err := r.m.Flows(ctx, issuer, asn)
		if err != nil {
			t.Fatal(err)
		}
		m := map[cms.FlowType]int64{}
		for _, f := range fs {
			m[f.Type] += f.Fen
		}
		return m
	}
	if f := terms(); f[cms.FlowRefund] != 4800 || f[cms.FlowLossBorne] != 300 {
		t.Fatalf("after the refund: %v, want 4800 refunded (as of the report), 300 borne", f)
	}
	later := append(purchases, cms.Purchase{At: cut.Add(2 * time.Hour), AmountFen: 50})
	for i, want := range []int64{50, 0} {
		if fen, err := r.m.SettleLateLoss(ctx, clerk, issuer, asn, later); err != nil || fen != want {
			t.Fatalf("sweep %d: %d %v, want %d", i, fen, err, want)
		}
	}
	if f := terms(); f[cms.FlowLossBorne] != 350 {
		t.Fatalf("loss borne %d, want 350", f[cms.FlowLossBorne])
	}
	closed, err := r.m.Card(ctx, issuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.LateLossDue(ctx, &closed, purchases[:1]); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("purchases fewer than the book covers: %v, want Invalid", err)
	}
}

// TestClosedCardKeepsUnconfirmedLoad: a lost card whose last load the
// chip never credited (torn before CREDIT, its TAC never came) is
// refunded from its book, the unconfirmed load in it; the finder's next
// session on the card, at the same online counter, must not reverse that
// load (the money back to the payer a second time): the card is closed,
// the host refuses the session, and the book and the float stay put.
func TestClosedCardKeepsUnconfirmedLoad(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	asn := r.citizen(t, 0x43, 0)
	c := &chip{asn: asn, version: 1}
	r.keysOf(t, c)
	s, mac1 := c.initialize(t, 5000, r.clk.read())
	if _, err := r.host.Authorize(ctx, kiosk, cash, s, mac1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	r.clk.advance(8 * 24 * time.Hour)
	bal, err := r.m.BookPurse(ctx, issuer, asn, nil)
	if err != nil || bal != 5000 {
		t.Fatalf("book less purchases: %d %v, want 5000", bal, err)
	}
	if _, err := r.m.Refund(ctx, clerk, "refund", issuer, asn, cash, bal, nil); err != nil {
		t.Fatal(err)
	}
	book, float := r.book(t, c), r.float(t)
	s2, mac1 := c.initialize(t, 100, r.clk.read())
	_, err = r.host.Authorize(ctx, kiosk, cash, s2, mac1)
	wantKind(t, "a session on the closed card", err, citycard.Conflict)
	if got := r.book(t, c); got != book || got != 0 {
		t.Errorf("the closed card's book: %d fen, was %d, want 0", got, book)
	}
	if got := r.float(t); got != float {
		t.Errorf("float %d fen, was %d", got, float)
	}
	if l, _ := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s)); l.Status != cms.LoadUnconfirmed {
		t.Errorf("the refunded card's load: %v by %q, want it unconfirmed", l.Status, l.Settlement)
	}
}
