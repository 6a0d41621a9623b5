package clearing

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
)

const (
	alipay = "alipay"
	wechat = "wechat-pay"
)

// topUpLedger is a day's ledger with remote top-ups: two paid through
// Alipay and one through WeChat Pay, the first claimed onto its card,
// an earlier one of WeChat Pay's refunded at its expiry, the purchases
// of the journal's records and a card refunded.
func topUpLedger(at time.Time, purchasesFen int64) (fakeLedger, string) {
	settle := func(p string) ledger.Account { return ledger.Account{Type: ledger.Settlement, Party: p} }
	pending := ledger.Account{Type: ledger.TopUpPending, Party: our}
	float := ledger.Account{Type: ledger.CardFloat, Party: our}
	entry := func(seq int64, key string, typ ledger.EntryType, source string, ps []ledger.Posting) ledger.Posted {
		return ledger.Posted{Seq: seq, Time: at.Add(time.Duration(seq) * time.Minute), Entry: ledger.Entry{Key: key, Type: typ, Source: source, Postings: ps}}
	}
	expired := cms.TopUpID("web-0")
	return fakeLedger{
		entry(1, "cms:web-1/topup", cms.EntryTopUp, "card:"+our+"/01", ledger.Transfer(settle(alipay), pending, 5000)),
		entry(2, "cms:web-2/topup", cms.EntryTopUp, "card:"+our+"/02", ledger.Transfer(settle(wechat), pending, 3000)),
		entry(3, "cms:web-3/topup", cms.EntryTopUp, "card:"+our+"/03", ledger.Transfer(settle(alipay), pending, 2000)),
		entry(4, "cms:claim-1/load", ledger.EntryLoad, "card:"+our+"/01", ledger.Transfer(pending, float, 5000)),
		entry(5, "cms:topup-refund:"+expired+"/refund", cms.EntryTopUp, "card:"+our+"/04", ledger.Transfer(pending, settle(wechat), 1500)),
		entry(6, "acquire:b/purchase", ledger.EntryPurchase, "batch:b", ledger.Transfer(float, ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}, purchasesFen)),
		entry(7, "cms:refund-9/refund", ledger.EntryRefund, "card:"+our+"/09", ledger.Transfer(float, settle(our), 400)),
	}, expired
}

// credits sums the credits less the debits of account a in l.
func credits(l fakeLedger, a ledger.Account) int64 {
	var n int64
	for _, p := range l {
		for _, q := range p.Postings {
			if q.Account == a {
				n -= q.AmountFen
			}
		}
	}
	return n
}

// TestRemoteTopUpsCycle: a cycle with remote top-ups from two payers and
// an expired one refunded: each payer owes the issuer what it collected
// less what it refunded and earns its commission (Alipay's schedule; no
// schedule for WeChat Pay), the positions net to zero, the float's
// change is still loads - purchases - refunds (a top-up reaches the
// float only when claimed) and the pending account's is paid - claimed
// - refunded; each payer's statement drills down to its top-ups, by
// ledger entry and top-up ID.
func TestRemoteTopUpsCycle(t *testing.T) {
	ctx := context.Background()
	cfg := exampleConfig()
	cfg.Commissions = []FeeSchedule{{Party: alipay, Rules: []FeeRule{{Name: "alipay", RatePPM: 3000, MinFen: 1}}}}
	cal := cfg.Calendar
	j := &memJournal{}
	for i, fen := range []uint32{300, 200} {
		r := purchase(ourIssuer, byte(i+1), termBus, fen, 0)
		j.add(cst(2026, 12, 1, 9, i, 0), acquire.ClassBooked, acquire.OutcomeVerified, &r)
	}
	l, expired := topUpLedger(cst(2026, 12, 1, 10, 0, 0), 500)
	now := cal.End(day1).Add(time.Hour)
	cs := &Cycles{Clearer: mustClearer(t, cfg), Store: memStore{}, Journal: j, Terminals: twoTerminal, Ledger: l, Now: func() time.Time { return now }}
	// The payers are registered parties of type payer, or the cycle is
	// not computed (their pay-ins could not be asked for at its close).
	types := map[string]registry.PartyType{alipay: registry.PartyPayer, wechat: registry.PartyOperator}
	cs.PartyType = func(_ context.Context, id string) (registry.PartyType, error) {
		if t, ok := types[id]; ok {
			return t, nil
		}
		return 0, citycard.E("test", citycard.NotFound, "no party %s", id)
	}
	for _, what := range []string{"an operator", "not registered"} {
		if what == "not registered" {
			delete(types, wechat)
		}
		if _, err := cs.Run(ctx, day1, "carl"); !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(fmt.Sprint(err), wechat) {
			t.Errorf("a payer that is %s: %v, want Conflict naming it", what, err)
		}
		if _, err := cs.Store.Cycle(ctx, day1); !citycard.IsKind(err, citycard.NotFound) {
			t.Errorf("a payer that is %s: the cycle was saved (%v)", what, err)
		}
	}
	types[wechat] = registry.PartyPayer
	s, err := cs.Run(ctx, day1, "carl")
	if err != nil {
		t.Fatal(err)
	}
	res := s.Result
	if res.TopUpsPaid != (Totals{Count: 3, AmountFen: 10_000}) || res.TopUpsRefunded != (Totals{Count: 1, AmountFen: 1500}) || res.Loaded != (Totals{Count: 1, AmountFen: 5000}) {
		t.Errorf("top-ups paid %+v, refunded %+v, loaded %+v", res.TopUpsPaid, res.TopUpsRefunded, res.Loaded)
	}
	want := []TopUpLine{
		{Payer: alipay, Issuer: our, Rule: "alipay", Paid: 2, PaidFen: 7000, CommissionFen: 15 + 6},
		{Payer: wechat, Issuer: our, Rule: "none", Paid: 1, PaidFen: 3000, Refunded: 1, RefundedFen: 1500},
	}
	if len(res.TopUps) != 2 || res.TopUps[0] != want[0] || res.TopUps[1] != want[1] {
		t.Errorf("top-up lines %+v, want %+v", res.TopUps, want)
	}
	net := map[string]int64{}
	var sum int64
	for _, p := range res.Positions {
		net[p.Party] = p.NetFen
		sum += p.NetFen
	}
	if sum != 0 || net[alipay] != -7000+21 || net[wechat] != -1500 {
		t.Errorf("positions %+v (sum %d)", res.Positions, sum)
	}
	// Conservation: the float moves by loads - purchases - refunds, the
	// top-ups paid and refunded reaching it not at all.
	float := credits(l, ledger.Account{Type: ledger.CardFloat, Party: our})
	if float != res.Loaded.AmountFen-res.Cleared.AmountFen-400 || float != 5000-500-400 {
		t.Errorf("the float moved %d fen; loads %d - purchases %d - refunds 400", float, res.Loaded.AmountFen, res.Cleared.AmountFen)
	}
	if p := credits(l, ledger.Account{Type: ledger.TopUpPending, Party: our}); p != res.TopUpsPaid.AmountFen-5000-res.TopUpsRefunded.AmountFen {
		t.Errorf("the pending account moved %d fen; paid %d - claimed 5000 - refunded %d", p, res.TopUpsPaid.AmountFen, res.TopUpsRefunded.AmountFen)
	}

	for _, by := range []string{"ann", "bob"} {
		if _, err := cs.Approve(ctx, day1, by); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.Close(ctx, day1, "dora", func(*Cycle, *Result) ([]File, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	sts, err := cs.Statements(ctx, day1)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*Statement{}
	for i := range sts {
		by[sts[i].Party] = &sts[i]
	}
	a, w := by[alipay], by[wechat]
	if a == nil || w == nil || by["nb-bus"] == nil || len(sts) != 3 {
		t.Fatalf("statements of %d parties: %+v", len(sts), sts)
	}
	wantA := []StatementTopUp{
		{Seq: 1, TopUp: cms.TopUpID("web-1"), Day: "20261201", Issuer: our, Card: "card:" + our + "/01", AmountFen: 5000, CommissionFen: 15, Rule: "alipay"},
		{Seq: 3, TopUp: cms.TopUpID("web-3"), Day: "20261201", Issuer: our, Card: "card:" + our + "/03", AmountFen: 2000, CommissionFen: 6, Rule: "alipay"},
	}
	if len(a.TopUps) != 2 || a.TopUps[0] != wantA[0] || a.TopUps[1] != wantA[1] {
		t.Errorf("Alipay's top-ups %+v, want %+v", a.TopUps, wantA)
	}
	if a.TopUpTotal != (StatementRow{Key: "total", Records: 2, GrossFen: 7000, FeeFen: 21, NetFen: -6979}) || a.PositionFen != net[alipay] ||
		len(a.TopUpIssuers) != 1 || a.TopUpIssuers[0].Key != our || len(a.TopUpDays) != 1 || a.TopUpDays[0].NetFen != -6979 {
		t.Errorf("Alipay's statement %+v", a)
	}
	if len(w.TopUps) != 2 || w.TopUps[1].TopUp != expired || !w.TopUps[1].Refund || w.TopUps[1].AmountFen != -1500 || w.TopUps[1].Seq != 5 || w.PositionFen != -1500 {
		t.Errorf("WeChat Pay's statement %+v", w)
	}
}

// TestTopUpRefusals: a top-up entry that is not one settlement and one
// pending posting, or whose key names no top-up, is refused by
// GatherLoads (Invalid); a top-up outside the cycle's ledger range is
// refused by Clear.
func TestTopUpRefusals(t *testing.T) {
	ctx := context.Background()
	cut := DefaultCalendar().End(day1)
	l, _ := topUpLedger(cut.Add(-time.Hour*3), 500)
	bad := func(f func(p *ledger.Posted)) fakeLedger {
		out := append(fakeLedger(nil), l...)
		p := out[0]
		p.Postings = append([]ledger.Posting(nil), p.Postings...)
		f(&p)
		out[0] = p
		return out
	}
	for name, l := range map[string]fakeLedger{
		"a key of no top-up": bad(func(p *ledger.Posted) { p.Key = "cms:web-1/load" }),
		"onto a card float":  bad(func(p *ledger.Posted) { p.Postings[1].Account = ledger.Account{Type: ledger.CardFloat, Party: our} }),
		"a payment out":      bad(func(p *ledger.Posted) { p.Postings[0].AmountFen, p.Postings[1].AmountFen = -5000, 5000 }),
	} {
		if _, _, _, err := GatherLoads(ctx, l, 0, time.Time{}, cut); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	lc, loads, topUps, err := GatherLoads(ctx, l, 0, time.Time{}, cut)
	if err != nil || len(topUps) != 4 || len(loads) != 1 || lc.To != 7 {
		t.Fatalf("gathered %+v, %+v, %+v, %v", lc, loads, topUps, err)
	}
	in := loadInput(day1)
	in.LoadClaim, in.Loads, in.TopUps = lc, loads, topUps
	in.LoadClaim.To = 2
	in.Loads = nil
	if _, err := mustClearer(t, exampleConfig()).Clear(in); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a top-up outside the ledger range: %v, want Invalid", err)
	}
}
