package apps_test

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// TestValidatePeriods: each rule of a venue's periods at its bound.
func TestValidatePeriods(t *testing.T) {
	hms := func(h, m byte) citycard.BCDTime { return citycard.BCDTime{h, m, 0} }
	p := func(h1, h2 byte, capacity int64) apps.Period {
		return apps.Period{Start: hms(h1, 0), End: hms(h2, 0), Capacity: capacity}
	}
	midnight, err := apps.ParsePeriodEnd(apps.PeriodDayEnd)
	if err != nil {
		t.Fatal(err)
	}
	halfHours := func(n int) []apps.Period {
		var ps []apps.Period
		for i := 0; i < n; i++ {
			h, m := i/2, (i%2)*30
			end := citycard.BCDTime{byte((h+(m+30)/60)/10<<4 | (h+(m+30)/60)%10), byte(((m + 30) % 60 / 10) << 4), 0}
			if i == 47 {
				end = midnight
			}
			ps = append(ps, apps.Period{Start: citycard.BCDTime{byte(h/10<<4 | h%10), byte(m / 10 << 4), 0}, End: end, Capacity: 1})
		}
		return ps
	}
	for _, c := range []struct {
		name string
		ps   []apps.Period
		ok   bool
	}{
		{"none", nil, true},
		{"two 2-hour periods end to start", []apps.Period{p(0x08, 0x10, 200), p(0x10, 0x12, 200)}, true},
		{"the last to midnight", []apps.Period{{Start: hms(0x22, 0), End: midnight, Capacity: 1}}, true},
		{"48 half-hour periods", halfHours(48), true},
		{"49 periods", append(halfHours(48), p(0x08, 0x09, 1)), false},
		{"overlapping by an hour", []apps.Period{p(0x08, 0x10, 1), p(0x09, 0x11, 1)}, false},
		{"out of order", []apps.Period{p(0x10, 0x12, 1), p(0x08, 0x10, 1)}, false},
		{"start equals end", []apps.Period{p(0x08, 0x08, 1)}, false},
		{"start at midnight", []apps.Period{{Start: midnight, End: midnight, Capacity: 1}}, false},
		{"end not a time", []apps.Period{{Start: hms(0x08, 0), End: hms(0x08, 0x60), Capacity: 1}}, false},
		{"capacity 0", []apps.Period{p(0x08, 0x10, 0)}, false},
		{"capacity at the most", []apps.Period{p(0x08, 0x10, apps.PeriodCapacityMax)}, true},
		{"capacity one past the most", []apps.Period{p(0x08, 0x10, apps.PeriodCapacityMax+1)}, false},
	} {
		err := apps.ValidatePeriods(c.ps)
		if c.ok && err != nil || !c.ok && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
		}
	}
	if got := apps.VenueFull.String() + " " + apps.CanteenLimit.String() + " " + apps.Canteen.String(); got != "venue_full canteen_limit canteen" {
		t.Errorf("names %q", got)
	}
}
