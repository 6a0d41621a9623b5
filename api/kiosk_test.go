package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/sim"
)

// kioskRig is a load rig with remote top-up: the load host's TopUps, a
// clerk who takes payments at the counter.
type kioskRig struct {
	*loadRig
	tu    *cms.TopUps
	clerk string
}

func newKioskRig(t *testing.T) *kioskRig {
	t.Helper()
	r := &kioskRig{loadRig: newLoadRig(t), clerk: "clerk-token-0123456789"}
	r.tu = cms.NewTopUps(r.s.Loads, r.db.TopUps())
	r.s.TopUps = r.tu
	staff := &StaticStaff{}
	staff.Add(r.clerk, Staff{Name: "ann", Role: RoleClerk, ServicePoint: "nb-counter-01"})
	r.s.Staff = staff
	return r
}

// pay books a remote top-up of fen for the card through the staff route,
// paid by a third party under key, and returns its ID.
func (r *kioskRig) pay(t *testing.T, asn citycard.ASN, key string, fen int64) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"key": key, "amount_fen": fen, "payer": "third_party", "payer_party": "alipay", "payer_reference": "ref-" + key})
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+"/v1/cards/"+sim.Issuer.String()+"/"+asn.String()+"/topups", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.clerk)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a topUpAnswerJSON
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK || a.TopUp.State != "pending" {
		t.Fatalf("pay %s: %d %+v %v", key, resp.StatusCode, a, err)
	}
	return a.TopUp.ID
}

// state returns top-up id's state.
func (r *kioskRig) state(t *testing.T, id string) cms.TopUpState {
	t.Helper()
	tu, err := r.tu.TopUp(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tu.State
}

// listed returns the IDs the kiosk is offered for the card.
func (r *kioskRig) listed(t *testing.T, c *LoadClient, asn citycard.ASN) []string {
	t.Helper()
	l, err := c.TopUps(context.Background(), sim.Issuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tu := range l {
		ids = append(ids, tu.ID)
	}
	return ids
}

// checkBooks checks the ledger balances (every entry's postings sum to
// zero, the hash chain holds), that the float is what card management's
// book says the cards hold and that the book is what each card holds
// (1 fen each at issue, from the device city, not booked), and that the
// top-up pending account holds pendingFen.
func (r *kioskRig) checkBooks(t *testing.T, pendingFen int64) {
	t.Helper()
	ctx := context.Background()
	if rep, err := ledger.Verify(ctx, r.db.Ledger()); err != nil || rep.Broken != nil {
		t.Fatalf("ledger verify: %+v %v", rep, err)
	}
	bs, err := r.db.Ledger().Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var net, float, pending int64
	for _, b := range bs {
		net += b.NetFen()
		switch b.Account {
		case ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()}:
			float = -b.NetFen()
		case ledger.Account{Type: ledger.TopUpPending, Party: sim.Issuer.String()}:
			pending = -b.NetFen()
		}
	}
	if net != 0 {
		t.Errorf("the ledger's balances sum to %d", net)
	}
	if pending != pendingFen {
		t.Errorf("top-up pending %d, want %d", pending, pendingFen)
	}
	var book int64
	for _, cd := range r.city.Cards {
		asn := cd.State().ASN
		flows, err := r.db.CMS().Flows(ctx, sim.Issuer, asn)
		if err != nil {
			t.Fatal(err)
		}
		got := cms.BookBalances(flows)[asn]
		if got != cd.State().BalanceFen-1 {
			t.Errorf("card %v: book %d fen, the card holds %d (1 at issue)", asn, got, cd.State().BalanceFen)
		}
		book += got
	}
	if float != book {
		t.Errorf("float %d, the cards' book %d", float, book)
	}
}

// TestKioskClaimsTopUp runs remote top-up (补登) end to end over HTTP:
// a clerk books a top-up for a virtual card, the virtual kiosk asks the
// host for the card's top-ups (LoadClient.TopUps) and claims one through
// terminal.Load (LoadClient.Claim: INITIALIZE FOR LOAD, the host's MAC1
// check and MAC2, CREDIT FOR LOAD, the TAC confirmed); the card holds the
// amount, the top-up is claimed, and the ledger balances. Then claims
// whose TAC never comes back: torn before the card credited (reversed by
// the card's next session at the same counter, the top-up offered again
// and claimed), and torn after (the card credited: confirmed by the
// card's next session at another kiosk, counter past).
func TestKioskClaimsTopUp(t *testing.T) {
	r := newKioskRig(t)
	cd, kiosk, other := r.city.Cards[0], r.city.Terminals[0], r.city.Terminals[1]
	asn := cd.State().ASN
	c := r.client(0)
	id := r.pay(t, asn, "pay-1", 3000)
	r.checkBooks(t, 3000)
	l, err := c.TopUps(context.Background(), sim.Issuer, asn)
	if err != nil || len(l) != 1 || l[0].ID != id || l[0].AmountFen != 3000 || l[0].ClaimBy.IsZero() {
		t.Fatalf("the kiosk's list: %+v %v", l, err)
	}
	before := cd.State().BalanceFen
	res, err := kiosk.Load(cd, uint32(l[0].AmountFen), c.Claim(l[0].ID))
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if got := cd.State().BalanceFen; got != before+3000 || res.BalanceAfter != got {
		t.Errorf("the card holds %d (result %d), want %d", got, res.BalanceAfter, before+3000)
	}
	if st := r.state(t, id); st != cms.TopUpClaimed {
		t.Errorf("the top-up is %v, want claimed", st)
	}
	if ids := r.listed(t, c, asn); len(ids) != 0 {
		t.Errorf("offered after its claim: %v", ids)
	}
	r.checkBooks(t, 0)
	// Claimed again with a new session: refused, nothing credited.
	if _, err := kiosk.Load(cd, 3000, c.Claim(id)); !citycard.IsKind(err, citycard.Conflict) || cd.State().BalanceFen != before+3000 {
		t.Errorf("a second claim: %v, the card holds %d", err, cd.State().BalanceFen)
	}
	// A bad ID never reaches the host.
	if _, err := kiosk.Load(cd, 3000, c.Claim("nope")); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a claim of a bad ID: %v", err)
	}

	// Torn before the card credited: the claim's load stays unconfirmed,
	// its money out of the pending account, the top-up claiming and
	// offered still: the kiosk has nothing else to load, and its claim
	// again is the card's next session, whose online counter (the same)
	// reverses the torn claim before claiming the top-up afresh.
	id2 := r.pay(t, asn, "pay-2", 2000)
	before = cd.State().BalanceFen
	cd.Tear(card.TearBeforeCommit)
	if _, err := kiosk.Load(cd, 2000, c.Claim(id2)); err == nil {
		t.Fatal("a torn claim went through")
	}
	if st := r.state(t, id2); st != cms.TopUpClaiming || cd.State().BalanceFen != before {
		t.Fatalf("after the tear: %v, the card holds %d, held %d", st, cd.State().BalanceFen, before)
	}
	if ids := r.listed(t, c, asn); len(ids) != 1 || ids[0] != id2 {
		t.Fatalf("a claiming top-up not offered again: %v", ids)
	}
	if _, err := kiosk.Load(cd, 2000, c.Claim(id2)); err != nil {
		t.Fatalf("the claim again: %v", err)
	}
	if st := r.state(t, id2); st != cms.TopUpClaimed || cd.State().BalanceFen != before+2000 {
		t.Errorf("claimed again: %v, the card holds %d, want %d", st, cd.State().BalanceFen, before+2000)
	}
	if ids := r.listed(t, c, asn); len(ids) != 0 {
		t.Errorf("a claimed top-up offered: %v", ids)
	}
	r.checkBooks(t, 0)

	// Torn after the card credited: the TAC is lost, the card holds the
	// money. Its next session, at another kiosk (no torn load of its
	// own to recover), has the counter past the claim's: confirmed.
	id3 := r.pay(t, asn, "pay-3", 1500)
	before = cd.State().BalanceFen
	cd.Tear(card.TearAfterCommit)
	if _, err := kiosk.Load(cd, 1500, c.Claim(id3)); err == nil {
		t.Fatal("a torn claim went through")
	}
	if st := r.state(t, id3); st != cms.TopUpClaiming || cd.State().BalanceFen != before+1500 {
		t.Fatalf("after the tear: %v, the card holds %d", st, cd.State().BalanceFen)
	}
	if _, err := other.Load(cd, 100, r.client(1)); err != nil {
		t.Fatalf("the next load at the other kiosk: %v", err)
	}
	if st := r.state(t, id3); st != cms.TopUpClaimed {
		t.Errorf("after the card's next session: %v, want claimed (confirmed)", st)
	}
	if open, err := r.db.CMS().UnconfirmedLoads(context.Background(), "", 10); err != nil || len(open) != 0 {
		t.Errorf("unconfirmed loads left: %+v %v", open, err)
	}
	r.checkBooks(t, 0)
}

// TestLoadClientTopUpsAnswers gives the kiosk's client answers a host
// never sends: each is kind IO (ask again), never a list to claim from;
// the server's own refusal keeps its kind.
func TestLoadClientTopUpsAnswers(t *testing.T) {
	many, _ := json.Marshal(make([]kioskTopUpJSON, cms.TopUpsPendingMax+1))
	for what, body := range map[string]string{
		"not json":       `{`,
		"an object":      `{"id":"00"}`,
		"a bad id":       `[{"id":"XYZ","amount_fen":100,"claim_by":"2025-03-01T00:00:00Z"}]`,
		"a bad claim_by": `[{"id":"00000000000000AB","amount_fen":100,"claim_by":"soon"}]`,
		"zero fen":       `[{"id":"00000000000000AB","amount_fen":0,"claim_by":"2025-03-01T00:00:00Z"}]`,
		"too many":       string(many),
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
		c := &LoadClient{BaseURL: srv.URL}
		if l, err := c.TopUps(context.Background(), sim.Issuer, citycard.ASN{1}); !citycard.IsKind(err, citycard.IO) || l != nil {
			t.Errorf("%s: %v %v, want kind IO", what, l, err)
		}
		srv.Close()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":"no","kind":"permission"}`))
	}))
	defer srv.Close()
	if _, err := (&LoadClient{BaseURL: srv.URL}).TopUps(context.Background(), sim.Issuer, citycard.ASN{1}); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("a refusal: %v, want kind Permission", err)
	}
}
