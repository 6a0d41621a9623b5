package apps

import (
	"bytes"
	"context"
	"sort"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// CalendarDaysMax bounds a school's calendar: the holidays and make-up
// days it lists together (a school year has some 30 of them; 400 hold
// several years ahead).
const CalendarDaysMax = 400

// Calendar is a school's calendar (校历): its school days are Monday to
// Friday, but for Holidays (weekdays with no school: the national
// holidays, the winter and summer breaks) and with MakeUpDays (a
// Saturday or Sunday that is a school day, 调休: the weekday a holiday
// borrowed, given back). Dates are China's days.
type Calendar struct {
	Holidays   []citycard.BCDDate
	MakeUpDays []citycard.BCDDate
}

// Validate checks c: real dates, each holiday a weekday and each make-up
// day a Saturday or Sunday (any other would change nothing: a listing
// that does not mean what its school thinks), none listed twice, at most
// CalendarDaysMax in all. Kind Invalid naming the date.
func (c *Calendar) Validate() error {
	const op = "apps.Calendar.Validate"
	if n := len(c.Holidays) + len(c.MakeUpDays); n > CalendarDaysMax {
		return citycard.E(op, citycard.Invalid, "calendar of %d days: at most %d holidays and make-up days", n, CalendarDaysMax)
	}
	seen := make(map[citycard.BCDDate]string, len(c.Holidays)+len(c.MakeUpDays))
	for _, l := range []struct {
		name    string
		days    []citycard.BCDDate
		weekend bool
	}{{"holiday", c.Holidays, false}, {"make-up day", c.MakeUpDays, true}} {
		for i, d := range l.days {
			t, err := citycard.TimeOf(d, citycard.BCDTime{}, time.UTC)
			if err != nil {
				return citycard.E(op, citycard.Invalid, "%s %d (%X): not a date", l.name, i, d[:])
			}
			if weekend(t) != l.weekend {
				if l.weekend {
					return citycard.E(op, citycard.Invalid, "make-up day %d (%v): a %v, a school day already; a make-up day is a Saturday or Sunday", i, d, t.Weekday())
				}
				return citycard.E(op, citycard.Invalid, "holiday %d (%v): a %v, no school day already; a holiday is a weekday", i, d, t.Weekday())
			}
			if was, ok := seen[d]; ok {
				return citycard.E(op, citycard.Invalid, "%s %d (%v): listed already as a %s", l.name, i, d, was)
			}
			seen[d] = l.name
		}
	}
	return nil
}

func weekend(t time.Time) bool { return t.Weekday() == time.Saturday || t.Weekday() == time.Sunday }

// SchoolDay reports whether d is a school day of c: a weekday not a
// holiday, or a make-up day. A date that does not parse is not.
func (c *Calendar) SchoolDay(d citycard.BCDDate) bool {
	t, err := citycard.TimeOf(d, citycard.BCDTime{}, time.UTC)
	if err != nil {
		return false
	}
	list := c.Holidays
	if weekend(t) {
		list = c.MakeUpDays
	}
	for _, x := range list {
		if x == d {
			return weekend(t)
		}
	}
	return !weekend(t)
}

// sortDays sorts days by date.
func sortDays(days []citycard.BCDDate) {
	sort.Slice(days, func(i, j int) bool { return bytes.Compare(days[i][:], days[j][:]) < 0 })
}

// SetCalendar replaces the calendar of campus application app (an empty
// one: every weekday a school day, no other). Kinds: Invalid (a calendar
// Validate refuses, an application not a school's), NotFound, IO.
func (o *Office) SetCalendar(ctx context.Context, app string, c Calendar) (Calendar, error) {
	const op = "apps.Office.SetCalendar"
	if err := c.Validate(); err != nil {
		return Calendar{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	a, err := o.store.App(ctx, app)
	if err != nil {
		return Calendar{}, citycard.Wrap(op, citycard.Other, err)
	}
	if a.Kind != card.AppCampus {
		return Calendar{}, citycard.E(op, citycard.Invalid, "application %s is a %v: a calendar is a school's (campus)", app, a.Kind)
	}
	c = Calendar{Holidays: append([]citycard.BCDDate{}, c.Holidays...), MakeUpDays: append([]citycard.BCDDate{}, c.MakeUpDays...)}
	sortDays(c.Holidays)
	sortDays(c.MakeUpDays)
	if err := o.store.SetCalendar(ctx, app, c); err != nil {
		return Calendar{}, citycard.Wrap(op, citycard.Other, err)
	}
	return c, nil
}

// Calendar returns application app's calendar, each list by date (empty
// for a school that set none: weekdays only). Kind IO.
func (o *Office) Calendar(ctx context.Context, app string) (Calendar, error) {
	c, err := o.store.Calendar(ctx, app)
	if err != nil {
		return Calendar{}, citycard.Wrap("apps.Office.Calendar", citycard.Other, err)
	}
	return c, nil
}
