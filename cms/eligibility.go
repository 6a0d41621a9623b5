package cms

import (
	"context"
	"time"

	"github.com/citycard/citycard"
)

// Facts are what a product's eligibility is checked against: the
// cardholder's date of birth and, for a student, the school and the last
// day of studies.
type Facts struct {
	DateOfBirth Date
	School      string
	StudiesEnd  Date
}

// CheckEligible checks that someone with facts f may hold a card of p on
// day on: for ByAge, AgeMin years old on that day (Date.AgeOn); for
// Student, a school named and on no later than StudiesEnd. Kind
// Permission naming the product and the rule, never the person.
func (p *Product) CheckEligible(f Facts, on Date) error {
	const op = "cms.Product.CheckEligible"
	switch p.Eligibility.Type {
	case ByAge:
		if f.DateOfBirth.IsZero() {
			return citycard.E(op, citycard.Permission, "product %s: needs a date of birth", p.ID)
		}
		if age := f.DateOfBirth.AgeOn(on); age < p.Eligibility.AgeMin {
			return citycard.E(op, citycard.Permission, "product %s: for %d years and over, the cardholder is %d on %v", p.ID, p.Eligibility.AgeMin, age, on)
		}
	case Student:
		if f.School == "" || f.StudiesEnd.IsZero() {
			return citycard.E(op, citycard.Permission, "product %s: needs a school and the end of studies", p.ID)
		}
		if f.StudiesEnd.Before(on) {
			return citycard.E(op, citycard.Permission, "product %s: studies ended on %v, before %v", p.ID, f.StudiesEnd, on)
		}
	}
	return nil
}

// ReviewDue returns the day a card of p reviewed on day reviewed is next
// due for its annual review: EveryMonths later. The zero Date for a
// product without a review.
func (p *Product) ReviewDue(reviewed Date) Date {
	if !p.Concession() {
		return Date{}
	}
	return reviewed.AddDate(0, p.Review.EveryMonths, 0)
}

// CategoryOn returns the rider category a card of p whose review is due
// on day due travels in on day on: p's own category up to GraceDays after
// due (the last day of grace included), the lapsed category (the adult
// fare) from the day after, until a review rewrites it. A product without
// a review always travels in its own category.
func (p *Product) CategoryOn(due, on Date) RiderCategory {
	if !p.Concession() || !p.InCategoryUntil(due).Before(on) {
		return p.Category
	}
	return p.Review.LapsedCategory
}

// Dormant reports whether a registered card of p is to be reported as
// dormant at now: DormantYears or more since its last use (its issue if
// it was never used), and still holding its balance (issued or active).
// A dormant card is reported to staff, never drained: nothing here moves
// money. A product with DormantYears 0 never reports.
func (p *Product) Dormant(c *Card, lastUse, now time.Time) bool {
	if p.DormantYears == 0 || c.Holder == 0 || c.State != Issued && c.State != Active {
		return false
	}
	since := lastUse
	if since.IsZero() {
		since = c.IssuedAt
	}
	return !now.Before(since.AddDate(p.DormantYears, 0, 0))
}

// InCategoryUntil returns the last day a card of p whose review is due
// on day due travels in p's own category: GraceDays after due
// (CategoryOn reads it: the lapsed category from the day after). The zero
// Date for a product without a review.
func (p *Product) InCategoryUntil(due Date) Date {
	if !p.Concession() {
		return Date{}
	}
	return due.AddDate(0, 0, p.Review.GraceDays)
}

// Concession is what a concession card carries of its annual review for
// the terminals offline (the concession slot of its entitlement file,
// package card): its category, the category it lapses to, and the days
// it travels in its category, from its last review (the review due less
// a review period) to the last day of grace (InCategoryUntil).
type Concession struct {
	Category, Lapsed RiderCategory
	From, To         Date
}

// Concession returns a card's Concession as card management has it now;
// ok false for a card whose product has no review. Kinds NotFound, IO.
func (m *Manager) Concession(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (c Concession, ok bool, err error) {
	const op = "cms.Manager.Concession"
	card, err := m.store.Card(ctx, issuer, asn)
	if err != nil {
		return Concession{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	p, err := m.products.Product(card.Product)
	if err != nil {
		return Concession{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	if !p.Concession() || card.ReviewDue.IsZero() {
		return Concession{}, false, nil
	}
	return Concession{Category: p.Category, Lapsed: p.Review.LapsedCategory,
		From: card.ReviewDue.AddDate(0, -p.Review.EveryMonths, 0), To: p.InCategoryUntil(card.ReviewDue)}, true, nil
}
