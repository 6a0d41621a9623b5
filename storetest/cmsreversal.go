package storetest

import (
	"context"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// testCMSLoadReversal books an online load through a partner bank and
// its reversal as the load host does (cms.LoadReversal over the load's
// entry, read back by Store.LedgerEntry): the reversal is a ledger
// reversal naming the load's Seq; committed again it is a replay, and
// a second reversal of the entry under another key is refused alone
// (kind Conflict), in a batch and alone; the float, the bank's
// settlement account and the day's loads are back where they were.
func testCMSLoadReversal(t *testing.T, s Stores) {
	ctx := context.Background()
	clk, cards := soldCards(t, s.CMS, "0123456789ABCD6", 2)
	p, err := cms.DefaultProducts().Product("transit")
	if err != nil {
		t.Fatal(err)
	}
	bank := cms.Channel{Type: cms.PartnerBank, Party: "nb-bank"}
	float := ledger.Account{Type: ledger.CardFloat, Party: issuerHex}
	floatBefore, err := s.Ledger.Balance(ctx, float)
	if err != nil {
		t.Fatal(err)
	}
	at := clk.read()
	c := cards[0]
	ld := cms.Load{Key: "rl-1", Card: &c, Product: p, Channel: bank, AmountFen: 5000}
	b, err := ld.Book()
	if err != nil {
		t.Fatal(err)
	}
	ol := &cms.OnlineLoad{Key: "rl-1", Issuer: c.Issuer, ASN: c.ASN, Counter: 3, AmountFen: 5000,
		Terminal: citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, 1}, KeyVersion: 1, Channel: bank, AuthorizedAt: at, Status: cms.LoadUnconfirmed}
	next := c
	next.Version++
	audit := func(action string) *cms.AuditRecord {
		return &cms.AuditRecord{At: at, Actor: "clerk", ServicePoint: "bank-branch-1", Subject: "card:" + c.String(), Action: action}
	}
	if _, err := s.CMS.Commit(ctx, &cms.Operation{Booking: &b, At: at, Cards: []*cms.Card{&next}, Loads: []*cms.OnlineLoad{ol}, Audit: audit("online load")}); err != nil {
		t.Fatal(err)
	}
	e, err := s.CMS.LedgerEntry(ctx, cms.LoadEntryKey("rl-1"))
	if err != nil || e.Type != ledger.EntryLoad || e.Seq == 0 {
		t.Fatalf("LedgerEntry of the load: %+v %v", e, err)
	}
	_, err = s.CMS.LedgerEntry(ctx, cms.LoadEntryKey("rl-none"))
	wantKind(t, "LedgerEntry of no entry", err, citycard.NotFound)

	rb, err := cms.LoadReversal{Card: &next, Load: ol, Entry: &e}.Book()
	if err != nil {
		t.Fatal(err)
	}
	settled := *ol
	settled.Status, settled.SettledAt, settled.Settlement = cms.LoadReversed, at, cms.SettledByNewSession
	moved := next
	moved.Version++
	rev := &cms.Operation{Booking: &rb, At: at, Cards: []*cms.Card{&moved}, Loads: []*cms.OnlineLoad{&settled}, Audit: audit("reverse load")}
	// The entry reversed again under another key, moving no card.
	other := rb
	other.Key, other.Entries = "reverse-again", []ledger.Entry{rb.Entries[0]}
	other.Entries[0].Key = "cms:reverse-again/reverse"
	again := &cms.Operation{Booking: &other, At: at, Audit: audit("reverse load")}
	res, err := s.CMS.CommitBatch(ctx, []*cms.Operation{rev, rev, again})
	if err != nil || len(res) != 3 {
		t.Fatalf("CommitBatch: %+v %v", res, err)
	}
	if res[0].Err != nil || res[0].Replayed || res[1].Err != nil || !res[1].Replayed {
		t.Errorf("the reversal, then again: %+v", res[:2])
	}
	wantKind(t, "the load's entry reversed under another key, in a batch", res[2].Err, citycard.Conflict)
	_, err = s.CMS.Commit(ctx, again)
	wantKind(t, "the load's entry reversed under another key, alone", err, citycard.Conflict)
	if replayed, err := s.CMS.Commit(ctx, rev); err != nil || !replayed {
		t.Errorf("the reversal committed once more: %v %v", replayed, err)
	}

	r, err := s.Ledger.EntryByKey(ctx, "cms:reverse:rl-1/reverse")
	if err != nil || r.Type != ledger.EntryReversal || r.ReversalOf != e.Seq || len(r.Postings) != 2 ||
		r.Postings[0].Account != bank.Account() || r.Postings[0].AmountFen != -5000 {
		t.Errorf("the reversal's entry: %+v %v", r, err)
	}
	if _, err := s.Ledger.EntryByKey(ctx, "cms:reverse-again/reverse"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("the second reversal's entry: %v", err)
	}
	if fl, err := s.Ledger.Balance(ctx, float); err != nil || fl.NetFen() != floatBefore.NetFen() {
		t.Errorf("the float: %+v %v, want %+v", fl, err, floatBefore)
	}
	if bb, err := s.Ledger.Balance(ctx, bank.Account()); err != nil || bb.NetFen() != 0 {
		t.Errorf("the bank's settlement account: %+v %v", bb, err)
	}
	if got, err := s.CMS.LoadedFen(ctx, cmsIssuer, c.ASN, at.Add(-1), at.Add(1)); err != nil || got != 0 {
		t.Errorf("the day's loads: %d %v, want 0", got, err)
	}
	if got := bookBalance(t, s.CMS, c.ASN); got != 0 {
		t.Errorf("the card's book: %d", got)
	}
	if rep, err := ledger.Verify(ctx, s.Ledger); err != nil || rep.Broken != nil {
		t.Errorf("ledger.Verify: %+v %v", rep, err)
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Errorf("VerifyAudit: %v", err)
	}
}
