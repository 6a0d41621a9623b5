package cms_test

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// TestLateLosses: a lost card refunded after its cooling period from its
// book less its purchases; a purchase after the cut that comes later is
// the issuer's, booked once however often the sweep runs; purchases
// fewer than the book covers are refused; a card not closed owes none.
func TestLateLosses(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	h, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236", DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}})
	if err != nil {
		t.Fatal(err)
	}
	asn := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0x42}
	if _, err := r.m.Apply(ctx, clerk, issuer, asn, "citizen", h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale", issuer, asn, cash, 5000); err != nil {
		t.Fatal(err)
	}
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
