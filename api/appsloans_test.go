package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/cms"
)

// TestReplacementKeepsLoans (a replacement forgot library loans): a
// borrower takes 3 books of 5 on a real card at the library's gate, the
// loans are filed, the card is reported lost and replaced at the
// counter; the new card, its file written new at the hand-over, may
// borrow 2 more at the gate, not 5.
func TestReplacementKeepsLoans(t *testing.T) {
	gf := withGate(t)
	ctx := context.Background()
	old := gf.issued(t, gf.w.asn(1).String(), 1000)
	if code, v := gf.call(t, "POST", "nb-library", old.String()+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":5}`); code != http.StatusOK {
		t.Fatalf("grant: %d %v", code, v)
	}
	cd := gf.w.card(gf.o, 1, 0)
	var recs []apps.AppRecord
	for i := 0; i < 3; i++ {
		r := gf.tap(t, cd, apps.Allowed).Record
		recs = append(recs, apps.AppRecord{Pos: int64(i + 1), App: "nb-library", Card: apps.CardRef{Issuer: r.Issuer, ASN: r.ASN}, Terminal: r.TerminalID,
			TerminalSeq: r.TerminalSeq, Action: apps.Action(r.Product), Date: r.Date, Time: r.Time, Place: r.Station, Uses: r.EntryStation, Counter: r.Counter})
	}
	if err := gf.db.Apps().ApplyRecords(ctx, 3, []string{"nb-library", "nb-school-7"}, recs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := gf.m.Move(ctx, cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}, testIssuer, old, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	nu := gf.w.asn(2)
	if code, v := gf.cmsFix.call(t, "POST", cardURL(old, "replace"), "clerk", `{`+cash("replace-loans")+`,"new_asn":"`+nu.String()+`"}`); code != http.StatusOK {
		t.Fatalf("replace: %d %v", code, v)
	}
	if _, _, err := gf.o.Follow(ctx, CMSLifecycle{Store: gf.db.CMS()}); err != nil {
		t.Fatal(err)
	}
	fresh := gf.w.card(gf.o, 2, 0) // the hand-over: the new card's file written new
	if got := fresh.State().Entitlements.Slots[0].Uses; got != 3 {
		t.Fatalf("the new card's file: %d loans out, want 3", got)
	}
	gf.tap(t, fresh, apps.Allowed)
	gf.tap(t, fresh, apps.Allowed)
	gf.tap(t, fresh, apps.Limit)
}
