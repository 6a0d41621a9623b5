package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// The personal data of the card management tests: resident ID numbers
// with GB 11643's check characters, a phone and names, searched for in
// everything the stores keep.
const (
	idAnn     = "330203199001011236"
	idBo      = "330205195612020048"
	phoneAnn  = "13812345678"
	nameAnn   = "张三丰"
	issuerHex = "31500001FFFFFFFF"
)

var (
	clerk      = cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}
	cmsIssuer  = mustIssuer(issuerHex)
	seniorBorn = cms.Date{Year: 1956, Month: 12, Day: 2}
)

func mustIssuer(s string) citycard.IssuerCode {
	c, err := citycard.ParseIssuerCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

func cmsASN(t *testing.T, s string) citycard.ASN {
	t.Helper()
	a, err := citycard.ParseASN(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func manager(t *testing.T, s Stores, keyFill byte) *cms.Manager {
	t.Helper()
	p, err := cms.NewProtector(bytes.Repeat([]byte{keyFill}, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cms.NewManager(s.CMS, cms.DefaultProducts(), p, clock())
}

func register(t *testing.T, m *cms.Manager) (ann, bo cms.Cardholder) {
	t.Helper()
	ctx := context.Background()
	var err error
	ann, err = m.Register(ctx, clerk, cms.Cardholder{Name: nameAnn, DocType: cms.ResidentID, DocNumber: idAnn,
		DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}, Phone: phoneAnn})
	if err != nil {
		t.Fatal(err)
	}
	bo, err = m.Register(ctx, clerk, cms.Cardholder{Name: "李四", DocType: cms.ResidentID, DocNumber: idBo, DateOfBirth: seniorBorn})
	if err != nil {
		t.Fatal(err)
	}
	return ann, bo
}

// cardThrough registers two cardholders, applies for a citizen card for
// the first and makes moves on it; it returns the card's ASN.
func cardThrough(t *testing.T, m *cms.Manager, moves ...cms.Move) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	ann, _ := register(t, m)
	asn := cmsASN(t, "0123456789ABCDEF")
	if _, err := m.Apply(ctx, clerk, cmsIssuer, asn, "citizen", ann.ID); err != nil {
		t.Fatal(err)
	}
	for _, mv := range moves {
		step(t, m, asn, mv)
	}
	return asn
}

// step makes move mv on a card; the issue is a sale (its deposit), with
// nothing loaded, as Manager.Move refuses the moves that move money.
func step(t *testing.T, m *cms.Manager, asn citycard.ASN, mv cms.Move) {
	t.Helper()
	ctx := context.Background()
	var err error
	if mv == cms.Issue {
		_, err = m.Sell(ctx, clerk, "sale-"+asn.String(), cmsIssuer, asn, cms.Channel{Type: cms.Cash, Party: issuerHex}, 0)
	} else {
		_, err = m.Move(ctx, clerk, cmsIssuer, asn, mv)
	}
	if err != nil {
		t.Fatalf("%v: %v", mv, err)
	}
}

// cardAfter returns the card an audit record shows after the change: its
// After, or the "card" in it for a money operation's.
func cardAfter(t *testing.T, a cms.AuditRecord) string {
	t.Helper()
	var money struct {
		Card json.RawMessage `json:"card"`
	}
	if err := json.Unmarshal([]byte(a.After), &money); err != nil {
		t.Fatalf("record %d: after %q: %v", a.Seq, a.After, err)
	}
	if money.Card != nil {
		return string(money.Card)
	}
	return a.After
}

// auditLog returns the whole audit log.
func auditLog(t *testing.T, s cms.Store) []cms.AuditRecord {
	t.Helper()
	var l []cms.AuditRecord
	if err := s.AuditLog(context.Background(), 0, func(a *cms.AuditRecord) error { l = append(l, *a); return nil }); err != nil {
		t.Fatal(err)
	}
	return l
}

func testCMSHolders(t *testing.T, s Stores) {
	ctx := context.Background()
	m := manager(t, s, 1)
	ann, bo := register(t, m)
	if ann.ID != 1 || bo.ID != 2 {
		t.Fatalf("holder IDs %d and %d, want 1 and 2", ann.ID, bo.ID)
	}
	got, err := m.Holder(ctx, ann.ID)
	if err != nil || got != ann {
		t.Fatalf("Holder: %v, %v; want %v", got, err, ann)
	}
	found, err := m.FindHolder(ctx, cms.ResidentID, " "+strings.ToLower(idAnn)+" ")
	if err != nil || found != ann {
		t.Fatalf("FindHolder: %v, %v", found, err)
	}
	_, err = m.FindHolder(ctx, cms.ResidentID, "11010519491231002X")
	wantKind(t, "FindHolder of an unknown document", err, citycard.NotFound)
	_, err = m.Holder(ctx, 99)
	wantKind(t, "Holder(99)", err, citycard.NotFound)

	before := len(auditLog(t, s.CMS))
	_, err = m.Register(ctx, clerk, cms.Cardholder{Name: "王五", DocType: cms.ResidentID, DocNumber: idAnn, DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}})
	wantKind(t, "Register a document twice", err, citycard.Exists)
	if strings.Contains(err.Error(), idAnn) || strings.Contains(err.Error(), "王五") {
		t.Errorf("the error %q holds personal data", err)
	}
	_, err = m.Register(ctx, clerk, cms.Cardholder{Name: "王五", DocType: cms.ResidentID, DocNumber: "330203199001011237", DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}})
	wantKind(t, "Register a bad number", err, citycard.Invalid)
	if n := len(auditLog(t, s.CMS)); n != before {
		t.Errorf("refused registrations wrote %d audit records", n-before)
	}
	if h, err := m.Register(ctx, clerk, cms.Cardholder{Name: "王五", DocType: cms.Passport, DocNumber: "E12345678", DateOfBirth: cms.Date{Year: 1980, Month: 5, Day: 5}}); err != nil || h.ID != 3 {
		t.Errorf("after the refusals, the next holder: %v %v", h.ID, err)
	}

	// At rest: the ciphertext and a hash, nothing in clear.
	p, err := s.CMS.Holder(ctx, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{idAnn, phoneAnn, nameAnn} {
		if bytes.Contains(p.Ciphertext, []byte(secret)) {
			t.Errorf("the stored cardholder holds %q in clear", secret)
		}
	}
	// Another data key opens nothing.
	_, err = manager(t, s, 2).Holder(ctx, ann.ID)
	wantKind(t, "Holder under another data key", err, citycard.Crypto)

	// An update: a new phone, the old document.
	ann.Phone = "13900001111"
	if err := m.UpdateHolder(ctx, clerk, ann); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Holder(ctx, ann.ID); err != nil || got.Phone != "13900001111" {
		t.Errorf("after the update: %v %v", got, err)
	}
	ann.DocNumber = idBo
	ann.DateOfBirth = seniorBorn
	wantKind(t, "UpdateHolder onto another's document", m.UpdateHolder(ctx, clerk, ann), citycard.Exists)
	ghost := bo
	ghost.ID = 99
	wantKind(t, "UpdateHolder(99)", m.UpdateHolder(ctx, clerk, ghost), citycard.NotFound)
}

func testCMSCards(t *testing.T, s Stores) {
	ctx := context.Background()
	m := manager(t, s, 1)
	ann, bo := register(t, m)
	asn := cmsASN(t, "0123456789ABCDEF")

	c, err := m.Apply(ctx, clerk, cmsIssuer, asn, "citizen", ann.ID)
	if err != nil || c.State != cms.Applied || c.Version != 1 {
		t.Fatalf("Apply: %+v %v", c, err)
	}
	for _, mv := range []cms.Move{cms.Personalize, cms.Issue, cms.Activate, cms.ReportLoss} {
		step(t, m, asn, mv)
	}
	c, _ = s.CMS.Card(ctx, cmsIssuer, asn)
	got, err := m.Card(ctx, cmsIssuer, asn)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("Card: %+v, %v; want %+v", got, err, c)
	}
	if got.State != cms.Lost || got.LostAt.IsZero() || got.LostAt.Nanosecond() == 0 || got.Version != 5 || got.StateBefore != cms.Active {
		t.Errorf("after the loss report: %+v", got)
	}

	// A forbidden move: refused, nothing stored, nothing audited.
	before := len(auditLog(t, s.CMS))
	_, err = m.Move(ctx, clerk, cmsIssuer, asn, cms.Activate)
	wantKind(t, "Activate a lost card", err, citycard.Conflict)
	if after, _ := m.Card(ctx, cmsIssuer, asn); !reflect.DeepEqual(after, c) || len(auditLog(t, s.CMS)) != before {
		t.Error("a refused move changed the store")
	}

	// Two moves from one read: the second finds the version moved.
	read, _ := s.CMS.Card(ctx, cmsIssuer, asn)
	p, _ := cms.DefaultProducts().Product("citizen")
	at := read.LostAt.Add(time.Hour)
	found, _ := read.Move(p, cms.CancelLoss, at)
	replaced, _ := read.Move(p, cms.Replace, at)
	if err := s.CMS.UpdateCard(ctx, &found, &cms.AuditRecord{At: at, Actor: "a", ServicePoint: "b", Subject: "card", Action: "cancel loss"}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "a second move from the same read", s.CMS.UpdateCard(ctx, &replaced, &cms.AuditRecord{At: at, Actor: "a", ServicePoint: "b"}), citycard.Conflict)
	ghost := found
	ghost.ASN = cmsASN(t, "0123456789ABCDEE")
	wantKind(t, "UpdateCard of no card", s.CMS.UpdateCard(ctx, &ghost, &cms.AuditRecord{At: at}), citycard.NotFound)
	_, err = m.Move(ctx, clerk, cmsIssuer, ghost.ASN, cms.Activate)
	wantKind(t, "Move on no card", err, citycard.NotFound)
	for _, mv := range []cms.Move{cms.Issue, cms.Replace, cms.MoveBalance, cms.Refund} {
		_, err = m.Move(ctx, clerk, cmsIssuer, asn, mv)
		wantKind(t, "Move "+mv.String()+", a move of money", err, citycard.Invalid)
	}

	// Every field survives the store.
	full := cms.Card{Issuer: cmsIssuer, ASN: cmsASN(t, "00010203040506070809"), Product: "mot", Holder: ann.ID, State: cms.Replaced, Version: 9,
		AppliedAt: time.Unix(0, 1_700_000_000_123_456_789).UTC(), IssuedAt: time.Unix(0, 1_700_000_001_000_000_001).UTC(),
		LostAt: time.Unix(0, 1_700_000_002_000_000_002).UTC(), Expiry: cms.Date{Year: 2036, Month: 3, Day: 1},
		ReviewDue: cms.Date{Year: 2027, Month: 3, Day: 1}, ReplacedBy: cmsASN(t, "0A010203040506070809"), StateBefore: cms.Issued}
	if err := s.CMS.CreateCard(ctx, &full, &cms.AuditRecord{At: at, Actor: "a", ServicePoint: "b"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CMS.Card(ctx, full.Issuer, full.ASN); err != nil || !reflect.DeepEqual(got, full) {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, full)
	}
	wantKind(t, "CreateCard twice", s.CMS.CreateCard(ctx, &full, &cms.AuditRecord{At: at}), citycard.Exists)
	stray := full
	stray.ASN, stray.Holder = cmsASN(t, "0B010203040506070809"), 999
	wantKind(t, "CreateCard of no holder", s.CMS.CreateCard(ctx, &stray, &cms.AuditRecord{At: at}), citycard.NotFound)

	cards, err := s.CMS.CardsOf(ctx, ann.ID)
	if err != nil || len(cards) != 2 || cards[0].ASN != asn || cards[1].ASN != full.ASN {
		t.Errorf("CardsOf: %+v, %v", cards, err)
	}
	if cards, err := s.CMS.CardsOf(ctx, bo.ID); err != nil || len(cards) != 0 {
		t.Errorf("CardsOf a holder without cards: %+v, %v", cards, err)
	}

	// Every card, a page of one at a time, by issuer and ASN, then none.
	all, err := s.CMS.CardsPage(ctx, citycard.IssuerCode{}, citycard.ASN{}, cms.CardsPageMax)
	if err != nil || len(all) < 2 {
		t.Fatalf("CardsPage: %d cards, %v", len(all), err)
	}
	var walked []cms.Card
	var after cms.Card
	for {
		page, err := s.CMS.CardsPage(ctx, after.Issuer, after.ASN, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) != 1 || len(walked) > len(all) {
			t.Fatalf("a page of 1: %d cards, %d walked", len(page), len(walked))
		}
		walked, after = append(walked, page[0]), page[0]
	}
	if !reflect.DeepEqual(walked, all) {
		t.Errorf("walked one by one: %+v; the page of all: %+v", walked, all)
	}
	for _, n := range []int{0, -1, cms.CardsPageMax + 1} {
		_, err := s.CMS.CardsPage(ctx, citycard.IssuerCode{}, citycard.ASN{}, n)
		wantKind(t, fmt.Sprintf("CardsPage of %d", n), err, citycard.Invalid)
	}

	// The product's rules: anonymous or registered, eligible or not.
	if _, err := m.Apply(ctx, clerk, cmsIssuer, cmsASN(t, "0123456789ABCD01"), "transit", 0); err != nil {
		t.Errorf("an anonymous transit card: %v", err)
	}
	_, err = m.Apply(ctx, clerk, cmsIssuer, cmsASN(t, "0123456789ABCD02"), "citizen", 0)
	wantKind(t, "a citizen card without a holder", err, citycard.Invalid)
	_, err = m.Apply(ctx, clerk, cmsIssuer, cmsASN(t, "0123456789ABCD03"), "senior", ann.ID)
	wantKind(t, "a senior card for someone of 35", err, citycard.Permission)
	_, err = m.Apply(ctx, clerk, cmsIssuer, cmsASN(t, "0123456789ABCD04"), "senior", bo.ID)
	wantKind(t, "a senior card for someone of 68 (the suite's clock is in 2025)", err, citycard.Permission)
	_, err = m.Apply(ctx, clerk, cmsIssuer, cmsASN(t, "0123456789ABCD05"), "oyster", ann.ID)
	wantKind(t, "an unknown product", err, citycard.NotFound)
	_, err = m.Apply(ctx, cms.Actor{}, cmsIssuer, cmsASN(t, "0123456789ABCD06"), "transit", 0)
	wantKind(t, "no actor", err, citycard.Invalid)
}

func testCMSAudit(t *testing.T, s Stores) {
	ctx := context.Background()
	m := manager(t, s, 1)
	asn := cardThrough(t, m, cms.Personalize, cms.Issue, cms.Activate, cms.ReportLoss, cms.CancelLoss)
	log := auditLog(t, s.CMS)
	if n, err := cms.VerifyAudit(ctx, s.CMS); err != nil || n != 8 || len(log) != 8 {
		t.Fatalf("VerifyAudit: %d records, %v; the log has %d, want 8 (2 holders, 1 application, 5 moves)", n, err, len(log))
	}
	subject := "card:" + issuerHex + "/" + asn.String()
	for i, a := range log[2:] {
		if a.Actor != clerk.Who || a.ServicePoint != clerk.ServicePoint || a.Subject != subject || a.After == "" || a.At.IsZero() {
			t.Errorf("record %d: %+v", a.Seq, a)
		}
		if i > 0 && a.Before != cardAfter(t, log[i+1]) {
			t.Errorf("record %d: before %s is not the last after %s", a.Seq, a.Before, log[i+1].After)
		}
	}
	if log[2].Action != "apply" || log[6].Action != "report loss" || log[0].Subject != "holder:1" {
		t.Errorf("actions %q %q, subject %q", log[2].Action, log[6].Action, log[0].Subject)
	}
	var all strings.Builder
	for _, a := range log {
		all.WriteString(a.Before + a.After + a.Subject + a.Action)
	}
	for _, secret := range []string{idAnn, idBo, phoneAnn, nameAnn, "1990-01-01"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}

	// Append-only, and a change behind the platform's back is found.
	if err := s.Exec(ctx, `UPDATE cms_audit SET actor = 'mallory' WHERE seq = 2`); err == nil {
		t.Fatal("an audit record was updated")
	}
	if err := s.Exec(ctx, `DELETE FROM cms_audit WHERE seq = 8`); err == nil {
		t.Fatal("an audit record was deleted")
	}
	if err := s.Unguard(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, `UPDATE cms_audit SET actor = 'mallory' WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	_, err := cms.VerifyAudit(ctx, s.CMS)
	wantKind(t, "VerifyAudit after tampering", err, citycard.Crypto)
	if err == nil || !strings.Contains(err.Error(), "audit record 4") {
		t.Errorf("%v does not name record 4", err)
	}
	if err := s.Exec(ctx, `DELETE FROM cms_audit WHERE seq = 6`); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err == nil {
		t.Error("a deleted record went unnoticed")
	}
}

// testCMSConcurrent races moves on one card: each is stored or refused
// with Conflict, the card's version counts the stored ones, and the audit
// chain holds.
func testCMSConcurrent(t *testing.T, s Stores) {
	ctx := context.Background()
	m := manager(t, s, 1)
	asn := cardThrough(t, m, cms.Personalize, cms.Issue, cms.Activate)
	const racers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Move(ctx, clerk, cmsIssuer, asn, cms.Renew)
			if err != nil && !citycard.IsKind(err, citycard.Conflict) {
				t.Errorf("a racing move: %v", err)
			}
			if err == nil {
				mu.Lock()
				stored++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	c, err := m.Card(ctx, cmsIssuer, asn)
	if err != nil || stored == 0 || c.Version != int64(4+stored) {
		t.Errorf("%d moves stored, the card at version %d (%v)", stored, c.Version, err)
	}
	if n, err := cms.VerifyAudit(ctx, s.CMS); err != nil || n != int64(2+4+stored) {
		t.Errorf("VerifyAudit: %d, %v; want %d", n, err, 2+4+stored)
	}
}

// settable is a clock a test moves by hand, a few nanoseconds a reading
// so that every stored time is distinct.
type settable struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settable) read() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(7)
	return c.now
}

func (c *settable) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// bookBalance sums the stored flows of our issuer's card asn as
// cms.BookBalances does.
func bookBalance(t *testing.T, s cms.Store, asn citycard.ASN) int64 {
	t.Helper()
	flows, err := s.Flows(context.Background(), cmsIssuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	return cms.BookBalances(flows)[asn]
}

func floatFen(t *testing.T, s Stores) int64 {
	t.Helper()
	b, err := s.Ledger.Balance(context.Background(), ledger.Account{Type: ledger.CardFloat, Party: issuerHex})
	if citycard.IsKind(err, citycard.NotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return -b.NetFen()
}

// testCMSMoney runs a card's money life through the store: sale, loads
// (a retry replayed, a key reused refused, a limit refused with nothing
// written), loss, replacement, the balance moved after the cooling
// period with the use after the report borne by the issuer, and the
// refund; the flows, the ledger and the audit agree at every step.
func testCMSMoney(t *testing.T, s Stores) {
	ctx := context.Background()
	clk := &settable{now: time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)}
	p, err := cms.NewProtector(bytes.Repeat([]byte{1}, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := cms.NewManager(s.CMS, cms.DefaultProducts(), p, clk.read)
	asn := cardThrough(t, m, cms.Personalize)
	cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
	alipay := cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: "2026030122001"}

	if r, err := m.Sell(ctx, clerk, "sale-1", cmsIssuer, asn, cash, 5000); r || err != nil {
		t.Fatalf("Sell: %v %v", r, err)
	}
	if r, err := m.Sell(ctx, clerk, "sale-1", cmsIssuer, asn, cash, 5000); !r || err != nil {
		t.Fatalf("Sell retried: replayed %v, %v", r, err)
	}
	if r, err := m.Load(ctx, clerk, "load-1", cmsIssuer, asn, alipay, 20000, 5000, 5000); r || err != nil {
		t.Fatalf("Load: %v %v", r, err)
	}
	c, _ := m.Card(ctx, cmsIssuer, asn)
	if c.State != cms.Active {
		t.Errorf("a load left an issued card %v", c.State)
	}
	if r, err := m.Load(ctx, clerk, "load-1", cmsIssuer, asn, alipay, 20000, 25000, 25000); !r || err != nil {
		t.Errorf("Load retried with the shadow moved on: replayed %v, %v", r, err)
	}
	_, err = m.Load(ctx, clerk, "load-1", cmsIssuer, asn, alipay, 20001, 25000, 25000)
	wantKind(t, "a key reused for another load", err, citycard.Conflict)
	before := len(auditLog(t, s.CMS))
	_, err = m.Load(ctx, clerk, "load-2", cmsIssuer, asn, alipay, 50000, 75001, 25000)
	wantKind(t, "a load past the cap", err, citycard.Conflict)
	if _, err := s.CMS.OperationHash(ctx, "load-2"); !citycard.IsKind(err, citycard.NotFound) || len(auditLog(t, s.CMS)) != before {
		t.Errorf("a refused load left its key (%v) or an audit record", err)
	}
	if got, want := bookBalance(t, s.CMS, asn), int64(25000); got != want || floatFen(t, s) != want {
		t.Fatalf("after the loads: book %d, float %d, want %d", got, floatFen(t, s), want)
	}

	// Lost at 10:00; replaced; two purchases of 3 yuan before the report
	// and 4 yuan after it, offline, arrive; the balance moves once the
	// cooling period (7 days) has passed.
	if _, err := m.Move(ctx, clerk, cmsIssuer, asn, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	lost, _ := m.Card(ctx, cmsIssuer, asn)
	nu := cmsASN(t, "0123456789ABCD10")
	if _, err := m.Replace(ctx, clerk, "replace-1", cmsIssuer, asn, nu, cash); err != nil {
		t.Fatal(err)
	}
	for _, mv := range []cms.Move{cms.Personalize, cms.Issue, cms.Activate} {
		step(t, m, nu, mv)
	}
	uses := []cms.Purchase{{At: lost.LostAt.Add(-time.Hour), AmountFen: 300}, {At: lost.LostAt.Add(time.Hour), AmountFen: 400}}
	shadow := int64(25000 - 300 - 400)
	_, err = m.MoveBalance(ctx, clerk, "move-1", cmsIssuer, asn, shadow, uses)
	wantKind(t, "a move inside the cooling period", err, citycard.Conflict)
	clk.advance(7 * 24 * time.Hour)
	if r, err := m.MoveBalance(ctx, clerk, "move-1", cmsIssuer, asn, shadow, uses); r || err != nil {
		t.Fatalf("MoveBalance: %v %v", r, err)
	}
	if r, err := m.MoveBalance(ctx, clerk, "move-1", cmsIssuer, asn, shadow, uses); !r || err != nil {
		t.Errorf("MoveBalance retried: replayed %v, %v", r, err)
	}
	// Acquire books the purchases (card float to the operator); here the
	// test books them as it would, to check the float.
	purchases := []ledger.Entry{ledger.NewEntry("purchase-1", ledger.EntryPurchase, "batch:1",
		ledger.Transfer(ledger.Account{Type: ledger.CardFloat, Party: issuerHex}, ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}, 700)...)}
	if _, err := s.Ledger.Append(ctx, clk.read(), purchases); err != nil {
		t.Fatal(err)
	}
	old, _ := m.Card(ctx, cmsIssuer, asn)
	if old.State != cms.Closed {
		t.Errorf("the old card is %v after its balance moved", old.State)
	}
	// A late record: 1 yuan more spent after the report, arriving now.
	late := []ledger.Entry{ledger.NewEntry("purchase-2", ledger.EntryPurchase, "batch:2",
		ledger.Transfer(ledger.Account{Type: ledger.CardFloat, Party: issuerHex}, ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}, 100)...)}
	if _, err := s.Ledger.Append(ctx, clk.read(), late); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LateLoss(ctx, clerk, "late-1", cmsIssuer, asn, 100); err != nil {
		t.Fatal(err)
	}
	// The old card: 250 loaded, 8 spent, 5 of it borne, 247 moved out:
	// its book is 0 once the purchases are counted (the flows hold what
	// card management booked; the purchases are acquire's).
	if got := bookBalance(t, s.CMS, asn) - 700 - 100; got != 0 {
		t.Errorf("the old card's book: %d fen, want 0", got)
	}
	if got := bookBalance(t, s.CMS, nu); got != 24700 {
		t.Errorf("the new card's book: %d fen, want 247 yuan (the balance as of the report)", got)
	}
	if f := floatFen(t, s); f != 24700 {
		t.Errorf("the float: %d fen, want the new card's 24700", f)
	}
	// Summed over every card by type: the two cards' books together,
	// the balance moved out and in the same.
	if tot, err := s.CMS.FlowTotals(ctx); err != nil || cms.BookTotal(tot) != 800+24700 || tot[cms.FlowMovedOut] != 24700 || tot[cms.FlowMovedIn] != 24700 {
		t.Errorf("flow totals %v %v: book %d, want 25500 with 24700 moved out and in", tot, err, cms.BookTotal(tot))
	}
	// By product: both cards are of one product, so the one product's
	// totals are the totals; every card is listed with its product.
	byProduct, err := s.CMS.ProductFlowTotals(ctx)
	if tot, _ := s.CMS.FlowTotals(ctx); err != nil || len(byProduct) != 1 || !reflect.DeepEqual(byProduct[old.Product], tot) {
		t.Errorf("flow totals by product %v %v, want %q's the totals %v", byProduct, err, old.Product, tot)
	}
	products := map[citycard.ASN]string{}
	if err := s.CMS.CardProducts(ctx, func(a citycard.ASN, p string) error { products[a] = p; return nil }); err != nil || products[asn] != old.Product || products[nu] != old.Product {
		t.Errorf("card products %v %v, want both cards of %q", products, err, old.Product)
	}
	loss, err := s.Ledger.Balance(ctx, ledger.Account{Type: ledger.IssuerLoss, Party: issuerHex})
	if err != nil || loss.NetFen() != 500 {
		t.Errorf("the issuer's loss: %+v %v, want the 5 yuan spent after the report", loss, err)
	}

	// The new card is refunded; fees kept by Octopus's rule (returned
	// within 90 days of issue: 1% or 5 yuan).
	if _, err := m.Refund(ctx, clerk, "refund-1", cmsIssuer, nu, cash, 24700, nil); err != nil {
		t.Fatal(err)
	}
	// Retried with the book moved (a late record): the store answers the
	// first quote; another payee under the key is refused.
	if r, err := m.Refund(ctx, clerk, "refund-1", cmsIssuer, nu, cash, 24400, []cms.Purchase{{At: clk.now, AmountFen: 300}}); !r || err != nil {
		t.Errorf("Refund retried with the book moved: replayed %v, %v", r, err)
	}
	if q, r, err := m.RefundReplay(ctx, "refund-1", cmsIssuer, nu, cash); !r || err != nil || q.BalanceFen != 24700 || q.FeeFen != 500 || q.PaidFen != 24700+1000-500 || q.FeeRule == "" {
		t.Errorf("RefundReplay: %+v %v %v; want the first quote, 247 yuan and the deposit less 5", q, r, err)
	}
	_, _, err = m.RefundReplay(ctx, "refund-1", cmsIssuer, nu, alipay)
	wantKind(t, "a refund key reused for another payee", err, citycard.Conflict)
	_, err = m.Refund(ctx, clerk, "refund-1", cmsIssuer, nu, alipay, 24700, nil)
	wantKind(t, "a refund key reused for another payee", err, citycard.Conflict)
	if r, err := m.MoveBalanceReplay(ctx, "move-1", cmsIssuer, asn); !r || err != nil {
		t.Errorf("MoveBalanceReplay of the move made: %v %v", r, err)
	}
	_, err = m.MoveBalanceReplay(ctx, "move-1", cmsIssuer, nu)
	wantKind(t, "a balance move key reused for another card", err, citycard.Conflict)
	if got := bookBalance(t, s.CMS, nu); got != 0 || floatFen(t, s) != 0 {
		t.Errorf("after the refund: book %d, float %d", got, floatFen(t, s))
	}
	if dep, err := s.Ledger.Balance(ctx, ledger.Account{Type: ledger.CardDeposit, Party: issuerHex}); err != nil || dep.NetFen() != 0 {
		t.Errorf("deposits held after the one card sold and its replacement are refunded: %+v %v", dep, err)
	}
	fee, _ := s.Ledger.Balance(ctx, ledger.Account{Type: ledger.FeeIncome})
	if want := int64(2000 + 500); -fee.NetFen() != want {
		t.Errorf("fee income %d fen, want the replacement's 20 yuan and the refund's 5", -fee.NetFen())
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Error(err)
	}
	if _, err := ledger.Verify(ctx, s.Ledger); err != nil {
		t.Error(err)
	}
}

// testCMSConcurrentLoads races loads on one card: each is booked once or
// refused with Conflict, and the ledger holds exactly the booked ones.
func testCMSConcurrentLoads(t *testing.T, s Stores) {
	ctx := context.Background()
	m := manager(t, s, 1)
	asn := cardThrough(t, m, cms.Personalize)
	cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
	if _, err := m.Sell(ctx, clerk, "sale", cmsIssuer, asn, cash, 0); err != nil {
		t.Fatal(err)
	}
	const racers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	booked := 0
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Load(ctx, clerk, "load-"+string(rune('a'+i)), cmsIssuer, asn, cash, 1000, 0, 0)
			if err != nil && !citycard.IsKind(err, citycard.Conflict) {
				t.Errorf("a racing load: %v", err)
			}
			if err == nil {
				mu.Lock()
				booked++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if booked == 0 || bookBalance(t, s.CMS, asn) != int64(1000*booked) || floatFen(t, s) != int64(1000*booked) {
		t.Errorf("%d loads booked; book %d, float %d", booked, bookBalance(t, s.CMS, asn), floatFen(t, s))
	}
}

// testCMSReview runs a student card's annual review: refused for a card
// without one, accepted while the holder studies (the due date a year
// on, the category back), refused once studies have ended.
func testCMSReview(t *testing.T, s Stores) {
	ctx := context.Background()
	clk := &settable{now: time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)}
	m := cms.NewManager(s.CMS, cms.DefaultProducts(), mustProtector(t), clk.read)
	stu, err := m.Register(ctx, clerk, cms.Cardholder{Name: "王小明", DocType: cms.ResidentID, DocNumber: "11010519491231002X",
		DateOfBirth: cms.Date{Year: 1949, Month: 12, Day: 31}, School: "宁波大学", StudiesEnd: cms.Date{Year: 2027, Month: 6, Day: 30}})
	if err != nil {
		t.Fatal(err)
	}
	asn := cmsASN(t, "0123456789ABCD20")
	if _, err := m.Apply(ctx, clerk, cmsIssuer, asn, "student", stu.ID); err != nil {
		t.Fatal(err)
	}
	for _, mv := range []cms.Move{cms.Personalize, cms.Issue, cms.Activate} {
		step(t, m, asn, mv)
	}
	p, _ := cms.DefaultProducts().Product("student")
	c, _ := m.Card(ctx, cmsIssuer, asn)
	if c.ReviewDue != (cms.Date{Year: 2027, Month: 3, Day: 1}) {
		t.Fatalf("first review due %v", c.ReviewDue)
	}
	clk.advance(400 * 24 * time.Hour) // 2027-04-05: 35 days past due, 5 past the grace
	if got := p.CategoryOn(c.ReviewDue, cms.Today(clk.read())); got.Name != "adult" {
		t.Errorf("past the grace: %s", got.Name)
	}
	reviewed, err := m.Review(ctx, clerk, cmsIssuer, asn)
	if err != nil || reviewed.ReviewDue != (cms.Date{Year: 2028, Month: 4, Day: 5}) || p.CategoryOn(reviewed.ReviewDue, cms.Today(clk.read())).Name != "student" {
		t.Fatalf("Review: %+v %v", reviewed, err)
	}
	clk.advance(100 * 24 * time.Hour) // 2027-07-14: studies ended on 30 June
	_, err = m.Review(ctx, clerk, cmsIssuer, asn)
	wantKind(t, "a review after the studies ended", err, citycard.Permission)
	if c, _ := m.Card(ctx, cmsIssuer, asn); c.ReviewDue != reviewed.ReviewDue || c.Version != reviewed.Version {
		t.Error("a refused review changed the card")
	}
	transit := cmsASN(t, "0123456789ABCD21")
	if _, err := m.Apply(ctx, clerk, cmsIssuer, transit, "transit", 0); err != nil {
		t.Fatal(err)
	}
	_, err = m.Review(ctx, clerk, cmsIssuer, transit)
	wantKind(t, "a review of a card without one", err, citycard.Invalid)
}

// testCMSLoads keeps online loads through the store: a batch whose one
// operation is refused commits the others, a load settles once (a
// reversed one confirmed by a late TAC), and the queries see what the
// rows say.
func testCMSLoads(t *testing.T, s Stores) {
	ctx := context.Background()
	clk, cards := soldCards(t, s.CMS, "0123456789ABCD3", 3)
	cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
	at := clk.read()
	op := func(c cms.Card, key string, fen int64, st cms.LoadStatus) *cms.Operation {
		l := &cms.OnlineLoad{Key: key, Issuer: c.Issuer, ASN: c.ASN, Counter: 7, AmountFen: fen, BalanceBeforeFen: 100,
			Terminal: citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, 1}, KeyVersion: 1, Alg: 0, Channel: cash, AuthorizedAt: at, Status: st}
		if st != cms.LoadUnconfirmed {
			l.SettledAt, l.Settlement = at, "test"
		}
		next := c
		next.Version++
		b := cms.Booking{Key: key, InputHash: [32]byte{byte(fen)}, Flows: []cms.Flow{{Issuer: c.Issuer, Card: c.ASN, Type: cms.FlowLoad, Fen: fen}}}
		return &cms.Operation{Booking: &b, At: at, Cards: []*cms.Card{&next}, Loads: []*cms.OnlineLoad{l},
			Audit: &cms.AuditRecord{At: at, Actor: "kiosk", ServicePoint: "k1", Subject: "card:" + c.String(), Action: "online load"}}
	}
	// Card 1 is moved twice from one read: its second operation is refused
	// alone.
	res, err := s.CMS.CommitBatch(ctx, []*cms.Operation{op(cards[0], "l0", 100, cms.LoadUnconfirmed), op(cards[1], "l1", 200, cms.LoadUnconfirmed),
		op(cards[1], "l1b", 300, cms.LoadUnconfirmed), op(cards[2], "l2", 400, cms.LoadUnconfirmed)})
	if err != nil || len(res) != 4 {
		t.Fatalf("CommitBatch: %v %v", res, err)
	}
	for i, r := range res {
		if (r.Err != nil) != (i == 2) || r.Replayed {
			t.Errorf("operation %d: %+v", i, r)
		}
	}
	wantKind(t, "the second move of card 1", res[2].Err, citycard.Conflict)
	if _, err := s.CMS.OnlineLoad(ctx, "l1b"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("the refused operation's load: %v", err)
	}
	if _, err := s.CMS.OperationHash(ctx, "l1b"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("the refused operation's key: %v", err)
	}
	if got := bookBalance(t, s.CMS, cards[1].ASN); got != 200 {
		t.Errorf("card 1's book: %d", got)
	}
	if n, err := cms.VerifyAudit(ctx, s.CMS); err != nil || n != 3*3+3 {
		t.Errorf("VerifyAudit: %d %v", n, err)
	}
	// A new load whose key another load holds is refused alone (a store
	// writing the batch's rows at once must find whose they are).
	c0, _ := s.CMS.Card(ctx, cmsIssuer, cards[0].ASN)
	dup := op(c0, "l0-dup", 50, cms.LoadUnconfirmed)
	dup.Loads[0].Key = "l1"
	c1, _ := s.CMS.Card(ctx, cmsIssuer, cards[1].ASN)
	fine := op(c1, "zz-fine", 10, cms.LoadUnconfirmed)
	res, err = s.CMS.CommitBatch(ctx, []*cms.Operation{dup, fine})
	if err != nil || res[0].Err == nil || res[1].Err != nil {
		t.Fatalf("a batch with a load key taken: %+v %v", res, err)
	}
	wantKind(t, "a load key taken", res[0].Err, citycard.Exists)
	if _, err := s.CMS.OperationHash(ctx, "l0-dup"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("the refused operation's key: %v", err)
	}
	if got := bookBalance(t, s.CMS, cards[1].ASN); got != 210 {
		t.Errorf("card 1's book after the batch beside the refused one: %d", got)
	}
	// A load settled in the batch that books it, as one after the other.
	c1, _ = s.CMS.Card(ctx, cmsIssuer, cards[1].ASN)
	booked := op(c1, "zz-settled", 20, cms.LoadUnconfirmed)
	settled := *booked.Loads[0]
	settled.Status, settled.SettledAt, settled.Settlement = cms.LoadConfirmed, at, "test"
	confirm := &cms.Operation{At: at, Loads: []*cms.OnlineLoad{&settled}, Audit: &cms.AuditRecord{At: at, Actor: "kiosk", ServicePoint: "k1", Subject: "card:" + c1.String(), Action: "confirm load"}}
	if res, err := s.CMS.CommitBatch(ctx, []*cms.Operation{booked, confirm}); err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("a load booked and settled in one batch: %+v %v", res, err)
	}
	if l, err := s.CMS.OnlineLoad(ctx, "zz-settled"); err != nil || l.Status != cms.LoadConfirmed {
		t.Errorf("the load booked and settled in one batch: %+v %v", l, err)
	}
	// The same batch again: replayed, nothing written twice.
	res, err = s.CMS.CommitBatch(ctx, []*cms.Operation{op(cards[0], "l0", 100, cms.LoadUnconfirmed)})
	if err != nil || !res[0].Replayed {
		t.Errorf("a batch replayed: %+v %v", res, err)
	}

	l, err := s.CMS.OnlineLoad(ctx, "l2")
	want := *op(cards[2], "l2", 400, cms.LoadUnconfirmed).Loads[0]
	if err != nil || !reflect.DeepEqual(l, want) {
		t.Errorf("OnlineLoad: %+v %v; want %+v", l, err, want)
	}
	if open, err := s.CMS.OpenLoad(ctx, cmsIssuer, cards[2].ASN); err != nil || open.Key != "l2" {
		t.Errorf("OpenLoad: %+v %v", open, err)
	}
	if got, err := s.CMS.LoadedFen(ctx, cmsIssuer, cards[2].ASN, at, at.Add(time.Nanosecond)); err != nil || got != 400 {
		t.Errorf("LoadedFen over [at, at+1ns): %d %v", got, err)
	}
	if got, _ := s.CMS.LoadedFen(ctx, cmsIssuer, cards[2].ASN, at.Add(time.Nanosecond), at.Add(time.Hour)); got != 0 {
		t.Errorf("LoadedFen from just after: %d", got)
	}
	// CardLoads is Card, OpenLoad and LoadedFen at once.
	cl, err := s.CMS.CardLoads(ctx, cmsIssuer, cards[2].ASN, at, at.Add(time.Nanosecond))
	if c2, _ := s.CMS.Card(ctx, cmsIssuer, cards[2].ASN); err != nil || !reflect.DeepEqual(cl.Card, c2) || cl.Open == nil || !reflect.DeepEqual(*cl.Open, want) || cl.LoadedFen != 400 || cl.Credited {
		t.Errorf("CardLoads: %+v %v", cl, err)
	}
	if cl, err := s.CMS.CardLoads(ctx, cmsIssuer, cards[2].ASN, at.Add(time.Nanosecond), at.Add(time.Hour)); err != nil || cl.LoadedFen != 0 {
		t.Errorf("CardLoads from just after: %+v %v", cl, err)
	}
	if _, err := s.CMS.CardLoads(ctx, cmsIssuer, cmsASN(t, "0123456789ABCDFF"), at, at.Add(time.Hour)); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("CardLoads of no card: %v", err)
	}
	page, err := s.CMS.UnconfirmedLoads(ctx, "l0", 1)
	if err != nil || len(page) != 1 || page[0].Key != "l1" {
		t.Errorf("UnconfirmedLoads after l0: %+v %v", page, err)
	}

	// Settled once: reversed, then confirmed by a late TAC, then never again.
	c2, _ := s.CMS.Card(ctx, cmsIssuer, cards[2].ASN)
	for i, st := range []cms.LoadStatus{cms.LoadReversed, cms.LoadConfirmed} {
		o := op(c2, "settle-"+st.String(), 1, st)
		o.Loads[0].Key = "l2"
		res, err := s.CMS.CommitBatch(ctx, []*cms.Operation{o})
		if err != nil || res[0].Err != nil {
			t.Fatalf("settle %d: %+v %v", i, res, err)
		}
		c2.Version++
		if st == cms.LoadReversed {
			if got, _ := s.CMS.LoadedFen(ctx, cmsIssuer, cards[2].ASN, at, at.Add(time.Hour)); got != 0 {
				t.Errorf("LoadedFen counts a reversed load: %d", got)
			}
		}
	}
	o := op(c2, "settle-again", 1, cms.LoadReversed)
	o.Loads[0].Key = "l2"
	res, err = s.CMS.CommitBatch(ctx, []*cms.Operation{o})
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "a confirmed load settled again", res[0].Err, citycard.Conflict)
	if _, err := s.CMS.OpenLoad(ctx, cmsIssuer, cards[2].ASN); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("OpenLoad of a settled card: %v", err)
	}
	// l2 confirmed (by a late TAC): the card's last credited counter.
	if cl, err := s.CMS.CardLoads(ctx, cmsIssuer, cards[2].ASN, at, at.Add(time.Hour)); err != nil || cl.Open != nil || cl.LoadedFen != 400 ||
		!cl.Credited || cl.CreditedCounter != want.Counter {
		t.Errorf("CardLoads of a settled card: %+v %v; want credited at counter %d", cl, err, want.Counter)
	}
	if err := s.Exec(ctx, `UPDATE cms_loads SET amount_fen = 1 WHERE key = 'l2'`); err == nil {
		t.Error("a settled load was changed")
	}
	if err := s.Exec(ctx, `DELETE FROM cms_loads WHERE key = 'l0'`); err == nil {
		t.Error("a load was deleted")
	}
}

// testCMSBatchLedger commits a group of operations with ledger entries
// as one: an operation key twice in the group is a replay, an entry key
// shared by two operations is booked once (with another input, the
// second operation is refused), and a refused operation leaves nothing
// of its entries; the ledger's chain, its balances and the audit chain
// are sound after.
func testCMSBatchLedger(t *testing.T, s Stores) {
	ctx := context.Background()
	clk, cards := soldCards(t, s.CMS, "0123456789ABCD5", 6)
	float := ledger.Account{Type: ledger.CardFloat, Party: issuerHex}
	settlement := ledger.Account{Type: ledger.Settlement, Party: issuerHex}
	before, err := s.Ledger.Balance(ctx, float)
	if err != nil {
		t.Fatal(err)
	}
	at := clk.read()
	op := func(c cms.Card, key, entryKey string, fen int64, version int64) *cms.Operation {
		next := c
		next.Version = version
		e := ledger.NewEntry(entryKey, ledger.EntryLoad, "batch", ledger.Transfer(settlement, float, fen)...)
		b := cms.Booking{Key: key, InputHash: [32]byte{byte(fen)}, Entries: []ledger.Entry{e}, Flows: []cms.Flow{{Issuer: c.Issuer, Card: c.ASN, Type: cms.FlowLoad, Fen: fen}}}
		return &cms.Operation{Booking: &b, At: at, Cards: []*cms.Card{&next},
			Audit: &cms.AuditRecord{At: at, Actor: "kiosk", ServicePoint: "k1", Subject: "card:" + c.String(), Action: "online load"}}
	}
	v := func(i int) int64 { return cards[i].Version + 1 }
	ops := []*cms.Operation{
		op(cards[0], "a", "e-a", 100, v(0)),
		op(cards[1], "b", "e-shared", 200, v(1)),
		op(cards[2], "c", "e-c", 300, cards[2].Version+5), // not the version read: refused
		op(cards[0], "a", "e-a", 100, v(0)),               // a again: replayed
		op(cards[3], "e", "e-shared", 200, v(3)),          // the shared entry again, same input: booked once
		op(cards[4], "f", "e-shared", 999, v(4)),          // the shared entry with another input: refused
		op(cards[5], "g", "e-g", 400, v(5)),
	}
	res, err := s.CMS.CommitBatch(ctx, ops)
	if err != nil || len(res) != len(ops) {
		t.Fatalf("CommitBatch: %+v %v", res, err)
	}
	for i, want := range []struct {
		replayed bool
		kind     citycard.Kind
	}{{}, {}, {kind: citycard.Conflict}, {replayed: true}, {}, {kind: citycard.Conflict}, {}} {
		if res[i].Replayed != want.replayed || (want.kind == 0) != (res[i].Err == nil) || (want.kind != 0 && !citycard.IsKind(res[i].Err, want.kind)) {
			t.Errorf("operation %d: %+v, want %+v", i, res[i], want)
		}
	}
	for _, key := range []string{"e-c"} {
		if _, err := s.Ledger.EntryByKey(ctx, key); !citycard.IsKind(err, citycard.NotFound) {
			t.Errorf("the refused operation's entry %s: %v", key, err)
		}
	}
	for _, key := range []string{"c", "f"} {
		if _, err := s.CMS.OperationHash(ctx, key); !citycard.IsKind(err, citycard.NotFound) {
			t.Errorf("the refused operation %s: %v", key, err)
		}
	}
	after, err := s.Ledger.Balance(ctx, float)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.NetFen() - before.NetFen(); got != -(100 + 200 + 400) {
		t.Errorf("the float moved %d fen, want -700", got)
	}
	if rep, err := ledger.Verify(ctx, s.Ledger); err != nil || rep.Broken != nil {
		t.Errorf("ledger.Verify: %+v %v", rep, err)
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Errorf("VerifyAudit: %v", err)
	}
	for i, want := range []int64{100, 200, 0, 200, 0, 400} { // card 3 took the shared entry
		if got := bookBalance(t, s.CMS, cards[i].ASN); got != want {
			t.Errorf("card %d: book %d, want %d", i, got, want)
		}
	}
}

// soldCards applies for, personalizes and sells n transit cards (ASN
// prefix followed by the card's digit) on the clock it returns, and
// returns them as stored.
func soldCards(t *testing.T, st cms.Store, prefix string, n int) (*settable, []cms.Card) {
	t.Helper()
	ctx := context.Background()
	clk := &settable{now: time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)}
	m := cms.NewManager(st, cms.DefaultProducts(), mustProtector(t), clk.read)
	cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
	cards := make([]cms.Card, n)
	for i := range cards {
		asn := cmsASN(t, prefix+string(rune('0'+i)))
		if _, err := m.Apply(ctx, clerk, cmsIssuer, asn, "transit", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Move(ctx, clerk, cmsIssuer, asn, cms.Personalize); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Sell(ctx, clerk, "sale-"+asn.String(), cmsIssuer, asn, cash, 0); err != nil {
			t.Fatal(err)
		}
		var err error
		if cards[i], err = st.Card(ctx, cmsIssuer, asn); err != nil {
			t.Fatal(err)
		}
	}
	return clk, cards
}

// testCMSFlowIssuers books loads on two issuers' cards of one ASN (two
// cities may number their cards alike): each card's flows are its own,
// and the totals by product count each flow once, under its own card's
// product.
func testCMSFlowIssuers(t *testing.T, s Stores) {
	ctx := context.Background()
	m := cms.NewManager(s.CMS, cms.DefaultProducts(), mustProtector(t), clock())
	other := mustIssuer("33100001FFFFFFFF")
	asn := cmsASN(t, "0123456789ABCDE9")
	for _, c := range []struct {
		issuer  citycard.IssuerCode
		product string
		loadFen int64
	}{{cmsIssuer, "transit", 5000}, {other, "mot", 700}} {
		if _, err := m.Apply(ctx, clerk, c.issuer, asn, c.product, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Move(ctx, clerk, c.issuer, asn, cms.Personalize); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Sell(ctx, clerk, "sale-"+c.issuer.String(), c.issuer, asn, cms.Channel{Type: cms.Cash, Party: c.issuer.String()}, c.loadFen); err != nil {
			t.Fatal(err)
		}
	}
	byProduct, err := s.CMS.ProductFlowTotals(ctx)
	want := map[string]map[cms.FlowType]int64{"transit": {cms.FlowLoad: 5000}, "mot": {cms.FlowLoad: 700}}
	if err != nil || !reflect.DeepEqual(byProduct, want) {
		t.Errorf("flow totals by product %v %v, want %v", byProduct, err, want)
	}
	if fl, err := s.CMS.Flows(ctx, other, asn); err != nil || len(fl) != 1 || fl[0] != (cms.Flow{Issuer: other, Card: asn, Type: cms.FlowLoad, Fen: 700}) {
		t.Errorf("the other issuer's card's flows %+v %v, want its one load of 700 fen", fl, err)
	}
	if got := bookBalance(t, s.CMS, asn); got != 5000 {
		t.Errorf("our card's book: %d fen, want its own 5000", got)
	}
	if tot, err := s.CMS.FlowTotals(ctx); err != nil || cms.BookTotal(tot) != 5700 {
		t.Errorf("flow totals %v %v, want 5700 fen loaded", tot, err)
	}
}

// testCMSExpireDue runs the clock's expiry: nothing on a card's last day
// of validity, every card in use past it the day after (in runs of at
// most the limit, oldest expiry first), never a card lost or damaged, and
// a run again expires nothing twice.
func testCMSExpireDue(t *testing.T, s Stores) {
	ctx := context.Background()
	clk, cards := soldCards(t, s.CMS, "0123456789ABCD5", 4)
	m := cms.NewManager(s.CMS, cms.DefaultProducts(), mustProtector(t), clk.read)
	damaged := cards[3].ASN
	for _, mv := range []cms.Move{cms.Activate, cms.ReportDamaged} {
		if _, err := m.Move(ctx, clerk, cmsIssuer, damaged, mv); err != nil {
			t.Fatal(err)
		}
	}
	run := func(what string, limit, want int, wantMore bool) {
		t.Helper()
		n, more, err := m.ExpireDue(ctx, clerk, limit)
		if err != nil || n != want || more != wantMore {
			t.Fatalf("%s: %d expired, more %v, %v; want %d, %v", what, n, more, err, want, wantMore)
		}
	}
	if cards[0].Expiry != (cms.Date{Year: 2036, Month: 3, Day: 1}) {
		t.Fatalf("expiry %v", cards[0].Expiry)
	}
	// 2036-03-01 23:00 in China: the last day of validity.
	clk.advance(time.Date(2036, 3, 1, 15, 0, 0, 0, time.UTC).Sub(clk.read()))
	run("on the last day", cms.ExpireDueMax, 0, false)
	clk.advance(time.Hour) // 2036-03-02 00:00 in China
	run("the day after, 2 at most", 2, 2, true)
	run("the rest", cms.ExpireDueMax, 1, false)
	run("again", cms.ExpireDueMax, 0, false)
	for i, c := range cards {
		got, err := m.Card(ctx, cmsIssuer, c.ASN)
		want := cms.Expired
		if i == 3 {
			want = cms.Damaged
		}
		if err != nil || got.State != want {
			t.Errorf("card %d: %v, %v; want %v", i, got.State, err, want)
		}
	}
	renewed, err := m.Move(ctx, clerk, cmsIssuer, cards[0].ASN, cms.Renew)
	if err != nil || renewed.State != cms.Active || renewed.Expiry != (cms.Date{Year: 2046, Month: 3, Day: 2}) {
		t.Fatalf("renewed: %v %v, %v", renewed.State, renewed.Expiry, err)
	}
	run("after the renewal", cms.ExpireDueMax, 0, false)
	for _, n := range []int{0, cms.ExpireDueMax + 1} {
		_, _, err := m.ExpireDue(ctx, clerk, n)
		wantKind(t, fmt.Sprintf("a run of %d", n), err, citycard.Invalid)
	}
	_, _, err = m.ExpireDue(ctx, cms.Actor{}, 1)
	wantKind(t, "no actor", err, citycard.Invalid)
	_, err = s.CMS.CardsExpired(ctx, cms.Today(clk.read()), cms.CardsPageMax+1)
	wantKind(t, "CardsExpired over a page", err, citycard.Invalid)
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Fatal(err)
	}
}
