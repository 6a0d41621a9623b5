package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
)

// topUpHost is a load host with remote top-up over the stores, its key
// store holding the issuer's load and TAC keys, and a transit card sold.
type topUpHost struct {
	s  Stores
	ts interface {
		cms.TopUpStore
		cms.ChannelStore
	}
	clk  *settable
	m    *cms.Manager
	host *cms.LoadHost
	tu   *cms.TopUps
	ks   *keys.MemStore
	asn  citycard.ASN
	// the card's purse as the flow sees it
	counter uint16
	balance uint32
	draws   uint32
}

func newTopUpHost(t *testing.T, s Stores) *topUpHost {
	t.Helper()
	ctx := context.Background()
	ts, ok := s.CMS.(interface {
		cms.TopUpStore
		cms.ChannelStore
	})
	if !ok {
		t.Fatalf("the store %T keeps no remote top-ups", s.CMS)
	}
	h := &topUpHost{s: s, ts: ts, clk: &settable{now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)}, ks: keys.NewMemStore()}
	for i, typ := range []keys.KeyType{keys.KeyLoad, keys.KeyTAC} {
		k := make([]byte, keys.KeyLen)
		for j := range k {
			k[j] = byte(0x40 + 16*i + j)
		}
		if _, err := h.ks.Put(keys.Ref{Issuer: cmsIssuer, Type: typ, Version: 1}, keys.Alg3DES, k, "test", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	m := cms.NewManager(s.CMS, cms.DefaultProducts(), mustProtector(t), h.clk.read)
	h.m = m
	h.host = cms.NewLoadHost(m, h.ks, nil)
	h.tu = cms.NewTopUps(h.host, ts)
	h.asn = cmsASN(t, "0123456789ABCD50")
	if _, err := m.Apply(ctx, clerk, cmsIssuer, h.asn, "transit", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Move(ctx, clerk, cmsIssuer, h.asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sell(ctx, clerk, "sale", cmsIssuer, h.asn, cms.Channel{Type: cms.Cash, Party: issuerHex}, 0); err != nil {
		t.Fatal(err)
	}
	return h
}

// session is the card's INITIALIZE FOR LOAD answer for amount (a new
// random each time) with its MAC1, and the proof the card computes.
func (h *topUpHost) session(t *testing.T, amount uint32) (*cms.LoadSession, [4]byte, keys.Proof) {
	t.Helper()
	h.draws++
	d, tm := citycard.DateTime(h.clk.read().In(citycard.ChinaTime))
	l := keys.Load{OnlineCounter: h.counter, BalanceBefore: h.balance, Amount: amount, Type: citycard.TxLoad,
		TerminalID: citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, 1}, Date: d, Time: tm, Random: [4]byte{0, 0, byte(h.draws >> 8), byte(h.draws)}}
	var dlk, dtk [keys.KeyLen]byte
	for _, k := range []struct {
		typ keys.KeyType
		dst *[keys.KeyLen]byte
	}{{keys.KeyLoad, &dlk}, {keys.KeyTAC, &dtk}} {
		if _, err := h.ks.DeriveInto(k.dst, keys.Ref{Issuer: cmsIssuer, Type: k.typ, Version: 1}, h.asn.Div()); err != nil {
			t.Fatal(err)
		}
	}
	pr, err := keys.LoadProof(keys.Alg3DES, dlk[:], dtk[:], &l)
	if err != nil {
		t.Fatal(err)
	}
	return &cms.LoadSession{Issuer: cmsIssuer, ASN: h.asn, KeyVersion: 1, Alg: keys.Alg3DES, Load: l}, pr.MAC1, pr
}

// credit is the card crediting s (its MAC2 checked by the caller): the
// balance and the online counter move.
func (h *topUpHost) credit(s *cms.LoadSession) {
	h.balance += s.Load.Amount
	h.counter++
}

// pay books a remote top-up of fen for the card, paid by payer under key.
func (h *topUpHost) pay(t *testing.T, key string, payer cms.Channel, fen int64) cms.TopUp {
	t.Helper()
	tu, _, err := h.tu.Pay(context.Background(), clerk, key, cmsIssuer, h.asn, payer, fen)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

func (h *topUpHost) state(t *testing.T, id string) cms.TopUp {
	t.Helper()
	tu, err := h.ts.TopUp(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

func (h *topUpHost) account(t *testing.T, a ledger.Account) int64 {
	t.Helper()
	b, err := h.s.Ledger.Balance(context.Background(), a)
	if citycard.IsKind(err, citycard.NotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.NetFen()
}

// testCMSTopUps runs remote top-up through the store: the payment kept
// as written, the claim's state read from its online load, the settled
// top-up written once over a pending one, the sweep's paging, the
// channel moves, and the triggers.
func testCMSTopUps(t *testing.T, s Stores) {
	ctx := context.Background()
	h := newTopUpHost(t, s)
	payer := cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: "pay-0001"}
	paid := h.pay(t, "web-1", payer, 3000)
	got := h.state(t, paid.ID)
	if got != paid || got.PaidBy != clerk || got.Payer != payer || got.State != cms.TopUpPending || got.Claim != "" {
		t.Errorf("TopUp: %+v, want %+v", got, paid)
	}
	pending := ledger.Account{Type: ledger.TopUpPending, Party: issuerHex}
	if h.account(t, pending) != -3000 {
		t.Errorf("pending account %d, want a credit of 3000", h.account(t, pending))
	}

	// A claim torn before the credit: claiming, read from its load.
	s1, mac1, _ := h.session(t, 3000)
	if _, err := h.tu.Claim(ctx, clerk, paid.ID, s1, mac1); err != nil {
		t.Fatal(err)
	}
	if got := h.state(t, paid.ID); got.State != cms.TopUpClaiming || got.Claim != cms.LoadKey(s1) {
		t.Errorf("claiming: %+v", got)
	}
	// A refund over a live claim is refused by the store itself, nothing
	// of it kept.
	c, err := s.CMS.Card(ctx, cmsIssuer, h.asn)
	if err != nil {
		t.Fatal(err)
	}
	settled := paid
	settled.State, settled.SettledAt = cms.TopUpRefunded, h.clk.read()
	b, err := cms.TopUpRefund{TopUp: &paid, Card: &c, Move: cms.RefundTopUp}.Book()
	if err != nil {
		t.Fatal(err)
	}
	next := c
	next.Version++
	_, err = h.ts.CommitTopUp(ctx, &cms.Operation{Booking: &b, At: settled.SettledAt, Cards: []*cms.Card{&next},
		Audit: &cms.AuditRecord{At: settled.SettledAt, Actor: "x", ServicePoint: "y", Subject: "topup:" + paid.ID, Action: "refund"}}, &settled)
	wantKind(t, "a refund over a live claim", err, citycard.Conflict)
	if _, err := s.CMS.OperationHash(ctx, b.Key); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("the refused refund's key: %v", err)
	}
	// Past its time with a live claim, the sweep leaves it to its claim.
	h.clk.advance(31 * 24 * time.Hour)
	if due, err := h.ts.DueTopUps(ctx, h.clk.read(), "", 10); err != nil || len(due) != 1 || due[0].State != cms.TopUpClaiming {
		t.Errorf("DueTopUps with a live claim: %+v %v", due, err)
	}
	if n, err := h.tu.Sweep(ctx, clerk); err != nil || n != 0 || h.state(t, paid.ID).State != cms.TopUpClaiming {
		t.Errorf("Sweep of a claiming top-up: %d %v, %v", n, err, h.state(t, paid.ID).State)
	}
	h.clk.advance(-31 * 24 * time.Hour)
	// The card's next session at the same counter reverses it; claimed
	// then with its TAC.
	s2, mac1, pr := h.session(t, 3000)
	mac2, err := h.tu.Claim(ctx, clerk, paid.ID, s2, mac1)
	if err != nil || mac2 != pr.MAC2 {
		t.Fatalf("the claim again: %X %v", mac2, err)
	}
	h.credit(s2)
	if err := h.host.Confirm(ctx, clerk, s2, pr.TAC); err != nil {
		t.Fatal(err)
	}
	if got := h.state(t, paid.ID); got.State != cms.TopUpClaimed || got.Claim != cms.LoadKey(s2) {
		t.Errorf("claimed: %+v", got)
	}
	if h.account(t, pending) != 0 || h.account(t, ledger.Account{Type: ledger.CardFloat, Party: issuerHex}) != -3000 {
		t.Errorf("after the claim: pending %d, float %d", h.account(t, pending), h.account(t, ledger.Account{Type: ledger.CardFloat, Party: issuerHex}))
	}
	// Claimed, it is due to the sweep, which stores it claimed: then no
	// longer waiting, nor due.
	if due, err := h.ts.DueTopUps(ctx, h.clk.read(), "", 10); err != nil || len(due) != 1 || due[0].State != cms.TopUpClaimed {
		t.Errorf("DueTopUps of a claimed top-up: %+v %v", due, err)
	}
	if w, err := h.ts.WaitingTopUps(ctx, cmsIssuer, h.asn, 10); err != nil || len(w) != 1 {
		t.Errorf("WaitingTopUps before the sweep: %+v %v", w, err)
	}
	if n, err := h.tu.Sweep(ctx, clerk); err != nil || n != 0 {
		t.Errorf("Sweep: %d %v", n, err)
	}
	if got := h.state(t, paid.ID); got.State != cms.TopUpClaimed || got.Claim != cms.LoadKey(s2) || got.SettledAt.IsZero() {
		t.Errorf("stored claimed: %+v", got)
	}
	if due, err := h.ts.DueTopUps(ctx, h.clk.read(), "", 10); err != nil || len(due) != 0 {
		t.Errorf("DueTopUps after the sweep: %+v %v", due, err)
	}
	if w, err := h.ts.WaitingTopUps(ctx, cmsIssuer, h.asn, 10); err != nil || len(w) != 0 {
		t.Errorf("WaitingTopUps after the sweep: %+v %v", w, err)
	}
	stored := h.state(t, paid.ID)
	stored.State = cms.TopUpRefunded
	_, err = h.ts.CommitTopUp(ctx, &cms.Operation{At: h.clk.read(), Audit: &cms.AuditRecord{At: h.clk.read(), Actor: "x", ServicePoint: "y", Subject: "topup:" + paid.ID, Action: "refund"}}, &stored)
	wantKind(t, "a claimed top-up settled again", err, citycard.Conflict)

	// Three more, newest first in the list; two expire, paged one at a
	// time by the sweep's query.
	var ids []string
	for i, key := range []string{"web-2", "web-3", "web-4"} {
		h.clk.advance(time.Minute)
		tu, _, err := h.tu.Pay(ctx, clerk, key, cmsIssuer, h.asn, payer, int64(100*(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tu.ID)
	}
	l, err := h.ts.TopUpsOf(ctx, cmsIssuer, h.asn, 3)
	if err != nil || len(l) != 3 || l[0].ID != ids[2] || l[2].ID != ids[0] {
		t.Errorf("TopUpsOf: %+v %v", l, err)
	}
	if w, err := h.ts.WaitingTopUps(ctx, cmsIssuer, h.asn, 2); err != nil || len(w) != 2 || w[0].ID != ids[0] || w[1].ID != ids[1] {
		t.Errorf("WaitingTopUps, oldest first: %+v %v", w, err)
	}
	if _, _, err := h.tu.Refund(ctx, clerk, ids[1]); err != nil {
		t.Fatal(err)
	}
	h.clk.advance(30 * 24 * time.Hour)
	due, err := h.ts.DueTopUps(ctx, h.clk.read(), "", 1)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueTopUps: %+v %v", due, err)
	}
	rest, err := h.ts.DueTopUps(ctx, h.clk.read(), due[0].ID, 10)
	if err != nil || len(rest) != 1 || rest[0].ID == due[0].ID {
		t.Fatalf("DueTopUps after %s: %+v %v", due[0].ID, rest, err)
	}
	if n, err := h.tu.Sweep(ctx, clerk); err != nil || n != 2 {
		t.Fatalf("Sweep: %d %v", n, err)
	}
	for i, want := range []cms.TopUpState{cms.TopUpExpired, cms.TopUpRefunded, cms.TopUpExpired} {
		if got := h.state(t, ids[i]); got.State != want || got.SettledAt.IsZero() {
			t.Errorf("top-up %d: %+v, want %v", i, got, want)
		}
	}
	if h.account(t, pending) != 0 || h.account(t, payer.Account()) != 3000 {
		t.Errorf("after the sweep: pending %d, alipay %d (the claimed 3,000 kept)", h.account(t, pending), h.account(t, payer.Account()))
	}

	// The channel moves: every payment, claim and refund, with the
	// service point.
	moves, err := h.ts.ChannelMoves(ctx, time.Time{}, h.clk.read().Add(time.Hour), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var in, loaded int64
	for _, m := range moves {
		if m.Channel.Type != cms.Cash {
			in += m.Fen
		}
		if m.Channel.Type == cms.TopUpClaim {
			loaded += m.LoadFen
		}
		if m.ServicePoint != clerk.ServicePoint || m.Actor != clerk.Who {
			t.Errorf("channel move %+v: want %v's service point", m, clerk)
		}
	}
	// Paid 3,600; refunded 100, 200 and 300; claimed 3,000 (and reversed once,
	// -3,000, then claimed again).
	if in != 3600-600+3000-3000+3000 || loaded != 3000 {
		t.Errorf("channel moves: in %d, loaded %d: %+v", in, loaded, moves)
	}
	page, err := h.ts.ChannelMoves(ctx, time.Time{}, h.clk.read().Add(time.Hour), "", 2)
	if err != nil || len(page) != 2 || page[0].Key >= page[1].Key {
		t.Errorf("a page of channel moves: %+v %v", page, err)
	}

	// Settled once, never deleted; channel moves never change.
	refusedAndSound(t, s, []string{
		"UPDATE cms_topups SET state = 'pending' WHERE id = '" + ids[0] + "'",
		"UPDATE cms_topups SET amount_fen = 1 WHERE id = '" + ids[2] + "'",
		"DELETE FROM cms_topups WHERE id = '" + ids[0] + "'",
		"UPDATE cms_channel_moves SET fen = 0",
		"DELETE FROM cms_channel_moves",
	})
}

// testCMSTopUpRace races claims of one top-up and a refund of it on the
// store: the money leaves the pending account once, whichever wins.
func testCMSTopUpRace(t *testing.T, s Stores) {
	ctx := context.Background()
	h := newTopUpHost(t, s)
	payer := cms.Channel{Type: cms.BankCard, Party: "icbc"}
	paid, _, err := h.tu.Pay(ctx, clerk, "web-1", cmsIssuer, h.asn, payer, 2000)
	if err != nil {
		t.Fatal(err)
	}
	const racers = 6
	var wg sync.WaitGroup
	errs := make([]error, racers+1)
	for i := range racers {
		s, mac1, _ := h.session(t, 2000)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.tu.Claim(ctx, clerk, paid.ID, s, mac1)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, errs[racers] = h.tu.Refund(ctx, clerk, paid.ID)
	}()
	wg.Wait()
	for i, err := range errs {
		if err != nil && !citycard.IsKind(err, citycard.Conflict) {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	got := h.state(t, paid.ID)
	pending := h.account(t, ledger.Account{Type: ledger.TopUpPending, Party: issuerHex})
	float := h.account(t, ledger.Account{Type: ledger.CardFloat, Party: issuerHex})
	back := h.account(t, payer.Account())
	switch got.State {
	case cms.TopUpRefunded:
		if pending != 0 || float != 0 || back != 0 {
			t.Errorf("refunded: pending %d, float %d, icbc %d", pending, float, back)
		}
	case cms.TopUpClaiming:
		if errs[racers] == nil || pending != 0 || float != -2000 || back != 2000 {
			t.Errorf("claiming: refund %v, pending %d, float %d, icbc %d", errs[racers], pending, float, back)
		}
	default:
		t.Errorf("after the race: %+v", got)
	}
}

// testCMSTopUpsFollow replaces a card with remote top-ups waiting: the
// pending ones move to the new card (audited, no money moved), the one
// claiming stays with its claim until that settles and follows at the
// replacement's retry; a claim on the old card is refused naming the new
// one; the new card claims them once issued; the store moves only a
// pending row of the card named, and its trigger nothing else.
func testCMSTopUpsFollow(t *testing.T, s Stores) {
	ctx := context.Background()
	h := newTopUpHost(t, s)
	old := h.asn
	nu := cmsASN(t, "0123456789ABCD51")
	payer := cms.Channel{Type: cms.BankCard, Party: "icbc"}
	var ids []string
	for i, fen := range []int64{1000, 500, 700} {
		h.clk.advance(time.Minute)
		tu, _, err := h.tu.Pay(ctx, clerk, "follow-"+string(rune('a'+i)), cmsIssuer, old, payer, fen)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tu.ID)
	}
	// The third is claiming (its TAC never came) when the card is
	// reported damaged and replaced.
	s3, mac1, pr3 := h.session(t, 700)
	if _, err := h.tu.Claim(ctx, clerk, ids[2], s3, mac1); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Move(ctx, clerk, cmsIssuer, old, cms.ReportDamaged); err != nil {
		t.Fatal(err)
	}
	pending := ledger.Account{Type: ledger.TopUpPending, Party: issuerHex}
	before, audits := h.account(t, pending), len(auditLog(t, s.CMS))
	cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
	if _, err := h.m.Replace(ctx, clerk, "replace-follow", cmsIssuer, old, nu, cash); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		asn   citycard.ASN
		state cms.TopUpState
	}{{nu, cms.TopUpPending}, {nu, cms.TopUpPending}, {old, cms.TopUpClaiming}} {
		if got := h.state(t, ids[i]); got.ASN != want.asn || got.State != want.state || got.AmountFen == 0 {
			t.Errorf("top-up %d after the replacement: %v %v, want %v %v", i, got.ASN, got.State, want.asn, want.state)
		}
	}
	if w, err := h.ts.WaitingTopUps(ctx, cmsIssuer, nu, 10); err != nil || len(w) != 2 || w[0].ID != ids[0] || w[1].ID != ids[1] {
		t.Errorf("the new card's waiting top-ups: %+v %v", w, err)
	}
	if h.account(t, pending) != before {
		t.Errorf("the move moved money: pending %d, was %d", h.account(t, pending), before)
	}
	log := auditLog(t, s.CMS)
	var follows int
	for _, a := range log[audits:] {
		if a.Action == "remote top-up follow replacement" {
			follows++
			if !strings.Contains(a.Before, old.String()) || !strings.Contains(a.After, nu.String()) {
				t.Errorf("the move's audit record: %+v", a)
			}
		}
	}
	if follows != 2 {
		t.Errorf("%d audit records of the moves, want 2", follows)
	}
	// The old card's next session reverses its claim (same counter) and
	// is refused, naming the new card: nothing booked.
	s4, mac1, _ := h.session(t, 1000)
	_, err := h.tu.Claim(ctx, clerk, ids[0], s4, mac1)
	wantKind(t, "a claim on the replaced card", err, citycard.Conflict)
	if !strings.Contains(err.Error(), nu.String()) {
		t.Errorf("the refusal does not name the replacement: %v", err)
	}
	if got := h.state(t, ids[2]); got.State != cms.TopUpPending || got.ASN != old {
		t.Errorf("the reversed claim's top-up: %+v", got)
	}
	// The replacement retried moves it too.
	if r, err := h.m.Replace(ctx, clerk, "replace-follow", cmsIssuer, old, nu, cash); !r || err != nil {
		t.Fatalf("the replacement retried: %v %v", r, err)
	}
	if got := h.state(t, ids[2]); got.State != cms.TopUpPending || got.ASN != nu {
		t.Errorf("after the retry: %+v", got)
	}
	// The new card, issued, claims one.
	for _, mv := range []cms.Move{cms.Personalize, cms.Issue} {
		step(t, h.m, nu, mv)
	}
	h.asn, h.counter, h.balance = nu, 0, 0
	s5, mac1, pr := h.session(t, 500)
	if mac2, err := h.tu.Claim(ctx, clerk, ids[1], s5, mac1); err != nil || mac2 != pr.MAC2 {
		t.Fatalf("the claim on the new card: %X %v", mac2, err)
	}
	h.credit(s5)
	if err := h.host.Confirm(ctx, clerk, s5, pr.TAC); err != nil {
		t.Fatal(err)
	}
	if got := h.state(t, ids[1]); got.State != cms.TopUpClaimed || got.ASN != nu {
		t.Errorf("claimed on the new card: %+v", got)
	}
	// The third claimed on the new card too; then the old card's reversed
	// claim of it turns out credited (its TAC after all): loaded twice,
	// the second load booked from the issuer's error receivable, never
	// from the pending account.
	s6, mac1, pr := h.session(t, 700)
	if _, err := h.tu.Claim(ctx, clerk, ids[2], s6, mac1); err != nil {
		t.Fatalf("the third's claim on the new card: %v", err)
	}
	h.credit(s6)
	if err := h.host.Confirm(ctx, clerk, s6, pr.TAC); err != nil {
		t.Fatal(err)
	}
	before = h.account(t, pending)
	if err := h.host.Confirm(ctx, clerk, s3, pr3.TAC); err != nil {
		t.Fatalf("the old card's late TAC: %v", err)
	}
	if got := h.account(t, pending); got != before {
		t.Errorf("pending %d after the late TAC, was %d", got, before)
	}
	if got := h.account(t, ledger.Account{Type: ledger.ErrorReceivable, Party: issuerHex}); got != 700 {
		t.Errorf("the issuer's error receivable %d, want a debit of 700", got)
	}
	// The store moves only a pending row of the card it is told, with no
	// live claim; its trigger refuses any other change of the card.
	tu := h.state(t, ids[0])
	tu.ASN = cmsASN(t, "0123456789ABCD52")
	at := h.clk.read()
	a := &cms.AuditRecord{At: at, Actor: "x", ServicePoint: "y", Subject: "topup:" + tu.ID, Action: "follow"}
	wantKind(t, "a move from a card it is not on", h.ts.MoveTopUp(ctx, &cms.Operation{At: at, Audit: a}, &tu, old), citycard.Conflict)
	claimed := h.state(t, ids[1])
	claimed.ASN = old
	wantKind(t, "a move of a claimed top-up", h.ts.MoveTopUp(ctx, &cms.Operation{At: at, Audit: a}, &claimed, nu), citycard.Conflict)
	if got := h.state(t, ids[0]); got.ASN != nu {
		t.Errorf("a refused move kept: %+v", got)
	}
	if _, _, err := h.tu.Refund(ctx, clerk, ids[0]); err != nil {
		t.Fatal(err)
	}
	refusedAndSound(t, s, []string{
		"UPDATE cms_topups SET asn = '" + cms.ASNHex(old) + "' WHERE id = '" + ids[0] + "'",
		"UPDATE cms_topups SET settled_ns = 1 WHERE id = '" + ids[2] + "'",
		"UPDATE cms_topups SET issuer = '0000000000000000' WHERE id = '" + ids[2] + "'",
	})
}

// refusedAndSound checks that the stores refuse every statement of
// stmts, and that the audit log and the ledger verify.
func refusedAndSound(t *testing.T, s Stores, stmts []string) {
	t.Helper()
	ctx := context.Background()
	for _, stmt := range stmts {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Error(err)
	}
	if _, err := ledger.Verify(ctx, s.Ledger); err != nil {
		t.Error(err)
	}
}

// testCMSTopUpLateTAC runs the error-handling case of remote top-up: a
// claim whose session reached the host first while the card ran it
// second (two readers on one card) is reversed by the card's other
// session at the same counter, the top-up is then refunded to its payer,
// and the reversed claim's TAC comes after all. The card holds the
// money: the load is booked again, not from the top-up pending account
// (it holds the top-up no more, and never goes negative) but from the
// payer's error receivable, the refund to be reclaimed; the top-up stays
// refunded, with its claim confirmed. Two books of the money agree: the
// card's (its flows) and the ledger's.
func testCMSTopUpLateTAC(t *testing.T, s Stores) {
	ctx := context.Background()
	h := newTopUpHost(t, s)
	payer := cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: "late-0001"}
	paid := h.pay(t, "late-1", payer, 1000)
	// The claim's session s1, and a load s2 at the same counter from
	// another reader, which reaches the host second and reverses s1; the
	// card runs s1 (its MAC2 given) and credits it.
	s1, mac1, pr1 := h.session(t, 1000)
	if _, err := h.tu.Claim(ctx, clerk, paid.ID, s1, mac1); err != nil {
		t.Fatal(err)
	}
	s2, mac1, _ := h.session(t, 100)
	if _, err := h.host.Authorize(ctx, clerk, cms.Channel{Type: cms.BankCard, Party: "icbc"}, s2, mac1); err != nil {
		t.Fatal(err)
	}
	if got := h.state(t, paid.ID); got.State != cms.TopUpPending {
		t.Fatalf("after the other session: %v, want pending (the claim reversed)", got.State)
	}
	h.credit(s1)
	// The payer asks for the money back: refunded.
	if _, _, err := h.tu.Refund(ctx, clerk, paid.ID); err != nil {
		t.Fatal(err)
	}
	pending := ledger.Account{Type: ledger.TopUpPending, Party: issuerHex}
	float := ledger.Account{Type: ledger.CardFloat, Party: issuerHex}
	if h.account(t, pending) != 0 || h.account(t, payer.Account()) != 0 {
		t.Fatalf("after the refund: pending %d, payer %d", h.account(t, pending), h.account(t, payer.Account()))
	}
	// The late TAC.
	if err := h.host.Confirm(ctx, clerk, s1, pr1.TAC); err != nil {
		t.Fatal(err)
	}
	if got := h.account(t, pending); got != 0 {
		t.Errorf("top-up pending %d after the late TAC, want 0 (never negative)", got)
	}
	receivable := ledger.Account{Type: ledger.ErrorReceivable, Party: payer.Party}
	if got := h.account(t, receivable); got != 1000 {
		t.Errorf("%v %d, want a debit of 1000: the refund to reclaim", receivable, got)
	}
	if got := h.account(t, float); got != -1000 {
		t.Errorf("float %d, want a credit of 1000: the card holds the claim, s2 reversed", got)
	}
	if got := bookBalance(t, s.CMS, h.asn); got != int64(h.balance) {
		t.Errorf("the card's book %d, the card holds %d", got, h.balance)
	}
	got := h.state(t, paid.ID)
	if got.State != cms.TopUpRefunded || got.Claim != cms.LoadKey(s1) {
		t.Errorf("the top-up: %v, claim %q, want refunded with its claim %q confirmed", got.State, got.Claim, cms.LoadKey(s1))
	}
	// The TAC again answers the same, booking nothing more.
	if err := h.host.Confirm(ctx, clerk, s1, pr1.TAC); err != nil {
		t.Fatal(err)
	}
	if h.account(t, receivable) != 1000 || h.account(t, float) != -1000 {
		t.Errorf("the TAC again: receivable %d, float %d", h.account(t, receivable), h.account(t, float))
	}
	refusedAndSound(t, s, nil)
}

// moveFailsOnce is a top-up store whose first MoveTopUp fails (kind IO)
// with nothing kept: a crash between a replacement and its top-ups' move.
type moveFailsOnce struct {
	cms.TopUpStore
	failed bool
}

func (f *moveFailsOnce) MoveTopUp(ctx context.Context, op *cms.Operation, t *cms.TopUp, from citycard.ASN) error {
	if !f.failed {
		f.failed = true
		return citycard.E("storetest.moveFailsOnce", citycard.IO, "the move of top-up %s fails once", t.ID)
	}
	return f.TopUpStore.MoveTopUp(ctx, op, t, from)
}

// testCMSTopUpsFollowRetried fails the move of a replaced card's waiting
// top-ups after the replacement committed: the replacement stands, the
// top-ups wait on the old card, and the replacement retried under its
// key (replayed, nothing booked again) moves them; the key sent for
// another new card is refused.
func testCMSTopUpsFollowRetried(t *testing.T, s Stores) {
	ctx := context.Background()
	h := newTopUpHost(t, s)
	fails := &moveFailsOnce{TopUpStore: h.ts}
	h.tu = cms.NewTopUps(h.host, fails)
	old, nu := h.asn, cmsASN(t, "0123456789ABCD61")
	payer := cms.Channel{Type: cms.BankCard, Party: "icbc"}
	var ids []string
	for i, fen := range []int64{1000, 500} {
		h.clk.advance(time.Minute)
		tu, _, err := h.tu.Pay(ctx, clerk, "follow-retried-"+string(rune('a'+i)), cmsIssuer, old, payer, fen)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tu.ID)
	}
	for _, mv := range []cms.Move{cms.Activate, cms.ReportDamaged} {
		step(t, h.m, old, mv)
	}
	cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
	fee := ledger.Account{Type: ledger.FeeIncome}
	_, err := h.m.Replace(ctx, clerk, "replace-retried", cmsIssuer, old, nu, cash)
	wantKind(t, "the replacement with its top-ups' move failing", err, citycard.IO)
	if c, err := h.m.Card(ctx, cmsIssuer, old); err != nil || c.State != cms.Replaced || c.ReplacedBy != nu {
		t.Fatalf("the old card after the failed move: %+v %v; want replaced by %v", c, err, nu)
	}
	feeFen := h.account(t, fee)
	for _, id := range ids {
		if got := h.state(t, id); got.ASN != old || got.State != cms.TopUpPending {
			t.Fatalf("top-up %s after the failed move: %v %v; want pending on the old card", id, got.ASN, got.State)
		}
	}
	_, err = h.m.Replace(ctx, clerk, "replace-retried", cmsIssuer, old, cmsASN(t, "0123456789ABCD62"), cash)
	wantKind(t, "the replacement's key for another new card", err, citycard.Conflict)
	if r, err := h.m.Replace(ctx, clerk, "replace-retried", cmsIssuer, old, nu, cash); !r || err != nil {
		t.Fatalf("the replacement retried: replayed %v, %v", r, err)
	}
	for _, id := range ids {
		if got := h.state(t, id); got.ASN != nu || got.State != cms.TopUpPending {
			t.Errorf("top-up %s after the retry: %v %v; want pending on the new card %v", id, got.ASN, got.State, nu)
		}
	}
	if h.account(t, fee) != feeFen {
		t.Errorf("the retry booked the fee again: fee income %d, was %d", h.account(t, fee), feeFen)
	}
}
