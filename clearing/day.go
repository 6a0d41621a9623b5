package clearing

import (
	"fmt"
	"strconv"
	"time"

	"github.com/citycard/citycard"
)

// Day is a business day, the name of its cycle: days since 1970-01-01 in
// the calendar's zone. Its String form is YYYY-MM-DD.
type Day int32

// DayOf returns the day of the civil date y-m-d.
func DayOf(y int, m time.Month, d int) Day {
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// ParseDay parses YYYY-MM-DD. Kind Invalid.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, citycard.E("clearing.ParseDay", citycard.Invalid, "day %q: want YYYY-MM-DD", s)
	}
	return DayOf(t.Year(), t.Month(), t.Day()), nil
}

// civil returns the day's date.
func (d Day) civil() (int, time.Month, int) {
	return time.Unix(int64(d)*86400, 0).UTC().Date()
}

// String returns YYYY-MM-DD.
func (d Day) String() string {
	y, m, dd := d.civil()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}

// Compact returns YYYYMMDD, the form identifiers in files carry.
func (d Day) Compact() string {
	y, m, dd := d.civil()
	return fmt.Sprintf("%04d%02d%02d", y, m, dd)
}

// Next returns the day after d.
func (d Day) Next() Day { return d + 1 }

// The bounds of a calendar's cut-off.
const (
	CutoffMin     = time.Minute    // the earliest cut-off: 00:01
	CutoffMax     = 24 * time.Hour // the latest cut-off: 24:00, the default
	DefaultCutoff = CutoffMax
)

// Calendar says which business day an instant belongs to: day D runs
// from the cut-off of day D-1 (inclusive) to the cut-off of day D
// (exclusive), the cut-off counted from D's midnight in Zone. With the
// default cut-off, 24:00, day D is D's civil date; with a cut-off of
// 22:00, day D begins at 22:00 on D-1.
type Calendar struct {
	Zone   *time.Location
	Cutoff time.Duration // from midnight, CutoffMin to CutoffMax, whole minutes
}

// DefaultCalendar is the cycle calendar of DESIGN.md: cut-off 24:00,
// Asia/Shanghai (China Standard Time, UTC+8, which keeps no daylight
// saving, so a fixed zone names it without the tz database).
func DefaultCalendar() Calendar { return Calendar{Zone: citycard.ChinaTime, Cutoff: DefaultCutoff} }

// Validate checks the zone and the cut-off. Kind Invalid.
func (c Calendar) Validate() error {
	const op = "clearing.Calendar.Validate"
	if c.Zone == nil {
		return citycard.E(op, citycard.Invalid, "calendar: no zone")
	}
	if c.Cutoff < CutoffMin || c.Cutoff > CutoffMax || c.Cutoff%time.Minute != 0 {
		return citycard.E(op, citycard.Invalid, "calendar: cut-off %v: want whole minutes from %v to %v after midnight", c.Cutoff, CutoffMin, CutoffMax)
	}
	return nil
}

// End returns the instant day d's cycle closes to records: d's cut-off.
// A record accepted at End(d) belongs to d+1.
func (c Calendar) End(d Day) time.Time {
	y, m, dd := d.civil()
	return time.Date(y, m, dd, 0, 0, 0, 0, c.Zone).Add(c.Cutoff)
}

// Start returns the first instant of day d: the cut-off of d-1.
func (c Calendar) Start(d Day) time.Time { return c.End(d - 1) }

// Day returns the business day of instant t.
func (c Calendar) Day(t time.Time) Day {
	y, m, dd := t.In(c.Zone).Date()
	d := DayOf(y, m, dd)
	// t is at or after d's midnight, hence after d-1's cut-off (which is
	// at most 24:00): it is d's unless it is at or past d's cut-off.
	if !t.Before(c.End(d)) {
		d++
	}
	return d
}

// Place returns the cycle a record accepted at t goes into: the cycle of
// its acceptance day, unless that cycle takes no more records (it is
// approved or closed, as is every cycle up to lastFixed), in which case
// the next open one, lastFixed+1. A closed cycle never takes a record.
// lastFixed is 0 (1970-01-01) when no cycle was ever approved.
func (c Calendar) Place(t time.Time, lastFixed Day) Day {
	d := c.Day(t)
	if d <= lastFixed {
		return lastFixed.Next()
	}
	return d
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
