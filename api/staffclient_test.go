package api

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
)

// TestStaffClientTopUps pays a remote top-up through the staff client,
// retries it (replayed, the same top-up), reads it back as the server
// stores it, and sees the server's refusals keep their kinds: the key
// reused for another amount (Conflict), a clerk's sweep (Permission).
func TestStaffClientTopUps(t *testing.T) {
	r := newKioskRig(t)
	ctx := context.Background()
	asn := r.city.Cards[0].State().ASN
	c := &StaffClient{BaseURL: r.srv.URL, Token: r.clerk}
	payer := cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: "ref-1"}
	tu, replayed, err := c.PayTopUp(ctx, "pay-1", sim.Issuer, asn, payer, 3000)
	if err != nil || replayed || tu.ID != cms.TopUpID("pay-1") || tu.State != cms.TopUpPending || tu.AmountFen != 3000 || tu.Payer != payer || tu.ASN != asn || tu.ClaimBy.IsZero() {
		t.Fatalf("paid: %+v, replayed %v, %v", tu, replayed, err)
	}
	again, replayed, err := c.PayTopUp(ctx, "pay-1", sim.Issuer, asn, payer, 3000)
	if err != nil || !replayed || again.ID != tu.ID {
		t.Fatalf("paid again: %+v, replayed %v, %v; want the same top-up, replayed", again, replayed, err)
	}
	read, err := c.TopUp(ctx, tu.ID)
	if err != nil || read.ID != tu.ID || read.State != cms.TopUpPending || !read.ClaimBy.Equal(tu.ClaimBy) {
		t.Fatalf("read: %+v %v", read, err)
	}
	if _, _, err := c.PayTopUp(ctx, "pay-1", sim.Issuer, asn, payer, 4000); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("the key again for another amount: %v, want Conflict", err)
	}
	if _, err := c.SweepTopUps(ctx); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("a clerk's sweep: %v, want Permission", err)
	}
	if _, err := c.TopUp(ctx, "0000000000000001"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("an unknown top-up: %v, want NotFound", err)
	}
}

// TestStaffClientRefundCard refunds a lost card after its cooling period
// through the staff client (the deposit kept), retries it (replayed, the
// same quote), and sees a second refund under another key refused
// (Conflict: the card is closed).
func TestStaffClientRefundCard(t *testing.T) {
	r := newCutRig(t, 1, 1)
	ctx := context.Background()
	asn := r.city.Cards[0].State().ASN
	if code, v := r.post(t, asn, "loss", ""); code != 200 {
		t.Fatalf("loss: %d %v", code, v)
	}
	r.set(r.now().Add(8 * 24 * time.Hour))
	c := &StaffClient{BaseURL: r.srv.URL, Token: cutClerk}
	cash := cms.Channel{Type: cms.Cash, Party: "nb-card"}
	q, replayed, waiting, err := c.RefundCard(ctx, "refund-1", sim.Issuer, asn, cash, 0)
	if err != nil || replayed || waiting != 0 || q.BalanceFen != 5000 || q.DepositFen != 0 || q.PaidFen != q.BalanceFen-q.FeeFen {
		t.Fatalf("refund: %+v, replayed %v, approval %d, %v", q, replayed, waiting, err)
	}
	again, replayed, _, err := c.RefundCard(ctx, "refund-1", sim.Issuer, asn, cash, 0)
	if err != nil || !replayed || again != q {
		t.Fatalf("refund again: %+v, replayed %v, %v; want %+v, replayed", again, replayed, err, q)
	}
	if _, _, _, err := c.RefundCard(ctx, "refund-2", sim.Issuer, asn, cash, 0); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a second refund: %v, want Conflict", err)
	}
}
