package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/record"
)

// ruleEntry is a journaled application record of kind at scope: action
// by card asn on day at tm, leaving uses.
func ruleEntry(t *testing.T, pos int64, kind card.Application, scope uint32, asn byte, action apps.Action, day string, tm citycard.BCDTime, uses uint32) apps.JournalEntry {
	t.Helper()
	r := record.Record{Type: citycard.TxApplication, Issuer: citycard.IssuerCode{0x33, 0x01}, ASN: citycard.ASN{9: asn}, Counter: uint16(pos),
		TerminalID: citycard.TerminalID{5: 2}, PSAMID: citycard.PSAMID{9: 2}, KeyVersion: 1, Status: record.StatusComplete, TerminalSeq: uint32(pos),
		Date: date(t, day), Time: tm, Network: uint16(kind), Line: scope, Station: 9, EntryStation: uses, Product: uint16(action)}
	return apps.JournalEntry{Pos: pos, Application: true, Raw: r.AppendBinary(nil)}
}

// ruleCard is the card of ruleEntry's asn.
func ruleCard(asn byte) apps.CardRef {
	return apps.CardRef{Issuer: citycard.IssuerCode{0x33, 0x01}, ASN: citycard.ASN{9: asn}}
}

// testCanteenLimit: the school sets a pupil's daily canteen limit (0 to
// 65535 fen, each bound tested): the card's file version moves and its
// slot carries the limit, but the school's gate version of the card does
// not (a stale card is not refused at the gate); on filing, a canteen
// record whose day's spend passes the limit in force is flagged, the one
// at the limit is not, and both are kept.
func testCanteenLimit(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	addApps(t, o, library, campus)
	pupil, other := ruleCard(1), ruleCard(2)
	if _, _, err := o.Grant(ctx, campus.ID, pupil, apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Class: 3}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Grant(ctx, library.ID, other, apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Limit: 5}); err != nil {
		t.Fatal(err)
	}
	gates := func() []apps.GateVersion {
		t.Helper()
		vs, err := o.GateVersions(ctx, campus.Party, card.AppCampus, campus.Scope, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	before := gates()
	if len(before) != 1 || before[0].Version != 1 {
		t.Fatalf("the school's gate versions after the grant: %+v", before)
	}
	for _, limit := range []int64{-1, apps.CanteenLimitMaxFen + 1} {
		if _, _, err := o.SetCanteenLimit(ctx, campus.ID, pupil, limit); citycard.KindOf(err) != citycard.Invalid {
			t.Errorf("a limit of %d fen: %v, want invalid", limit, err)
		}
	}
	if _, _, err := o.SetCanteenLimit(ctx, library.ID, other, 100); citycard.KindOf(err) != citycard.Invalid {
		t.Errorf("a canteen limit at the library: %v, want invalid", err)
	}
	if _, _, err := o.SetCanteenLimit(ctx, campus.ID, other, 100); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("a canteen limit on another application's card: %v, want not found", err)
	}
	for i, limit := range []int64{apps.CanteenLimitMaxFen, 0, 1000} {
		at = at.Add(time.Minute)
		g, v, err := o.SetCanteenLimit(ctx, campus.ID, pupil, limit)
		if err != nil || v != uint32(2+i) || g.Slot.Limit != uint16(limit) || g.Slot.Class != 3 || g.State != apps.Active || !g.ChangedAt.Equal(at) {
			t.Fatalf("a limit of %d fen: %+v, version %d, %v; want version %d", limit, g, v, err, 2+i)
		}
	}
	f, err := o.File(ctx, pupil, 1)
	if err != nil || f.Version != 4 || len(f.Slots) != 1 || f.Slots[0].Limit != 1000 {
		t.Fatalf("the pupil's file: %+v, %v; want version 4 with the limit 1000", f, err)
	}
	if after := gates(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("the school's gate versions after the limit: %+v, want %+v unchanged", after, before)
	}

	j := journal{
		ruleEntry(t, 1, card.AppCampus, campus.Scope, 1, apps.Canteen, "20250301", citycard.BCDTime{0x12}, 1000), // at the limit
		ruleEntry(t, 2, card.AppCampus, campus.Scope, 1, apps.Canteen, "20250301", citycard.BCDTime{0x12, 0x30}, 1001),
		ruleEntry(t, 3, card.AppCampus, campus.Scope, 1, apps.CheckOut, "20250301", citycard.BCDTime{0x16}, 1001), // not a meal
		ruleEntry(t, 4, card.AppCampus, campus.Scope, 2, apps.Canteen, "20250301", citycard.BCDTime{0x12}, 5000),  // no grant: no limit known
	}
	if _, err := o.IndexRecords(ctx, j); err != nil {
		t.Fatal(err)
	}
	recs, err := o.Records(ctx, campus.ID, 0, 10)
	if err != nil || len(recs) != 4 {
		t.Fatalf("the school's records: %+v, %v; want all 4 kept", recs, err)
	}
	for i, want := range []string{"", apps.FlagCanteenLimit, "", ""} {
		if recs[i].Flag != want {
			t.Errorf("record %d: flag %q, want %q", recs[i].Pos, recs[i].Flag, want)
		}
	}
	if recs[1].Uses != 1001 || recs[1].Action != apps.Canteen {
		t.Errorf("the flagged record: %+v", recs[1])
	}
	at = at.Add(time.Minute)
	if _, _, err := o.Revoke(ctx, campus.ID, pupil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.SetCanteenLimit(ctx, campus.ID, pupil, 500); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("a limit on a revoked grant: %v, want conflict", err)
	}
}

// testPeriods: a venue's periods stored and read back by start; an
// online admission check refuses venue_full once the admissions received
// in the tap's period reach its capacity (the capacity-th allowed, the
// next not), a record at a period's end counted in the next; a time in
// no period has no capacity; a venue with periods needs the time.
func testPeriods(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	venue := apps.App{ID: "nb-pool", Name: "Ningbo Pool", Kind: card.AppVenue, Scope: 3, Party: "nb-sport"}
	addApps(t, o, venue, campus)
	hms := func(h, m, s byte) citycard.BCDTime { return citycard.BCDTime{h, m, s} }
	ps := []apps.Period{
		{Start: hms(0x08, 0, 0), End: hms(0x10, 0, 0), Capacity: 2},
		{Start: hms(0x10, 0, 0), End: hms(0x12, 0, 0), Capacity: 3},
		{Start: hms(0x20, 0, 0), End: citycard.BCDTime{0x24}, Capacity: 1},
	}
	if err := o.SetPeriods(ctx, campus.ID, ps); citycard.KindOf(err) != citycard.Invalid {
		t.Errorf("periods at a school: %v, want invalid", err)
	}
	if err := o.SetPeriods(ctx, "nb-none", ps); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("periods of no application: %v, want not found", err)
	}
	if err := o.SetPeriods(ctx, venue.ID, ps[:1]); err != nil {
		t.Fatal(err)
	}
	if err := o.SetPeriods(ctx, venue.ID, ps); err != nil {
		t.Fatal(err)
	}
	got, err := o.Periods(ctx, venue.ID)
	if err != nil || len(got) != 3 || got[0] != ps[0] || got[1] != ps[1] || got[2] != ps[2] {
		t.Fatalf("Periods = %+v, %v; want %+v", got, err, ps)
	}
	swimmer := ruleCard(7)
	if _, _, err := o.Grant(ctx, venue.ID, swimmer, apps.Terms{ValidFrom: date(t, "20250101"), ValidTo: date(t, "20251231"), Limit: 30}); err != nil {
		t.Fatal(err)
	}
	check := func(tm *citycard.BCDTime) (apps.Reason, error) {
		t.Helper()
		r, _, err := o.CheckAt(ctx, venue.ID, swimmer, apps.Admit, date(t, "20250301"), tm)
		return r, err
	}
	nine, ten, night := hms(0x09, 0, 0), hms(0x10, 0, 0), hms(0x23, 0x59, 0x59)
	if r, err := check(&nine); err != nil || r != apps.Allowed {
		t.Fatalf("an empty period: %v %v", r, err)
	}
	j := journal{
		ruleEntry(t, 1, card.AppVenue, 3, 1, apps.Admit, "20250301", hms(0x08, 0, 0), 1),
		ruleEntry(t, 2, card.AppVenue, 3, 2, apps.Admit, "20250228", hms(0x09, 0, 0), 1), // the day before
		ruleEntry(t, 3, card.AppVenue, 3, 3, apps.Admit, "20250301", hms(0x10, 0, 0), 1), // the next period's
		ruleEntry(t, 4, card.AppVenue, 4, 4, apps.Admit, "20250301", hms(0x09, 0, 0), 1), // another venue's
	}
	if _, err := o.IndexRecords(ctx, j); err != nil {
		t.Fatal(err)
	}
	if r, err := check(&nine); err != nil || r != apps.Allowed {
		t.Fatalf("1 admission of 2: %v %v, want allowed", r, err)
	}
	j = append(j, ruleEntry(t, 5, card.AppVenue, 3, 5, apps.Admit, "20250301", hms(0x09, 0x59, 0x59), 1))
	if _, err := o.IndexRecords(ctx, j); err != nil {
		t.Fatal(err)
	}
	if r, err := check(&nine); err != nil || r != apps.VenueFull {
		t.Fatalf("2 admissions of 2: %v %v, want venue_full", r, err)
	}
	if r, err := check(&ten); err != nil || r != apps.Allowed {
		t.Fatalf("the next period, 1 of 3: %v %v, want allowed", r, err)
	}
	if r, err := check(&night); err != nil || r != apps.Allowed {
		t.Fatalf("the last period's last second: %v %v, want allowed", r, err)
	}
	noon := hms(0x12, 0x30, 0)
	if r, err := check(&noon); err != nil || r != apps.Allowed {
		t.Fatalf("a time in no period: %v %v, want allowed (no capacity)", r, err)
	}
	if _, err := check(nil); citycard.KindOf(err) != citycard.Invalid {
		t.Errorf("no time at a venue with periods: %v, want invalid", err)
	}
	if err := o.SetPeriods(ctx, venue.ID, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := check(nil); err != nil || r != apps.Allowed {
		t.Fatalf("no periods, no time: %v %v, want allowed", r, err)
	}
}

// testClasses: a school's classes of a day are those with a pupil whose
// grant covers it (active or blocked, not revoked), by class, each once;
// another school's and a library's are not; a library has none to ask.
func testClasses(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	other := apps.App{ID: "nb-school-8", Name: "No. 8 Middle School", Kind: card.AppCampus, Scope: 8, Party: "nb-edu"}
	addApps(t, o, library, campus, other)
	year := func(class uint16) apps.Terms {
		return apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Class: class}
	}
	for i, g := range []struct {
		app   string
		class uint16
		terms apps.Terms
	}{
		{campus.ID, 302, year(302)}, {campus.ID, 301, year(301)}, {campus.ID, 301, year(301)},
		{campus.ID, 303, apps.Terms{ValidFrom: date(t, "20250302"), ValidTo: date(t, "20250731"), Class: 303}}, // from tomorrow
		{campus.ID, 304, year(304)}, // revoked below
		{other.ID, 305, year(305)},
	} {
		if _, _, err := o.Grant(ctx, g.app, ruleCard(byte(10+i)), g.terms); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := o.Revoke(ctx, campus.ID, ruleCard(14)); err != nil {
		t.Fatal(err)
	}
	cs, more, err := o.Classes(ctx, campus.ID, date(t, "20250301"))
	if err != nil || more || len(cs) != 2 || cs[0] != 301 || cs[1] != 302 {
		t.Fatalf("the school's classes on 1 March: %v %v %v; want 301, 302", cs, more, err)
	}
	if cs, _, err := o.Classes(ctx, campus.ID, date(t, "20250302")); err != nil || len(cs) != 3 || cs[2] != 303 {
		t.Fatalf("the school's classes on 2 March: %v %v; want 301, 302, 303", cs, err)
	}
	if _, _, err := o.Classes(ctx, library.ID, date(t, "20250301")); citycard.KindOf(err) != citycard.Invalid {
		t.Errorf("the library's classes: %v, want invalid", err)
	}
	// The bound: apps.AttendanceClassesMax classes listed whole, one more cut.
	for class := uint16(1); class <= apps.AttendanceClassesMax-1; class++ {
		c := apps.CardRef{Issuer: citycard.IssuerCode{0x33, 0x01}, ASN: citycard.ASN{7: 1, 8: byte(class >> 8), 9: byte(class)}}
		if class == apps.AttendanceClassesMax-1 {
			if cs, more, err := o.Classes(ctx, campus.ID, date(t, "20250301")); err != nil || more || len(cs) != apps.AttendanceClassesMax {
				t.Fatalf("%d classes: %d listed, more %v, %v", apps.AttendanceClassesMax, len(cs), more, err)
			}
		}
		if _, _, err := o.Grant(ctx, campus.ID, c, year(class)); err != nil {
			t.Fatal(err)
		}
	}
	if cs, more, err := o.Classes(ctx, campus.ID, date(t, "20250301")); err != nil || !more || len(cs) != apps.AttendanceClassesMax || cs[0] != 1 {
		t.Fatalf("%d classes: %d listed, more %v, %v; want the first %d and more", apps.AttendanceClassesMax+1, len(cs), more, err, apps.AttendanceClassesMax)
	}
}
