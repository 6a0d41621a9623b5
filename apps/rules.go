package apps

import (
	"bytes"
	"fmt"
	"strings"

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
	Return   Action = 5 // library: a book returned
)

var actionNames = [...]string{CheckIn: "check-in", CheckOut: "check-out", Admit: "admission", Loan: "loan", Return: "return"}

// String gives the action's name: check-in, check-out, admission, loan,
// return.
func (a Action) String() string {
	if a >= CheckIn && a <= Return {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Actions returns the actions of an application, nil for an unknown one.
func Actions(app card.Application) []Action {
	switch app {
	case card.AppCampus, card.AppParking:
		return []Action{CheckIn, CheckOut}
	case card.AppLibrary:
		return []Action{Loan, Return}
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
	Limit                   // the loan limit, the month's admissions, today's visit, the vehicle inside
	Stale                   // the file is older than the version the back office requires
	Blacklisted             // the card is on the blacklist or blocked
	Forged                  // the file or the stamp did not verify, or does not parse
)

var reasonNames = [...]string{
	Allowed: "allowed", WrongApplication: "wrong_application", Expired: "expired", Limit: "limit",
	Stale: "stale", Blacklisted: "blacklisted", Forged: "forged",
}

// String gives the reason's name: allowed, wrong_application, expired,
// limit, stale, blacklisted, forged.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ParseApp parses a gate's application as the bench names it: campus,
// library, venue, site, parking. Kind Invalid for another.
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
	Scope  uint32 // the gate's school, library, venue, site group or zone
	Place  uint32 // the gate's number; at a tourist site, the site number 1..card.SitesMax
	Action Action
	Date   citycard.BCDDate
	Time   citycard.BCDTime
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
	never := tap.Action == Return || tap.Action == CheckOut
	if !never && (bytes.Compare(tap.Date[:], e.ValidFrom[:]) < 0 || bytes.Compare(tap.Date[:], e.ValidTo[:]) > 0) {
		d.Reason = Expired
		return d
	}
	switch tap.App {
	case card.AppCampus:
		e.Inside = tap.Action == CheckIn
	case card.AppParking:
		if tap.Action == CheckIn && e.Inside {
			d.Reason = Limit
			return d
		}
		e.Inside = tap.Action == CheckIn
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
