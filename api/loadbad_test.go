package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/sim"
)

// TestLoadRoutesBadInput sends the terminal load routes (a load's
// INITIALIZE FOR LOAD answer, its TAC) bodies that are not a load: each is
// refused with 422 naming what is wrong, and nothing is booked (no load
// row, no flow, no ledger entry). A body at the route's limit is read
// (then refused for its content, not its size), one byte over is refused
// for its size.
func TestLoadRoutesBadInput(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t)
	cd, kiosk := r.city.Cards[0], r.city.Terminals[0]
	asn := cd.State().ASN
	// The shape of a load: a MAC1 of zeros (it does not verify: kind
	// Crypto, 422 too, so every case below is refused before or at it).
	valid := func(mac string) map[string]any {
		m := map[string]any{"issuer": sim.Issuer.String(), "asn": asn.String(), "key_version": 1, "alg": "3des",
			"online_counter": 0, "balance_before_fen": 1, "amount_fen": 100, "random": "00000000",
			"date": "20261201", "time": "120000", mac: "00000000"}
		if mac == "mac1" { // a load names how it was paid
			m["channel"], m["channel_party"], m["channel_reference"] = "cash", sim.Issuer.String(), ""
		}
		return m
	}
	with := func(mac, k string, v any) string {
		m := valid(mac)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	post := func(path, body string) (int, string) {
		t.Helper()
		code, e := r.post(t, kiosk.ID, path, body)
		return code, e.Error
	}
	state := func() (int, int64, int) {
		t.Helper()
		flows, err := r.db.CMS().Flows(ctx, sim.Issuer, asn)
		if err != nil {
			t.Fatal(err)
		}
		open, err := r.db.CMS().UnconfirmedLoads(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if err := r.db.Ledger().Scan(ctx, 0, func(*ledger.Posted) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return len(flows), cms.BookBalances(flows)[asn], len(open) + 1000*n
	}
	f0, b0, l0 := state()
	for _, route := range []struct{ path, mac, noChannel string }{{"/loads", "mac1", "channel"}, {"/loads/confirm", "tac", "does not verify"}} {
		for _, tc := range []struct {
			name, body, want string
		}{
			{"malformed JSON", `{"issuer": `, ""},
			{"an array", `[]`, "object"},
			{"a string", `"load"`, "object"},
			{"no issuer", with(route.mac, "issuer", nil), "issuer"},
			{"no asn", with(route.mac, "asn", nil), "asn"},
			{"no amount", with(route.mac, "amount_fen", nil), "amount_fen"},
			{"no " + route.mac, with(route.mac, route.mac, nil), route.mac},
			{"an amount as a string", with(route.mac, "amount_fen", "100"), "amount_fen"},
			{"a negative amount", with(route.mac, "amount_fen", -1), "amount_fen"},
			{"a counter past 16 bits", with(route.mac, "online_counter", 65536), "online_counter"},
			{"an issuer not hex", with(route.mac, "issuer", "31500001FFFFFFFG"), "issuer"},
			{"an asn too short", with(route.mac, "asn", "0123"), "ASN"},
			{"an unknown algorithm", with(route.mac, "alg", "rot13"), "rot13"},
			{"a random of 3 bytes", with(route.mac, "random", "000000"), "random"},
			{"a date not BCD", with(route.mac, "date", "2026130A"), "date"},
			{"a day that does not exist", with(route.mac, "date", "20260230"), "does not exist"},
			{"no channel (a confirmation has none: its TAC of zeros does not verify)", with(route.mac, "channel", nil), route.noChannel},
			{"a " + route.mac + " of 5 bytes", with(route.mac, route.mac, "0000000000"), route.mac},
			{"an unknown field", with(route.mac, "amount", 100), "amount"},
			{"a field twice", strings.Replace(with(route.mac, "asn", asn.String()), `"asn"`, `"asn":"`+asn.String()+`","asn"`, 1), "twice"},
			{"a body one byte over the limit", strings.Repeat(" ", maxLoadBody+1-2) + "{}", ""},
		} {
			code, msg := post(route.path, tc.body)
			if code != http.StatusUnprocessableEntity || msg == "" || !strings.Contains(msg, tc.want) {
				t.Errorf("%s, %s: %d %q; want 422 naming %q", route.path, tc.name, code, msg, tc.want)
			}
		}
		// At the limit the body is read, and refused for what it says.
		at := strings.Repeat(" ", maxLoadBody-len(with(route.mac, "asn", "0123"))) + with(route.mac, "asn", "0123")
		if code, msg := post(route.path, at); code != http.StatusUnprocessableEntity || !strings.Contains(msg, "ASN") {
			t.Errorf("%s, a body at the limit (%d bytes): %d %q; want its ASN refused", route.path, len(at), code, msg)
		}
	}
	if f, b, l := state(); f != f0 || b != b0 || l != l0 {
		t.Errorf("bad bodies changed the store: flows %d -> %d, book %d -> %d, loads and ledger %d -> %d", f0, f, b0, b, l0, l)
	}
}
