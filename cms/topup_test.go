package cms_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

var (
	alipay     = cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: "2026030222001"}
	alipayAcct = alipay.Account()
)

// topUpRig is the load host's rig with remote top-up over its store.
func topUpRig(t *testing.T) (*rig, *cms.TopUps) {
	t.Helper()
	r := newRig(t, nil)
	return r, cms.NewTopUps(r.host, r.db.TopUps())
}

// balance is an account's balance on its natural side (0 for one never
// posted to).
func (r *rig) balance(t *testing.T, a ledger.Account) int64 {
	t.Helper()
	b, err := r.db.Ledger().Balance(context.Background(), a)
	if citycard.IsKind(err, citycard.NotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if a.Type.DebitNormal() {
		return b.NetFen()
	}
	return -b.NetFen()
}

var pendingAcct = ledger.Account{Type: ledger.TopUpPending, Party: issuerHex}

func (r *rig) pending(t *testing.T) int64 { t.Helper(); return r.balance(t, pendingAcct) }

// claim runs a claim of top-up id on c: INITIALIZE, the host's MAC2 for
// the claim, and, if credit, CREDIT and the TAC confirmed.
func (r *rig) claim(t *testing.T, tu *cms.TopUps, c *chip, id string, amount uint32, credit bool) (*cms.LoadSession, error) {
	t.Helper()
	ctx := context.Background()
	s, mac1 := c.initialize(t, amount, r.clk.read())
	mac2, err := tu.Claim(ctx, kiosk, id, s, mac1)
	if err != nil || !credit {
		return s, err
	}
	tac, ok := c.credit(t, s, mac2)
	if !ok {
		return s, fmt.Errorf("the card refused the claim's MAC2")
	}
	return s, r.host.Confirm(ctx, kiosk, s, tac)
}

func topUpState(t *testing.T, tu *cms.TopUps, id string) cms.TopUpState {
	t.Helper()
	got, err := tu.TopUp(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return got.State
}

func TestTopUpPayAndClaim(t *testing.T) {
	ctx := context.Background()
	r, tu := topUpRig(t)
	c := r.card(t, 1)
	paid, replayed, err := tu.Pay(ctx, clerk, "web-1", issuer, c.asn, alipay, 5000)
	if err != nil || replayed || paid.State != cms.TopUpPending || paid.ID != cms.TopUpID("web-1") {
		t.Fatalf("Pay: %+v %v %v", paid, replayed, err)
	}
	if got := paid.ClaimBy.Sub(paid.PaidAt); got != 30*24*time.Hour {
		t.Errorf("claim time %v, want the default 30 days", got)
	}
	// Money received, not on the card: the pending account holds it, the
	// card's book and the float do not.
	if r.pending(t) != 5000 || r.float(t) != 0 || r.book(t, c) != 0 || r.balance(t, alipayAcct) != 5000 {
		t.Fatalf("after the payment: pending %d, float %d, book %d, alipay %d", r.pending(t), r.float(t), r.book(t, c), r.balance(t, alipayAcct))
	}
	again, replayed, err := tu.Pay(ctx, clerk, "web-1", issuer, c.asn, alipay, 5000)
	if err != nil || !replayed || again.ID != paid.ID || r.pending(t) != 5000 {
		t.Fatalf("Pay retried: %+v %v %v, pending %d", again, replayed, err, r.pending(t))
	}
	_, _, err = tu.Pay(ctx, clerk, "web-1", issuer, c.asn, alipay, 6000)
	wantKind(t, "the key for another amount", err, citycard.Conflict)

	l, err := tu.Pending(ctx, issuer, c.asn)
	if err != nil || len(l) != 1 || l[0].ID != paid.ID {
		t.Fatalf("Pending: %+v %v", l, err)
	}
	// Refused claims change nothing.
	_, err = r.claim(t, tu, c, paid.ID, 4000, false)
	wantKind(t, "a claim of another amount", err, citycard.Invalid)
	other := r.card(t, 2)
	_, err = r.claim(t, tu, other, paid.ID, 5000, false)
	wantKind(t, "another card's top-up", err, citycard.NotFound)
	_, err = r.claim(t, tu, c, "00000000000000FF", 5000, false)
	wantKind(t, "no such top-up", err, citycard.NotFound)
	_, err = r.claim(t, tu, c, "not-hex", 5000, false)
	wantKind(t, "a bad ID", err, citycard.Invalid)
	s, mac1 := c.initialize(t, 5000, r.clk.read())
	mac1[0] ^= 1
	_, err = tu.Claim(ctx, kiosk, paid.ID, s, mac1)
	wantKind(t, "a bad MAC1", err, citycard.Crypto)
	if topUpState(t, tu, paid.ID) != cms.TopUpPending || r.pending(t) != 5000 || r.float(t) != 0 {
		t.Fatalf("the refusals moved money: pending %d, float %d", r.pending(t), r.float(t))
	}

	// The claim: the normal load, from the pending account to the float.
	s, err = r.claim(t, tu, c, paid.ID, 5000, true)
	if err != nil {
		t.Fatal(err)
	}
	if st := topUpState(t, tu, paid.ID); st != cms.TopUpClaimed {
		t.Errorf("after the TAC: %v", st)
	}
	if r.pending(t) != 0 || r.float(t) != 5000 || r.book(t, c) != 5000 || c.balance != 5000 {
		t.Errorf("after the claim: pending %d, float %d, book %d, card %d", r.pending(t), r.float(t), r.book(t, c), c.balance)
	}
	ol, err := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s))
	if err != nil || ol.Channel.Type != cms.TopUpClaim || ol.Channel.Reference != paid.ID || ol.Status != cms.LoadConfirmed {
		t.Errorf("the claim's load: %+v %v", ol, err)
	}
	_, err = r.claim(t, tu, c, paid.ID, 5000, false)
	wantKind(t, "a second claim", err, citycard.Conflict)
	_, _, err = tu.Refund(ctx, clerk, paid.ID)
	wantKind(t, "a refund of a claimed top-up", err, citycard.Conflict)
	if l, _ := tu.Pending(ctx, issuer, c.asn); len(l) != 0 {
		t.Errorf("pending after the claim: %+v", l)
	}

	// Both sides' channel moves are kept, with their service points.
	moves, err := r.db.TopUps().ChannelMoves(ctx, time.Time{}, r.clk.read().Add(time.Hour), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var payment, claim bool
	for _, m := range moves {
		payment = payment || m.Key == "web-1" && m.Channel == alipay && m.Fen == 5000 && m.LoadFen == 0 && m.ServicePoint == clerk.ServicePoint
		claim = claim || m.Key == cms.LoadKey(s) && m.Channel.Type == cms.TopUpClaim && m.LoadFen == 5000 && m.ServicePoint == kiosk.ServicePoint
	}
	if !payment || !claim {
		t.Errorf("channel moves %+v: payment %v, claim %v", moves, payment, claim)
	}
	// The claim's audit record is the card's, naming the top-up.
	var claimed bool
	if err := r.db.CMS().AuditLog(ctx, 0, func(a *cms.AuditRecord) error {
		claimed = claimed || a.Subject == "card:"+issuerHex+"/"+c.asn.String() && a.Action == "claim remote top-up "+paid.ID && a.ServicePoint == kiosk.ServicePoint
		return nil
	}); err != nil || !claimed {
		t.Errorf("no audit record of the claim: %v", err)
	}
	r.verify(t)
}

// verify checks the audit log's chain and the ledger's.
func (r *rig) verify(t *testing.T) {
	t.Helper()
	if _, err := cms.VerifyAudit(context.Background(), r.db.CMS()); err != nil {
		t.Error(err)
	}
	if _, err := ledger.Verify(context.Background(), r.db.Ledger()); err != nil {
		t.Error(err)
	}
}

func TestTopUpPayRefusals(t *testing.T) {
	ctx := context.Background()
	r, tu := topUpRig(t)
	c := r.card(t, 1)
	for _, tc := range []struct {
		name  string
		payer cms.Channel
		fen   int64
		kind  citycard.Kind
	}{
		{"cash", cash, 5000, citycard.Invalid},
		{"a third party without its reference", cms.Channel{Type: cms.ThirdParty, Party: "alipay"}, 5000, citycard.Invalid},
		{"a claim's channel", cms.Channel{Type: cms.TopUpClaim, Party: issuerHex, Reference: "X"}, 5000, citycard.Invalid},
		{"0 fen", alipay, 0, citycard.Invalid},
		{"more than one load", alipay, 50001, citycard.Invalid},
	} {
		_, _, err := tu.Pay(ctx, clerk, "k-"+tc.name, issuer, c.asn, tc.payer, tc.fen)
		wantKind(t, tc.name, err, tc.kind)
	}
	_, _, err := tu.Pay(ctx, clerk, "k-none", issuer, citycard.ASN{9}, alipay, 100)
	wantKind(t, "no such card", err, citycard.NotFound)
	_, _, err = tu.Pay(ctx, clerk, "", issuer, c.asn, alipay, 100)
	wantKind(t, "no key", err, citycard.Invalid)
	// A load channel cannot name a claim: only TopUps.Claim books one,
	// and a host without remote top-up takes none.
	bare := newRig(t, nil)
	bc := bare.card(t, 1)
	s, mac1 := bc.initialize(t, 100, bare.clk.read())
	_, err = bare.host.Authorize(ctx, kiosk, cms.Channel{Type: cms.TopUpClaim, Party: issuerHex, Reference: "00000000000000FF"}, s, mac1)
	wantKind(t, "a claim on a host without top-up", err, citycard.Invalid)
	// The most a card waits for.
	for i := range cms.TopUpsPendingMax {
		if _, _, err := tu.Pay(ctx, clerk, fmt.Sprint("many-", i), issuer, c.asn, alipay, 100); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = tu.Pay(ctx, clerk, "one-more", issuer, c.asn, alipay, 100)
	wantKind(t, "one more than TopUpsPendingMax", err, citycard.Conflict)
	if got := r.pending(t); got != 100*cms.TopUpsPendingMax {
		t.Errorf("pending %d, want %d", got, 100*cms.TopUpsPendingMax)
	}
	// A lost card takes no top-up.
	lost := r.registered(t, 3)
	if _, err := r.m.Move(ctx, clerk, issuer, lost, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	_, _, err = tu.Pay(ctx, clerk, "lost", issuer, lost, alipay, 100)
	wantKind(t, "a lost card", err, citycard.Conflict)
}

// registered sells a registered citizen card to a new cardholder and
// returns its ASN.
func (r *rig) registered(t *testing.T, n byte) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	h, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "张三", DocType: cms.ResidentID, DocNumber: "11010519491231002X", DateOfBirth: cms.Date{Year: 1949, Month: 12, Day: 31}, Phone: "13800138000"})
	if err != nil {
		t.Fatal(err)
	}
	asn := citycard.ASN{0, 0, 0x02, 0, 0, 0, 0, 0, 0, n}
	if _, err := r.m.Apply(ctx, clerk, issuer, asn, "citizen", h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-"+asn.String(), issuer, asn, cash, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.Activate); err != nil {
		t.Fatal(err)
	}
	return asn
}

// TestTopUpInterrupted follows the load host's rule for a claim whose
// TAC never comes: the card's next session settles it.
func TestTopUpInterrupted(t *testing.T) {
	ctx := context.Background()
	r, tu := topUpRig(t)
	c := r.card(t, 1)
	paid, _, err := tu.Pay(ctx, clerk, "web-1", issuer, c.asn, alipay, 3000)
	if err != nil {
		t.Fatal(err)
	}
	// Torn before the credit: claiming, the money on the float.
	if _, err := r.claim(t, tu, c, paid.ID, 3000, false); err != nil {
		t.Fatal(err)
	}
	if st := topUpState(t, tu, paid.ID); st != cms.TopUpClaiming || r.pending(t) != 0 || r.float(t) != 3000 {
		t.Fatalf("torn claim: %v, pending %d, float %d", st, r.pending(t), r.float(t))
	}
	if l, _ := tu.Pending(ctx, issuer, c.asn); len(l) != 1 || l[0].ID != paid.ID || l[0].State != cms.TopUpClaiming {
		t.Errorf("a claiming top-up not offered again (its claim is the session that settles it): %+v", l)
	}
	_, _, err = tu.Refund(ctx, clerk, paid.ID)
	wantKind(t, "a refund while claiming", err, citycard.Conflict)
	// The card's next session, at the same counter (it never credited):
	// the claim is reversed, the top-up pending again, and claimed by it.
	if _, err := r.claim(t, tu, c, paid.ID, 3000, true); err != nil {
		t.Fatal(err)
	}
	if st := topUpState(t, tu, paid.ID); st != cms.TopUpClaimed || r.pending(t) != 0 || r.float(t) != 3000 || c.balance != 3000 || r.book(t, c) != 3000 {
		t.Fatalf("claimed again: %v, pending %d, float %d, card %d, book %d", st, r.pending(t), r.float(t), c.balance, r.book(t, c))
	}

	// Torn after the credit (the TAC lost): the card's next load shows its
	// counter past the claim's and confirms it.
	second, _, err := tu.Pay(ctx, clerk, "web-2", issuer, c.asn, alipay, 2000)
	if err != nil {
		t.Fatal(err)
	}
	s, mac1 := c.initialize(t, 2000, r.clk.read())
	mac2, err := tu.Claim(ctx, kiosk, second.ID, s, mac1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.credit(t, s, mac2); !ok {
		t.Fatal("credit refused")
	}
	if st := topUpState(t, tu, second.ID); st != cms.TopUpClaiming {
		t.Fatalf("TAC lost: %v", st)
	}
	if err := r.load(t, c, 100); err != nil {
		t.Fatal(err)
	}
	if st := topUpState(t, tu, second.ID); st != cms.TopUpClaimed || r.book(t, c) != 5100 || c.balance != 5100 || r.pending(t) != 0 {
		t.Fatalf("settled by the next load: %v, book %d, card %d, pending %d", st, r.book(t, c), c.balance, r.pending(t))
	}
}

// TestTopUpLimits checks the card's limits at the claim: a claim
// refused by one leaves the top-up pending.
func TestTopUpLimits(t *testing.T) {
	ctx := context.Background()
	r, tu := topUpRig(t)
	c := r.card(t, 1)
	if err := r.load(t, c, 50000); err != nil {
		t.Fatal(err)
	}
	if err := r.load(t, c, 40000); err != nil {
		t.Fatal(err)
	}
	paid, _, err := tu.Pay(ctx, clerk, "web-1", issuer, c.asn, alipay, 20000)
	if err != nil {
		t.Fatal(err)
	}
	// 900 on the card: 200 more passes the cap of 1,000.
	_, err = r.claim(t, tu, c, paid.ID, 20000, false)
	wantKind(t, "over the balance cap", err, citycard.Conflict)
	if st := topUpState(t, tu, paid.ID); st != cms.TopUpPending || r.pending(t) != 20000 {
		t.Fatalf("refused by the cap: %v, pending %d", st, r.pending(t))
	}
	// The next day the card has spent (its balance reported lower): the
	// daily limit is a new day's, the cap is met.
	r.clk.advance(24 * time.Hour)
	c.balance = 10000
	if _, err := r.claim(t, tu, c, paid.ID, 20000, true); err != nil {
		t.Fatal(err)
	}
	// The daily limit: 1,000 a day, 900 of it loaded today already.
	small, _, err := tu.Pay(ctx, clerk, "web-2", issuer, c.asn, alipay, 50000)
	if err != nil {
		t.Fatal(err)
	}
	c.balance = 0
	if err := r.load(t, c, 50000); err != nil {
		t.Fatal(err)
	}
	c.balance = 0
	_, err = r.claim(t, tu, c, small.ID, 50000, false)
	wantKind(t, "over the daily limit", err, citycard.Conflict)
	if st := topUpState(t, tu, small.ID); st != cms.TopUpPending {
		t.Errorf("refused by the daily limit: %v", st)
	}
}

func TestTopUpExpireAndRefund(t *testing.T) {
	ctx := context.Background()
	r, tu := topUpRig(t)
	c := r.card(t, 1)
	old, _, err := tu.Pay(ctx, clerk, "web-1", issuer, c.asn, alipay, 1000)
	if err != nil {
		t.Fatal(err)
	}
	asked, _, err := tu.Pay(ctx, clerk, "web-2", issuer, c.asn, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 2000)
	if err != nil {
		t.Fatal(err)
	}
	// Refunded at the payer's request, once whoever asks again.
	got, replayed, err := tu.Refund(ctx, clerk, asked.ID)
	if err != nil || replayed || got.State != cms.TopUpRefunded {
		t.Fatalf("Refund: %+v %v %v", got, replayed, err)
	}
	if _, replayed, err := tu.Refund(ctx, clerk, asked.ID); err != nil || !replayed {
		t.Errorf("Refund again: %v %v, want replayed", replayed, err)
	}
	if r.balance(t, ledger.Account{Type: ledger.Settlement, Party: "icbc"}) != 0 || r.pending(t) != 1000 {
		t.Errorf("after the refund: icbc %d, pending %d", r.balance(t, ledger.Account{Type: ledger.Settlement, Party: "icbc"}), r.pending(t))
	}
	_, err = r.claim(t, tu, c, asked.ID, 2000, false)
	wantKind(t, "a claim of a refunded top-up", err, citycard.Conflict)

	// Not due yet: the sweep leaves it, a clerk's expiry is refused.
	if n, err := tu.Sweep(ctx, clerk); err != nil || n != 0 {
		t.Fatalf("Sweep before the time: %d %v", n, err)
	}
	// Its claim time over: refused at the kiosk, expired by the sweep and
	// refunded to the payer.
	r.clk.advance(30 * 24 * time.Hour)
	_, err = r.claim(t, tu, c, old.ID, 1000, false)
	wantKind(t, "a claim after its time", err, citycard.Conflict)
	if l, _ := tu.Pending(ctx, issuer, c.asn); len(l) != 0 {
		t.Errorf("an expired top-up offered: %+v", l)
	}
	if n, err := tu.Sweep(ctx, clerk); err != nil || n != 1 {
		t.Fatalf("Sweep: %d %v, want 1", n, err)
	}
	if n, err := tu.Sweep(ctx, clerk); err != nil || n != 0 {
		t.Fatalf("Sweep again: %d %v, want 0", n, err)
	}
	if st := topUpState(t, tu, old.ID); st != cms.TopUpExpired || r.pending(t) != 0 || r.balance(t, alipayAcct) != 0 {
		t.Errorf("swept: %v, pending %d, alipay %d", st, r.pending(t), r.balance(t, alipayAcct))
	}
	_, _, err = tu.Refund(ctx, clerk, old.ID)
	if !citycard.IsKind(err, citycard.Conflict) && err != nil {
		t.Errorf("a refund of an expired top-up: %v", err)
	}
	// Every change is in the audit log, chained.
	var subjects []string
	if err := r.db.CMS().AuditLog(ctx, 0, func(a *cms.AuditRecord) error {
		if a.Subject == "topup:"+old.ID || a.Subject == "topup:"+asked.ID {
			subjects = append(subjects, a.Action)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(subjects) != "[remote top-up paid remote top-up paid remote top-up refund remote top-up expire]" {
		t.Errorf("audit actions %q", subjects)
	}
	// The ledger's top-up entries name their top-ups (TopUpOfEntry, the
	// drill-down of a payer's clearing figures), payments and refunds.
	var named []string
	if err := r.db.Ledger().Scan(ctx, 0, func(p *ledger.Posted) error {
		if p.Type == cms.EntryTopUp {
			id, refund, ok := cms.TopUpOfEntry(p.Key)
			named = append(named, fmt.Sprintf("%s %v %v", id, refund, ok))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint([]string{old.ID + " false true", asked.ID + " false true", asked.ID + " true true", old.ID + " true true"}); fmt.Sprint(named) != want {
		t.Errorf("top-up entries name %v, want %v", named, want)
	}
	// Clearing reads them from the ledger as card management booked
	// them: each payer paid one top-up and was refunded it.
	cal := clearing.DefaultCalendar()
	lc, _, moves, err := clearing.GatherLoads(ctx, r.db.Ledger(), 0, time.Time{}, cal.End(cal.Day(r.clk.read())))
	if err != nil || len(moves) != 4 || moves[0].TopUp != old.ID || moves[0].Payer != "alipay" || moves[0].AmountFen != 1000 || moves[3].AmountFen != -1000 {
		t.Fatalf("gathered top-ups %+v, %v", moves, err)
	}
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: issuerHex, Rounding: clearing.RoundDown})
	if err != nil {
		t.Fatal(err)
	}
	res, err := clr.Clear(&clearing.Input{Day: cal.Day(r.clk.read()), LoadClaim: lc, TopUps: moves})
	if err != nil {
		t.Fatal(err)
	}
	wantLine := clearing.TopUpLine{Payer: "alipay", Issuer: issuerHex, Rule: "none", Paid: 1, PaidFen: 1000, Refunded: 1, RefundedFen: 1000}
	if len(res.TopUps) != 2 || res.TopUps[0] != wantLine || res.TopUps[1].Payer != "icbc" || res.TopUpsRefunded.AmountFen != 3000 {
		t.Errorf("top-up lines %+v, refunded %+v", res.TopUps, res.TopUpsRefunded)
	}
	for _, k := range []string{"", "cms:", "cms:/topup", "cms:x/load", "cms:topup-refund:XYZ/refund", "cms:topup-refund:00000000000000FF/topup", "other:k/topup"} {
		if id, _, ok := cms.TopUpOfEntry(k); ok {
			t.Errorf("TopUpOfEntry(%q) = %s, want no top-up", k, id)
		}
	}
	r.verify(t)
}

// TestTopUpConcurrentClaims races claims of one top-up on one card from
// many kiosks, and a refund against them: the card's lock serializes
// them, so the money leaves the pending account exactly once.
func TestTopUpConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	r, tu := topUpRig(t)
	c := r.card(t, 1)
	paid, _, err := tu.Pay(ctx, clerk, "web-1", issuer, c.asn, alipay, 3000)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n+1)
	for i := range n {
		s, mac1 := c.initialize(t, 3000, r.clk.read())
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = tu.Claim(ctx, kiosk, paid.ID, s, mac1)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, errs[n] = tu.Refund(ctx, clerk, paid.ID)
	}()
	// And the same payment sent many times at once: one top-up.
	var pays sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		pays.Add(1)
		go func() {
			defer pays.Done()
			p, _, err := tu.Pay(ctx, clerk, "web-2", issuer, c.asn, alipay, 100)
			if err != nil {
				t.Error(err)
			}
			ids[i] = p.ID
		}()
	}
	wg.Wait()
	pays.Wait()
	got, err := tu.TopUp(ctx, paid.ID)
	if err != nil {
		t.Fatal(err)
	}
	refunded := errs[n] == nil
	switch {
	case refunded && got.State != cms.TopUpRefunded:
		t.Fatalf("refund taken, top-up %v", got.State)
	case !refunded && got.State != cms.TopUpClaiming:
		t.Fatalf("refund refused (%v), top-up %v, want claiming", errs[n], got.State)
	}
	// Whatever the order: pending + float + refunded = paid, and the
	// second payment is in once.
	onCard := r.float(t)
	back := 3000 + 100 - r.balance(t, alipayAcct)
	if r.pending(t)+onCard+back != 3100 || r.pending(t) != 3100-onCard-back || onCard != 0 && onCard != 3000 {
		t.Errorf("pending %d, float %d, refunded %d", r.pending(t), onCard, back)
	}
	if refunded && (onCard != 0 || back != 3000) || !refunded && (onCard != 3000 || back != 0) {
		t.Errorf("refunded %v: float %d, paid back %d", refunded, onCard, back)
	}
	for _, id := range ids {
		if id != cms.TopUpID("web-2") {
			t.Errorf("a payment retried made top-up %s", id)
		}
	}
	live := 0
	for i, err := range errs[:n] {
		if err == nil {
			live++
		} else if !citycard.IsKind(err, citycard.Conflict) {
			t.Errorf("claim %d: %v", i, err)
		}
	}
	if !refunded && live == 0 {
		t.Error("no claim went through and none was refunded")
	}
	if got.Claim == "" && !refunded {
		t.Error("claiming without a live claim")
	}
}

// TestTopUpStateMachine lists every pair of state and move.
func TestTopUpStateMachine(t *testing.T) {
	want := map[cms.TopUpMove]map[cms.TopUpState]cms.TopUpState{
		cms.ClaimTopUp:        {cms.TopUpPending: cms.TopUpClaiming},
		cms.ConfirmClaim:      {cms.TopUpClaiming: cms.TopUpClaimed},
		cms.ReverseClaim:      {cms.TopUpClaiming: cms.TopUpPending},
		cms.ReinstateClaim:    {cms.TopUpPending: cms.TopUpClaimed, cms.TopUpClaiming: cms.TopUpClaimed},
		cms.ExpireTopUp:       {cms.TopUpPending: cms.TopUpExpired},
		cms.RefundTopUp:       {cms.TopUpPending: cms.TopUpRefunded},
		cms.FollowReplacement: {cms.TopUpPending: cms.TopUpPending},
	}
	for mv := cms.TopUpMove(0); mv <= cms.FollowReplacement+1; mv++ {
		for st := cms.TopUpState(0); st <= cms.TopUpRefunded+1; st++ {
			to, ok := cms.NextTopUp(st, mv)
			w, allowed := want[mv][st]
			if ok != allowed || to != w {
				t.Errorf("%v from %v: %v %v, want %v %v", mv, st, to, ok, w, allowed)
			}
		}
	}
	// The load host's statuses are the claim's states.
	for st, w := range map[cms.LoadStatus]cms.TopUpState{cms.LoadUnconfirmed: cms.TopUpClaiming, cms.LoadConfirmed: cms.TopUpClaimed, cms.LoadReversed: cms.TopUpPending} {
		if got := cms.ClaimState(st); got != w {
			t.Errorf("ClaimState(%v) = %v, want %v", st, got, w)
		}
	}
	for st := cms.TopUpPending; st <= cms.TopUpRefunded; st++ {
		if got, err := cms.ParseTopUpState(st.String()); err != nil || got != st {
			t.Errorf("ParseTopUpState(%q) = %v %v", st, got, err)
		}
	}
}

// topUpSim is the model of TestTopUpConservation: what each card's chip
// holds and spent, its load the host holds unconfirmed, and each top-up's
// state as the package doc's state machine moves it.
type topUpSim struct {
	t       *testing.T
	r       *rig
	tu      *cms.TopUps
	chips   []*chip
	spent   map[citycard.ASN]int64
	open    map[citycard.ASN]*simLoad
	state   map[string]cms.TopUpState
	topups  map[string]cms.TopUp
	paidFen int64 // through alipay, less what was refunded
	ops     int
}

// simLoad is a card's load the host booked and has not seen settled.
type simLoad struct {
	topup    string // "" for a load paid at the kiosk
	fen      int64
	credited bool
}

// session is what the host does at a card's new session: it settles the
// card's unconfirmed load (credited: confirmed; else reversed, its
// top-up pending again).
func (m *topUpSim) session(c *chip) {
	o := m.open[c.asn]
	if o == nil {
		return
	}
	switch {
	case o.topup != "" && o.credited:
		m.state[o.topup] = cms.TopUpClaimed
	case o.topup != "":
		m.state[o.topup] = cms.TopUpPending
	case !o.credited: // a kiosk's load reversed: the money back to the channel
		m.paidFen -= o.fen
	}
	delete(m.open, c.asn)
}

// run authorizes a session of c for fen, through ch (a claim of top-up
// id when id is not ""), and then, as how says, the card credits and the
// TAC comes back (full), the card credits and the TAC is lost (tac
// lost), or the card tears before it credits (torn).
func (m *topUpSim) run(c *chip, id string, fen int64, how int) {
	t, r := m.t, m.r
	ctx := context.Background()
	s, mac1 := c.initialize(t, uint32(fen), r.clk.read())
	m.session(c)
	var mac2 [4]byte
	var err error
	if id != "" {
		mac2, err = m.tu.Claim(ctx, kiosk, id, s, mac1)
	} else {
		mac2, err = r.host.Authorize(ctx, kiosk, alipay, s, mac1)
	}
	if err != nil {
		if !citycard.IsKind(err, citycard.Conflict) && !citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("op %d: %v", m.ops, err)
		}
		if id != "" && m.state[id] == cms.TopUpPending && r.clk.now.Before(m.topups[id].ClaimBy) && citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("op %d: a claim of a pending top-up refused as invalid: %v", m.ops, err)
		}
		return
	}
	if id != "" {
		if m.state[id] != cms.TopUpPending || !r.clk.now.Before(m.topups[id].ClaimBy) {
			t.Fatalf("op %d: top-up %s claimed from %v at %v, claim by %v", m.ops, id, m.state[id], r.clk.now, m.topups[id].ClaimBy)
		}
		m.state[id] = cms.TopUpClaiming
	} else {
		m.paidFen += fen
	}
	o := &simLoad{topup: id, fen: fen}
	m.open[c.asn] = o
	if how == 2 { // torn before the credit
		return
	}
	tac, ok := c.credit(t, s, mac2)
	if !ok {
		t.Fatalf("op %d: the card refused the host's MAC2", m.ops)
	}
	o.credited = true
	if how == 1 { // the TAC lost
		return
	}
	if err := r.host.Confirm(ctx, kiosk, s, tac); err != nil {
		t.Fatalf("op %d: %v", m.ops, err)
	}
	m.session(c)
}

// check asserts, for every card, loads (claims among them) - loads
// reversed - purchases = the chip's balance, but for a load the card
// never credited that the host has not yet reversed; for every top-up,
// its state; and in the ledger: the float is the cards' books, the
// top-up pending account the pending top-ups' amounts, the payer's
// settlement what was paid in less what was refunded.
func (m *topUpSim) check() {
	t, r := m.t, m.r
	ctx := context.Background()
	var books int64
	for _, c := range m.chips {
		book := r.book(t, c)
		limbo := int64(0)
		if o := m.open[c.asn]; o != nil && !o.credited {
			limbo = o.fen
		}
		if book-m.spent[c.asn]-limbo != int64(c.balance) {
			t.Fatalf("op %d: card %v: book %d - spent %d - not credited %d != chip %d", m.ops, c.asn, book, m.spent[c.asn], limbo, c.balance)
		}
		books += book
	}
	var pending int64
	for id, want := range m.state {
		got, err := m.tu.TopUp(ctx, id)
		if err != nil || got.State != want {
			t.Fatalf("op %d: top-up %s: %v %v, want %v", m.ops, id, got.State, err, want)
		}
		if want == cms.TopUpPending {
			pending += got.AmountFen
		}
	}
	if r.float(t) != books || r.pending(t) != pending || r.balance(t, alipayAcct) != m.paidFen {
		t.Fatalf("op %d: float %d (cards %d), pending %d (top-ups %d), alipay %d (want %d)", m.ops, r.float(t), books, r.pending(t), pending, r.balance(t, alipayAcct), m.paidFen)
	}
}

// TestTopUpConservation drives cards through random remote top-ups
// (paid, sometimes twice under one key; claimed whole, with the TAC lost
// or torn before the credit; expired by the sweep; refunded), loads at
// the kiosk and purchases, over the real load host and store, and checks
// conservation after every step (topUpSim.check).
func TestTopUpConservation(t *testing.T) {
	counts := map[string]int{}
	for seed := range uint64(4) {
		r, tu := topUpRig(t)
		m := &topUpSim{t: t, r: r, tu: tu, spent: map[citycard.ASN]int64{}, open: map[citycard.ASN]*simLoad{},
			state: map[string]cms.TopUpState{}, topups: map[string]cms.TopUp{}}
		for i := range 3 {
			m.chips = append(m.chips, r.card(t, byte(i+1)))
		}
		rnd := rand.New(rand.NewPCG(seed, 17))
		ctx := context.Background()
		for range 150 {
			m.ops++
			c := m.chips[rnd.IntN(len(m.chips))]
			switch n := rnd.IntN(20); {
			case n < 5: // a payment in the app
				key := fmt.Sprintf("pay-%d", m.ops)
				fen := int64(100 * (1 + rnd.IntN(300)))
				paid, _, err := tu.Pay(ctx, clerk, key, issuer, c.asn, alipay, fen)
				if citycard.IsKind(err, citycard.Conflict) { // too many waiting
					continue
				}
				if err != nil {
					t.Fatalf("op %d: %v", m.ops, err)
				}
				m.state[paid.ID], m.topups[paid.ID] = cms.TopUpPending, paid
				m.paidFen += fen
				if rnd.IntN(3) == 0 {
					if again, replayed, err := tu.Pay(ctx, clerk, key, issuer, c.asn, alipay, fen); err != nil || !replayed || again.ID != paid.ID {
						t.Fatalf("op %d: the payment again: %v %v", m.ops, replayed, err)
					}
				}
				counts["paid"]++
			case n < 11: // the kiosk claims what it is offered
				l, err := tu.Pending(ctx, issuer, c.asn)
				if err != nil {
					t.Fatal(err)
				}
				if len(l) == 0 {
					continue
				}
				m.run(c, l[0].ID, l[0].AmountFen, rnd.IntN(3))
				counts["claim"]++
			case n < 13: // a load paid at the kiosk
				m.run(c, "", int64(100*(1+rnd.IntN(100))), rnd.IntN(3))
			case n < 16: // purchases
				fen := min(int64(c.balance), int64(1+rnd.IntN(2000)))
				c.balance -= uint32(fen)
				m.spent[c.asn] += fen
			case n < 17: // the payer asks for their money back
				var ids []string
				for id := range m.state {
					ids = append(ids, id)
				}
				if len(ids) == 0 {
					continue
				}
				slices.Sort(ids)
				id := ids[rnd.IntN(len(ids))]
				_, replayed, err := tu.Refund(ctx, clerk, id)
				switch st := m.state[id]; {
				case st == cms.TopUpPending && err == nil && !replayed:
					m.state[id] = cms.TopUpRefunded
					m.paidFen -= m.topups[id].AmountFen
					counts["refund"]++
				case (st == cms.TopUpRefunded || st == cms.TopUpExpired) && err == nil && replayed:
				case (st == cms.TopUpClaiming || st == cms.TopUpClaimed) && citycard.IsKind(err, citycard.Conflict):
				default:
					t.Fatalf("op %d: refund of a top-up %v: replayed %v, %v", m.ops, st, replayed, err)
				}
			default: // days pass; the sweep
				r.clk.advance(time.Duration(1+rnd.IntN(10*24)) * time.Hour)
				want := 0
				for id, st := range m.state {
					if st == cms.TopUpPending && !r.clk.now.Before(m.topups[id].ClaimBy) {
						m.state[id] = cms.TopUpExpired
						m.paidFen -= m.topups[id].AmountFen
						want++
					}
				}
				n, err := tu.Sweep(ctx, clerk)
				if err != nil || n != want {
					t.Fatalf("op %d: Sweep: %d %v, want %d", m.ops, n, err, want)
				}
				counts["swept"] += n
			}
			m.check()
		}
		r.verify(t)
		for _, st := range m.state {
			counts[st.String()]++
		}
	}
	for _, k := range []string{"paid", "claim", "claimed", "swept", "expired", "refund", "refunded"} {
		if counts[k] == 0 {
			t.Errorf("no %s in the random runs: %v", k, counts)
		}
	}
	t.Logf("%v", counts)
}
