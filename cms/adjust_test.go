package cms_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
	"golang.org/x/crypto/bcrypt"
)

var adjustAcct = ledger.Account{Type: ledger.Adjustment, Party: issuerHex}

// staffed adds ann (clerk, the rig's clerk), bo (supervisor) and cy
// (clerk) over the rig's database.
func (r *rig) staffed(t *testing.T) (*cms.Staffing, map[string]*cms.StaffMember) {
	t.Helper()
	st := cms.NewStaffing(r.db.Staff(), r.clk.read, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	admin := cms.Actor{Who: "root", ServicePoint: "hq"}
	members := map[string]*cms.StaffMember{}
	for name, role := range map[string]cms.Role{"ann": cms.RoleClerk, "bo": cms.RoleSupervisor, "cy": cms.RoleClerk} {
		m, err := st.Add(context.Background(), admin, cms.StaffMember{Name: name, Role: role, ServicePoint: clerk.ServicePoint, PointType: cms.OwnCounter}, "a long password!")
		if err != nil {
			t.Fatal(err)
		}
		members[name] = &m
	}
	return st, members
}

// approved asks for q's approval as ann and has bo approve it.
func approved(t *testing.T, st *cms.Staffing, staff map[string]*cms.StaffMember, asn citycard.ASN, q cms.AdjustRequest) *cms.Approval {
	t.Helper()
	ctx := context.Background()
	asked, _, err := st.GateAdjust(ctx, staff["ann"], "card:"+issuerHex+"/"+asn.String(), q.Canonical(), q.AmountFen, 0)
	if err != nil || asked == nil {
		t.Fatalf("GateAdjust: %+v %v", asked, err)
	}
	a, err := st.Decide(ctx, staff["bo"], asked.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	return &a
}

func (r *rig) bookOf(t *testing.T, asn citycard.ASN) int64 {
	t.Helper()
	b, err := r.m.BookBalance(context.Background(), issuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// floatSound checks the float report's three figures agree (clearing's
// FloatSplit as citycard float feeds it: the ledger's card float
// postings, card management's flows by product; no acquisition here).
func (r *rig) floatSound(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	products := map[citycard.ASN]string{}
	if err := r.db.CMS().CardProducts(ctx, func(asn citycard.ASN, p string) error { products[asn] = p; return nil }); err != nil {
		t.Fatal(err)
	}
	split := clearing.NewFloatSplit(issuerHex, products)
	if err := r.db.Ledger().Scan(ctx, 0, func(p *ledger.Posted) error {
		for _, q := range p.Postings {
			if q.Account.Type == ledger.CardFloat {
				split.Posting(q.Account.Party, p.Source, q.AmountFen)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byProduct, err := r.db.CMS().ProductFlowTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	split.Book(byProduct)
	if rep := clearing.ReconcileFloat(split.Figures()); !rep.Sound {
		t.Errorf("the float does not reconcile three ways: %+v", rep.Lines)
	}
}

// TestAdjustBook follows issue 9 on a damaged card, whose book is its
// balance: no adjustment without a supervisor's approval of exactly it,
// never decided by its requester; a credit and a debit move the book,
// the float and the adjustment account alike, once per key; a debit
// never takes the book below 0, a credit never past the balance cap.
func TestAdjustBook(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	st, staff := r.staffed(t)
	asn := r.citizen(t, 0x51, 5000)
	for _, mv := range []cms.Move{cms.Activate, cms.ReportDamaged} {
		if _, err := r.m.Move(ctx, clerk, issuer, asn, mv); err != nil {
			t.Fatal(err)
		}
	}
	subject := "card:" + issuerHex + "/" + asn.String()
	q := cms.AdjustRequest{Key: "adj-1", Direction: cms.AdjustCredit, AmountFen: 700, Reason: "fare charged twice"}
	adjust := func(by cms.Actor, q cms.AdjustRequest, a *cms.Approval) (cms.Adjusted, error) {
		return r.m.Adjust(ctx, by, issuer, asn, q, a, r.bookOf(t, asn), nil)
	}

	_, err := adjust(clerk, q, nil)
	wantKind(t, "no approval", err, citycard.Permission)
	asked, granted, err := st.GateAdjust(ctx, staff["ann"], subject, q.Canonical(), q.AmountFen, 0)
	if err != nil || granted != nil || asked == nil || asked.State != cms.ApprovalPending || asked.Action != cms.ApprovalAdjust {
		t.Fatalf("GateAdjust: %+v %+v %v", asked, granted, err)
	}
	_, err = adjust(clerk, q, asked)
	wantKind(t, "an approval pending", err, citycard.Permission)
	_, err = st.Decide(ctx, staff["ann"], asked.ID, true)
	wantKind(t, "the requester approving", err, citycard.Permission)
	_, err = st.Decide(ctx, staff["cy"], asked.ID, true)
	wantKind(t, "a clerk approving", err, citycard.Permission)
	a, err := st.Decide(ctx, staff["bo"], asked.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	other := q
	other.AmountFen = 800
	_, _, err = st.GateAdjust(ctx, staff["ann"], subject, other.Canonical(), other.AmountFen, a.ID)
	wantKind(t, "the approval for another amount", err, citycard.Permission)
	_, err = adjust(clerk, other, &a)
	wantKind(t, "another amount than approved", err, citycard.Permission)
	_, err = adjust(cms.Actor{Who: "cy", ServicePoint: clerk.ServicePoint}, q, &a)
	wantKind(t, "another clerk", err, citycard.Permission)
	self := a // a row Decide would not have made
	self.DecidedBy = self.RequestedBy
	_, err = adjust(clerk, q, &self)
	wantKind(t, "an approval decided by its requester", err, citycard.Permission)
	_, _, err = st.GateAdjust(ctx, staff["ann"], subject, q.Canonical(), q.AmountFen, 999)
	wantKind(t, "an approval that does not exist", err, citycard.Invalid)
	if r.bookOf(t, asn) != 5000 || r.balance(t, adjustAcct) != 0 {
		t.Fatalf("the refusals moved money: book %d, adjustments %d", r.bookOf(t, asn), r.balance(t, adjustAcct))
	}

	_, _, err = st.GateAdjust(ctx, staff["ann"], subject, q.Canonical(), q.AmountFen, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := adjust(clerk, q, &a)
	if err != nil || got.Replayed || got.TopUp != nil || got.Card.State != cms.Damaged {
		t.Fatalf("Adjust: %+v %v", got, err)
	}
	if r.bookOf(t, asn) != 5700 || r.float(t) != 5700 || r.balance(t, adjustAcct) != 700 {
		t.Fatalf("after the credit: book %d, float %d, adjustments %d", r.bookOf(t, asn), r.float(t), r.balance(t, adjustAcct))
	}
	if got, err := adjust(clerk, q, &a); err != nil || !got.Replayed || r.bookOf(t, asn) != 5700 {
		t.Fatalf("the retry: %+v %v, book %d", got, err, r.bookOf(t, asn))
	}
	_, err = adjust(clerk, other, approved(t, st, staff, asn, other))
	wantKind(t, "the key again for another amount", err, citycard.Conflict)

	// A debit: at most what the card is owed, to 0.
	over := cms.AdjustRequest{Key: "adj-2", Direction: cms.AdjustDebit, AmountFen: 5701, Reason: "load booked twice"}
	_, err = adjust(clerk, over, approved(t, st, staff, asn, over))
	wantKind(t, "a debit past 0", err, citycard.Insufficient)
	all := cms.AdjustRequest{Key: "adj-3", Direction: cms.AdjustDebit, AmountFen: 5700, Reason: "load booked twice"}
	if _, err := adjust(clerk, all, approved(t, st, staff, asn, all)); err != nil {
		t.Fatal(err)
	}
	if r.bookOf(t, asn) != 0 || r.float(t) != 0 || r.balance(t, adjustAcct) != -5000 {
		t.Fatalf("after the debit: book %d, float %d, adjustments %d", r.bookOf(t, asn), r.float(t), r.balance(t, adjustAcct))
	}
	// A credit: the balance cap reached, never passed.
	p, _ := cms.DefaultProducts().Product("citizen")
	full := cms.AdjustRequest{Key: "adj-4", Direction: cms.AdjustCredit, AmountFen: p.BalanceMaxFen, Reason: "balance lost in a fault"}
	if _, err := adjust(clerk, full, approved(t, st, staff, asn, full)); err != nil {
		t.Fatal(err)
	}
	one := cms.AdjustRequest{Key: "adj-5", Direction: cms.AdjustCredit, AmountFen: 1, Reason: "one more"}
	_, err = adjust(clerk, one, approved(t, st, staff, asn, one))
	wantKind(t, "a credit past the cap", err, citycard.Conflict)
	for _, bad := range []cms.AdjustRequest{
		{Key: "b", Direction: cms.AdjustCredit, AmountFen: 0, Reason: "r"},
		{Key: "b", Direction: cms.AdjustCredit, AmountFen: -1, Reason: "r"},
		{Key: "b", Direction: cms.AdjustCredit, AmountFen: cms.AdjustFenMax + 1, Reason: "r"},
		{Key: "b", Direction: 3, AmountFen: 1, Reason: "r"},
		{Key: "b", Direction: cms.AdjustCredit, AmountFen: 1, Reason: ""},
		{Key: "b", Direction: cms.AdjustCredit, AmountFen: 1, Reason: strings.Repeat("r", cms.AdjustReasonLenMax+1)},
		{Key: "", Direction: cms.AdjustCredit, AmountFen: 1, Reason: "r"},
	} {
		_, err := adjust(clerk, bad, &a)
		wantKind(t, "a bad request", err, citycard.Invalid)
	}
	if r.bookOf(t, asn) != p.BalanceMaxFen {
		t.Errorf("book %d, want the cap %d", r.bookOf(t, asn), p.BalanceMaxFen)
	}
	// The audit log names the adjustment, its reason and its approver.
	var logged bool
	if err := r.db.CMS().AuditLog(ctx, 0, func(a *cms.AuditRecord) error {
		logged = logged || a.Subject == subject && a.Action == "adjust credit" && strings.Contains(a.After, `"reason":"fare charged twice"`) && strings.Contains(a.After, `"approved_by":"bo"`)
		return nil
	}); err != nil || !logged {
		t.Errorf("no audit record of the adjustment: %v", err)
	}
	l, err := st.Approvals(ctx, cms.ApprovalAdjust, subject, 100)
	if err != nil || len(l) != 6 || l[0].ID < l[1].ID {
		t.Errorf("the card's adjustments' approvals: %d %v", len(l), err)
	}
	r.floatSound(t)
	r.verify(t)
}

// TestAdjustChip: a card in use holds its balance on its chip: a credit
// is a remote top-up paid by the adjustment account, claimed at the next
// tap (the chip and the book equal again) or expiring back to it; a
// debit is refused.
func TestAdjustChip(t *testing.T) {
	ctx := context.Background()
	r, tu := topUpRig(t)
	st, staff := r.staffed(t)
	c := r.card(t, 1)
	q := cms.AdjustRequest{Key: "adj-chip", Direction: cms.AdjustCredit, AmountFen: 700, Reason: "gate charged twice"}
	a := approved(t, st, staff, c.asn, q)
	got, err := r.m.Adjust(ctx, clerk, issuer, c.asn, q, a, 0, nil)
	if err != nil || got.Replayed || got.TopUp == nil || got.TopUp.State != cms.TopUpPending || got.TopUp.Payer.Type != cms.AdjustmentPay || got.TopUp.ID != cms.TopUpID(q.Key) {
		t.Fatalf("Adjust: %+v %v", got, err)
	}
	if r.pending(t) != 700 || r.balance(t, adjustAcct) != 700 || r.float(t) != 0 || r.book(t, c) != 0 {
		t.Fatalf("after the credit: pending %d, adjustments %d, float %d, book %d", r.pending(t), r.balance(t, adjustAcct), r.float(t), r.book(t, c))
	}
	again, err := r.m.Adjust(ctx, clerk, issuer, c.asn, q, a, 0, nil)
	if err != nil || !again.Replayed || again.TopUp.ID != got.TopUp.ID || r.pending(t) != 700 {
		t.Fatalf("the retry: %+v %v, pending %d", again, err, r.pending(t))
	}
	debit := cms.AdjustRequest{Key: "adj-debit", Direction: cms.AdjustDebit, AmountFen: 100, Reason: "r"}
	_, err = r.m.Adjust(ctx, clerk, issuer, c.asn, debit, approved(t, st, staff, c.asn, debit), 0, nil)
	wantKind(t, "a debit of a card in use", err, citycard.Conflict)
	p, _ := cms.DefaultProducts().Product("transit")
	big := cms.AdjustRequest{Key: "adj-big", Direction: cms.AdjustCredit, AmountFen: p.LoadMaxFen + 1, Reason: "r"}
	_, err = r.m.Adjust(ctx, clerk, issuer, c.asn, big, approved(t, st, staff, c.asn, big), 0, nil)
	wantKind(t, "a credit over one load", err, citycard.Invalid)
	card, _ := r.m.Card(ctx, issuer, c.asn)
	if err := r.m.CheckAdjust(&card, q, 0, nil); err != nil {
		t.Errorf("CheckAdjust of a credit: %v", err)
	}
	wantKind(t, "CheckAdjust of a debit", r.m.CheckAdjust(&card, debit, 0, nil), citycard.Conflict)
	wantKind(t, "CheckAdjust of a credit over one load", r.m.CheckAdjust(&card, big, 0, nil), citycard.Invalid)
	_, _, err = tu.Pay(ctx, clerk, "pay-adj", issuer, c.asn, cms.Channel{Type: cms.AdjustmentPay, Party: issuerHex, Reference: "approval:1"}, 100)
	wantKind(t, "a top-up paid by the adjustment account without its approval", err, citycard.Invalid)

	if _, err := r.claim(t, tu, c, got.TopUp.ID, 700, true); err != nil {
		t.Fatal(err)
	}
	if r.pending(t) != 0 || r.float(t) != 700 || r.book(t, c) != 700 || c.balance != 700 {
		t.Fatalf("after the claim: pending %d, float %d, book %d, chip %d", r.pending(t), r.float(t), r.book(t, c), c.balance)
	}
	// One never claimed goes back to the adjustment account.
	q2 := cms.AdjustRequest{Key: "adj-chip-2", Direction: cms.AdjustCredit, AmountFen: 500, Reason: "r"}
	if _, err := r.m.Adjust(ctx, clerk, issuer, c.asn, q2, approved(t, st, staff, c.asn, q2), 0, nil); err != nil {
		t.Fatal(err)
	}
	r.clk.advance(31 * 24 * time.Hour)
	if n, err := tu.Sweep(ctx, clerk); err != nil || n != 1 {
		t.Fatalf("Sweep: %d %v", n, err)
	}
	if r.pending(t) != 0 || r.balance(t, adjustAcct) != 700 {
		t.Errorf("after the expiry: pending %d, adjustments %d", r.pending(t), r.balance(t, adjustAcct))
	}
	// No channel took the adjustments' money: no channel move.
	moves, err := r.db.TopUps().ChannelMoves(ctx, time.Time{}, r.clk.read().Add(time.Hour), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range moves {
		if m.Channel.Type == cms.AdjustmentPay || strings.HasPrefix(m.Key, "adj-") {
			t.Errorf("a channel move of an adjustment: %+v", m)
		}
	}
	r.floatSound(t)
	r.verify(t)
}

// faultyTopUps fails the top-up store's call named by armed.
type faultyTopUps struct {
	cms.TopUpStore
	armed atomic.Pointer[string]
}

func (f *faultyTopUps) fail(name string) error {
	if p := f.armed.Load(); p != nil && *p == name {
		return errInjected
	}
	return nil
}

func (f *faultyTopUps) CommitTopUp(ctx context.Context, op *cms.Operation, t *cms.TopUp) (bool, error) {
	if err := f.fail("CommitTopUp"); err != nil {
		return false, err
	}
	return f.TopUpStore.CommitTopUp(ctx, op, t)
}

func (f *faultyTopUps) WaitingTopUps(ctx context.Context, i citycard.IssuerCode, a citycard.ASN, limit int) ([]cms.TopUp, error) {
	if err := f.fail("WaitingTopUps"); err != nil {
		return nil, err
	}
	return f.TopUpStore.WaitingTopUps(ctx, i, a, limit)
}

func (f *faultyTopUps) TopUp(ctx context.Context, id string) (cms.TopUp, error) {
	if err := f.fail("TopUp"); err != nil {
		return cms.TopUp{}, err
	}
	return f.TopUpStore.TopUp(ctx, id)
}

// faultyStaff fails the staff store's approval call named by armed.
type faultyStaff struct {
	cms.StaffStore
	armed atomic.Pointer[string]
}

func (f *faultyStaff) fail(name string) error {
	if p := f.armed.Load(); p != nil && *p == name {
		return errInjected
	}
	return nil
}

func (f *faultyStaff) CreateApproval(ctx context.Context, build func(int64) (*cms.Approval, *cms.AuditRecord)) (int64, error) {
	if err := f.fail("CreateApproval"); err != nil {
		return 0, err
	}
	return f.StaffStore.CreateApproval(ctx, build)
}

func (f *faultyStaff) Approval(ctx context.Context, id int64) (cms.Approval, error) {
	if err := f.fail("Approval"); err != nil {
		return cms.Approval{}, err
	}
	return f.StaffStore.Approval(ctx, id)
}

func (f *faultyStaff) ApprovalsOf(ctx context.Context, action, subject string, limit int) ([]cms.Approval, error) {
	if err := f.fail("ApprovalsOf"); err != nil {
		return nil, err
	}
	return f.StaffStore.ApprovalsOf(ctx, action, subject, limit)
}

// TestAdjustStoreFaults injects a store fault at every call of an
// adjustment's write path, of a book and of a chip (its top-up): each is
// returned (kind IO), nothing is booked, and the same request succeeds
// once the store is back, booked once.
func TestAdjustStoreFaults(t *testing.T) {
	ctx := context.Background()
	f := &faulty{}
	r := newRig(t, func(s cms.Store) cms.Store { f.Store = s; return f })
	ft := &faultyTopUps{TopUpStore: r.db.TopUps()}
	cms.NewTopUps(r.host, ft)
	st, staff := r.staffed(t)

	asn := r.citizen(t, 0x61, 3000)
	for _, mv := range []cms.Move{cms.Activate, cms.ReportDamaged} {
		if _, err := r.m.Move(ctx, clerk, issuer, asn, mv); err != nil {
			t.Fatal(err)
		}
	}
	q := cms.AdjustRequest{Key: "adj-f", Direction: cms.AdjustDebit, AmountFen: 400, Reason: "load booked twice"}
	a := approved(t, st, staff, asn, q)
	for _, name := range []string{"Card", "OperationHash", "Commit"} {
		f.armed.Store(&name)
		_, err := r.m.Adjust(ctx, clerk, issuer, asn, q, a, r.bookOf(t, asn), nil)
		f.armed.Store(nil)
		if !errors.Is(err, errInjected) || !citycard.IsKind(err, citycard.IO) {
			t.Errorf("Adjust with %s failing: %v", name, err)
		}
		if got := r.bookOf(t, asn); got != 3000 {
			t.Errorf("Adjust with %s failing: book %d", name, got)
		}
	}
	if got, err := r.m.Adjust(ctx, clerk, issuer, asn, q, a, r.bookOf(t, asn), nil); err != nil || got.Replayed {
		t.Fatalf("the store back: %+v %v", got, err)
	}
	if got, err := r.m.Adjust(ctx, clerk, issuer, asn, q, a, r.bookOf(t, asn), nil); err != nil || !got.Replayed || r.bookOf(t, asn) != 2600 || r.balance(t, adjustAcct) != -400 {
		t.Fatalf("the retry: %+v %v, book %d", got, err, r.bookOf(t, asn))
	}

	c := r.card(t, 2)
	q = cms.AdjustRequest{Key: "adj-fc", Direction: cms.AdjustCredit, AmountFen: 300, Reason: "gate charged twice"}
	a = approved(t, st, staff, c.asn, q)
	for _, name := range []string{"Card", "OperationHash", "WaitingTopUps", "CommitTopUp"} {
		f.armed.Store(&name)
		ft.armed.Store(&name)
		_, err := r.m.Adjust(ctx, clerk, issuer, c.asn, q, a, 0, nil)
		f.armed.Store(nil)
		ft.armed.Store(nil)
		if !errors.Is(err, errInjected) || !citycard.IsKind(err, citycard.IO) {
			t.Errorf("Adjust of a chip with %s failing: %v", name, err)
		}
		if r.pending(t) != 0 || r.balance(t, adjustAcct) != -400 {
			t.Errorf("Adjust of a chip with %s failing: pending %d, adjustments %d", name, r.pending(t), r.balance(t, adjustAcct))
		}
	}
	for _, want := range []bool{false, true} {
		got, err := r.m.Adjust(ctx, clerk, issuer, c.asn, q, a, 0, nil)
		if err != nil || got.Replayed != want || r.pending(t) != 300 || r.balance(t, adjustAcct) != -100 {
			t.Fatalf("the store back (replayed %v): %+v %v, pending %d", want, got, err, r.pending(t))
		}
	}

	// The approval's store: asking for one, reading it, listing them.
	fs := &faultyStaff{StaffStore: r.db.Staff()}
	fst := cms.NewStaffing(fs, r.clk.read, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	subject := "card:" + issuerHex + "/" + c.asn.String()
	q = cms.AdjustRequest{Key: "adj-fs", Direction: cms.AdjustCredit, AmountFen: 100, Reason: "r"}
	before, err := fst.Approvals(ctx, cms.ApprovalAdjust, subject, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		id   int64
	}{{"CreateApproval", 0}, {"Approval", a.ID}, {"ApprovalsOf", 0}} {
		fs.armed.Store(&call.name)
		var err error
		if call.name == "ApprovalsOf" {
			_, err = fst.Approvals(ctx, cms.ApprovalAdjust, subject, 100)
		} else {
			_, _, err = fst.GateAdjust(ctx, staff["ann"], subject, q.Canonical(), q.AmountFen, call.id)
		}
		fs.armed.Store(nil)
		if !errors.Is(err, errInjected) {
			t.Errorf("%s failing: %v", call.name, err)
		}
	}
	if after, err := fst.Approvals(ctx, cms.ApprovalAdjust, subject, 100); err != nil || len(after) != len(before) {
		t.Errorf("a failed request kept an approval: %d, was %d (%v)", len(after), len(before), err)
	}
	r.verify(t)
}

// TestAdjustReplaced: a lost card is not adjusted (it may be found); once
// replaced its book is, and the balance move carries the adjustment onto
// the new card, the old one left at 0.
func TestAdjustReplaced(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	st, staff := r.staffed(t)
	old := r.citizen(t, 0x71, 5000)
	if _, err := r.m.Move(ctx, clerk, issuer, old, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	q := cms.AdjustRequest{Key: "adj-r", Direction: cms.AdjustCredit, AmountFen: 700, Reason: "fare charged twice"}
	a := approved(t, st, staff, old, q)
	_, err := r.m.Adjust(ctx, clerk, issuer, old, q, a, r.bookOf(t, old), nil)
	wantKind(t, "a lost card", err, citycard.Conflict)
	nu := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0x72}
	if _, err := r.m.Replace(ctx, clerk, "replace-r", issuer, old, nu, cash); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, nu, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-r", issuer, nu, cash, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := r.m.Adjust(ctx, clerk, issuer, old, q, a, r.bookOf(t, old), nil); err != nil || got.Card.State != cms.Replaced {
		t.Fatalf("Adjust of the replaced card: %+v %v", got, err)
	}
	r.clk.advance(8 * 24 * time.Hour)
	bal, err := r.m.BookPurse(ctx, issuer, old, nil)
	if err != nil || bal != 5700 {
		t.Fatalf("BookPurse %d %v, want 5700", bal, err)
	}
	if _, err := r.m.MoveBalance(ctx, clerk, "move-r", issuer, old, bal, nil); err != nil {
		t.Fatal(err)
	}
	if r.bookOf(t, old) != 0 || r.bookOf(t, nu) != 5700 || r.float(t) != 5700 || r.balance(t, adjustAcct) != 700 {
		t.Errorf("after the move: old %d, new %d, float %d, adjustments %d", r.bookOf(t, old), r.bookOf(t, nu), r.float(t), r.balance(t, adjustAcct))
	}
	q2 := cms.AdjustRequest{Key: "adj-r2", Direction: cms.AdjustCredit, AmountFen: 100, Reason: "r"}
	_, err = r.m.Adjust(ctx, clerk, issuer, old, q2, approved(t, st, staff, old, q2), 0, nil)
	wantKind(t, "a closed card", err, citycard.Conflict)
	r.floatSound(t)
	r.verify(t)
}

// TestAdjustRequestLimits: each bound of a request reached, never
// passed; the canonical form reads back as the request it was.
func TestAdjustRequestLimits(t *testing.T) {
	ok := cms.AdjustRequest{Key: strings.Repeat("k", cms.KeyLenMax), Direction: cms.AdjustDebit, AmountFen: cms.AdjustFenMax, Reason: strings.Repeat("r", cms.AdjustReasonLenMax-3) + "理"}
	if err := ok.Check(); err != nil {
		t.Fatalf("at every bound: %v", err)
	}
	if got, err := cms.ParseAdjustRequest(ok.Canonical()); err != nil || got != ok {
		t.Fatalf("the canonical form read back: %+v %v", got, err)
	}
	for what, q := range map[string]cms.AdjustRequest{
		"amount":     {Key: "k", Direction: cms.AdjustDebit, AmountFen: cms.AdjustFenMax + 1, Reason: "r"},
		"reason":     {Key: "k", Direction: cms.AdjustDebit, AmountFen: 1, Reason: strings.Repeat("r", cms.AdjustReasonLenMax+1)},
		"key":        {Key: strings.Repeat("k", cms.KeyLenMax+1), Direction: cms.AdjustDebit, AmountFen: 1, Reason: "r"},
		"bad reason": {Key: "k", Direction: cms.AdjustDebit, AmountFen: 1, Reason: "\xff"},
	} {
		wantKind(t, what+" past its bound", q.Check(), citycard.Invalid)
	}
	for _, s := range []string{"", "{}", `{"key":"k","direction":"up","amount_fen":1,"reason":"r"}`, `{"key":"k","direction":"credit","amount_fen":0,"reason":"r"}`} {
		_, err := cms.ParseAdjustRequest(s)
		wantKind(t, "parse "+s, err, citycard.Invalid)
	}

	// A credit of a card in use: one load at most.
	ctx := context.Background()
	r, _ := topUpRig(t)
	st, staff := r.staffed(t)
	c := r.card(t, 3)
	p, _ := cms.DefaultProducts().Product("transit")
	q := cms.AdjustRequest{Key: "adj-load-max", Direction: cms.AdjustCredit, AmountFen: p.LoadMaxFen, Reason: "r"}
	if got, err := r.m.Adjust(ctx, clerk, issuer, c.asn, q, approved(t, st, staff, c.asn, q), 0, nil); err != nil || got.TopUp.AmountFen != p.LoadMaxFen {
		t.Fatalf("a credit of one load: %+v %v", got, err)
	}
}
