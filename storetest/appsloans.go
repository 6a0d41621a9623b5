package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// testReplacedLoans: a replacement carries the library loans out of the
// old card: a borrower with 3 books of 5 out loses the card, and the
// new card's file starts at 3 loans out, so it may borrow 2 more, not 5.
// The count is the old card's last stamp the back office filed (the
// highest application counter, whatever the upload order), of its
// library records only (not another card's, not the school's canteen
// spend, which is not carried); a card replaced again before any stamp
// carries what it was given; a brand-new card starts at 0.
func testReplacedLoans(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	addApps(t, o, library, campus)
	old, other := ruleCard(1), ruleCard(2)
	nu, again := ruleCard(8), ruleCard(9)
	lib := apps.Terms{ValidFrom: date(t, "20250101"), ValidTo: date(t, "20251231"), Limit: 5}
	for _, c := range []apps.CardRef{old, other} {
		if _, _, err := o.Grant(ctx, library.ID, c, lib); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := o.Grant(ctx, campus.ID, old, apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Class: 3, Limit: 2000}); err != nil {
		t.Fatal(err)
	}
	// Three loans on the old card, the third uploaded before the second
	// (another kiosk's); another card's five; the school's canteen.
	rec := func(pos int64, app string, c apps.CardRef, a apps.Action, counter uint16, uses uint32) apps.AppRecord {
		return apps.AppRecord{Pos: pos, App: app, Card: c, Terminal: citycard.TerminalID{5: byte(pos)}, TerminalSeq: uint32(pos), Action: a,
			Date: date(t, "20250302"), Time: citycard.BCDTime{0x10, 0, byte(pos)}, Place: 1, Uses: uses, Counter: counter}
	}
	recs := []apps.AppRecord{
		rec(1, library.ID, old, apps.Loan, 1, 1),
		rec(2, library.ID, old, apps.Loan, 3, 3),
		rec(3, library.ID, old, apps.Loan, 2, 2),
		rec(4, library.ID, other, apps.Loan, 9, 5),
		rec(5, campus.ID, old, apps.Canteen, 4, 1200),
	}
	if err := s.ApplyRecords(ctx, 5, []string{library.ID, campus.ID}, recs, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := s.LastRecord(ctx, library.ID, old); err != nil || r.Pos != 2 || r.Uses != 3 {
		t.Fatalf("LastRecord = %+v, %v; want position 2 (counter 3), 3 loans out", r, err)
	}
	if _, err := s.LastRecord(ctx, library.ID, nu); citycard.KindOf(err) != citycard.NotFound {
		t.Fatalf("LastRecord of a card with none: %v, want not found", err)
	}
	replace := func(seq int64, from, to apps.CardRef) {
		t.Helper()
		log := lifecycleLog{
			{Seq: seq, At: at, Subject: "card:" + from.String(), Action: "report loss", After: `{"state":"lost"}`},
			{Seq: seq + 1, At: at.Add(time.Hour), Subject: "card:" + from.String(), Action: "replace", After: `{"state":"replaced","replaced_by":"` + to.ASN.String() + `"}`},
		}
		if cur, _, err := o.Follow(ctx, log); err != nil || cur != seq+1 {
			t.Fatalf("Follow = %d, %v; want %d", cur, err, seq+1)
		}
	}
	replace(1, old, nu)
	loans := func(c apps.CardRef) (uses uint16, allowed int) {
		t.Helper()
		f, err := o.File(ctx, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		i := f.Find(card.AppLibrary, library.Scope)
		if i < 0 {
			t.Fatalf("card %v: no library slot in %+v", c, f)
		}
		if j := f.Find(card.AppCampus, campus.Scope); j >= 0 && f.Slots[j].Uses != 0 {
			t.Errorf("card %v: the canteen spend %d carried, want 0 (a day's, not carried)", c, f.Slots[j].Uses)
		}
		uses = f.Slots[i].Uses
		for n := 0; n < 10; n++ {
			d := apps.Decide(&f, apps.Tap{App: card.AppLibrary, Scope: library.Scope, Place: 1, Action: apps.Loan, Date: date(t, "20250303"), Time: citycard.BCDTime{0x10}})
			if d.Reason != apps.Allowed {
				if d.Reason != apps.Limit {
					t.Fatalf("card %v, loan %d: %v, want limit", c, n+1, d.Reason)
				}
				break
			}
			f.Slots[d.Slot] = d.After
			allowed++
		}
		return uses, allowed
	}
	if uses, n := loans(nu); uses != 3 || n != 2 {
		t.Fatalf("the replacement: %d loans out, %d more allowed; want 3 out, 2 more (not 5)", uses, n)
	}
	// Replaced again before any stamp: what it was given.
	replace(3, nu, again)
	if uses, n := loans(again); uses != 3 || n != 2 {
		t.Fatalf("replaced again: %d loans out, %d more allowed; want 3, 2", uses, n)
	}
	if uses, n := loans(other); uses != 0 || n != 5 {
		t.Fatalf("a card never replaced, its file new: %d out, %d allowed; want 0, 5", uses, n)
	}
}

// registered is card management saying every card is registered.
type registered struct{}

func (registered) Grantable(context.Context, apps.CardRef) (bool, error) { return true, nil }

// testReplacedBike: a replacement carries the bike out of the old card
// (its last filed record a hire, whatever the upload order): the new
// card's file starts with the bike out since the hire, kept in the
// store through a change of terms and a second replacement before any
// stamp; no revocation while it is out; a card whose last record is a
// return carries none.
func testReplacedBike(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at).WithCards(registered{})
	bike := apps.App{ID: "nb-bike", Name: "Ningbo public bikes", Kind: card.AppBike, Scope: 3, Party: "nb-bike"}
	addApps(t, o, bike)
	old, back := ruleCard(1), ruleCard(2)
	nu, again, nu2 := ruleCard(7), ruleCard(8), ruleCard(9)
	terms := apps.Terms{ValidFrom: date(t, "20250101"), ValidTo: date(t, "20251231")}
	for _, c := range []apps.CardRef{old, back} {
		if _, _, err := o.Grant(ctx, bike.ID, c, terms); err != nil {
			t.Fatal(err)
		}
	}
	hired := citycard.BCDTime{0x10, 0x20, 0x30}
	rec := func(pos int64, c apps.CardRef, a apps.Action, counter uint16) apps.AppRecord {
		return apps.AppRecord{Pos: pos, App: bike.ID, Card: c, Terminal: citycard.TerminalID{5: byte(pos)}, TerminalSeq: uint32(pos), Action: a,
			Date: date(t, "20250302"), Time: hired, Place: 3001, Counter: counter}
	}
	// The old card's hire (counter 3) uploaded before its earlier
	// return (2); the other card hired and returned.
	if err := s.ApplyRecords(ctx, 4, []string{bike.ID}, []apps.AppRecord{rec(1, old, apps.Hire, 3), rec(2, old, apps.Return, 2), rec(3, back, apps.Hire, 1), rec(4, back, apps.Return, 2)}, nil); err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	replace := func(from, to apps.CardRef) {
		t.Helper()
		log := lifecycleLog{
			{Seq: seq + 1, At: at, Subject: "card:" + from.String(), Action: "report loss", After: `{"state":"lost"}`},
			{Seq: seq + 2, At: at.Add(time.Hour), Subject: "card:" + from.String(), Action: "replace", After: `{"state":"replaced","replaced_by":"` + to.ASN.String() + `"}`},
		}
		seq += 2
		if cur, _, err := o.Follow(ctx, log); err != nil || cur != seq {
			t.Fatalf("Follow = %d, %v; want %d", cur, err, seq)
		}
	}
	out := func(c apps.CardRef) card.Entitlement {
		t.Helper()
		f, err := o.File(ctx, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		i := f.Find(card.AppBike, bike.Scope)
		if i < 0 {
			t.Fatalf("card %v: no bike slot in %+v", c, f)
		}
		return f.Slots[i]
	}
	replace(old, nu)
	if e := out(nu); !e.Inside || e.LastDate != date(t, "20250302") || e.LastTime != hired {
		t.Fatalf("the replacement's bike slot: %+v, want the bike out since 2025-03-02 10:20:30", e)
	}
	if _, _, err := o.Revoke(ctx, bike.ID, nu); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("revoke with the carried bike out: %v, want Conflict", err)
	}
	if _, _, err := o.Grant(ctx, bike.ID, nu, apps.Terms{ValidFrom: date(t, "20250101"), ValidTo: date(t, "20261231")}); err != nil {
		t.Fatal(err)
	}
	replace(nu, again)
	if e := out(again); !e.Inside || e.LastTime != hired || e.ValidTo != date(t, "20261231") {
		t.Fatalf("replaced again after a change of terms: %+v, want the bike still out, the new terms", e)
	}
	replace(back, nu2)
	if e := out(nu2); e.Inside || e.LastDate != (citycard.BCDDate{}) {
		t.Fatalf("a card whose bike came back: %+v, want none out", e)
	}
}
