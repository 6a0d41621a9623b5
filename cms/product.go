package cms

import (
	"fmt"
	"sort"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// RiderCategory is a rider category as a card carries it: the byte in its
// basic data file (Code) and the name the fare feed gives that byte
// (fare_codes.txt maps rider_category names to codes).
type RiderCategory struct {
	Name string
	Code uint8
}

// Registration says whether a product's card is tied to a cardholder.
type Registration uint8

// The registrations. Anonymous cards carry no cardholder and so cannot be
// refunded from their shadow when lost; registered ones can.
const (
	Anonymous  Registration = 1 // never registered (a bearer card)
	Optional   Registration = 2 // sold anonymous, may be registered (the city transit card)
	Registered Registration = 3 // always issued to a cardholder
)

var registrationNames = [...]string{Anonymous: "anonymous", Optional: "optional", Registered: "registered"}

func (r Registration) String() string {
	if r >= Anonymous && r <= Registered {
		return registrationNames[r]
	}
	return fmt.Sprintf("registration(%d)", uint8(r))
}

// EligibilityType is who may hold a product's card.
type EligibilityType uint8

// The eligibilities.
const (
	Anyone  EligibilityType = 1 // no condition
	ByAge   EligibilityType = 2 // at least Eligibility.AgeMin years old, from the date of birth
	Student EligibilityType = 3 // a school named and studies not yet ended
)

var eligibilityNames = [...]string{Anyone: "anyone", ByAge: "age", Student: "student"}

func (k EligibilityType) String() string {
	if k >= Anyone && k <= Student {
		return eligibilityNames[k]
	}
	return fmt.Sprintf("eligibility(%d)", uint8(k))
}

// Eligibility is a product's condition on its cardholder.
type Eligibility struct {
	Type   EligibilityType
	AgeMin int // years, for ByAge
}

// Review is a concession product's annual review (年审): every
// EveryMonths the cardholder shows again that they qualify. A card whose
// review is more than GraceDays overdue travels in LapsedCategory (the
// adult fare) until it is reviewed.
type Review struct {
	EveryMonths    int // 0: the product has no review
	GraceDays      int
	LapsedCategory RiderCategory
}

// RefundFee is the fee a refund keeps, after Octopus's published rule: the
// larger of MinFen and PercentBp (hundredths of a percent) of the balance,
// charged when any of the conditions holds: the card is returned within
// WithinDays of its issue, has made PurchasesMax purchases or fewer, or
// holds more than BalanceOverFen. A condition set to 0 is not a
// condition; with no condition at all the fee is always charged; with
// MinFen and PercentBp both 0 there is no fee.
type RefundFee struct {
	MinFen         int64
	PercentBp      int64
	WithinDays     int
	PurchasesMax   int
	BalanceOverFen int64
}

// Product is a card product: everything the platform needs to sell,
// personalize, load, review, replace and refund a card of it. Products are
// data (ParseProducts reads them), never code.
type Product struct {
	ID           string // short name, in the API and in records of the card
	Name         string // for people
	Profile      card.Profile
	CardType     uint8 // the card type byte of the basic data file (the fare feed's fare_media code)
	Category     RiderCategory
	Registration Registration
	// PartnerBank is the registry ID of the bank that co-brands the card
	// (its bank application), for citizen cards only; "" otherwise.
	PartnerBank string

	DepositFen        int64
	IssueFeeFen       int64
	ReplacementFeeFen int64
	RefundFee         RefundFee

	BalanceMaxFen   int64 // the card's balance cap
	LoadMaxFen      int64 // one load at most
	DailyLoadMaxFen int64 // the loads of one day (China time) at most

	ValidityYears int // from issue; the card's expiry date
	// CoolingDays is how long after a loss report the balance waits
	// before it moves to the replacement (冷静期), so that the lost card's
	// last offline records arrive.
	CoolingDays int
	// DormantYears is how long a registered card may go unused before it
	// is reported as dormant (never drained); 0: never reported.
	DormantYears int
	// TopUpDays is how long a remote top-up (补登) paid for a card waits to
	// be claimed on it at a kiosk, counter reader or phone before it
	// expires and is refunded to its payer (DefaultTopUpDays when the
	// products file does not say); 0: the product takes no remote
	// top-ups.
	TopUpDays int

	Eligibility Eligibility
	Review      Review
}

// Concession reports whether p's cards travel at a concession fare that
// needs an annual review.
func (p *Product) Concession() bool { return p.Review.EveryMonths > 0 }

// Catalog is the products a city sells, by ID, and the rider categories
// they name.
type Catalog struct {
	products   map[string]*Product
	categories map[string]RiderCategory
}

// Product returns the product with ID id. Kind NotFound.
func (c *Catalog) Product(id string) (*Product, error) {
	p, ok := c.products[id]
	if !ok {
		return nil, citycard.E("cms.Catalog.Product", citycard.NotFound, "no card product %q", id)
	}
	return p, nil
}

// Concessions returns the rider category code of each product with an
// annual review and the code it lapses to, as the fare terminals are
// told (their parameters): a category two products share lapses as the
// first of them by ID says.
func (c *Catalog) Concessions() map[uint8]uint8 {
	out := map[uint8]uint8{}
	for _, p := range c.Products() {
		if _, ok := out[p.Category.Code]; !ok && p.Concession() {
			out[p.Category.Code] = p.Review.LapsedCategory.Code
		}
	}
	return out
}

// Products returns the products in ID order.
func (c *Catalog) Products() []*Product {
	l := make([]*Product, 0, len(c.products))
	for _, p := range c.products {
		l = append(l, p)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	return l
}

// Category returns the rider category named name. Kind NotFound.
func (c *Catalog) Category(name string) (RiderCategory, error) {
	rc, ok := c.categories[name]
	if !ok {
		return RiderCategory{}, citycard.E("cms.Catalog.Category", citycard.NotFound, "no rider category %q", name)
	}
	return rc, nil
}
