package apps

import (
	"bytes"
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// Limits of a venue's periods.
const (
	PeriodsMax          = 48        // periods in a venue's day (half-hour periods at the finest)
	PeriodCapacityMax   = 1_000_000 // admissions in one period
	PeriodDayEnd        = "240000"  // the end of the last period of a day: midnight
	periodDayEndBCDByte = 0x24
)

// Period is a part of a venue's day in which it sells admissions up to
// a capacity (时段: a 2-hour period 08:00-10:00 of 200, say): Start
// included, End not, both times of the day in China time, End at most
// midnight (24:00:00, PeriodDayEnd). "Slot" is a place in the
// entitlement file and "session" a login: a venue's part of the day is a
// period.
type Period struct {
	Start, End citycard.BCDTime
	Capacity   int64
}

// Contains reports whether tm is in p: Start <= tm < End.
func (p *Period) Contains(tm citycard.BCDTime) bool {
	return bytes.Compare(tm[:], p.Start[:]) >= 0 && bytes.Compare(tm[:], p.End[:]) < 0
}

// ValidatePeriods checks a venue's periods: at most PeriodsMax, each
// from a time of day to a later one (or midnight), by start, none
// overlapping the next, each of 1 to PeriodCapacityMax admissions. Kind
// Invalid naming the period.
func ValidatePeriods(ps []Period) error {
	const op = "apps.ValidatePeriods"
	if len(ps) > PeriodsMax {
		return citycard.E(op, citycard.Invalid, "%d periods: at most %d", len(ps), PeriodsMax)
	}
	day := citycard.BCDDate{0x20, 0x00, 0x01, 0x01}
	for i := range ps {
		p := &ps[i]
		if _, err := citycard.TimeOf(day, p.Start, citycard.ChinaTime); err != nil {
			return citycard.E(op, citycard.Invalid, "period %d: start %v: not a time of day", i, p.Start)
		}
		if _, err := citycard.TimeOf(day, p.End, citycard.ChinaTime); err != nil && p.End != (citycard.BCDTime{periodDayEndBCDByte}) {
			return citycard.E(op, citycard.Invalid, "period %d: end %v: not a time of day nor %s", i, p.End, PeriodDayEnd)
		}
		if bytes.Compare(p.Start[:], p.End[:]) >= 0 {
			return citycard.E(op, citycard.Invalid, "period %d: start %v is not before end %v", i, p.Start, p.End)
		}
		if p.Capacity < 1 || p.Capacity > PeriodCapacityMax {
			return citycard.E(op, citycard.Invalid, "period %d: capacity %d: want 1 to %d", i, p.Capacity, PeriodCapacityMax)
		}
		if i > 0 && bytes.Compare(ps[i-1].End[:], p.Start[:]) > 0 {
			return citycard.E(op, citycard.Invalid, "period %d: start %v is before the end %v of period %d (by start, none overlapping)", i, p.Start, ps[i-1].End, i-1)
		}
	}
	return nil
}

// ParsePeriodEnd parses a period's end: HHMMSS, or PeriodDayEnd. Kind
// Invalid.
func ParsePeriodEnd(s string) (citycard.BCDTime, error) {
	if s == PeriodDayEnd {
		return citycard.BCDTime{periodDayEndBCDByte}, nil
	}
	return ParseTime(s)
}

// SetPeriods replaces the periods of venue application app (none: the
// venue sells admissions with no capacity). Kinds: Invalid (periods
// ValidatePeriods refuses, an application not a venue), NotFound, IO.
func (o *Office) SetPeriods(ctx context.Context, app string, ps []Period) error {
	const op = "apps.Office.SetPeriods"
	if err := ValidatePeriods(ps); err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	a, err := o.store.App(ctx, app)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if a.Kind != card.AppVenue {
		return citycard.E(op, citycard.Invalid, "application %s is a %v: periods are a venue's", app, a.Kind)
	}
	return o.store.SetPeriods(ctx, app, ps)
}

// Periods returns application app's periods, by start (none for an
// application that sells none). Kind IO.
func (o *Office) Periods(ctx context.Context, app string) ([]Period, error) {
	return o.store.Periods(ctx, app)
}

// CheckAt is Check and, for an admission allowed at a venue that sells
// by period, the period's capacity: VenueFull when the admissions the
// back office has received dated day in the period of at have reached
// its capacity (the capacity-th admission is allowed, the next is not).
// The count is of the records filed (IndexRecords), so an admission the
// gates have not yet uploaded is not in it: the capacity holds at the
// back office's answer, the online check. A time in none of the
// periods is not sold by period, no capacity applies. Kinds as Check's,
// and Invalid when at is nil at a venue with periods.
func (o *Office) CheckAt(ctx context.Context, app string, c CardRef, action Action, day citycard.BCDDate, at *citycard.BCDTime) (Reason, Grant, error) {
	const op = "apps.Office.CheckAt"
	reason, g, err := o.Check(ctx, app, c, action, day)
	if err != nil || reason != Allowed || g.Slot.App != card.AppVenue || action != Admit {
		return reason, g, err
	}
	ps, err := o.store.Periods(ctx, app)
	if err != nil || len(ps) == 0 {
		return reason, g, err
	}
	if at == nil {
		return 0, Grant{}, citycard.E(op, citycard.Invalid, "time missing: application %s sells admissions by period", app)
	}
	for i := range ps {
		if !ps[i].Contains(*at) {
			continue
		}
		n, err := o.store.PeriodAdmissions(ctx, app, day, ps[i].Start, ps[i].End)
		if err != nil {
			return 0, Grant{}, citycard.Wrap(op, citycard.Other, err)
		}
		if n >= ps[i].Capacity {
			return VenueFull, g, nil
		}
		break
	}
	return Allowed, g, nil
}
