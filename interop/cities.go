package interop

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/citycard/citycard"
)

// The national rules' deadlines: a city joining the interconnection is in
// every terminal's list of accepted cities within AddDaysMax days of its
// announcement, a city leaving it out of them within RemoveDaysMax.
const (
	AddDaysMax    = 30
	RemoveDaysMax = 7
	CitiesMax     = 4096 // cities in the list
)

// checkDays checks that c takes effect within its deadline of its
// announcement, and not before it.
func (c *City) checkDays() error {
	lead, max := int(c.Effective-c.Announced), AddDaysMax
	if c.Action == Remove {
		max = RemoveDaysMax
	}
	if lead < 0 || lead > max {
		return fmt.Errorf("%v %s announced %v effective %v: %d days, want 0 to %d (the national rules' deadline for a city %s)",
			c.Action, hexOf(c.Code[:]), c.Announced, c.Effective, lead, max, map[Action]string{Add: "added", Remove: "removed"}[c.Action])
	}
	return nil
}

// Cities is the list of interconnected cities: every CTY record taken,
// in order of its effective day (then of its taking).
type Cities struct {
	changes []City
}

// Take adds the records of a CTY file to the list. A record whose
// deadline is not kept is refused (Decode refuses it too), and so is a
// list past CitiesMax cities. Kind Invalid.
func (cs *Cities) Take(recs []City) error {
	const op = "interop.Cities.Take"
	for i := range recs {
		if err := recs[i].checkDays(); err != nil {
			return citycard.E(op, citycard.Invalid, "city record %d: %v", i+1, err)
		}
	}
	next := append(slices.Clone(cs.changes), recs...)
	slices.SortStableFunc(next, func(a, b City) int { return cmp.Compare(a.Effective, b.Effective) })
	if n := len(cs.inForce(next, 1<<30)); n > CitiesMax {
		return citycard.E(op, citycard.Invalid, "%d cities, at most %d", n, CitiesMax)
	}
	cs.changes = next
	return nil
}

// InForce returns the cities terminals accept on day d, by city code:
// those added with effect on or before d and not removed with effect on
// or before d. This is the list a terminal downloads for d.
func (cs *Cities) InForce(d Day) []City { return cs.inForce(cs.changes, d) }

func (cs *Cities) inForce(changes []City, d Day) []City {
	in := map[[2]byte]City{}
	for _, c := range changes {
		if c.Effective > d {
			break
		}
		if c.Action == Add {
			in[c.Code] = c
		} else {
			delete(in, c.Code)
		}
	}
	out := make([]City, 0, len(in))
	for _, c := range in {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b City) int { return cmp.Compare(hexOf(a.Code[:]), hexOf(b.Code[:])) })
	return out
}

// Accepts reports whether terminals accept the cards of the institution
// issuer on day d: its city is in force.
func (cs *Cities) Accepts(issuer citycard.IssuerCode, d Day) bool {
	for _, c := range cs.InForce(d) {
		if c.Code == [2]byte(issuer[:2]) {
			return true
		}
	}
	return false
}

// Blacklisted returns the cards of ls blacklisted on day d, in the order
// of ls: a card's latest listing effective on or before d decides.
func Blacklisted(ls []Listing, d Day) []Listing {
	type key struct {
		issuer citycard.IssuerCode
		asn    citycard.ASN
	}
	last := map[key]int{}
	for i, l := range ls {
		if l.Effective <= d {
			if j, ok := last[key{l.Issuer, l.ASN}]; !ok || ls[j].Effective <= l.Effective {
				last[key{l.Issuer, l.ASN}] = i
			}
		}
	}
	var out []Listing
	for i, l := range ls {
		if j, ok := last[key{l.Issuer, l.ASN}]; ok && j == i && l.Action == Add {
			out = append(out, l)
		}
	}
	return out
}
