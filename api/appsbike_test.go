package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
)

// withBike adds the bike operator nb-bike (zone 3) to ap.
func withBike(t testing.TB, ap *appsFix) {
	t.Helper()
	_, tok, err := ap.o.Add(context.Background(), apps.App{ID: "nb-bike", Name: "Ningbo public bikes", Kind: card.AppBike, Scope: 3, Party: "nb-bike"})
	if err != nil {
		t.Fatal(err)
	}
	ap.tokens["nb-bike"] = tok
}

// anonymous issues an anonymous card (the transit product, no
// cardholder).
func (x *cmsFix) anonymous(t testing.TB, asn string) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	by := cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}
	a := asnOf(t, asn)
	if _, err := x.m.Apply(ctx, by, testIssuer, a, "transit", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := x.m.Move(ctx, by, testIssuer, a, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAppBikeGrantRegisteredOnly: deposit-free rental is for registered
// cards: the bike grant on an anonymous card is refused 409 (and with
// no card management to tell, on any card), on a registered one taken;
// the library's grant on the anonymous card is taken as before. The
// grant is not revoked (409) while the card's last record is a hire.
func TestAppBikeGrantRegisteredOnly(t *testing.T) {
	x := withCMS(t, newFixture(t))
	ap := withApps(t, x)
	withBike(t, ap)
	year := `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":0}`
	reg := x.issued(t, "31500000000000000911", 0)
	if code, v := ap.call(t, "POST", "nb-bike", reg.String()+"/grant", year); code != http.StatusConflict {
		t.Fatalf("a bike grant with no card management to tell: %d %v, want 409", code, v)
	}
	ap.o.WithCards(CMSCards{Store: x.db.CMS()})
	anon := x.anonymous(t, "31500000000000000912")
	if code, v := ap.call(t, "POST", "nb-bike", anon.String()+"/grant", year); code != http.StatusConflict {
		t.Fatalf("a bike grant on an anonymous card: %d %v, want 409", code, v)
	}
	if _, err := ap.o.Entitlement(context.Background(), "nb-bike", apps.CardRef{Issuer: testIssuer, ASN: anon}); !citycard.IsKind(err, citycard.NotFound) {
		t.Fatalf("the anonymous card's bike grant after the refusal: %v, want none", err)
	}
	if code, v := ap.call(t, "POST", "nb-library", anon.String()+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":5}`); code != http.StatusOK {
		t.Fatalf("the library's grant on the anonymous card: %d %v", code, v)
	}
	if code, v := ap.call(t, "POST", "nb-bike", reg.String()+"/grant", year); code != http.StatusOK || v["kind"] != "bike" {
		t.Fatalf("a bike grant on a registered card: %d %v", code, v)
	}
	// A bike out (the last filed record a hire): no revocation, which
	// would drop the bike from the card's next file, until it is back.
	d, _ := apps.ParseDate("20250302")
	rec := func(pos int64, counter uint16, a apps.Action) []apps.AppRecord {
		return []apps.AppRecord{{Pos: pos, App: "nb-bike", Card: apps.CardRef{Issuer: testIssuer, ASN: reg}, TerminalSeq: uint32(pos), Action: a, Date: d, Place: 3001, Counter: counter}}
	}
	if err := ap.db.Apps().ApplyRecords(context.Background(), 1, []string{"nb-bike"}, rec(1, 1, apps.Hire), nil); err != nil {
		t.Fatal(err)
	}
	if code, v := ap.call(t, "POST", "nb-bike", reg.String()+"/revoke", ""); code != http.StatusConflict {
		t.Fatalf("revoke with a bike out: %d %v, want 409", code, v)
	}
	if g, err := ap.o.Entitlement(context.Background(), "nb-bike", apps.CardRef{Issuer: testIssuer, ASN: reg}); err != nil || g.State != apps.Active {
		t.Fatalf("the grant after the refusal: %+v %v, want active", g, err)
	}
	if err := ap.db.Apps().ApplyRecords(context.Background(), 2, []string{"nb-bike"}, rec(2, 2, apps.Return), nil); err != nil {
		t.Fatal(err)
	}
	if code, v := ap.call(t, "POST", "nb-bike", reg.String()+"/revoke", ""); code != http.StatusOK || v["state"] != "revoked" {
		t.Fatalf("revoke with the bike back: %d %v", code, v)
	}
}

// TestAppOpenRentals: the bikes out are the cards whose last record (by
// application counter, whatever the upload order) is a hire, overdue
// past the limit (exactly the limit is not); out_max_minutes 1 and 1440
// are taken, 0, 1441 and a word refused 422, and so is another kind's
// application.
func TestAppOpenRentals(t *testing.T) {
	f := newFixture(t)
	ap := withApps(t, withCMS(t, f))
	withBike(t, ap)
	now := time.Date(2025, 3, 3, 18, 0, 0, 0, citycard.ChinaTime)
	f.s.Now = func() time.Time { return now }
	rec := func(pos int64, asn byte, counter uint16, a apps.Action, at time.Time, dock uint32) apps.AppRecord {
		d, tm := citycard.DateTime(at)
		return apps.AppRecord{Pos: pos, App: "nb-bike", Card: apps.CardRef{Issuer: testIssuer, ASN: citycard.ASN{9: asn}},
			Terminal: citycard.TerminalID{5: byte(dock)}, TerminalSeq: uint32(pos), Action: a, Date: d, Time: tm, Place: dock, Counter: counter}
	}
	recs := []apps.AppRecord{
		rec(1, 1, 1, apps.Hire, now.Add(-2*time.Hour), 3001),
		rec(2, 2, 5, apps.Return, now.Add(-time.Hour), 3002), // uploaded before its hire
		rec(3, 2, 4, apps.Hire, now.Add(-3*time.Hour), 3001),
		rec(4, 3, 1, apps.Hire, now.Add(-24*time.Hour), 3002),             // exactly the limit
		rec(5, 4, 1, apps.Hire, now.Add(-24*time.Hour-time.Second), 3001), // one second past
	}
	if err := ap.db.Apps().ApplyRecords(context.Background(), 5, []string{"nb-bike"}, recs, nil); err != nil {
		t.Fatal(err)
	}
	get := func(app, query string) (int, OpenRentalsJSON, string) {
		t.Helper()
		code, b := ap.do(t, "GET", "/v1/apps/"+app+"/reports/open-rentals"+query, ap.tokens[app], "", nil, nil)
		var v OpenRentalsJSON
		if code == http.StatusOK {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: %s", query, b)
			}
		}
		return code, v, string(b)
	}
	code, v, body := get("nb-bike", "")
	if code != http.StatusOK || len(v.Rentals) != 3 || v.Overdue != 1 || v.OutMaxMinutes != 1440 {
		t.Fatalf("open rentals: %d %s", code, body)
	}
	// By hire time: card 4 (overdue), card 3 (exactly the limit), card 1.
	for i, want := range []struct {
		asn     string
		overdue bool
		dock    uint32
	}{{"04", true, 3001}, {"03", false, 3002}, {"01", false, 3001}} {
		r := v.Rentals[i]
		if r.ASN[len(r.ASN)-2:] != want.asn || r.Overdue != want.overdue || r.Dock != want.dock {
			t.Errorf("rental %d: %+v, want card …%s overdue %v dock %d", i, r, want.asn, want.overdue, want.dock)
		}
	}
	if code, v, body := get("nb-bike", "?out_max_minutes=1"); code != http.StatusOK || v.Overdue != 3 || v.OutMaxMinutes != 1 {
		t.Errorf("out_max_minutes=1: %d %s", code, body)
	}
	if code, _, body := get("nb-bike", "?out_max_minutes=1440"); code != http.StatusOK {
		t.Errorf("out_max_minutes=1440: %d %s", code, body)
	}
	for _, q := range []string{"?out_max_minutes=0", "?out_max_minutes=1441", "?out_max_minutes=day", "?out_max_minutes=-1"} {
		if code, _, body := get("nb-bike", q); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s, want 422", q, code, body)
		}
	}
	if code, _, body := get("nb-library", ""); code != http.StatusUnprocessableEntity {
		t.Errorf("the library's open rentals: %d %s, want 422", code, body)
	}
	if code, _ := ap.do(t, "GET", "/v1/apps/nb-bike/reports/open-rentals", ap.tokens["nb-library"], "", nil, nil); code == http.StatusOK {
		t.Errorf("the library's token on the bikes' report: %d", code)
	}
}
