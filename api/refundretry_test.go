package api

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
)

// TestRefundRetried retries a refund that went through, of a card in use
// and of a lost card after its cooling period: the same key and body
// replay the first answer (200, replayed, the same card and quote),
// never a 409 (a lost card's retry was one: its book had moved to 0).
func TestRefundRetried(t *testing.T) {
	const body = `{"key":"refund-1","payee":"cash","payee_party":"nb-card","payee_reference":"","approval_id":0}`
	for _, lost := range []bool{false, true} {
		r := newCutRig(t, 1, 1)
		asn := r.city.Cards[0].State().ASN
		r.tap(t, 0, r.now().Add(-time.Hour), 300)
		r.upload(t)
		if _, err := r.m.Move(context.Background(), cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}, sim.Issuer, asn, cms.Activate); err != nil {
			t.Fatal(err)
		}
		if lost {
			if code, v := r.post(t, asn, "loss", ""); code != 200 {
				t.Fatalf("loss: %d %v", code, v)
			}
			r.set(r.now().Add(8 * 24 * time.Hour))
		}
		code, first := r.post(t, asn, "refund", body)
		if code != 200 || first["replayed"] != false {
			t.Fatalf("lost %v: refund: %d %v", lost, code, first)
		}
		code, again := r.post(t, asn, "refund", body)
		if code != 200 || again["replayed"] != true {
			t.Fatalf("lost %v: refund retried: %d %v; want 200, replayed", lost, code, again)
		}
		if !reflect.DeepEqual(first["quote"], again["quote"]) || !reflect.DeepEqual(first["card"], again["card"]) {
			t.Fatalf("lost %v: refund retried answered %v, the refund %v", lost, again, first)
		}
	}
}

// TestRefundRetriedSameAnswer retries a refund that went through after a
// record of the card made before the refund arrived late (it moves the
// purchases the fee rule counts): the retry answers the first quote
// exactly. The same key sent with another payee, or for another card, is
// refused 409 naming the key, and moves nothing.
func TestRefundRetriedSameAnswer(t *testing.T) {
	const key = "refund-late"
	body := func(payee, party string) string {
		return `{"key":"` + key + `","payee":"` + payee + `","payee_party":"` + party + `","payee_reference":"","approval_id":0}`
	}
	r := newCutRig(t, 2, 2)
	asn, other := r.city.Cards[0].State().ASN, r.city.Cards[1].State().ASN
	ctx := context.Background()
	for _, a := range []citycard.ASN{asn, other} {
		if _, err := r.m.Move(ctx, cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}, sim.Issuer, a, cms.Activate); err != nil {
			t.Fatal(err)
		}
	}
	r.tap(t, 0, r.now().Add(-time.Hour), 300)
	r.upload(t)
	// Past the 90 days of the fee rule: it counts the purchases.
	r.set(r.now().AddDate(0, 0, 100))
	r.tap(t, 0, r.now().Add(-time.Hour), 200) // spooled, not uploaded before the refund
	code, first := r.post(t, asn, "refund", body("cash", "nb-card"))
	if code != 200 || first["replayed"] != false {
		t.Fatalf("refund: %d %v", code, first)
	}
	r.upload(t)
	r.set(r.now().Add(time.Hour))
	code, again := r.post(t, asn, "refund", body("cash", "nb-card"))
	if code != 200 || again["replayed"] != true {
		t.Fatalf("refund retried: %d %v; want 200, replayed", code, again)
	}
	if !reflect.DeepEqual(first["quote"], again["quote"]) || !reflect.DeepEqual(first["card"], again["card"]) {
		t.Errorf("refund retried after a late record answered %v, the refund %v", again, first)
	}
	flows := r.flows(t, asn)
	for _, c := range []struct {
		asn  citycard.ASN
		body string
	}{{asn, body("bank_card", "nb-card")}, {asn, body("cash", "icbc")}, {other, body("cash", "nb-card")}} {
		code, v := r.post(t, c.asn, "refund", c.body)
		if msg, _ := v["error"].(string); code != 409 || !strings.Contains(msg, key) {
			t.Errorf("card %v: %s under a key booked for another refund: %d %v; want 409 naming the key", c.asn, c.body, code, v)
		}
	}
	if got := r.flows(t, asn); !reflect.DeepEqual(got, flows) {
		t.Errorf("flows after the refused retries %v, before %v", got, flows)
	}
	if c, err := r.m.Card(ctx, sim.Issuer, other); err != nil || c.State != cms.Active {
		t.Errorf("the other card after a refused refund: %v %v; want active", c.State, err)
	}
}
