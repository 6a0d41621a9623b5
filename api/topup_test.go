package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/terminal"
)

// topUpFix is card management's fixture with remote top-up over a load
// host of its own keys, and a kiosk (the first terminal) to claim with.
type topUpFix struct {
	*cmsFix
	ks   *keys.MemStore
	host *cms.LoadHost
	tu   *cms.TopUps
	tid  citycard.TerminalID
	ttok string
}

// withTopUps serves remote top-up on x's server; loads too when
// withLoads, so that a claim's TAC can be confirmed.
func withTopUps(t testing.TB, x *cmsFix, withLoads bool) *topUpFix {
	t.Helper()
	ks := keys.NewMemStore()
	for i, typ := range []keys.KeyType{keys.KeyLoad, keys.KeyTAC} {
		k := make([]byte, keys.KeyLen)
		for j := range k {
			k[j] = byte(0x21 + 16*i + j)
		}
		if _, err := ks.Put(keys.Ref{Issuer: testIssuer, Type: typ, Version: 1}, keys.Alg3DES, k, "test", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	f := &topUpFix{cmsFix: x, ks: ks, tid: x.ups[0].Terminal.ID}
	f.ttok = x.toks[f.tid]
	f.host = cms.NewLoadHost(x.m, ks, nil)
	f.tu = cms.NewTopUps(f.host, x.db.TopUps())
	x.s.TopUps = f.tu
	if withLoads {
		x.s.Loads = f.host
	}
	return f
}

// session is the card's INITIALIZE FOR LOAD answer at the kiosk, as the
// kiosk sends it, with the proof the card computes.
func (f *topUpFix) session(t testing.TB, asn citycard.ASN, counter uint16, balance, amount uint32, random byte) (terminal.LoadRequest, keys.Proof) {
	t.Helper()
	var dlk, dtk [keys.KeyLen]byte
	f.ks.DeriveInto(&dlk, keys.Ref{Issuer: testIssuer, Type: keys.KeyLoad, Version: 1}, asn.Div())
	f.ks.DeriveInto(&dtk, keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 1}, asn.Div())
	d, tm := citycard.DateTime(time.Date(2025, 3, 1, 9, 0, 0, 0, citycard.ChinaTime))
	l := keys.Load{Random: [4]byte{9, 9, 9, random}, OnlineCounter: counter, BalanceBefore: balance, Amount: amount, Type: citycard.TxLoad, TerminalID: f.tid, Date: d, Time: tm}
	pr, err := keys.LoadProof(keys.Alg3DES, dlk[:], dtk[:], &l)
	if err != nil {
		t.Fatal(err)
	}
	return terminal.LoadRequest{Issuer: testIssuer, ASN: asn, KeyVersion: 1, Alg: keys.Alg3DES, Load: l, MAC1: pr.MAC1}, pr
}

// claimBody is a claim's body: the session less the payment.
func claimBody(req terminal.LoadRequest) string {
	b, _ := json.Marshal((&LoadClient{}).body(req, "mac1", req.MAC1, false))
	return string(b)
}

func confirmBody(req terminal.LoadRequest, tac [4]byte) string {
	b, _ := json.Marshal((&LoadClient{}).body(req, "tac", tac, false))
	return string(b)
}

func topUpsURL(a citycard.ASN) string { return cardURL(a, "") + "/topups" }

func (f *topUpFix) kioskURL(a citycard.ASN) string {
	return "/v1/terminals/" + f.tid.String() + "/cards/" + testIssuer.String() + "/" + a.String() + "/topups"
}

func (f *topUpFix) claimURL(id string) string {
	return "/v1/terminals/" + f.tid.String() + "/topups/" + id + "/claim"
}

// send sends body with a bearer token and decodes the answer.
func (f *topUpFix) send(t testing.TB, method, path, token, body string) (int, any) {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	code, b := f.do(t, method, path, token, ctype, []byte(body), nil)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %d %s: %v", method, path, code, b, err)
	}
	return code, v
}

// selfLogin gives the test cardholder a self-service session, registering
// them with card first if need be.
func (f *topUpFix) selfLogin(t testing.TB, card citycard.ASN) string {
	t.Helper()
	ctx := context.Background()
	if _, err := f.self.Register(ctx, testIssuer, card, cms.ResidentID, testIDNumber, staffPass); err != nil && !citycard.IsKind(err, citycard.Exists) {
		t.Fatal(err)
	}
	tok, _, _, err := f.self.Login(ctx, cms.ResidentID, testIDNumber, staffPass)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *topUpFix) pendingFen(t testing.TB) int64 {
	t.Helper()
	b, err := f.db.Ledger().Balance(context.Background(), ledger.Account{Type: ledger.TopUpPending, Party: testIssuer.String()})
	if citycard.IsKind(err, citycard.NotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return -b.NetFen()
}

const alipayPayer = `"payer":"third_party","payer_party":"alipay","payer_reference":"2025030122001"`

// TestTopUpRoutes runs a remote top-up over HTTP: paid by the cardholder
// in the app, offered to the kiosk, claimed (MAC2), confirmed (the TAC),
// then listed by staff; another paid by a clerk and refunded; the sweep.
func TestTopUpRoutes(t *testing.T) {
	f := withTopUps(t, withCMS(t, newFixture(t)), true)
	card := f.issued(t, "31500000000000000701", 0)
	tok := f.selfLogin(t, card)
	code, v := f.send(t, "POST", "/v1/self"+topUpsURL(card)[3:], tok, `{"key":"app-1","amount_fen":3000,`+alipayPayer+`}`)
	if code != http.StatusOK {
		t.Fatalf("self top-up: %d %v", code, v)
	}
	paid := v.(map[string]any)["topup"].(map[string]any)
	id := paid["id"].(string)
	if paid["state"] != "pending" || paid["amount_fen"] != 3000.0 || paid["service_point"] != "self" || f.pendingFen(t) != 3000 {
		t.Fatalf("paid: %v, pending %d", paid, f.pendingFen(t))
	}
	// The retry answers the same top-up.
	if code, v := f.send(t, "POST", "/v1/self"+topUpsURL(card)[3:], tok, `{"key":"app-1","amount_fen":3000,`+alipayPayer+`}`); code != 200 || v.(map[string]any)["replayed"] != true {
		t.Errorf("self top-up again: %d %v", code, v)
	}
	code, v = f.send(t, "GET", f.kioskURL(card), f.ttok, "")
	if l, ok := v.([]any); code != 200 || !ok || len(l) != 1 || l[0].(map[string]any)["id"] != id || l[0].(map[string]any)["payer_reference"] != nil {
		t.Fatalf("kiosk's list: %d %v", code, v)
	}
	req, pr := f.session(t, card, 0, 0, 3000, 1)
	code, v = f.send(t, "POST", f.claimURL(id), f.ttok, claimBody(req))
	if code != 200 || v.(map[string]any)["mac2"] != hexUpper(pr.MAC2[:]) {
		t.Fatalf("claim: %d %v", code, v)
	}
	code, v = f.send(t, "POST", "/v1/terminals/"+f.tid.String()+"/loads/confirm", f.ttok, confirmBody(req, pr.TAC))
	if code != 200 {
		t.Fatalf("confirm: %d %v", code, v)
	}
	code, v = f.send(t, "GET", "/v1/topups/"+id, f.tokens["auditor"], "")
	if m := v.(map[string]any); code != 200 || m["state"] != "claimed" || m["claim"] != cms.LoadKey(&cms.LoadSession{Issuer: req.Issuer, ASN: req.ASN, Load: req.Load}) {
		t.Fatalf("after the claim: %d %v", code, v)
	}
	if f.pendingFen(t) != 0 || f.card(t, card).Version < 3 {
		t.Errorf("pending %d after the claim", f.pendingFen(t))
	}
	// A clerk's top-up for the same card, refunded at the payer's request.
	code, v = f.send(t, "POST", topUpsURL(card), f.tokens["clerk"], `{"key":"bank-1","amount_fen":500,"payer":"partner_bank","payer_party":"icbc-ningbo","payer_reference":""}`)
	if code != 200 {
		t.Fatalf("clerk's top-up: %d %v", code, v)
	}
	second := v.(map[string]any)["topup"].(map[string]any)["id"].(string)
	code, v = f.send(t, "GET", topUpsURL(card), f.tokens["auditor"], "")
	if l := v.([]any); code != 200 || len(l) != 2 || l[0].(map[string]any)["id"] != second {
		t.Errorf("staff's list, newest first: %d %v", code, v)
	}
	if code, v := f.send(t, "POST", "/v1/topups/"+second+"/refund", f.tokens["auditor"], ""); code != http.StatusForbidden {
		t.Errorf("an auditor's refund: %d %v", code, v)
	}
	code, v = f.send(t, "POST", "/v1/topups/"+second+"/refund", f.tokens["clerk"], "")
	if code != 200 || v.(map[string]any)["topup"].(map[string]any)["state"] != "refunded" || f.pendingFen(t) != 0 {
		t.Errorf("refund: %d %v, pending %d", code, v, f.pendingFen(t))
	}
	if code, _ := f.send(t, "POST", "/v1/topups/"+second+"/refund", f.tokens["clerk"], ""); code != 200 {
		t.Errorf("refund again: %d, want 200 replayed", code)
	}
	// The sweep is a supervisor's.
	if code, _ := f.send(t, "POST", "/v1/topups/sweep", f.tokens["clerk"], ""); code != http.StatusForbidden {
		t.Errorf("a clerk's sweep: %d", code)
	}
	code, v = f.send(t, "POST", "/v1/topups/sweep", f.tokens["super"], "")
	if code != 200 || v.(map[string]any)["expired"] != 0.0 {
		t.Errorf("sweep: %d %v", code, v)
	}
	// The cardholder sees their own card's top-ups, not another's.
	code, v = f.send(t, "GET", "/v1/self"+topUpsURL(card)[3:], tok, "")
	if l, ok := v.([]any); code != 200 || !ok || len(l) != 2 {
		t.Errorf("self list: %d %v", code, v)
	}
	if strings.Contains(f.log.String(), "2025030122001") {
		t.Error("the payment's reference is in the log")
	}
}

// TestTopUpBadInput sends every new route malformed bodies, missing
// fields, wrong types, huge bodies, bad IDs, another's card, a cash
// payer, and a claim of the wrong amount: each is a 4xx with a message,
// and nothing changes (the audit log keeps its length, the pending
// account its balance).
func TestTopUpBadInput(t *testing.T) {
	f := withTopUps(t, withCMS(t, newFixture(t)), true)
	card := f.issued(t, "31500000000000000711", 0)
	tok := f.selfLogin(t, card)
	// Another holder's card.
	born, _ := cms.ParseDate("1980-03-05")
	other, err := f.m.Register(t.Context(), cms.Actor{Who: "clerk", ServicePoint: "p"}, cms.Cardholder{Name: "王五", DocType: cms.ResidentID, DocNumber: "330205198003050026", DateOfBirth: born})
	if err != nil {
		t.Fatal(err)
	}
	others := asnOf(t, "31500000000000000712")
	by := cms.Actor{Who: "clerk", ServicePoint: "p"}
	if _, err := f.m.Apply(t.Context(), by, testIssuer, others, "citizen", other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Move(t.Context(), by, testIssuer, others, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Sell(t.Context(), by, "sell-others", testIssuer, others, cms.Channel{Type: cms.Cash, Party: testParty}, 0); err != nil {
		t.Fatal(err)
	}
	paid, _, err := f.tu.Pay(t.Context(), by, "good", testIssuer, card, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.self.TopUp(t.Context(), f.tu, f.holder(t), "self-good", testIssuer, card, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 700); err != nil {
		t.Fatal(err)
	}
	n, pending := f.auditLen(t), f.pendingFen(t)
	check := func(where string, code int, v any) {
		t.Helper()
		m, _ := v.(map[string]any)
		if msg, _ := m["error"].(string); code < 400 || code >= 500 || msg == "" {
			t.Errorf("%s: %d %v, want a 4xx with a message", where, code, v)
		}
	}
	pay := []kv{{"key", `"bad-pay"`}, {"amount_fen", "1000"}, {"payer", `"third_party"`}, {"payer_party", `"alipay"`}, {"payer_reference", `"r1"`}}
	specials := map[string]string{
		"cash":              with(pay, "payer", `"cash"`),
		"a claim's channel": with(pay, "payer", `"topup_claim"`),
		"no reference":      with(pay, "payer_reference", `""`),
		"bad party":         with(pay, "payer_party", `"ali pay"`),
		"zero":              with(pay, "amount_fen", "0"),
		"negative":          with(pay, "amount_fen", "-5"),
		"over one load":     with(pay, "amount_fen", "50001"),
		"fraction":          with(pay, "amount_fen", "10.5"),
		"empty key":         with(pay, "key", `""`),
		"long key":          with(pay, "key", `"`+strings.Repeat("k", 129)+`"`),
	}
	for _, rt := range []struct{ path, token, reused string }{{topUpsURL(card), f.tokens["clerk"], "good"}, {"/v1/self" + topUpsURL(card)[3:], tok, "self-good"}} {
		bad := variants(pay)
		for k, v := range specials {
			bad[k] = v
		}
		bad["key reused"] = with(pay, "key", `"`+rt.reused+`"`)
		for what, b := range bad {
			code, v := f.send(t, "POST", rt.path, rt.token, b)
			check(rt.path+": "+what, code, v)
		}
		code, raw := f.do(t, "POST", rt.path, rt.token, "text/plain", []byte(body(pay)), nil)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("%s as text/plain: %d %s", rt.path, code, raw)
		}
	}
	// Bad cards in paths; another's card is the same 404 as none.
	for _, p := range []string{"/v1/cards/3150/" + card.String() + "/topups", "/v1/cards/" + testIssuer.String() + "/12/topups", "/v1/cards/" + testIssuer.String() + "/31500000000000000799/topups"} {
		code, v := f.send(t, "POST", p, f.tokens["clerk"], body(pay))
		check("POST "+p, code, v)
	}
	for _, a := range []citycard.ASN{others, asnOf(t, "31500000000000000799")} {
		code, v := f.send(t, "POST", "/v1/self"+topUpsURL(a)[3:], tok, body(pay))
		if code != http.StatusNotFound {
			t.Errorf("self top-up of %v: %d %v, want 404", a, code, v)
		}
		code, v = f.send(t, "GET", "/v1/self"+topUpsURL(a)[3:], tok, "")
		if code != http.StatusNotFound {
			t.Errorf("self list of %v: %d %v, want 404", a, code, v)
		}
	}
	for _, p := range []string{"/v1/terminals/" + f.tid.String() + "/cards/3150/" + card.String() + "/topups", "/v1/terminals/" + f.tid.String() + "/cards/" + testIssuer.String() + "/XYZ/topups"} {
		code, v := f.send(t, "GET", p, f.ttok, "")
		check("GET "+p, code, v)
	}
	// Bad top-up IDs.
	for _, id := range []string{"1", "XYZXYZXYZXYZXYZX", strings.Repeat("A", 18), "00000000000000FF"} {
		for _, rt := range []struct{ method, path, token string }{
			{"GET", "/v1/topups/" + id, f.tokens["auditor"]},
			{"POST", "/v1/topups/" + id + "/refund", f.tokens["clerk"]},
		} {
			code, v := f.send(t, rt.method, rt.path, rt.token, "")
			check(rt.method+" "+rt.path, code, v)
		}
		req, _ := f.session(t, card, 0, 0, 1000, 2)
		code, v := f.send(t, "POST", f.claimURL(id), f.ttok, claimBody(req))
		check("claim "+id, code, v)
	}
	// Bad claims: the body's variants, a payment's fields, the wrong
	// amount, another card, a bad MAC1.
	req, _ := f.session(t, card, 0, 0, 1000, 3)
	var good []kv
	var fields map[string]json.RawMessage
	json.Unmarshal([]byte(claimBody(req)), &fields)
	for k, v := range fields {
		good = append(good, kv{k, string(v)})
	}
	bad := variants(good)
	wrongAmount, _ := f.session(t, card, 0, 0, 900, 4)
	bad["wrong amount"] = claimBody(wrongAmount)
	othersReq, _ := f.session(t, others, 0, 0, 1000, 5)
	bad["another card"] = claimBody(othersReq)
	bad["with a payment"] = body(append(append([]kv{}, good...), kv{"channel", `"cash"`}, kv{"channel_party", `"` + testParty + `"`}, kv{"channel_reference", `""`}))
	badMAC := req
	badMAC.MAC1[0] ^= 1
	bad["bad mac1"] = claimBody(badMAC)
	for what, b := range bad {
		code, v := f.send(t, "POST", f.claimURL(paid.ID), f.ttok, b)
		check("claim: "+what, code, v)
	}
	if got := f.auditLen(t); got != n {
		t.Errorf("the refusals wrote %d audit records", got-n)
	}
	if f.pendingFen(t) != pending {
		t.Errorf("pending %d, was %d", f.pendingFen(t), pending)
	}
	if tu, err := f.tu.TopUp(t.Context(), paid.ID); err != nil || tu.State != cms.TopUpPending {
		t.Errorf("the good top-up: %+v %v", tu, err)
	}
	// A server without remote top-up: 503, not a panic.
	g := f.with(t, func(s *Server) { s.TopUps = nil })
	code, _ := g.do(t, "GET", "/v1/topups/"+paid.ID, f.tokens["auditor"], "", nil, nil)
	if code != http.StatusServiceUnavailable {
		t.Errorf("no top-ups: %d", code)
	}
}

// TestTopUpConcurrentClaims sends one top-up's claim from many kiosks
// at once, each with its own session, and the very same claim many
// times at once: the card's sessions are serialized (one live claim, the
// money out of the pending account once), and the same session is booked
// once, every answer the same MAC2.
func TestTopUpConcurrentClaims(t *testing.T) {
	f := withTopUps(t, withCMS(t, newFixture(t)), true)
	card := f.issued(t, "31500000000000000721", 0)
	paid, _, err := f.tu.Pay(t.Context(), cms.Actor{Who: "clerk", ServicePoint: "p"}, "race", testIssuer, card, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 2000)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, 2*n)
	mac2s := make([]string, 2*n)
	same, samePr := f.session(t, card, 0, 0, 2000, 100)
	for i := range 2 * n {
		req := same
		if i < n {
			req, _ = f.session(t, card, 0, 0, 2000, byte(i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, b := f.do(t, "POST", f.claimURL(paid.ID), f.ttok, "application/json", []byte(claimBody(req)), nil)
			codes[i] = code
			var a loadAnswerJSON
			json.Unmarshal(b, &a)
			mac2s[i] = a.MAC2
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 && c != http.StatusConflict {
			t.Errorf("claim %d: %d", i, c)
		}
	}
	got, err := f.tu.TopUp(t.Context(), paid.ID)
	if err != nil || got.State != cms.TopUpClaiming || got.Claim == "" {
		t.Fatalf("after the race: %+v %v", got, err)
	}
	if f.pendingFen(t) != 0 {
		t.Errorf("pending %d: the money left more than once or not at all", f.pendingFen(t))
	}
	// The float holds the claim once: card management's book of the card
	// is 2,000.
	if b, err := f.m.BookBalance(t.Context(), testIssuer, card); err != nil || b != 2000 {
		t.Errorf("book balance %d %v, want 2000", b, err)
	}
	// The same session: every answer that got through is its one MAC2.
	for i := n; i < 2*n; i++ {
		if codes[i] == 200 && mac2s[i] != hexUpper(samePr.MAC2[:]) {
			t.Errorf("the same claim answered %s, want %X", mac2s[i], samePr.MAC2)
		}
	}
}

// topUpShapeRequests makes the state and the requests TestResponseShapes
// sends to the remote top-up routes.
func topUpShapeRequests(t *testing.T, x *cmsFix) map[string][]shapeRequest {
	t.Helper()
	f := withTopUps(t, x, false)
	card := f.issued(t, "31500000000000000731", 0)
	tok := f.selfLogin(t, card)
	by := cms.Actor{Who: "clerk", ServicePoint: "p"}
	claimable, _, err := f.tu.Pay(t.Context(), by, "shape-1", testIssuer, card, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	refundable, _, err := f.tu.Pay(t.Context(), by, "shape-2", testIssuer, card, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 500)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := f.session(t, card, 0, 0, 1000, 1)
	const ct = "application/json"
	pay := []byte(`{"key":"shape-3","amount_fen":100,` + alipayPayer + `}`)
	self := "/v1/self" + topUpsURL(card)[3:]
	return map[string][]shapeRequest{
		"GET /v1/terminals/{terminal}/cards/{issuer}/{asn}/topups": {{path: f.kioskURL(card), token: f.ttok}},
		"POST /v1/terminals/{terminal}/topups/{id}/claim":          {{path: f.claimURL(claimable.ID), token: f.ttok, ctype: ct, body: []byte(claimBody(req))}},
		"POST /v1/cards/{issuer}/{asn}/topups":                     {{path: topUpsURL(card), token: x.tokens["clerk"], ctype: ct, body: pay}},
		"GET /v1/cards/{issuer}/{asn}/topups":                      {{path: topUpsURL(card), token: x.tokens["auditor"]}},
		"GET /v1/topups/{id}":                                      {{path: "/v1/topups/" + claimable.ID, token: x.tokens["auditor"]}},
		"POST /v1/topups/{id}/refund":                              {{path: "/v1/topups/" + refundable.ID + "/refund", token: x.tokens["clerk"]}},
		"POST /v1/topups/sweep":                                    {{token: x.tokens["super"]}},
		"POST /v1/self/cards/{issuer}/{asn}/topups":                {{path: self, token: tok, ctype: ct, body: []byte(`{"key":"shape-4","amount_fen":100,` + alipayPayer + `}`)}},
		"GET /v1/self/cards/{issuer}/{asn}/topups":                 {{path: self, token: tok}},
	}
}
