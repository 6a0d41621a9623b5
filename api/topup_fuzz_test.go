package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/citycard/citycard/cms"
)

// FuzzTopUpBodies sends arbitrary bodies to the remote top-up routes
// that read one (a payment by staff and by a cardholder, a kiosk's
// claim): whatever comes, the answer is JSON, never a 5xx, a refusal
// carries a message, and the audit log's chain still verifies.
func FuzzTopUpBodies(f *testing.F) {
	x := withCMS(f, newFixture(f))
	u := withTopUps(f, x, true)
	card := x.issued(f, "31500000000000000911", 0)
	tok := u.selfLogin(f, card)
	paid, _, err := u.tu.Pay(f.Context(), cms.Actor{Who: "clerk", ServicePoint: "p"}, "fuzz-paid", testIssuer, card, cms.Channel{Type: cms.BankCard, Party: "icbc"}, 1000)
	if err != nil {
		f.Fatal(err)
	}
	routes := []struct{ path, token string }{
		{topUpsURL(card), x.tokens["clerk"]},
		{"/v1/self" + topUpsURL(card)[3:], tok},
		{u.claimURL(paid.ID), u.ttok},
	}
	req, _ := u.session(f, card, 0, 0, 1000, 1)
	for _, seed := range []string{
		`{"key":"k","amount_fen":100,` + alipayPayer + `}`,
		claimBody(req),
		`{"key":"\u0000","amount_fen":-0,"payer":"cash","payer_party":"","payer_reference":""}`, `[]`, `{"amount_fen":1e400}`,
	} {
		for i := range routes {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		code, b := x.do(t, "POST", rt.path, rt.token, "application/json", body, nil)
		if code >= 500 {
			t.Fatalf("POST %s %q: %d %s", rt.path, body, code, b)
		}
		if !json.Valid(b) {
			t.Fatalf("POST %s %q: %d, not JSON: %q", rt.path, body, code, b)
		}
		if code >= 400 && code != http.StatusNotFound {
			var e struct{ Error string }
			if json.Unmarshal(b, &e) != nil || e.Error == "" {
				t.Fatalf("POST %s %q: %d without a message: %s", rt.path, body, code, b)
			}
		}
		x.auditLen(t)
	})
}
