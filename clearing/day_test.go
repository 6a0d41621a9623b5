package clearing

import (
	"testing"
	"time"

	"github.com/citycard/citycard"
)

func cst(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, citycard.ChinaTime)
}

func TestDayString(t *testing.T) {
	for _, s := range []string{"1970-01-01", "2026-12-01", "2028-02-29", "2099-12-31"} {
		d, err := ParseDay(s)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != s {
			t.Errorf("ParseDay(%q).String() = %q", s, d)
		}
	}
	if d := DayOf(2026, 12, 31); d.Next().String() != "2027-01-01" || d.Compact() != "20261231" {
		t.Errorf("2026-12-31: next %v, compact %v", d.Next(), d.Compact())
	}
	for _, s := range []string{"", "2026-13-01", "2026-02-30", "20261201", "2026-12-01T00:00"} {
		if _, err := ParseDay(s); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("ParseDay(%q): %v, want Invalid", s, err)
		}
	}
}

// The issue: "A clearing cycle per business day (cut-off configurable,
// default 24:00 Asia/Shanghai)".
func TestCalendarDay(t *testing.T) {
	def := DefaultCalendar()
	late := Calendar{Zone: citycard.ChinaTime, Cutoff: 22 * time.Hour}
	early := Calendar{Zone: citycard.ChinaTime, Cutoff: CutoffMin}
	for _, c := range []struct {
		cal  Calendar
		at   time.Time
		want string
	}{
		{def, cst(2026, 12, 1, 0, 0, 0), "2026-12-01"},
		{def, cst(2026, 12, 1, 23, 59, 59).Add(999 * time.Millisecond), "2026-12-01"},
		{def, cst(2026, 12, 2, 0, 0, 0), "2026-12-02"},                      // 24:00 is the next day's first instant
		{def, time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC), "2026-12-01"}, // 00:00 in Shanghai
		{def, time.Date(2026, 11, 30, 15, 59, 59, 0, time.UTC), "2026-11-30"},
		{late, cst(2026, 12, 1, 21, 59, 59), "2026-12-01"},
		{late, cst(2026, 12, 1, 22, 0, 0), "2026-12-02"},
		{late, cst(2026, 12, 2, 21, 59, 59), "2026-12-02"},
		{early, cst(2026, 12, 1, 0, 0, 59), "2026-12-01"},
		{early, cst(2026, 12, 1, 0, 1, 0), "2026-12-02"},
		{def, cst(2026, 12, 31, 23, 59, 59), "2026-12-31"},
		{def, cst(2027, 1, 1, 0, 0, 0), "2027-01-01"},
	} {
		if got := c.cal.Day(c.at).String(); got != c.want {
			t.Errorf("cut-off %v: Day(%v) = %v, want %v", c.cal.Cutoff, c.at, got, c.want)
		}
		d := c.cal.Day(c.at)
		if c.at.Before(c.cal.Start(d)) || !c.at.Before(c.cal.End(d)) {
			t.Errorf("cut-off %v: %v outside its day %v [%v, %v)", c.cal.Cutoff, c.at, d, c.cal.Start(d), c.cal.End(d))
		}
	}
}

func TestCalendarValidate(t *testing.T) {
	for _, c := range []struct {
		cutoff time.Duration
		ok     bool
	}{
		{CutoffMin, true}, {CutoffMax, true}, {22 * time.Hour, true},
		{CutoffMin - time.Nanosecond, false}, {0, false}, {CutoffMax + time.Minute, false},
		{22*time.Hour + 30*time.Second, false},
	} {
		err := Calendar{Zone: citycard.ChinaTime, Cutoff: c.cutoff}.Validate()
		if (err == nil) != c.ok || err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("cut-off %v: %v, want ok=%v", c.cutoff, err, c.ok)
		}
	}
	if err := (Calendar{Cutoff: CutoffMax}).Validate(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("no zone: %v", err)
	}
}

// The issue: "a record belongs to the cycle of its acceptance, so a record
// arriving after its day's cycle closed goes into the next open one, never
// into a closed one".
func TestCalendarPlace(t *testing.T) {
	cal := DefaultCalendar()
	d1, d2, d3 := DayOf(2026, 12, 1), DayOf(2026, 12, 2), DayOf(2026, 12, 3)
	for _, c := range []struct {
		at        time.Time
		lastFixed Day
		want      Day
	}{
		{cst(2026, 12, 1, 12, 0, 0), 0, d1},        // nothing fixed yet: its own day
		{cst(2026, 12, 1, 23, 59, 59), d1 - 1, d1}, // the day before is fixed, its own is open
		{cst(2026, 12, 1, 23, 59, 59), d1, d2},     // its day is fixed: the next open one
		{cst(2026, 12, 1, 23, 59, 59), d2, d3},     // two days fixed: the one after them
		{cst(2026, 12, 3, 0, 0, 0), d2, d3},        // a record of a later day: its own
		{cst(2026, 11, 20, 8, 0, 0), d2, d3},       // very late: the next open one
	} {
		got := cal.Place(c.at, c.lastFixed)
		if got != c.want {
			t.Errorf("Place(%v, fixed to %v) = %v, want %v", c.at, c.lastFixed, got, c.want)
		}
		if got <= c.lastFixed {
			t.Errorf("Place(%v) = %v: into a fixed cycle (fixed to %v)", c.at, got, c.lastFixed)
		}
	}
}
