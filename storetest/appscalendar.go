package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// testCalendar: a school's calendar (holidays, make-up days) stored and
// read back by date, refused whole when bad (nothing changed), bounded
// at apps.CalendarDaysMax; attendance on a day that is not a school day
// (a weekend, a holiday) reports nobody absent or late and says so, on
// a make-up Sunday pupils are absent as on any school day.
func testCalendar(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 7, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	addApps(t, o, library, campus)
	year := apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250715"), Class: 301}
	for n := byte(1); n <= 2; n++ {
		if _, _, err := o.Grant(ctx, campus.ID, ruleCard(n), year); err != nil {
			t.Fatal(err)
		}
	}
	// Card 1 at the Saturday club, 8 March, at 09:30: after the late time.
	j := journal{ruleEntry(t, 1, campus.Kind, campus.Scope, 1, apps.CheckIn, "20250308", citycard.BCDTime{0x09, 0x30}, 0)}
	if _, err := o.IndexRecords(ctx, j); err != nil {
		t.Fatal(err)
	}
	attend := func(d string) apps.Attendance {
		t.Helper()
		rep, err := o.Attendance(ctx, campus.ID, 301, date(t, d), citycard.BCDTime{})
		if err != nil || len(rep.Pupils) != 2 {
			t.Fatalf("attendance on %s: %+v, %v", d, rep, err)
		}
		return rep
	}
	// No calendar: weekdays.
	if rep := attend("20250308"); rep.SchoolDay || rep.Absent != 0 || rep.Lates != 0 || rep.Present != 1 ||
		rep.Pupils[0].Presence != apps.Present || rep.Pupils[1].Presence != apps.NoSchool {
		t.Fatalf("Saturday: %+v; want no school day, card 1 present, card 2 no_school, none absent", rep)
	}
	if rep := attend("20250309"); rep.SchoolDay || rep.Absent != 0 || rep.Pupils[0].Presence != apps.NoSchool {
		t.Fatalf("Sunday: %+v; want no school day, none absent", rep)
	}
	if rep := attend("20250303"); !rep.SchoolDay || rep.Absent != 2 {
		t.Fatalf("Monday: %+v; want a school day, both absent", rep)
	}
	cal := apps.Calendar{Holidays: []citycard.BCDDate{date(t, "20250404"), date(t, "20250303")}, MakeUpDays: []citycard.BCDDate{date(t, "20250309")}}
	got, err := o.SetCalendar(ctx, campus.ID, cal)
	if err != nil {
		t.Fatal(err)
	}
	want := apps.Calendar{Holidays: []citycard.BCDDate{date(t, "20250303"), date(t, "20250404")}, MakeUpDays: []citycard.BCDDate{date(t, "20250309")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SetCalendar = %+v, want %+v (by date)", got, want)
	}
	if got, err := o.Calendar(ctx, campus.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Calendar = %+v, %v; want %+v", got, err, want)
	}
	if rep := attend("20250303"); rep.SchoolDay || rep.Absent != 0 || rep.Pupils[1].Presence != apps.NoSchool {
		t.Fatalf("a holiday Monday: %+v; want no school day, none absent", rep)
	}
	if rep := attend("20250309"); !rep.SchoolDay || rep.Absent != 2 {
		t.Fatalf("a make-up Sunday: %+v; want a school day, both absent", rep)
	}
	if rep := attend("20250304"); !rep.SchoolDay || rep.Absent != 2 {
		t.Fatalf("a Tuesday: %+v; want a school day", rep)
	}

	// Refused whole, nothing changed.
	d := func(s string) citycard.BCDDate { return date(t, s) }
	for name, bad := range map[string]apps.Calendar{
		"a holiday on a Saturday":   {Holidays: []citycard.BCDDate{d("20250308")}},
		"a make-up day on a Monday": {MakeUpDays: []citycard.BCDDate{d("20250310")}},
		"a holiday twice":           {Holidays: []citycard.BCDDate{d("20250310"), d("20250310")}},
		"a day that is none":        {Holidays: []citycard.BCDDate{{0x20, 0x25, 0x02, 0x30}}},
		"one too many":              {Holidays: weekdays(apps.CalendarDaysMax)[:apps.CalendarDaysMax], MakeUpDays: []citycard.BCDDate{d("20250309")}},
	} {
		if _, err := o.SetCalendar(ctx, campus.ID, bad); citycard.KindOf(err) != citycard.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, err := o.SetCalendar(ctx, library.ID, apps.Calendar{}); citycard.KindOf(err) != citycard.Invalid {
		t.Errorf("a library's calendar: %v, want invalid", err)
	}
	if _, err := o.SetCalendar(ctx, "nb-none", apps.Calendar{}); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("no such application: %v, want not found", err)
	}
	if got, err := o.Calendar(ctx, campus.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after refusals: %+v, %v; want %+v unchanged", got, err, want)
	}
	// The bound: CalendarDaysMax days are taken.
	full := apps.Calendar{Holidays: weekdays(apps.CalendarDaysMax)}
	if _, err := o.SetCalendar(ctx, campus.ID, full); err != nil {
		t.Fatalf("%d days: %v", apps.CalendarDaysMax, err)
	}
	if got, err := o.Calendar(ctx, campus.ID); err != nil || len(got.Holidays) != apps.CalendarDaysMax || len(got.MakeUpDays) != 0 {
		t.Fatalf("%d days read back: %d, %v", apps.CalendarDaysMax, len(got.Holidays), err)
	}
	// None: weekdays again.
	if _, err := o.SetCalendar(ctx, campus.ID, apps.Calendar{}); err != nil {
		t.Fatal(err)
	}
	if rep := attend("20250303"); !rep.SchoolDay {
		t.Fatalf("no calendar, a Monday: %+v; want a school day", rep)
	}
}

// weekdays returns the first n weekdays from 1 January 2030.
func weekdays(n int) []citycard.BCDDate {
	var out []citycard.BCDDate
	for t := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC); len(out) < n; t = t.AddDate(0, 0, 1) {
		if t.Weekday() != time.Saturday && t.Weekday() != time.Sunday {
			d, _ := citycard.DateTime(t)
			out = append(out, d)
		}
	}
	return out
}
