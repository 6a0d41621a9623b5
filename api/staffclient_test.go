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

// TestStaffClientAdjustAndApprove makes a manual adjustment through the
// staff clients as a counter does: the clerk asks (waiting, nothing
// moved), cannot approve it, a supervisor does, the clerk makes it
// (made, then replayed on a retry); a debit past what the card is owed
// comes back Insufficient, and approving an approval twice Conflict.
func TestStaffClientAdjustAndApprove(t *testing.T) {
	x := withCMS(t, newFixture(t))
	ctx := context.Background()
	a := x.damaged(t, "31500000000000000711", 4000)
	clerk := &StaffClient{BaseURL: x.srv.URL, Token: x.tokens["clerk"]}
	super := &StaffClient{BaseURL: x.srv.URL, Token: x.tokens["super"]}
	q := cms.AdjustRequest{Key: "adj-client-1", Direction: cms.AdjustCredit, AmountFen: 300, Reason: "a fare charged twice"}
	asked, replayed, err := clerk.AdjustCard(ctx, testIssuer, a, q, 0)
	if err != nil || replayed || asked.Made || asked.ApprovalID <= 0 || asked.State != "pending" || x.book(t, a) != 4000 {
		t.Fatalf("asked: %+v, replayed %v, %v; book %d", asked, replayed, err, x.book(t, a))
	}
	if _, err := clerk.Approve(ctx, asked.ApprovalID); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("the clerk approves: %v, want Permission", err)
	}
	ap, err := super.Approve(ctx, asked.ApprovalID)
	if err != nil || ap.State != cms.ApprovalApproved || ap.DecidedBy != "super" || ap.RequestedBy != "clerk" || ap.AmountFen != 300 {
		t.Fatalf("approved: %+v %v", ap, err)
	}
	if _, err := super.Approve(ctx, asked.ApprovalID); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("approved twice: %v, want Conflict", err)
	}
	for i, wantReplayed := range []bool{false, true} {
		made, replayed, err := clerk.AdjustCard(ctx, testIssuer, a, q, asked.ApprovalID)
		if err != nil || !made.Made || replayed != wantReplayed || made.ApprovalID != asked.ApprovalID || x.book(t, a) != 4300 {
			t.Fatalf("made (%d): %+v, replayed %v, %v; book %d", i, made, replayed, err, x.book(t, a))
		}
	}
	past := cms.AdjustRequest{Key: "adj-client-2", Direction: cms.AdjustDebit, AmountFen: 4301, Reason: "a debit past the book"}
	if _, _, err := clerk.AdjustCard(ctx, testIssuer, a, past, 0); !citycard.IsKind(err, citycard.Insufficient) {
		t.Errorf("a debit past what the card is owed: %v, want Insufficient", err)
	}
}

// TestStaffClientMoveCard moves a card through the staff client as a
// counter does: an issued card reported lost (its cut the server's
// clock, to the second), the loss cancelled (issued again), activated,
// reported damaged; a move its state does
// not allow keeps the server's kind (Conflict), and one no route makes
// is refused before it is sent (Invalid).
func TestStaffClientMoveCard(t *testing.T) {
	r := newCutRig(t, 1, 1)
	ctx := context.Background()
	asn := r.city.Cards[0].State().ASN
	c := &StaffClient{BaseURL: r.srv.URL, Token: cutClerk}
	st, cut, err := c.MoveCard(ctx, sim.Issuer, asn, cms.ReportLoss)
	if err != nil || st != cms.Lost || !cut.Equal(r.now().Truncate(time.Second)) {
		t.Fatalf("loss: %v cut at %v, %v; want lost at %v", st, cut, err, r.now())
	}
	if st, cut, err := c.MoveCard(ctx, sim.Issuer, asn, cms.CancelLoss); err != nil || st != cms.Issued || !cut.IsZero() {
		t.Fatalf("loss cancelled: %v cut at %v, %v; want issued again (its state before), without a cut", st, cut, err)
	}
	if _, _, err := c.MoveCard(ctx, sim.Issuer, asn, cms.ReportDamaged); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("an issued card reported damaged: %v, want Conflict (active or expired only)", err)
	}
	if st, _, err := c.MoveCard(ctx, sim.Issuer, asn, cms.Activate); err != nil || st != cms.Active {
		t.Fatalf("activated: %v, %v", st, err)
	}
	if st, _, err := c.MoveCard(ctx, sim.Issuer, asn, cms.ReportDamaged); err != nil || st != cms.Damaged {
		t.Fatalf("damaged: %v, %v", st, err)
	}
	if _, _, err := c.MoveCard(ctx, sim.Issuer, asn, cms.CancelLoss); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a damaged card's loss cancelled: %v, want Conflict", err)
	}
	if _, _, err := c.MoveCard(ctx, sim.Issuer, asn, cms.Personalize); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a move no route makes: %v, want Invalid", err)
	}
}
