package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/citycard/citycard"
)

// FuzzAdjustBodies sends arbitrary bodies to the adjustment route, on a
// card whose book is its balance and on one in use: whatever comes, the
// answer is JSON, never a 5xx, a refusal carries a message, the audit
// log's chain still verifies, and no book moves (no approval is ever
// approved here, so nothing may be made: at most one is asked for).
func FuzzAdjustBodies(f *testing.F) {
	x := withCMS(f, newFixture(f))
	type card struct {
		path string
		asn  citycard.ASN
	}
	cards := []card{}
	for _, asn := range []citycard.ASN{x.damaged(f, "31500000000000000921", 1000), x.issued(f, "31500000000000000922", 1000)} {
		cards = append(cards, card{cardURL(asn, "adjustments"), asn})
	}
	for _, seed := range []string{
		adjustBody("k", "credit", 100, 0), adjustBody("k", "debit", 100000, 1), adjustBody("k", "credit", 100001, 0),
		`{"key":"k","direction":"sideways","amount_fen":1,"reason":"r","approval_id":0}`,
		`{"key":"\u0000","direction":"credit","amount_fen":-0,"reason":"","approval_id":-1}`, `[]`, `{"amount_fen":1e400}`,
	} {
		for i := range cards {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		c := cards[int(route)%len(cards)]
		code, b := x.do(t, "POST", c.path, x.tokens["clerk"], "application/json", body, nil)
		if code >= 500 || code == http.StatusCreated {
			t.Fatalf("POST %s %q: %d %s", c.path, body, code, b)
		}
		if !json.Valid(b) {
			t.Fatalf("POST %s %q: %d, not JSON: %q", c.path, body, code, b)
		}
		if code >= 400 {
			var e struct{ Error string }
			if json.Unmarshal(b, &e) != nil || e.Error == "" {
				t.Fatalf("POST %s %q: %d without a message: %s", c.path, body, code, b)
			}
		}
		if got := x.book(t, c.asn); got != 1000 {
			t.Fatalf("POST %s %q: the book moved to %d", c.path, body, got)
		}
		x.auditLen(t)
	})
}
