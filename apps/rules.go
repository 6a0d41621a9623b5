package apps

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// Action is what a tap does in its application. The values are the
// action byte of the stamp MAC and the product field of application
// records: keep them.
type Action uint8

// The actions.
const (
	CheckIn  Action = 1 // campus, parking: in through the gate
	CheckOut Action = 2 // campus, parking: out
	Admit    Action = 3 // venue, site: one admission
	Loan     Action = 4 // library: a book borrowed
	Return   Action = 5 // library: a book returned; bike: the bike returned at a dock
	Canteen  Action = 6 // campus: a canteen purchase counted on the daily canteen limit (the canteen POS)
	Hire     Action = 7 // bike: a bike taken from a dock (terminal.BikeDock)
)

var actionNames = [...]string{CheckIn: "check-in", CheckOut: "check-out", Admit: "admission", Loan: "loan", Return: "return", Canteen: "canteen", Hire: "hire"}

// String gives the action's name: check-in, check-out, admission, loan,
// return, canteen, hire.
func (a Action) String() string {
	if a >= CheckIn && a <= Hire {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Actions returns the actions of an application, nil for an unknown one.
func Actions(app card.Application) []Action {
	switch app {
	case card.AppCampus:
		return []Action{CheckIn, CheckOut, Canteen}
	case card.AppParking:
		return []Action{CheckIn, CheckOut}
	case card.AppLibrary:
		return []Action{Loan, Return}
	case card.AppBike:
		return []Action{Hire, Return}
	case card.AppVenue, card.AppSite:
		return []Action{Admit}
	}
	return nil
}

// Of reports whether a is one of app's actions.
func Of(app card.Application, a Action) bool {
	for _, x := range Actions(app) {
		if x == a {
			return true
		}
	}
	return false
}

// Reason is the outcome of a tap at a gate: Allowed, or why it was
// refused.
type Reason uint8

// The reasons. Allowed is the zero value.
const (
	Allowed          Reason = iota
	WrongApplication        // no entitlement of this application and scope
	Expired                 // outside the entitlement's (or the card's) validity
	Limit                   // the loan limit, the month's admissions, today's visit, the vehicle inside, the bike out
	Stale                   // the file is older than the version the back office requires
	Blacklisted             // the card is on the blacklist or blocked
	Forged                  // the file or the stamp did not verify, or does not parse
	SchoolHours             // a school's ground in school hours, to a card not of its pupils
	CanteenLimit            // a canteen purchase past the day's canteen limit the parents set
	VenueFull               // a venue's period has had its capacity of admissions
)

var reasonNames = [...]string{
	Allowed: "allowed", WrongApplication: "wrong_application", Expired: "expired", Limit: "limit",
	Stale: "stale", Blacklisted: "blacklisted", Forged: "forged", SchoolHours: "school_hours",
	CanteenLimit: "canteen_limit", VenueFull: "venue_full",
}

// String gives the reason's name: allowed, wrong_application, expired,
// limit, stale, blacklisted, forged, school_hours, canteen_limit,
// venue_full.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ParseApp parses a gate's application as the bench names it: campus,
// library, venue, site, parking, bike. Kind Invalid for another.
func ParseApp(name string) (card.Application, error) {
	a, err := card.ParseApplication(strings.TrimSpace(name))
	if err != nil {
		return 0, citycard.Wrap("apps.ParseApp", citycard.Invalid, err)
	}
	return a, nil
}

// Tap is what a gate knows of a tap before it reads the card: its
// application, scope and place, the action of its lane, and the moment.
type Tap struct {
	App    card.Application
	Scope  uint32 // the gate's school, library, venue, site group, zone or bike operator's zone
	Place  uint32 // the gate's number; at a tourist site, the site number 1..card.SitesMax
	Action Action
	Date   citycard.BCDDate
	Time   citycard.BCDTime
	Ground *Ground // a venue gate at a school's ground; nil for any other
	// AmountFen is a canteen purchase's amount (action Canteen); 0 for
	// any other action.
	AmountFen uint32
}

// Ground is a school's sports ground opened to citizens outside school
// hours: a venue (its gates' application is the venue's) owned by the
// school whose campus scope is School. On a weekday (Monday to Friday)
// that is not one of Holidays, from Open to Close (Open included, Close
// not), it admits only its pupils: cards whose file holds the school's
// campus slot, valid today. At any other time, and on weekends and
// holidays all day, it admits as any venue. A pupil enters on the
// ground's venue slot, as a citizen does (the school grants its pupils
// the ground's pass; the campus slot only says who is a pupil), so the
// admission is counted and stamped the same way.
type Ground struct {
	School      uint32
	Open, Close citycard.BCDTime
	Holidays    []citycard.BCDDate // weekdays with no school, in any order
}

// Validate checks the ground: a school, real times, Open before Close,
// real holidays. Kind Invalid naming the field.
func (g *Ground) Validate() error {
	const op = "apps.Ground.Validate"
	if g.School == 0 {
		return citycard.E(op, citycard.Invalid, "ground: school missing")
	}
	day := citycard.BCDDate{0x20, 0x00, 0x01, 0x01}
	for _, f := range []struct {
		name string
		t    citycard.BCDTime
	}{{"open", g.Open}, {"close", g.Close}} {
		if _, err := citycard.TimeOf(day, f.t, time.UTC); err != nil {
			return citycard.E(op, citycard.Invalid, "ground: %s %X: not a time of day", f.name, f.t[:])
		}
	}
	if bytes.Compare(g.Open[:], g.Close[:]) >= 0 {
		return citycard.E(op, citycard.Invalid, "ground: open %X is not before close %X", g.Open[:], g.Close[:])
	}
	for i, h := range g.Holidays {
		if _, err := citycard.TimeOf(h, citycard.BCDTime{}, time.UTC); err != nil {
			return citycard.E(op, citycard.Invalid, "ground: holiday %d (%X): not a date", i, h[:])
		}
	}
	return nil
}

// SchoolHours reports whether the moment is in the ground's school
// hours: a weekday not a holiday, Open <= time < Close. A date that does
// not parse is in them (the gate then admits pupils only, the safe side).
func (g *Ground) SchoolHours(d citycard.BCDDate, tm citycard.BCDTime) bool {
	t, err := citycard.TimeOf(d, citycard.BCDTime{}, time.UTC)
	if err != nil {
		return true
	}
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	for _, h := range g.Holidays {
		if h == d {
			return false
		}
	}
	return bytes.Compare(tm[:], g.Open[:]) >= 0 && bytes.Compare(tm[:], g.Close[:]) < 0
}

// pupil reports whether f holds school's campus slot, valid on d.
func pupil(f *card.Entitlements, school uint32, d citycard.BCDDate) bool {
	i := f.Find(card.AppCampus, school)
	return i >= 0 && f.Slots[i].ValidOn(d)
}

// Decision is what Decide made of a tap.
type Decision struct {
	Reason Reason
	Slot   int              // the entitlement's slot; -1 when there is none
	After  card.Entitlement // the slot as the stamp leaves it (when allowed)
}

// Decide applies the rules of the package doc to the entitlement file f
// for tap. It is pure and allocates nothing; the caller checked the
// file's authenticity, version and the blacklist.
func Decide(f *card.Entitlements, tap Tap) Decision {
	i := f.Find(tap.App, tap.Scope)
	if i < 0 || !Of(tap.App, tap.Action) {
		return Decision{Reason: WrongApplication, Slot: i}
	}
	e := f.Slots[i]
	d := Decision{Slot: i}
	never := tap.Action == Return || tap.Action == CheckOut || tap.Action == Canteen
	if !never && !e.ValidOn(tap.Date) {
		d.Reason = Expired
		return d
	}
	switch tap.App {
	case card.AppCampus:
		if e.LastDate != tap.Date {
			e.Uses = 0 // a new day: no canteen spend yet
		}
		if tap.Action != Canteen {
			e.Inside = tap.Action == CheckIn
			break
		}
		// The limit counts only where there is one: with none (0) the
		// spend is not kept, and the card's rule uses <= limit holds.
		if e.Limit == 0 {
			break
		}
		if uint64(e.Uses)+uint64(tap.AmountFen) > uint64(e.Limit) {
			d.Reason = CanteenLimit
			return d
		}
		e.Uses += uint16(tap.AmountFen)
	case card.AppParking:
		if tap.Action == CheckIn && e.Inside {
			d.Reason = Limit
			return d
		}
		e.Inside = tap.Action == CheckIn
	case card.AppBike:
		// One bike a card: a hire while a bike is out is refused (the
		// dock closes an overdue rental first, terminal.BikeDock); a
		// return never is, with a bike out or not.
		if tap.Action == Hire && e.Inside {
			d.Reason = Limit
			return d
		}
		e.Inside = tap.Action == Hire
	case card.AppLibrary:
		switch {
		case tap.Action == Return && e.Uses > 0:
			e.Uses--
		case tap.Action == Return:
		case e.Uses >= e.Limit:
			d.Reason = Limit
			return d
		default:
			e.Uses++
		}
	case card.AppVenue:
		if g := tap.Ground; g != nil && g.SchoolHours(tap.Date, tap.Time) && !pupil(f, g.School, tap.Date) {
			d.Reason = SchoolHours
			return d
		}
		if [3]byte(e.LastDate[:3]) != [3]byte(tap.Date[:3]) {
			e.Uses = 0 // a new month
		}
		if e.Uses >= e.Limit {
			d.Reason = Limit
			return d
		}
		e.Uses++
	case card.AppSite:
		if tap.Place == 0 || tap.Place > card.SitesMax {
			d.Reason = WrongApplication
			return d
		}
		if e.LastDate != tap.Date {
			e.Sites = 0 // a new day
		}
		bit := uint64(1) << (tap.Place - 1)
		if e.Sites&bit != 0 {
			d.Reason = Limit
			return d
		}
		e.Sites |= bit
	}
	e.LastDate, e.LastTime = tap.Date, tap.Time
	d.After = e
	return d
}
