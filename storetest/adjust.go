package storetest

import (
	"context"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// testCMSAdjust: manual adjustments on the store (migration 0033): a
// credit of a card in use kept as a remote top-up whose payer is the
// issuer's adjustment account (payer type 6), read back as such; a
// debit of it refused; the card reported damaged, its book credited and
// debited; the
// card's adjustments listed from their approvals, newest first.
func testCMSAdjust(t *testing.T, s Stores) {
	ctx := context.Background()
	h := newTopUpHost(t, s)
	st := staffing(t, s, h.clk.read)
	ann := addStaff(t, st, "ann", cms.RoleClerk)
	bo := addStaff(t, st, "bo", cms.RoleSupervisor)
	subject := "card:" + issuerHex + "/" + h.asn.String()
	approve := func(q cms.AdjustRequest) *cms.Approval {
		t.Helper()
		asked, _, err := st.GateAdjust(ctx, &ann, subject, q.Canonical(), q.AmountFen, 0)
		if err != nil {
			t.Fatal(err)
		}
		a, err := st.Decide(ctx, &bo, asked.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		return &a
	}
	credit := cms.AdjustRequest{Key: "adj-1", Direction: cms.AdjustCredit, AmountFen: 600, Reason: "gate charged twice"}
	got, err := h.m.Adjust(ctx, clerk, cmsIssuer, h.asn, credit, approve(credit), 0, nil)
	if err != nil || got.TopUp == nil {
		t.Fatalf("Adjust: %+v %v", got, err)
	}
	stored := h.state(t, got.TopUp.ID)
	if stored.Payer.Type != cms.AdjustmentPay || stored.Payer.Party != issuerHex || stored.State != cms.TopUpPending || stored.AmountFen != 600 {
		t.Errorf("the adjustment's top-up: %+v", stored)
	}
	if h.account(t, ledger.Account{Type: ledger.Adjustment, Party: issuerHex}) != 600 {
		t.Errorf("adjustment account %d, want a debit of 600", h.account(t, ledger.Account{Type: ledger.Adjustment, Party: issuerHex}))
	}
	debit := cms.AdjustRequest{Key: "adj-2", Direction: cms.AdjustDebit, AmountFen: 100, Reason: "load booked twice"}
	a := approve(debit)
	if _, err := h.m.Adjust(ctx, clerk, cmsIssuer, h.asn, debit, a, 0, nil); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a debit of a card in use: %v, want Conflict", err)
	}
	// The book: a credit, then the debit.
	for _, mv := range []cms.Move{cms.Activate, cms.ReportDamaged} {
		if _, err := h.m.Move(ctx, clerk, cmsIssuer, h.asn, mv); err != nil {
			t.Fatal(err)
		}
	}
	book := cms.AdjustRequest{Key: "adj-3", Direction: cms.AdjustCredit, AmountFen: 300, Reason: "balance lost in a fault"}
	if _, err := h.m.Adjust(ctx, clerk, cmsIssuer, h.asn, book, approve(book), 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Adjust(ctx, clerk, cmsIssuer, h.asn, debit, a, 300, nil); err != nil {
		t.Fatal(err)
	}
	tot, err := s.CMS.FlowTotals(ctx)
	if err != nil || tot[cms.FlowAdjustCredit] != 300 || tot[cms.FlowAdjustDebit] != 100 {
		t.Errorf("flow totals %v %v", tot, err)
	}
	l, err := st.Approvals(ctx, cms.ApprovalAdjust, subject, 10)
	if err != nil || len(l) != 3 || l[0].ID != 3 || l[2].ID != 1 || l[2].Request != credit.Canonical() {
		t.Errorf("approvals %+v %v", l, err)
	}
	if l, err := st.Approvals(ctx, "refund", subject, 10); err != nil || len(l) != 0 {
		t.Errorf("refund approvals %+v %v", l, err)
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Error(err)
	}
}
