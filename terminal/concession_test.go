package terminal

import (
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// byCategory is a flat fare by rider category: free for a senior (2),
// 2 yuan otherwise.
type byCategory struct{}

func (byCategory) Price(q FareQuery) (Charge, error) {
	if q.RiderCategory == 2 {
		return Charge{Explanation: "senior: free"}, nil
	}
	return Charge{AmountFen: 200, FullFen: 200, Explanation: "flat fare 2.00"}, nil
}

// seniorCard is a senior's card (rider category 2) with an entitlement
// file of the slots, sealed as a service point seals it; no slots: no
// file at all.
func (w *world) seniorCard(asnLow uint32, slots ...card.Entitlement) *card.Card {
	w.t.Helper()
	if slots == nil {
		return w.fileCard(asnLow, 2, nil)
	}
	return w.fileCard(asnLow, 2, &card.Entitlements{KeyVersion: 1, Version: 1, Slots: slots})
}

func concession(cat uint8, to citycard.BCDDate) card.Entitlement {
	return card.Entitlement{App: card.AppConcession, Scope: uint32(cat), ValidFrom: lastWeek, ValidTo: to}
}

// TestConcessionOffline: a senior's card rides free while its concession
// slot is valid (its last day of grace included), at the adult fare the
// day after, with no slot, with another category's slot, with no file
// and with a forged one; free again once a kiosk rewrote the slot after
// its review. The record says the category it was priced at. A card of
// another category is not read; a terminal without concessions prices
// every card at its own; a PSAM without the application key is an error,
// not a lapse.
func TestConcessionOffline(t *testing.T) {
	w := appWorld(t)
	w.concessions = map[uint8]uint8{2: 0}
	term := w.terminal(ModeFlat, 1, byCategory{}, nil)
	tap := func(what string, c *card.Card, wantFen uint32, wantExpl string) Result {
		t.Helper()
		r, err := term.Tap(c, 0)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if r.Record.Amount != wantFen || !strings.Contains(r.Explanation, wantExpl) || (wantFen == 0) != (r.Record.RiderCategory == 2) {
			t.Errorf("%s: %d fen, category %d, %q; want %d fen, %q", what, r.Record.Amount, r.Record.RiderCategory, r.Explanation, wantFen, wantExpl)
		}
		return r
	}
	reviewed := w.seniorCard(1, concession(2, today))
	w.load(reviewed, 1000)
	tap("on the last day of grace", reviewed, 0, "senior: free")
	w.now = w.now.AddDate(0, 0, 1)
	tap("the day after", reviewed, 200, "concession 2 lapsed (reviewed until "+today.String()+"): priced as category 0")

	// Reviewed, and rewritten at a kiosk's next online contact.
	f := reviewed.State().Entitlements
	f.Slots[0].ValidTo = nextYear
	if _, err := apps.SignGrants(w.store, ourIssuer, reviewed.State().ASN, f); err != nil {
		t.Fatal(err)
	}
	if err := reviewed.SetEntitlements(*f); err != nil {
		t.Fatal(err)
	}
	tap("rewritten after the review", reviewed, 0, "senior: free")

	// Forged: the slot's last day moved on without the issuer's key.
	forged := w.seniorCard(2, concession(2, yesterday))
	w.load(forged, 1000)
	g := forged.State().Entitlements
	g.Slots[0].ValidTo = nextYear
	if err := forged.SetEntitlements(*g); err != nil {
		t.Fatal(err)
	}
	tap("a forged slot", forged, 200, "the grant MAC does not verify")

	for _, c := range []struct {
		what string
		card *card.Card
		expl string
	}{
		{"no slot", w.seniorCard(3, grant(card.AppLibrary, 7, 5)), "no review on the card"},
		{"another category's slot", w.seniorCard(4, concession(1, nextYear)), "no review on the card"},
		{"no file", w.seniorCard(5), "no entitlement file"},
	} {
		w.load(c.card, 1000)
		tap(c.what, c.card, 200, c.expl)
	}
	adult := w.newCard(card.ProfileCitizen, 6, 1)
	w.load(adult, 1000)
	if r := tap("an adult", adult, 200, "flat fare"); strings.Contains(r.Explanation, "concession") {
		t.Errorf("an adult's card: %q", r.Explanation)
	}

	// A terminal without concessions: the card's own category.
	w.concessions = nil
	plain := w.terminal(ModeFlat, 1, byCategory{}, nil)
	lapsed := w.seniorCard(7, concession(2, lastWeek))
	w.load(lapsed, 1000)
	if r, err := plain.Tap(lapsed, 0); err != nil || r.Record.Amount != 0 {
		t.Errorf("without concessions: %d fen, %v", r.Record.Amount, err)
	}
	// Concessions without the application key in the PSAM: an error,
	// no record.
	plain.cfg.Concessions = map[uint8]uint8{2: 0}
	before := len(plain.spool.entries)
	if _, err := plain.Tap(lapsed, 0); err == nil || len(plain.spool.entries) != before {
		t.Errorf("a PSAM without the application key: %v, %d records", err, len(plain.spool.entries)-before)
	} else {
		t.Logf("a PSAM without the application key: %v (kind %v)", err, citycard.KindOf(err))
	}
}
