package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

// phoneRig is a kiosk rig with self service: the device city's cards
// are holder A's (the load rig's cardholder, self-service registered with
// the first card); holder B has a card of their own (no virtual card:
// B's phone only ever taps A's).
type phoneRig struct {
	*kioskRig
	a, b   *PhoneClient
	bCard  citycard.ASN
	holder [2]int64
}

const (
	phoneDocA = "330203199001011236" // the load rig's cardholder
	phoneDocB = "330203198512120018"
	phonePass = "correct horse battery"
)

func newPhoneRig(t *testing.T) *phoneRig {
	t.Helper()
	ctx := context.Background()
	r := &phoneRig{kioskRig: newKioskRig(t), bCard: citycard.ASN{0, 0, 0, 0, 0, 0, 0xB0, 0x0B}}
	ss := cms.NewSelfService(r.m, r.db.HolderAccounts(), time.Now, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	r.s.SelfService = ss
	clerk := cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}
	hb, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "李四", DocType: cms.ResidentID, DocNumber: phoneDocB,
		DateOfBirth: cms.Date{Year: 1985, Month: 12, Day: 12}, Phone: "13912345678"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Apply(ctx, clerk, sim.Issuer, r.bCard, "citizen", hb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, sim.Issuer, r.bCard, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-b", sim.Issuer, r.bCard, cms.Channel{Type: cms.Cash, Party: sim.Issuer.String()}, 0); err != nil {
		t.Fatal(err)
	}
	for i, h := range []struct {
		asn citycard.ASN
		doc string
	}{{r.city.Cards[0].State().ASN, phoneDocA}, {r.bCard, phoneDocB}} {
		if _, err := ss.Register(ctx, sim.Issuer, h.asn, cms.ResidentID, h.doc, phonePass); err != nil {
			t.Fatal(err)
		}
		tok, id, _, err := ss.Login(ctx, cms.ResidentID, h.doc, phonePass)
		if err != nil {
			t.Fatal(err)
		}
		r.holder[i] = id
		c := &PhoneClient{BaseURL: r.srv.URL, Token: tok, Holder: id, KeyVersions: []uint8{1}}
		if i == 0 {
			r.a = c
		} else {
			r.b = c
		}
	}
	return r
}

// claimable returns the top-ups phone c is offered on card asn.
func (r *phoneRig) claimable(t *testing.T, c *PhoneClient, asn citycard.ASN) []KioskTopUp {
	t.Helper()
	l, err := c.TopUps(context.Background(), sim.Issuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// only returns the one top-up of l, failing otherwise.
func only(t *testing.T, l []KioskTopUp, id string) KioskTopUp {
	t.Helper()
	if len(l) != 1 || l[0].ID != id {
		t.Fatalf("claimable %+v, want only %s", l, id)
	}
	return l[0]
}

// TestPhoneClaimsTopUp runs the phone's load end to end over HTTP: a
// remote top-up paid for holder A's virtual card is claimed by A's phone
// (terminal.PhoneLoad over PhoneClient: INITIALIZE FOR LOAD under A's
// phone terminal ID, the host's MAC2 for A's session, CREDIT FOR LOAD,
// the TAC confirmed), booked as a kiosk's claim with the phone as its
// service point; then torn claims settled by the card's next phone
// session, either way.
func TestPhoneClaimsTopUp(t *testing.T) {
	ctx := context.Background()
	r := newPhoneRig(t)
	cd := r.city.Cards[0]
	asn := cd.State().ASN
	id := r.pay(t, asn, "pay-1", 3000)
	before := cd.State().BalanceFen
	tu := only(t, r.claimable(t, r.a, asn), id)
	res, err := r.a.Claim(ctx, cd, tu)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if got := cd.State().BalanceFen; got != before+3000 || res.BalanceAfter != got {
		t.Errorf("the card holds %d (result %d), want %d", got, res.BalanceAfter, before+3000)
	}
	if want, _ := cms.PhoneTerminal(r.holder[0]); res.Request.Load.TerminalID != want || want[0] != 0xFE {
		t.Errorf("the session's terminal %v, want the phone's %v", res.Request.Load.TerminalID, want)
	}
	if st := r.state(t, id); st != cms.TopUpClaimed {
		t.Errorf("the top-up is %v, want claimed", st)
	}
	if l := r.claimable(t, r.a, asn); len(l) != 0 {
		t.Errorf("offered after its claim: %+v", l)
	}
	r.checkBooks(t, 0)
	// The claim's channel move names the phone and its holder, for
	// clearing and the reports.
	moves, err := r.db.TopUps().ChannelMoves(ctx, time.Time{}, time.Now().Add(time.Hour), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var claim *cms.ChannelMove
	for i := range moves {
		if moves[i].Channel.Type == cms.TopUpClaim && moves[i].Channel.Reference == id {
			claim = &moves[i]
		}
	}
	if want := fmt.Sprintf("holder:%d", r.holder[0]); claim == nil || claim.ServicePoint != cms.PhoneServicePoint || claim.Actor != want || claim.LoadFen != 3000 {
		t.Errorf("the claim's channel move %+v, want at %q by %s, 3000 fen loaded", claim, cms.PhoneServicePoint, want)
	}

	// Torn before the card credited: the phone keeps nothing, the host's
	// load stays unconfirmed and the top-up claiming, offered again; the
	// phone's next tap is the card's next session at the same counter,
	// which reverses the torn claim before claiming it afresh.
	id2 := r.pay(t, asn, "pay-2", 2000)
	before = cd.State().BalanceFen
	cd.Tear(card.TearBeforeCommit)
	if _, err := r.a.Claim(ctx, cd, only(t, r.claimable(t, r.a, asn), id2)); !errors.Is(err, terminal.ErrCreditUnknown) {
		t.Fatalf("a torn claim: %v, want ErrCreditUnknown", err)
	}
	if st := r.state(t, id2); st != cms.TopUpClaiming || cd.State().BalanceFen != before {
		t.Fatalf("after the tear: %v, the card holds %d, held %d", st, cd.State().BalanceFen, before)
	}
	if _, err := r.a.Claim(ctx, cd, only(t, r.claimable(t, r.a, asn), id2)); err != nil {
		t.Fatalf("the claim again: %v", err)
	}
	if st := r.state(t, id2); st != cms.TopUpClaimed || cd.State().BalanceFen != before+2000 {
		t.Errorf("claimed again: %v, the card holds %d, want %d", st, cd.State().BalanceFen, before+2000)
	}
	r.checkBooks(t, 0)

	// Torn after the card credited: the TAC is lost, the card holds the
	// money; the phone's next tap claims another top-up, and its counter,
	// past the torn claim's, confirms that one first.
	id3 := r.pay(t, asn, "pay-3", 1500)
	before = cd.State().BalanceFen
	cd.Tear(card.TearAfterCommit)
	if _, err := r.a.Claim(ctx, cd, only(t, r.claimable(t, r.a, asn), id3)); !errors.Is(err, terminal.ErrCreditUnknown) {
		t.Fatalf("a torn claim: %v, want ErrCreditUnknown", err)
	}
	if st := r.state(t, id3); st != cms.TopUpClaiming || cd.State().BalanceFen != before+1500 {
		t.Fatalf("after the tear: %v, the card holds %d", st, cd.State().BalanceFen)
	}
	id4 := r.pay(t, asn, "pay-4", 500)
	var next KioskTopUp
	for _, tu := range r.claimable(t, r.a, asn) {
		if tu.ID == id4 {
			next = tu
		}
	}
	if _, err := r.a.Claim(ctx, cd, next); err != nil {
		t.Fatalf("the next claim: %v", err)
	}
	if st3, st4 := r.state(t, id3), r.state(t, id4); st3 != cms.TopUpClaimed || st4 != cms.TopUpClaimed || cd.State().BalanceFen != before+2000 {
		t.Errorf("after the next tap: %v and %v, the card holds %d, want both claimed and %d", st3, st4, cd.State().BalanceFen, before+2000)
	}
	if open, err := r.db.CMS().UnconfirmedLoads(ctx, "", 10); err != nil || len(open) != 0 {
		t.Errorf("unconfirmed loads left: %+v %v", open, err)
	}
	r.checkBooks(t, 0)

	// Paid in the app and loaded at once: the top-up first, then its
	// claim; a retry of the payment's key is the same top-up, claimed.
	before = cd.State().BalanceFen
	payer := cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: "2025030122009"}
	id5, _, err := r.a.PayAndLoad(ctx, cd, sim.Issuer, asn, "app-5", payer, 800)
	if err != nil || r.state(t, id5) != cms.TopUpClaimed || cd.State().BalanceFen != before+800 {
		t.Fatalf("pay and load: %v, %v, the card holds %d, want %d", err, r.state(t, id5), cd.State().BalanceFen, before+800)
	}
	if again, _, err := r.a.PayAndLoad(ctx, cd, sim.Issuer, asn, "app-5", payer, 800); again != id5 || !citycard.IsKind(err, citycard.Conflict) || cd.State().BalanceFen != before+800 {
		t.Errorf("pay and load retried: %s %v, the card holds %d", again, err, cd.State().BalanceFen)
	}
	r.checkBooks(t, 0)
}

// twice is a load host that asks the host behind it everything twice,
// as a phone resending a request it had no answer to: the answers must
// be the same.
type twice struct {
	t *testing.T
	h terminal.LoadHost
}

func (w twice) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	m1, err := w.h.AuthorizeLoad(req)
	if err != nil {
		return m1, err
	}
	m2, err := w.h.AuthorizeLoad(req)
	if err != nil || m2 != m1 {
		w.t.Errorf("the claim resent: MAC2 %X then %X, %v", m1, m2, err)
	}
	return m1, nil
}

func (w twice) ConfirmLoad(req terminal.LoadRequest, tac [4]byte) error {
	if err := w.h.ConfirmLoad(req, tac); err != nil {
		return err
	}
	return w.h.ConfirmLoad(req, tac)
}

// TestPhoneClaimReplayed resends each of a phone's requests (the same
// session, so the same idempotency key): the claim is booked once.
func TestPhoneClaimReplayed(t *testing.T) {
	ctx := context.Background()
	r := newPhoneRig(t)
	cd := r.city.Cards[0]
	asn := cd.State().ASN
	id := r.pay(t, asn, "pay-1", 1200)
	before := cd.State().BalanceFen
	tid, _ := cms.PhoneTerminal(r.holder[0])
	if _, err := terminal.PhoneLoad(cd, tid, r.a.KeyVersions, time.Now(), 1200, twice{t, phoneHost{ctx, r.a, id}}); err != nil {
		t.Fatal(err)
	}
	flows, err := r.db.CMS().Flows(ctx, sim.Issuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	loads := 0
	for _, f := range flows {
		if f.Type == cms.FlowLoad {
			loads++
		}
	}
	if loads != 1 || cd.State().BalanceFen != before+1200 || r.state(t, id) != cms.TopUpClaimed {
		t.Errorf("%d loads booked, the card holds %d (held %d), the top-up %v", loads, cd.State().BalanceFen, before, r.state(t, id))
	}
	r.checkBooks(t, 0)
}

// phoneSnapshot is what a refused request must leave as it was: the
// ledger's balances, the cards' flows, the top-ups of the cards, the
// unconfirmed loads and the audit log's length.
func (r *phoneRig) phoneSnapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	bs, err := r.db.Ledger().Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var parts []any
	parts = append(parts, bs)
	for _, asn := range []citycard.ASN{r.city.Cards[0].State().ASN, r.city.Cards[1].State().ASN, r.bCard} {
		f, err := r.db.CMS().Flows(ctx, sim.Issuer, asn)
		if err != nil {
			t.Fatal(err)
		}
		l, err := r.tu.Of(ctx, sim.Issuer, asn)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, f, l)
	}
	open, err := r.db.CMS().UnconfirmedLoads(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := r.db.CMS().AuditLog(ctx, 0, func(*cms.AuditRecord) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(append(parts, open, n, r.city.Cards[0].State().BalanceFen))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// phonePost sends body to the self route path with token and returns
// the status and the error body.
func (r *phoneRig) phonePost(t *testing.T, token, path, body string) (int, errorBody) {
	t.Helper()
	return postJSON(t, r.srv.URL+path, token, body)
}

// TestPhoneRefusals: another cardholder's phone cannot list, claim or
// confirm on A's card (404, as for a card that does not exist, and
// nothing changed), nor can a terminal's token reach the phone routes;
// bad input is a 4xx naming what is wrong, and changes nothing.
func TestPhoneRefusals(t *testing.T) {
	ctx := context.Background()
	r := newPhoneRig(t)
	cd := r.city.Cards[0]
	asn := cd.State().ASN
	id := r.pay(t, asn, "pay-1", 900)
	tu := only(t, r.claimable(t, r.a, asn), id)
	before := r.phoneSnapshot(t)

	// B's phone taps A's card: refused before the card is credited.
	if _, err := r.b.TopUps(ctx, sim.Issuer, asn); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("B lists A's top-ups: %v, want NotFound", err)
	}
	if _, err := r.b.Claim(ctx, cd, tu); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("B claims A's top-up on A's card: %v, want NotFound", err)
	}
	// A's session relayed by B's phone, to B's routes on A's card.
	tid, _ := cms.PhoneTerminal(r.holder[0])
	var sess terminal.LoadRequest
	if _, err := terminal.PhoneLoad(cd, tid, r.a.KeyVersions, time.Now(), 900, recordHost{&sess}); err == nil {
		t.Fatal("the recording host took a load")
	}
	cardURL := "/v1/self/cards/" + sim.Issuer.String() + "/" + asn.String()
	claim := string(must(json.Marshal(loadBody(sess, "mac1", sess.MAC1))))
	confirm := string(must(json.Marshal(loadBody(sess, "tac", [4]byte{}))))
	code, mine := r.phonePost(t, r.b.Token, cardURL+"/topups/"+id+"/claim", claim)
	if code != http.StatusNotFound {
		t.Errorf("B posts A's session: %d %+v, want 404", code, mine)
	}
	// The answer is the one for a card that does not exist.
	ghost := citycard.ASN{0, 0, 0, 0, 0, 0, 0xDE, 0xAD}
	ghostBody := strings.ReplaceAll(claim, asn.String(), ghost.String())
	code, none := r.phonePost(t, r.b.Token, "/v1/self/cards/"+sim.Issuer.String()+"/"+ghost.String()+"/topups/"+id+"/claim", ghostBody)
	if code != http.StatusNotFound || strings.ReplaceAll(mine.Error, asn.String(), ghost.String()) != none.Error || mine.Kind != none.Kind {
		t.Errorf("another's card %+v, no card %d %+v: want the same answer", mine, code, none)
	}
	if code, e := r.phonePost(t, r.b.Token, cardURL+"/loads/confirm", confirm); code != http.StatusNotFound {
		t.Errorf("B confirms on A's card: %d %+v, want 404", code, e)
	}
	// A terminal's token is no cardholder's session.
	kiosk := r.city.Terminals[0].ID
	if code, e := r.phonePost(t, r.toks[kiosk], cardURL+"/topups/"+id+"/claim", claim); code != http.StatusUnauthorized {
		t.Errorf("a kiosk's token on the phone route: %d %+v, want 401", code, e)
	}
	if got := r.phoneSnapshot(t); got != before {
		t.Fatalf("the refusals changed something:\n%s\n%s", before, got)
	}

	// Bad input from A's own phone: 4xx, a message, nothing changed.
	claimURL := cardURL + "/topups/" + id + "/claim"
	otherCard := strings.ReplaceAll(claim, asn.String(), r.city.Cards[1].State().ASN.String())
	for _, c := range []struct{ what, path, body, want string }{
		{"malformed JSON", claimURL, `{"issuer":`, "load"},
		{"an array", claimURL, `[]`, "load"},
		{"a wrong type", claimURL, strings.Replace(claim, `"key_version":1`, `"key_version":"1"`, 1), "key_version"},
		{"a missing field", claimURL, `{"issuer":"` + sim.Issuer.String() + `"}`, "asn"},
		{"an unknown field", claimURL, strings.Replace(claim, `{`, `{"terminal":"000000000001",`, 1), "terminal"},
		{"a payment on a claim", claimURL, strings.Replace(claim, `{`, `{"channel":"cash",`, 1), "channel"},
		{"a huge body", claimURL, `{"issuer":"` + strings.Repeat("0", 1<<20) + `"}`, "load"},
		{"a bad top-up ID", cardURL + "/topups/XYZ/claim", claim, "top-up ID"},
		{"a bad ASN", "/v1/self/cards/" + sim.Issuer.String() + "/12/topups/" + id + "/claim", claim, "ASN"},
		{"a bad issuer", "/v1/self/cards/zz/" + asn.String() + "/topups/" + id + "/claim", claim, "issuer"},
		{"another card in the body", claimURL, otherCard, "not the path's"},
		{"a bad MAC1", claimURL, strings.Replace(claim, `"mac1":"`, `"mac1":"G`, 1), "mac1"},
		{"a bad date", claimURL, strings.Replace(claim, `"date":"`, `"date":"9`, 1), "date"},
		{"malformed TAC", cardURL + "/loads/confirm", `{"tac":`, "load"},
	} {
		code, e := r.phonePost(t, r.a.Token, c.path, c.body)
		if code < 400 || code >= 500 || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s: %d %q, want a 4xx naming %q", c.what, code, e.Error, c.want)
		}
	}
	// A's session with a wrong MAC1 and a wrong TAC: refused by the
	// host's checks, as at a kiosk.
	bad := sess
	bad.MAC1[0] ^= 1
	if code, e := r.phonePost(t, r.a.Token, claimURL, string(must(json.Marshal(loadBody(bad, "mac1", bad.MAC1))))); code/100 != 4 || !strings.HasPrefix(e.Kind, "crypto") {
		t.Errorf("a wrong MAC1: %d %+v", code, e)
	}
	if code, e := r.phonePost(t, r.a.Token, cardURL+"/loads/confirm", confirm); code/100 != 4 || !strings.HasPrefix(e.Kind, "crypto") {
		t.Errorf("a wrong TAC: %d %+v", code, e)
	}
	// In process, a session under another terminal ID (a kiosk's) is no
	// phone's: refused before the host.
	ks := sess
	ks.Load.TerminalID = kiosk
	ls := &cms.LoadSession{Issuer: ks.Issuer, ASN: ks.ASN, KeyVersion: ks.KeyVersion, Alg: ks.Alg, Load: ks.Load}
	if _, err := r.s.SelfService.PhoneClaim(ctx, r.tu, r.holder[0], id, ls, ks.MAC1); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "a phone of holder") {
		t.Errorf("a kiosk's terminal ID on the phone's claim: %v, want Invalid", err)
	}
	if err := r.s.SelfService.PhoneConfirm(ctx, r.tu, r.holder[0], ls, [4]byte{}); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a kiosk's terminal ID on the phone's TAC: %v, want Invalid", err)
	}
	if got := r.phoneSnapshot(t); got != before {
		t.Fatalf("bad input changed something:\n%s\n%s", before, got)
	}
	// And A's own phone still claims it.
	if _, err := r.a.Claim(ctx, cd, tu); err != nil || r.state(t, id) != cms.TopUpClaimed {
		t.Fatalf("A's claim after the refusals: %v", err)
	}
}

// recordHost keeps the session it is asked to authorize and refuses it,
// so that nothing reaches the card.
type recordHost struct{ req *terminal.LoadRequest }

func (h recordHost) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	*h.req = req
	return [4]byte{}, errors.New("recorded")
}

func (recordHost) ConfirmLoad(terminal.LoadRequest, [4]byte) error { return errors.New("recorded") }

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// phoneShapeRequests makes the state and the requests TestResponseShapes
// sends to the phone routes: a top-up of the test cardholder's own card,
// claimed with a session under their phone's terminal ID, and its TAC.
func phoneShapeRequests(t *testing.T, x *cmsFix) map[string][]shapeRequest {
	t.Helper()
	f := withTopUps(t, x, false)
	card := f.issued(t, "31500000000000000741", 0)
	tok := f.selfLogin(t, card)
	holder, err := f.self.Authenticate(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if f.tid, err = cms.PhoneTerminal(holder); err != nil {
		t.Fatal(err)
	}
	tu, _, err := f.tu.Pay(t.Context(), cms.Actor{Who: "clerk", ServicePoint: "p"}, "shape-phone", testIssuer, card, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	req, pr := f.session(t, card, 0, 0, 1000, 7)
	const ct = "application/json"
	self := "/v1/self/cards/" + testIssuer.String() + "/" + card.String()
	return map[string][]shapeRequest{
		"GET /v1/self/cards/{issuer}/{asn}/topups/claimable":   {{path: self + "/topups/claimable", token: tok}},
		"POST /v1/self/cards/{issuer}/{asn}/topups/{id}/claim": {{path: self + "/topups/" + tu.ID + "/claim", token: tok, ctype: ct, body: []byte(claimBody(req))}},
		"POST /v1/self/cards/{issuer}/{asn}/loads/confirm":     {{path: self + "/loads/confirm", token: tok, ctype: ct, body: []byte(confirmBody(req, pr.TAC))}},
	}
}
