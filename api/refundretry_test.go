package api

import (
	"context"
	"reflect"
	"testing"
	"time"

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
