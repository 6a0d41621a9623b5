package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// testAttendance: a class's day from the school's check-ins and
// check-outs: present at the late time to the second, late a second
// after, absent without a check-in; the first check-in and the last
// check-out; the class's pupils only (another class, a revoked grant, a
// grant not yet or no longer valid that day are not in it; one valid to
// that day is); the day's records only, the school's only; the store's
// limits at their boundary; and what is refused.
func testAttendance(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 3, 7, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	addApps(t, o, campus, library)
	cardN := func(n int) apps.CardRef {
		c, err := apps.ParseCard(fmt.Sprintf("3301000000000000/330100000000000000%02d", n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	year := apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250715"), Class: 301}
	grant := func(n int, terms apps.Terms) {
		t.Helper()
		if _, _, err := o.Grant(ctx, campus.ID, cardN(n), terms); err != nil {
			t.Fatal(err)
		}
	}
	for n := 1; n <= 4; n++ {
		grant(n, year)
	}
	other := year
	other.Class = 302
	grant(5, other)
	grant(6, year)
	if _, _, err := o.Revoke(ctx, campus.ID, cardN(6)); err != nil {
		t.Fatal(err)
	}
	later, ended, endsToday := year, year, year
	later.ValidFrom = date(t, "20250304")
	ended.ValidTo = date(t, "20250302")
	endsToday.ValidTo = date(t, "20250303")
	grant(7, later)
	grant(8, ended)
	grant(9, endsToday)
	if _, _, err := o.Grant(ctx, library.ID, cardN(1), apps.Terms{ValidFrom: year.ValidFrom, ValidTo: year.ValidTo, Limit: 5}); err != nil {
		t.Fatal(err)
	}

	day := date(t, "20250303")
	var recs []apps.AppRecord
	rec := func(app string, n int, a apps.Action, d string, hms citycard.BCDTime) {
		recs = append(recs, apps.AppRecord{Pos: int64(len(recs) + 1), App: app, Card: cardN(n), Terminal: citycard.TerminalID{0x33, 1, 0, 0, 0, 1},
			TerminalSeq: uint32(len(recs) + 1), Action: a, Date: date(t, d), Time: hms, Place: 1, Counter: uint16(len(recs) + 1)})
	}
	hms := func(h, m, s byte) citycard.BCDTime { return citycard.BCDTime{h, m, s} }
	rec(campus.ID, 1, apps.CheckIn, "20250302", hms(0x07, 0x00, 0x00)) // the day before
	rec(campus.ID, 1, apps.CheckIn, "20250303", hms(0x07, 0x50, 0x00))
	rec(campus.ID, 1, apps.CheckOut, "20250303", hms(0x11, 0x50, 0x00))
	rec(campus.ID, 1, apps.CheckIn, "20250303", hms(0x12, 0x30, 0x00))
	rec(campus.ID, 1, apps.CheckOut, "20250303", hms(0x16, 0x30, 0x00))
	rec(library.ID, 1, apps.Loan, "20250303", hms(0x17, 0x30, 0x00)) // another application's
	rec(campus.ID, 2, apps.CheckIn, "20250303", hms(0x08, 0x00, 0x00))
	rec(campus.ID, 3, apps.CheckIn, "20250303", hms(0x08, 0x00, 0x01))
	rec(campus.ID, 5, apps.CheckIn, "20250303", hms(0x07, 0x00, 0x00)) // class 302
	rec(campus.ID, 6, apps.CheckIn, "20250303", hms(0x07, 0x00, 0x00)) // revoked
	rec(campus.ID, 9, apps.CheckIn, "20250303", hms(0x00, 0x00, 0x00)) // at midnight: a check-in all the same
	if err := s.ApplyRecords(ctx, int64(len(recs)), []string{campus.ID, library.ID}, recs, nil); err != nil {
		t.Fatal(err)
	}

	rep, err := o.Attendance(ctx, campus.ID, 301, day, citycard.BCDTime{})
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		n        int
		presence apps.Presence
		in, out  string
		taps     int
	}
	want := []line{{1, apps.Present, "075000", "163000", 4}, {2, apps.Present, "080000", "", 1}, {3, apps.Late, "080001", "", 1}, {4, apps.Absent, "", "", 0}, {9, apps.Present, "000000", "", 1}}
	if len(rep.Pupils) != len(want) || rep.Present != 3 || rep.Lates != 1 || rep.Absent != 1 || rep.Late != apps.AttendanceLateDefault {
		t.Fatalf("class 301 on 3 March: %+v; want cards 1, 2, 3, 4, 9: 3 present, 1 late, 1 absent", rep)
	}
	rows := rep.Rows()
	for i, w := range want {
		p, r := rep.Pupils[i], rows[i]
		if p.Card != cardN(w.n) || p.Presence != w.presence || r[6] != w.in || r[7] != w.out || p.Taps != w.taps {
			t.Errorf("pupil %d: %+v %v; want card %d %v in %q out %q taps %d", i, p, r, w.n, w.presence, w.in, w.out, w.taps)
		}
	}
	// The school's late time: 07:50 on time to the second, 08:00 late.
	rep, err = o.Attendance(ctx, campus.ID, 301, day, hms(0x07, 0x50, 0x00))
	if err != nil || rep.Pupils[0].Presence != apps.Present || rep.Pupils[1].Presence != apps.Late || rep.Present != 2 || rep.Lates != 2 {
		t.Fatalf("late after 07:50: %+v, %v", rep, err)
	}
	if rep, err := o.Attendance(ctx, campus.ID, 302, day, citycard.BCDTime{}); err != nil || len(rep.Pupils) != 1 || rep.Pupils[0].Card != cardN(5) || rep.Present != 1 {
		t.Fatalf("class 302: %+v, %v; want card 5 present", rep, err)
	}

	// The store's limits at their boundary.
	if g, err := s.ClassGrants(ctx, campus.ID, 301, day, 5); err != nil || len(g) != 5 {
		t.Fatalf("ClassGrants with limit 5: %d, %v; want 5", len(g), err)
	}
	if g, err := s.ClassGrants(ctx, campus.ID, 301, day, 4); err != nil || len(g) != 4 || g[3].Card != cardN(4) {
		t.Fatalf("ClassGrants with limit 4: %+v, %v; want the first 4 by card", g, err)
	}
	if r, err := s.ClassRecords(ctx, campus.ID, 301, day, 7); err != nil || len(r) != 7 {
		t.Fatalf("ClassRecords with limit 7: %d, %v; want 7 (cards 1, 2, 3, 6, 9)", len(r), err)
	}
	if r, err := s.ClassRecords(ctx, campus.ID, 301, day, 6); err != nil || len(r) != 6 || r[5].Card != cardN(3) {
		t.Fatalf("ClassRecords with limit 6: %+v, %v; want the first 6 by position", r, err)
	}

	for name, call := range map[string]func() error{
		"class 0":       func() error { _, err := o.Attendance(ctx, campus.ID, 0, day, citycard.BCDTime{}); return err },
		"late 25:00":    func() error { _, err := o.Attendance(ctx, campus.ID, 301, day, hms(0x25, 0, 0)); return err },
		"the library's": func() error { _, err := o.Attendance(ctx, library.ID, 301, day, citycard.BCDTime{}); return err },
		"a day that is none": func() error {
			_, err := o.Attendance(ctx, campus.ID, 301, citycard.BCDDate{0x20, 0x25, 0x02, 0x30}, citycard.BCDTime{})
			return err
		},
	} {
		if err := call(); citycard.KindOf(err) != citycard.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, err := o.Attendance(ctx, "nb-school-9", 301, day, citycard.BCDTime{}); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("no such application: %v, want not found", err)
	}
}
