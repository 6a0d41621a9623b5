package cms

import (
	"fmt"
	"time"

	"github.com/citycard/citycard"
)

// Date is a civil date (a birthday, a card's expiry, the end of a
// student's studies): no time of day and no zone. The zero Date is "none".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses "2006-01-02", checking that the day exists. Kind
// Invalid.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, citycard.E("cms.ParseDate", citycard.Invalid, "date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf returns the date of t in t's location: pass a time in
// citycard.ChinaTime for the local day.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// Today returns the date of t in China Standard Time, the zone cards'
// dates are written in.
func Today(t time.Time) Date { return DateOf(t.In(citycard.ChinaTime)) }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// time returns midnight of d in UTC, for arithmetic.
func (d Date) time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.time().Before(e.time()) }

// AddDate returns d moved by years, months and days, normalized as
// time.Time.AddDate does (2024-02-29 plus one year is 2025-03-01).
func (d Date) AddDate(years, months, days int) Date {
	return DateOf(d.time().AddDate(years, months, days))
}

// DaysUntil returns the number of days from d to e (negative when e is
// before d).
func (d Date) DaysUntil(e Date) int { return int(e.time().Sub(d.time()) / (24 * time.Hour)) }

// AgeOn returns the age in whole years of someone born on d, on day on:
// the years since d, less one if the birthday has not come yet that year.
// Someone born on 29 February is a year older on 1 March in a common year.
func (d Date) AgeOn(on Date) int {
	age := on.Year - d.Year
	if on.Month < d.Month || on.Month == d.Month && on.Day < d.Day {
		age--
	}
	return age
}

// String gives "2006-01-02", or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}
