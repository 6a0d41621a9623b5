package api

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/terminal"
)

// seniorFare is a flat fare by rider category: free for a senior (2),
// 2 yuan otherwise.
type seniorFare struct{}

func (seniorFare) Price(q terminal.FareQuery) (terminal.Charge, error) {
	if q.RiderCategory == 2 {
		return terminal.Charge{Explanation: "senior: free"}, nil
	}
	return terminal.Charge{AmountFen: 200, FullFen: 200, Explanation: "flat fare 2.00"}, nil
}

// TestConcessionLapseOffline follows issue 9 end to end: a senior's
// card, its entitlement file written by the back office (the concession
// slot from card management's review due and the product's grace), rides
// free on a bus offline up to the last day of grace, at the adult fare
// the day after; reviewed at the counter (the API) and rewritten at a
// kiosk's next online contact, free again. A slot forged on the card
// rides at the adult fare.
func TestConcessionLapseOffline(t *testing.T) {
	x := withCMS(t, newFixture(t))
	o := apps.NewOffice(x.db.Apps(), time.Now, rand.Reader).WithConcessions(CMSConcessions{Cards: x.m})
	w := newGateWorld(t, testIssuer, time.Date(2025, 3, 1, 9, 0, 0, 0, citycard.ChinaTime))
	senior := x.concession(t, w.asn(1).String(), "senior", seniorIDNumber, seniorBorn, "", "")
	if c := x.card(t, senior); c.ReviewDue.String() != "2026-03-01" {
		t.Fatalf("review due %v", c.ReviewDue)
	}
	cd := w.riderCard(o, 1, 1000, 2) // personalized: its file from the back office
	if s := cd.State().Entitlements; s == nil || len(s.Slots) != 1 || s.Slots[0].App != card.AppConcession || s.Slots[0].Scope != 2 || s.Slots[0].ValidTo.String() != "20260331" {
		t.Fatalf("the new card's file: %+v", s)
	}
	p, psamID, _ := w.psam()
	bus, err := terminal.New(terminal.Config{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModeFlat, Network: 1, Line: 1, Station: 1,
		Fare: seniorFare{}, Spool: &gateSpool{}, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: func() time.Time { return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	// The bus learns the concession categories from its parameters.
	id := x.ups[0].Terminal.ID
	if code, b := x.do(t, "GET", "/v1/terminals/"+id.String()+"/parameters", x.toks[id], "", nil, nil); code != http.StatusOK ||
		!strings.Contains(string(b), `"concessions":[{"category":1,"lapsed":0},{"category":2,"lapsed":0}]`) {
		t.Fatalf("parameters: %d %s", code, b)
	}
	if err := x.client(0).SyncConcessions(context.Background(), bus); err != nil {
		t.Fatal(err)
	}
	ride := func(what string, c *card.Card, wantFen uint32) {
		t.Helper()
		r, err := bus.Tap(c, 0)
		if err != nil || r.Record.Amount != wantFen || (wantFen == 0) != (r.Record.RiderCategory == 2) {
			t.Errorf("%s: %d fen, category %d (%s), %v; want %d fen", what, r.Record.Amount, r.Record.RiderCategory, r.Explanation, err, wantFen)
		}
	}
	w.now = time.Date(2026, 3, 31, 22, 0, 0, 0, citycard.ChinaTime)
	ride("on the last day of grace", cd, 0)
	w.now = time.Date(2026, 4, 1, 7, 0, 0, 0, citycard.ChinaTime)
	ride("the day after", cd, 200)

	// The annual review at the counter, then the kiosk.
	x.advance(t, time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC).Sub(x.at))
	if code, got := x.call(t, "POST", cardURL(senior, "review"), "clerk", ""); code != http.StatusOK || got["review_due"] != "2027-04-01" {
		t.Fatalf("review: %d %v", code, got)
	}
	ride("reviewed, not yet rewritten", cd, 200)
	w.rewrite(o, cd)
	if to := cd.State().Entitlements.Slots[0].ValidTo.String(); to != "20270501" {
		t.Errorf("rewritten until %s, want 20270501 (a year and 30 days of grace)", to)
	}
	ride("rewritten at a kiosk", cd, 0)

	// Forged: the slot's last day moved on without the issuer's key.
	f := *cd.State().Entitlements
	f.Slots = append([]card.Entitlement(nil), f.Slots...)
	f.Slots[0].ValidTo, _ = citycard.DateTime(time.Date(2030, 1, 1, 12, 0, 0, 0, citycard.ChinaTime))
	if err := cd.SetEntitlements(f); err != nil {
		t.Fatal(err)
	}
	w.now = time.Date(2028, 1, 1, 9, 0, 0, 0, citycard.ChinaTime)
	ride("a forged slot", cd, 200)

	// A card without a review carries no concession slot.
	citizen := x.issued(t, w.asn(2).String(), 0)
	if f, err := o.File(context.Background(), apps.CardRef{Issuer: testIssuer, ASN: citizen}, 1); err != nil || len(f.Slots) != 0 {
		t.Errorf("a citizen card's file: %+v, %v", f, err)
	}
	// A card card management does not know: the file is refused.
	if _, err := o.File(context.Background(), apps.CardRef{Issuer: testIssuer, ASN: w.asn(3)}, 1); !citycard.IsKind(err, citycard.NotFound) || !strings.Contains(err.Error(), "apps.Office.File") {
		t.Errorf("an unknown card's file: %v", err)
	}
}
