package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
)

// travelCity is the acquiring city of the cut rig's cards' purchases
// elsewhere: the sender of their INC files.
var travelCity = citycard.IssuerCode{0x20, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}

// withElsewhere has r's server count the cards' purchases in another
// city from its store's interconnection records (as cmd/citycard wires
// it), and returns the interconnection that imports their INC files.
func (r *cutRig) withElsewhere() *interop.Interop {
	r.s.Elsewhere = InteropElsewhere{Store: r.db.Interop()}
	return &interop.Interop{Own: sim.Issuer, Centre: interop.Centre, Store: r.db.Interop(), Verifier: record.NewVerifier(r.city.Store, sim.Issuer), Now: r.now}
}

// elsewhere has card i spend fen at at in the other city (the POS's
// record of it, with nothing else spooled, taken there, not uploaded
// here) and imports the INC file of it at the rig's time: the record
// accepted, booked from our float.
func (r *cutRig) elsewhere(t *testing.T, x *interop.Interop, i int, at time.Time, fen uint32) {
	t.Helper()
	r.tap(t, i, at, fen)
	var recs [][]byte
	for _, u := range r.city.Uploads() {
		recs = append(recs, u.Records...)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records spooled: want the tap elsewhere alone", len(recs))
	}
	rec, err := record.DecodeBinary(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	cl, err := interop.ClearingOf(&rec)
	if err != nil {
		t.Fatal(err)
	}
	r.batch++
	now := r.now().In(citycard.ChinaTime).Truncate(time.Second)
	f := &interop.File{Header: interop.Header{Type: interop.FileIncoming, ID: fmt.Sprintf("INC-%v-%d", travelCity, r.batch), Sender: travelCity, Receiver: sim.Issuer,
		Day: interop.Day(clearing.DayOf(now.Date())), Created: now}, Clearing: []interop.Clearing{cl}}
	b, err := interop.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := x.Import(context.Background(), f.Header.ID, b)
	if err != nil || imp.Accepted.AmountFen != int64(fen) {
		t.Fatalf("the INC file of card %d's %d fen: %+v %v, want it accepted", i, fen, imp, err)
	}
}

// floatFen is what the ledger's card float of our issuer holds.
func (r *cutRig) floatFen(t *testing.T) int64 {
	t.Helper()
	b, err := r.db.Ledger().Balance(context.Background(), ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()})
	if err != nil {
		t.Fatal(err)
	}
	return -b.NetFen()
}

// settled sweeps the closed cards with a cut for late losses, as serve
// does, and returns the cards that had one and its sum.
func (r *cutRig) settled(t *testing.T) (int, int64) {
	t.Helper()
	ctx := context.Background()
	var n int
	var fen int64
	err := r.m.ClosedCut(ctx, func(cs []cms.Card) error {
		k, f, err := r.s.ShadowBalances().SettleLateLosses(ctx, cms.Actor{Who: "settler", ServicePoint: "back office"}, cs)
		n, fen = n+k, fen+f
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, fen
}

// heldFen is card management's book of card asn less its purchases here
// and elsewhere: what it owes on the card.
func (r *cutRig) heldFen(t *testing.T, asn citycard.ASN) int64 {
	t.Helper()
	ctx := context.Background()
	c := acquire.Card{Issuer: sim.Issuer, ASN: asn}
	ps, err := r.s.ShadowBalances().Purchases(ctx, []acquire.Card{c})
	if err != nil {
		t.Fatal(err)
	}
	left, err := r.m.BookPurse(ctx, sim.Issuer, asn, ps[c])
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// cutRefund is the cut rig's refund request, in cash.
const cutRefund = `{"key":"refund-1","payee":"cash","payee_party":"nb-card","payee_reference":"","approval_id":0}`

// TestLostRefundLessPurchasesElsewhere: a card that spent 300 fen in
// another city before it was reported lost is refunded its balance less
// those 300 (and less its 100 here); its 200 spent there after the
// report, in an INC file of the cooling period, are the issuer's. The
// book less every purchase is 0 once it is closed, and so is the float.
func TestLostRefundLessPurchasesElsewhere(t *testing.T) {
	r := newCutRig(t, 1, 1)
	x := r.withElsewhere()
	asn := r.city.Cards[0].State().ASN
	cut := r.now().Add(6 * time.Hour)
	r.elsewhere(t, x, 0, cut.Add(-5*time.Hour), 300)
	r.tap(t, 0, cut.Add(-time.Hour), 100)
	r.upload(t)
	r.set(cut)
	if code, v := r.post(t, asn, "loss", ""); code != 200 {
		t.Fatalf("loss: %d %v", code, v)
	}
	r.set(cut.Add(24 * time.Hour))
	r.elsewhere(t, x, 0, cut.Add(time.Hour), 200) // the finder, before the other city had the blacklist
	r.set(cut.Add(8 * 24 * time.Hour))
	code, v := r.post(t, asn, "refund", cutRefund)
	q, _ := v["quote"].(map[string]any)
	if code != 200 || q == nil || q["balance_fen"] != 4600.0 || q["paid_fen"] != 4600.0-q["fee_fen"].(float64) {
		t.Fatalf("refund: %d %v: want 50.00 less 3.00 elsewhere and 1.00 here, 46.00", code, v)
	}
	if f := r.flows(t, asn); f[cms.FlowRefund] != 4600 || f[cms.FlowLossBorne] != 200 {
		t.Fatalf("flows %v: want 4600 refunded, the 200 after the report borne", f)
	}
	if held := r.heldFen(t, asn); held != 0 {
		t.Errorf("the closed card's book less its purchases: %d fen, want 0", held)
	}
	if n, fen := r.settled(t); n != 0 || fen != 0 {
		t.Errorf("late losses after the refund: %d cards, %d fen; want none", n, fen)
	}
}

// TestLateLossElsewhere: a lost card refunded (closed) whose purchase in
// another city after its report comes in an INC file after the refund
// has it borne by the issuer at the next sweep, once; a purchase there
// before the report that came as late is borne too (the balance it was
// refunded had counted it as the holder's). The float is what card
// management still owes on the card: nothing.
func TestLateLossElsewhere(t *testing.T) {
	r := newCutRig(t, 1, 1)
	x := r.withElsewhere()
	asn := r.city.Cards[0].State().ASN
	cut := r.now().Add(6 * time.Hour)
	r.set(cut)
	if code, v := r.post(t, asn, "loss", ""); code != 200 {
		t.Fatalf("loss: %d %v", code, v)
	}
	r.set(cut.Add(8 * 24 * time.Hour))
	if code, v := r.post(t, asn, "refund", cutRefund); code != 200 || v["quote"].(map[string]any)["balance_fen"] != 5000.0 {
		t.Fatalf("refund: %d %v: want the 50.00 loaded", code, v)
	}
	r.set(cut.Add(9 * 24 * time.Hour))
	r.elsewhere(t, x, 0, cut.Add(2*time.Hour), 250)
	if held := r.heldFen(t, asn); held != -250 {
		t.Fatalf("after the late record elsewhere: the book less the purchases %d fen, want -250", held)
	}
	for i, want := range []int64{250, 0} {
		if n, fen := r.settled(t); fen != want || n != int(min(want, 1)) {
			t.Fatalf("sweep %d: %d cards, %d fen; want %d fen", i, n, fen, want)
		}
	}
	r.elsewhere(t, x, 0, cut.Add(-time.Hour), 40)
	if n, fen := r.settled(t); n != 1 || fen != 40 {
		t.Fatalf("the sweep after a record before the report came late: %d cards, %d fen; want 40", n, fen)
	}
	if f := r.flows(t, asn); f[cms.FlowLossBorne] != 290 || r.heldFen(t, asn) != 0 {
		t.Fatalf("flows %v, held %d: want 290 borne, 0 held", f, r.heldFen(t, asn))
	}
	if float := r.floatFen(t); float != 0 {
		t.Errorf("the float: %d fen, want 0 (the card closed, all its use paid for)", float)
	}
}

// TestBalanceMoveLessPurchasesElsewhere: a lost card's balance moved to
// its replacement is its book less its purchase elsewhere before the
// report.
func TestBalanceMoveLessPurchasesElsewhere(t *testing.T) {
	r := newCutRig(t, 2, 1)
	x := r.withElsewhere()
	old, nu := r.city.Cards[0].State().ASN, r.city.Cards[1].State().ASN
	cut := r.now().Add(6 * time.Hour)
	r.elsewhere(t, x, 0, cut.Add(-2*time.Hour), 300)
	r.set(cut)
	if code, v := r.post(t, old, "loss", ""); code != 200 {
		t.Fatalf("loss: %d %v", code, v)
	}
	if code, v := r.post(t, old, "replace", `{"key":"rep-1","new_asn":"`+nu.String()+`","channel":"cash","channel_party":"nb-card","channel_reference":""}`); code != 200 {
		t.Fatalf("replace: %d %v", code, v)
	}
	if code, v := r.post(t, nu, "issue", `{"key":"sell-nu","load_fen":0,"channel":"cash","channel_party":"nb-card","channel_reference":""}`); code != 200 {
		t.Fatalf("issue the replacement: %d %v", code, v)
	}
	r.set(cut.Add(7 * 24 * time.Hour))
	if code, v := r.post(t, old, "move-balance", `{"key":"move-1"}`); code != 200 {
		t.Fatalf("move: %d %v", code, v)
	}
	if f := r.flows(t, old); f[cms.FlowMovedOut] != 4700 || f[cms.FlowLossBorne] != 0 {
		t.Fatalf("old card's flows %v: want 4700 moved out", f)
	}
	if held := r.heldFen(t, old); held != 0 {
		t.Errorf("the old card's book less its purchases: %d fen, want 0", held)
	}
}

// TestShadowBalancesElsewhere: a card in use is reckoned at most at its
// book less every purchase once it has spent elsewhere after its newest
// record here (the shadow's balance does not show it), at the shadow's
// when that is less (its loads' records not in), and a card no record
// of which came in here at its book less its purchases elsewhere, for
// its holder too (Reported).
func TestShadowBalancesElsewhere(t *testing.T) {
	ctx := context.Background()
	r := newCutRig(t, 2, 2)
	x := r.withElsewhere()
	used, away := r.city.Cards[0].State().ASN, r.city.Cards[1].State().ASN
	b := r.s.ShadowBalances()
	r.tap(t, 0, r.now().Add(time.Hour), 100)
	r.upload(t)
	if bal, ps, err := b.Balance(ctx, sim.Issuer, used); err != nil || bal != 4900 || len(ps) != 1 {
		t.Fatalf("a card used here alone: %d, %d purchases, %v; want the shadow's 4900", bal, len(ps), err)
	}
	r.elsewhere(t, x, 0, r.now().Add(2*time.Hour), 300)
	if bal, ps, err := b.Balance(ctx, sim.Issuer, used); err != nil || bal != 4600 || len(ps) != 2 {
		t.Fatalf("then elsewhere: %d, %d purchases, %v; want 4600", bal, len(ps), err)
	}
	r.elsewhere(t, x, 1, r.now().Add(3*time.Hour), 700)
	if bal, ps, err := b.Balance(ctx, sim.Issuer, away); err != nil || bal != 4300 || len(ps) != 1 || !ps[0].At.Equal(r.now().Add(3*time.Hour)) {
		t.Fatalf("a card used elsewhere alone: %d, %+v, %v; want its book less 700, at its tap", bal, ps, err)
	}
	if bal, err := b.Reported(ctx, sim.Issuer, away); err != nil || bal != 4300 {
		t.Errorf("its holder's balance: %d %v, want 4300", bal, err)
	}
	if bal, err := (ShadowBalances{Acquirer: r.s.Acquirer, Cards: r.m}).Reported(ctx, sim.Issuer, away); err != nil || bal != 5000 {
		t.Errorf("its holder's balance without Elsewhere: %d %v, want the book's 5000", bal, err)
	}
}

// countedElsewhere is an Elsewhere of one purchase a card, counting the
// cards it is asked for.
type countedElsewhere struct{ asked int }

func (e *countedElsewhere) Purchases(_ context.Context, _ citycard.IssuerCode, asn citycard.ASN) ([]cms.Purchase, error) {
	e.asked++
	return []cms.Purchase{{At: time.Unix(int64(asn[9]), 0), AmountFen: 1}}, nil
}

// TestShadowPurchasesCardsMax: the purchases of at most
// acquire.CardPurchasesMax cards are read at once (one more, or none,
// kind Invalid), even with no journal; a card named twice is read and
// counted once.
func TestShadowPurchasesCardsMax(t *testing.T) {
	ctx := context.Background()
	e := &countedElsewhere{}
	b := ShadowBalances{Elsewhere: e}
	cards := make([]acquire.Card, acquire.CardPurchasesMax+1)
	for i := range cards {
		cards[i] = acquire.Card{Issuer: sim.Issuer, ASN: citycard.ASN{8: byte(i >> 8), 9: byte(i)}}
	}
	if got, err := b.Purchases(ctx, cards); !citycard.IsKind(err, citycard.Invalid) || e.asked != 0 {
		t.Fatalf("%d cards: %d read, %v; want kind Invalid, none read", len(cards), len(got), err)
	}
	if _, err := b.Purchases(ctx, nil); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("no card: %v, want kind Invalid", err)
	}
	at := cards[:acquire.CardPurchasesMax]
	at[1] = at[0]
	got, err := b.Purchases(ctx, at)
	if err != nil || len(got) != acquire.CardPurchasesMax-1 || e.asked != acquire.CardPurchasesMax-1 || len(got[at[0]]) != 1 {
		t.Fatalf("%d cards, one twice: %d read, asked %d, %v", len(at), len(got), e.asked, err)
	}
}
