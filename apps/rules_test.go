package apps_test

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

var (
	sep1  = citycard.BCDDate{0x20, 0x26, 0x09, 0x01}
	sep30 = citycard.BCDDate{0x20, 0x26, 0x09, 0x30}
	oct1  = citycard.BCDDate{0x20, 0x26, 0x10, 0x01}
	oct2  = citycard.BCDDate{0x20, 0x26, 0x10, 0x02}
	aug31 = citycard.BCDDate{0x20, 0x26, 0x08, 0x31}
	jul15 = citycard.BCDDate{0x20, 0x27, 0x07, 0x15}
	jul16 = citycard.BCDDate{0x20, 0x27, 0x07, 0x16}
	at    = citycard.BCDTime{0x08, 0x00, 0x00}
)

func file(e card.Entitlement) *card.Entitlements {
	if e.ValidFrom == (citycard.BCDDate{}) {
		e.ValidFrom, e.ValidTo = sep1, jul15
	}
	return &card.Entitlements{KeyVersion: 1, Version: 1, Slots: []card.Entitlement{e}}
}

// TestDecide follows the package doc's "Rules", one application after
// another, each limit at its boundary.
func TestDecide(t *testing.T) {
	campus := card.Entitlement{App: card.AppCampus, Scope: 1001, Class: 305}
	library := func(uses uint16) card.Entitlement {
		return card.Entitlement{App: card.AppLibrary, Scope: 7, Limit: 10, Uses: uses}
	}
	venue := func(uses uint16, last citycard.BCDDate) card.Entitlement {
		return card.Entitlement{App: card.AppVenue, Scope: 3, Limit: 8, Uses: uses, LastDate: last, LastTime: at}
	}
	site := func(sites uint64, last citycard.BCDDate) card.Entitlement {
		return card.Entitlement{App: card.AppSite, Scope: 1, Sites: sites, LastDate: last, LastTime: at}
	}
	parking := func(inside bool) card.Entitlement {
		return card.Entitlement{App: card.AppParking, Scope: 12, Inside: inside}
	}
	bike := func(out bool) card.Entitlement {
		return card.Entitlement{App: card.AppBike, Scope: 3, Inside: out, LastDate: sep1, LastTime: at}
	}
	tap := func(app card.Application, scope, place uint32, a apps.Action, d citycard.BCDDate) apps.Tap {
		return apps.Tap{App: app, Scope: scope, Place: place, Action: a, Date: d, Time: at}
	}
	pupil := func(limit, spent uint16, last citycard.BCDDate) card.Entitlement {
		return card.Entitlement{App: card.AppCampus, Scope: 1001, Class: 305, Limit: limit, Uses: spent, LastDate: last, LastTime: at}
	}
	meal := func(fen uint32, d citycard.BCDDate) apps.Tap {
		return apps.Tap{App: card.AppCampus, Scope: 1001, Place: 9, Action: apps.Canteen, Date: d, Time: at, AmountFen: fen}
	}
	cases := []struct {
		name  string
		e     card.Entitlement
		tap   apps.Tap
		want  apps.Reason
		check func(e card.Entitlement) bool // the use after an allowed tap
	}{
		// Campus: the pupil's status from valid from to valid to, both days included.
		{"campus check-in on the first day", campus, tap(card.AppCampus, 1001, 1, apps.CheckIn, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Inside }},
		{"campus check-in the day before", campus, tap(card.AppCampus, 1001, 1, apps.CheckIn, aug31), apps.Expired, nil},
		{"campus check-in on the last day", campus, tap(card.AppCampus, 1001, 1, apps.CheckIn, jul15), apps.Allowed, nil},
		{"campus check-in the day after", campus, tap(card.AppCampus, 1001, 1, apps.CheckIn, jul16), apps.Expired, nil},
		{"campus check-out the day after: never refused", func() card.Entitlement { c := campus; c.Inside = true; return c }(), tap(card.AppCampus, 1001, 1, apps.CheckOut, jul16), apps.Allowed, func(e card.Entitlement) bool { return !e.Inside }},
		{"another school's gate", campus, tap(card.AppCampus, 1002, 1, apps.CheckIn, sep1), apps.WrongApplication, nil},
		{"a loan at a campus gate", campus, tap(card.AppCampus, 1001, 1, apps.Loan, sep1), apps.WrongApplication, nil},
		// Campus canteen: the day's spend, in fen, within the daily limit.
		{"a meal to exactly the limit", pupil(1000, 600, sep1), meal(400, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 1000 }},
		{"a meal one fen past the limit", pupil(1000, 600, sep1), meal(401, sep1), apps.CanteenLimit, nil},
		{"a meal of the whole limit on a new day", pupil(1000, 1000, sep1), meal(1000, citycard.BCDDate{0x20, 0x26, 0x09, 0x02}), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 1000 }},
		{"a meal past the limit on a new day", pupil(1000, 0, sep1), meal(1001, citycard.BCDDate{0x20, 0x26, 0x09, 0x02}), apps.CanteenLimit, nil},
		{"a meal of the highest amount past a limit", pupil(65535, 1, sep1), meal(1<<32-1, sep1), apps.CanteenLimit, nil},
		{"a meal with no limit: not counted", pupil(0, 0, sep1), meal(5000, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 0 }},
		{"a meal after the status ended: still limited", pupil(1000, 900, jul15), meal(101, jul16), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 101 }},
		{"a check-in on a new day: no spend yet", pupil(1000, 1000, sep1), tap(card.AppCampus, 1001, 1, apps.CheckIn, citycard.BCDDate{0x20, 0x26, 0x09, 0x02}), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 0 && e.Inside }},
		{"a check-in the same day keeps the spend", pupil(1000, 700, sep1), tap(card.AppCampus, 1001, 1, apps.CheckIn, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 700 }},
		{"another school's canteen", pupil(1000, 0, sep1), apps.Tap{App: card.AppCampus, Scope: 1002, Action: apps.Canteen, Date: sep1, Time: at, AmountFen: 1}, apps.WrongApplication, nil},
		// Library: the loan limit.
		{"the 10th loan of 10", library(9), tap(card.AppLibrary, 7, 1, apps.Loan, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 10 }},
		{"the 11th loan of 10", library(10), tap(card.AppLibrary, 7, 1, apps.Loan, sep1), apps.Limit, nil},
		{"a return at the limit", library(10), tap(card.AppLibrary, 7, 1, apps.Return, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 9 }},
		{"a return with no loan: not below zero", library(0), tap(card.AppLibrary, 7, 1, apps.Return, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 0 }},
		{"a return after the last day: never refused", library(3), tap(card.AppLibrary, 7, 1, apps.Return, jul16), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 2 }},
		{"a loan after the last day", library(3), tap(card.AppLibrary, 7, 1, apps.Loan, jul16), apps.Expired, nil},
		{"a card never enabled for this library", library(0), tap(card.AppLibrary, 8, 1, apps.Loan, sep1), apps.WrongApplication, nil},
		// Venue: admissions a month.
		{"the 8th admission of 8 this month", venue(7, sep1), tap(card.AppVenue, 3, 1, apps.Admit, sep30), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 8 && e.LastDate == sep30 }},
		{"the 9th admission of 8 this month", venue(8, sep1), tap(card.AppVenue, 3, 1, apps.Admit, sep30), apps.Limit, nil},
		{"the first admission of the next month", venue(8, sep30), tap(card.AppVenue, 3, 1, apps.Admit, oct1), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 1 }},
		{"the same month of another year counts afresh", venue(8, citycard.BCDDate{0x20, 0x25, 0x09, 0x30}), tap(card.AppVenue, 3, 1, apps.Admit, sep30), apps.Allowed, func(e card.Entitlement) bool { return e.Uses == 1 }},
		// Site: the annual pass, each site once a day.
		{"site 64 the first time today", site(1, sep1), tap(card.AppSite, 1, 64, apps.Admit, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Sites == 1|1<<63 }},
		{"site 1 again today", site(1, sep1), tap(card.AppSite, 1, 1, apps.Admit, sep1), apps.Limit, nil},
		{"site 1 again the next day", site(1, sep1), tap(card.AppSite, 1, 1, apps.Admit, citycard.BCDDate{0x20, 0x26, 0x09, 0x02}), apps.Allowed, func(e card.Entitlement) bool { return e.Sites == 1 }},
		{"site 65: no such site", site(0, sep1), tap(card.AppSite, 1, 65, apps.Admit, sep1), apps.WrongApplication, nil},
		{"site 0: no such site", site(0, sep1), tap(card.AppSite, 1, 0, apps.Admit, sep1), apps.WrongApplication, nil},
		{"the pass's last day", site(0, aug31), tap(card.AppSite, 1, 5, apps.Admit, jul15), apps.Allowed, nil},
		{"the day after the pass's year", site(0, aug31), tap(card.AppSite, 1, 5, apps.Admit, jul16), apps.Expired, nil},
		// Parking: one vehicle per permit.
		{"parking check-in while outside", parking(false), tap(card.AppParking, 12, 1, apps.CheckIn, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Inside }},
		{"parking check-in while inside", parking(true), tap(card.AppParking, 12, 1, apps.CheckIn, sep1), apps.Limit, nil},
		{"parking check-out after the permit's end", parking(true), tap(card.AppParking, 12, 1, apps.CheckOut, jul16), apps.Allowed, func(e card.Entitlement) bool { return !e.Inside }},
		// Bike: deposit-free rental, one bike out a card.
		{"a bike hired with none out", bike(false), tap(card.AppBike, 3, 3001, apps.Hire, sep1), apps.Allowed, func(e card.Entitlement) bool { return e.Inside }},
		{"a second bike while one is out", bike(true), tap(card.AppBike, 3, 3001, apps.Hire, sep1), apps.Limit, nil},
		{"a bike returned", bike(true), tap(card.AppBike, 3, 3002, apps.Return, sep1), apps.Allowed, func(e card.Entitlement) bool { return !e.Inside }},
		{"a return with no bike out: never refused", bike(false), tap(card.AppBike, 3, 3002, apps.Return, sep1), apps.Allowed, func(e card.Entitlement) bool { return !e.Inside }},
		{"a bike returned after the slot's last day: never refused", bike(true), tap(card.AppBike, 3, 3002, apps.Return, jul16), apps.Allowed, func(e card.Entitlement) bool { return !e.Inside }},
		{"a hire on the slot's last day", bike(false), tap(card.AppBike, 3, 3001, apps.Hire, jul15), apps.Allowed, nil},
		{"a hire the day after the slot's last", bike(false), tap(card.AppBike, 3, 3001, apps.Hire, jul16), apps.Expired, nil},
		{"another operator's dock", bike(false), tap(card.AppBike, 4, 3001, apps.Hire, sep1), apps.WrongApplication, nil},
		{"a loan at a bike dock", bike(false), tap(card.AppBike, 3, 3001, apps.Loan, sep1), apps.WrongApplication, nil},
		{"a hire at a parking barrier", parking(false), tap(card.AppParking, 12, 1, apps.Hire, sep1), apps.WrongApplication, nil},
	}
	for _, c := range cases {
		f := file(c.e)
		d := apps.Decide(f, c.tap)
		if d.Reason != c.want {
			t.Errorf("%s: %v, want %v", c.name, d.Reason, c.want)
			continue
		}
		if d.Reason != apps.Allowed {
			continue
		}
		if d.After.LastDate != c.tap.Date || d.After.LastTime != c.tap.Time {
			t.Errorf("%s: last stamp %v %v, want the tap's", c.name, d.After.LastDate, d.After.LastTime)
		}
		if err := d.After.Validate(); err != nil {
			t.Errorf("%s: the use after the tap does not validate: %v", c.name, err)
		}
		if c.check != nil && !c.check(d.After) {
			t.Errorf("%s: after %+v", c.name, d.After)
		}
		if f.Slots[0] != file(c.e).Slots[0] {
			t.Errorf("%s: Decide changed the file it read", c.name)
		}
	}
}

func TestDecideAllocatesNothing(t *testing.T) {
	f := file(card.Entitlement{App: card.AppVenue, Scope: 3, Limit: 8})
	tap := apps.Tap{App: card.AppVenue, Scope: 3, Place: 1, Action: apps.Admit, Date: sep1, Time: at}
	if n := testing.AllocsPerRun(100, func() { apps.Decide(f, tap) }); n != 0 {
		t.Fatalf("%v allocations a decision", n)
	}
}

// TestSchoolGround: a school's ground admits citizens outside school
// hours only (weekdays 07:30 to 17:00, Close excluded; weekends and
// holidays all day), its pupils at any time; each edge at its second.
func TestSchoolGround(t *testing.T) {
	ground := &apps.Ground{School: 1001, Open: citycard.BCDTime{0x07, 0x30, 0x00}, Close: citycard.BCDTime{0x17, 0x00, 0x00},
		Holidays: []citycard.BCDDate{oct1}} // the national day, a Thursday
	venue := card.Entitlement{App: card.AppVenue, Scope: 3, Limit: 8, ValidFrom: sep1, ValidTo: jul15}
	campus := func(school uint32, to citycard.BCDDate) card.Entitlement {
		return card.Entitlement{App: card.AppCampus, Scope: school, Class: 305, ValidFrom: sep1, ValidTo: to}
	}
	citizen := &card.Entitlements{KeyVersion: 1, Version: 1, Slots: []card.Entitlement{venue}}
	pupil := &card.Entitlements{KeyVersion: 1, Version: 1, Slots: []card.Entitlement{campus(1001, jul15), venue}}
	otherPupil := &card.Entitlements{KeyVersion: 1, Version: 1, Slots: []card.Entitlement{campus(1002, jul15), venue}}
	formerPupil := &card.Entitlements{KeyVersion: 1, Version: 1, Slots: []card.Entitlement{campus(1001, sep30), venue}}
	tue, sat := sep1, citycard.BCDDate{0x20, 0x26, 0x09, 0x05}
	hms := func(h, m, s byte) citycard.BCDTime { return citycard.BCDTime{h, m, s} }
	cases := []struct {
		name string
		f    *card.Entitlements
		d    citycard.BCDDate
		tm   citycard.BCDTime
		want apps.Reason
	}{
		{"a citizen a second before school opens", citizen, tue, hms(0x07, 0x29, 0x59), apps.Allowed},
		{"a citizen as school opens", citizen, tue, hms(0x07, 0x30, 0x00), apps.SchoolHours},
		{"a citizen a second before school closes", citizen, tue, hms(0x16, 0x59, 0x59), apps.SchoolHours},
		{"a citizen as school closes", citizen, tue, hms(0x17, 0x00, 0x00), apps.Allowed},
		{"a citizen on a Saturday at noon", citizen, sat, hms(0x12, 0x00, 0x00), apps.Allowed},
		{"a citizen on a holiday at noon", citizen, oct1, hms(0x12, 0x00, 0x00), apps.Allowed},
		{"a pupil in school hours", pupil, tue, hms(0x10, 0x00, 0x00), apps.Allowed},
		{"another school's pupil in school hours", otherPupil, tue, hms(0x10, 0x00, 0x00), apps.SchoolHours},
		{"a pupil on the last day of status", formerPupil, sep30, hms(0x10, 0x00, 0x00), apps.Allowed},
		{"a former pupil the day after", formerPupil, oct2, hms(0x10, 0x00, 0x00), apps.SchoolHours},
		{"a former pupil after school", formerPupil, oct2, hms(0x17, 0x00, 0x00), apps.Allowed},
	}
	for _, c := range cases {
		d := apps.Decide(c.f, apps.Tap{App: card.AppVenue, Scope: 3, Place: 1, Action: apps.Admit, Date: c.d, Time: c.tm, Ground: ground})
		if d.Reason != c.want {
			t.Errorf("%s: %v, want %v", c.name, d.Reason, c.want)
		}
		if d.Reason == apps.Allowed && d.After.Uses != 1 {
			t.Errorf("%s: uses %d after the admission, want 1 (counted on the venue slot)", c.name, d.After.Uses)
		}
	}
	if got := apps.SchoolHours.String(); got != "school_hours" {
		t.Errorf("the reason's name %q", got)
	}
	// The same card at a venue that is no school's: no hours.
	if d := apps.Decide(citizen, apps.Tap{App: card.AppVenue, Scope: 3, Place: 1, Action: apps.Admit, Date: tue, Time: hms(0x10, 0, 0)}); d.Reason != apps.Allowed {
		t.Errorf("a venue with no ground: %v", d.Reason)
	}
	if n := testing.AllocsPerRun(100, func() {
		apps.Decide(citizen, apps.Tap{App: card.AppVenue, Scope: 3, Place: 1, Action: apps.Admit, Date: tue, Time: hms(0x10, 0, 0), Ground: ground})
	}); n != 0 {
		t.Errorf("%v allocations a decision at a school's ground", n)
	}
}

func TestGroundValidate(t *testing.T) {
	ok := apps.Ground{School: 1001, Open: citycard.BCDTime{0x07, 0x30, 0x00}, Close: citycard.BCDTime{0x17, 0x00, 0x00}, Holidays: []citycard.BCDDate{oct1}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]apps.Ground{
		"no school":          {Open: ok.Open, Close: ok.Close},
		"open after close":   {School: 1, Open: ok.Close, Close: ok.Open},
		"open equals close":  {School: 1, Open: ok.Open, Close: ok.Open},
		"open 24:00":         {School: 1, Open: citycard.BCDTime{0x24, 0, 0}, Close: ok.Close},
		"close not BCD":      {School: 1, Open: ok.Open, Close: citycard.BCDTime{0x1A, 0, 0}},
		"holiday 2026-02-30": {School: 1, Open: ok.Open, Close: ok.Close, Holidays: []citycard.BCDDate{{0x20, 0x26, 0x02, 0x30}}},
	} {
		if err := g.Validate(); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
}
