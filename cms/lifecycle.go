package cms

import (
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard"
)

// State is where a card is in its life.
type State uint8

// The states. The values are stored: keep them, add at the end.
const (
	Applied      State = 1 // applied for, not yet personalized
	Personalized State = 2 // keys and data written on the chip
	Issued       State = 3 // handed over, not yet used or activated
	Active       State = 4 // in use
	Lost         State = 5 // reported lost: blacklisted, LostAt recorded
	Replaced     State = 6 // a replacement is issued; the balance waits for the cooling period
	Damaged      State = 7 // reported unreadable: refunded or replaced from its shadow
	Expired      State = 8 // past its validity
	Closed       State = 9 // refunded, voided or its balance moved: final
)

var stateNames = [...]string{
	Applied: "applied", Personalized: "personalized", Issued: "issued", Active: "active", Lost: "lost",
	Replaced: "replaced", Damaged: "damaged", Expired: "expired", Closed: "closed",
}

// States lists every state, in order.
var States = []State{Applied, Personalized, Issued, Active, Lost, Replaced, Damaged, Expired, Closed}

func (s State) String() string {
	if s >= Applied && s <= Closed {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Move is one step of a card's life a service point (or a clock) asks for.
type Move uint8

// The moves. The values are stored in the audit: keep them, add at the end.
const (
	Personalize   Move = 1  // applied -> personalized
	Issue         Move = 2  // personalized -> issued
	Activate      Move = 3  // issued -> active (its first load or at the counter)
	ReportLoss    Move = 4  // issued or active -> lost, the report's time kept
	CancelLoss    Move = 5  // lost -> the state the report interrupted: found again before a replacement
	Replace       Move = 6  // lost or damaged -> replaced (a new card takes over)
	MoveBalance   Move = 7  // replaced -> closed: the balance moved, after the cooling period
	ReportDamaged Move = 8  // active or expired -> damaged
	Expire        Move = 9  // issued or active -> expired
	Renew         Move = 10 // active or expired -> active, validity extended
	Refund        Move = 11 // active, lost, damaged or expired -> closed: balance and deposit back
	Void          Move = 12 // applied or personalized -> closed: never issued
)

var moveNames = [...]string{
	Personalize: "personalize", Issue: "issue", Activate: "activate", ReportLoss: "report loss",
	CancelLoss: "cancel loss", Replace: "replace", MoveBalance: "move balance", ReportDamaged: "report damaged",
	Expire: "expire", Renew: "renew", Refund: "refund", Void: "void",
}

// Moves lists every move, in order.
var Moves = []Move{Personalize, Issue, Activate, ReportLoss, CancelLoss, Replace, MoveBalance, ReportDamaged, Expire, Renew, Refund, Void}

func (m Move) String() string {
	if m >= Personalize && m <= Void {
		return moveNames[m]
	}
	return fmt.Sprintf("move(%d)", uint8(m))
}

// transitions is the whole state machine: for each move, the states it is
// allowed from and the state it leads to. A pair not listed is forbidden.
var transitions = [...]struct {
	from []State
	to   State
}{
	Personalize:   {[]State{Applied}, Personalized},
	Issue:         {[]State{Personalized}, Issued},
	Activate:      {[]State{Issued}, Active},
	ReportLoss:    {[]State{Issued, Active}, Lost},
	CancelLoss:    {[]State{Lost}, Active},
	Replace:       {[]State{Lost, Damaged}, Replaced},
	MoveBalance:   {[]State{Replaced}, Closed},
	ReportDamaged: {[]State{Active, Expired}, Damaged},
	Expire:        {[]State{Issued, Active}, Expired},
	Renew:         {[]State{Active, Expired}, Active},
	Refund:        {[]State{Active, Lost, Damaged, Expired}, Closed},
	Void:          {[]State{Applied, Personalized}, Closed},
}

// Next returns the state move m leads to from state s, and whether m is
// allowed from s at all. For CancelLoss it returns active; a card lost
// before it was activated goes back to issued (Card.Move).
func Next(s State, m Move) (State, bool) {
	if m < Personalize || m > Void {
		return 0, false
	}
	t := transitions[m]
	for _, f := range t.from {
		if f == s {
			return t.to, true
		}
	}
	return 0, false
}

// Card is what card management knows of one card: its identity, product,
// holder, state and the times of its life. The balance is not here: the
// card's shadow (package acquire) and the ledger hold it.
type Card struct {
	Issuer  citycard.IssuerCode
	ASN     citycard.ASN
	Product string // the product's ID
	Holder  int64  // the cardholder's ID; 0 for an anonymous card
	State   State
	// Version counts the moves the card made: a store writes a move only
	// over the version it read, so two moves racing on one card cannot
	// both pass.
	Version int64

	AppliedAt   time.Time
	IssuedAt    time.Time // the Issue move: the start of refund-fee days
	LostAt      time.Time // the loss report (or damage report): the cut of liability
	ClosedAt    time.Time
	Expiry      Date // the last day of validity
	ReviewDue   Date // a concession card's next annual review
	ReplacedBy  citycard.ASN
	Replaces    citycard.ASN
	StateBefore State // the state a loss report interrupted, for CancelLoss
}

// String names the card as its issuer and ASN: "31500001FFFFFFFF/0123456789ABCDEF".
func (c *Card) String() string { return c.Issuer.String() + "/" + c.ASN.String() }

// Move makes move m on the card, a card of product p, at time at and
// returns the card after it; c is unchanged. A move not allowed from the
// card's state is kind Conflict, naming the card, its state, the move and
// the states it is allowed from. So is a move the product or the clock
// forbids: reporting an anonymous card lost (nobody can show it is
// theirs), expiring a card before its last day, moving the balance before
// the cooling period has passed (CoolingEnds). A product that is not the
// card's is kind Invalid.
//
// Move keeps what the move records: IssuedAt, the expiry (ValidityYears
// from the day of issue) and a concession's first review due for Issue
// (a replacement's is the old card's, Manager.Replace);
// LostAt for ReportLoss and ReportDamaged (cleared by CancelLoss, which
// returns the card to the state the report interrupted, issued or
// active); a new expiry for Renew (ValidityYears from the later of today
// and the old expiry); ClosedAt for the moves that close. The facts of a
// move that come from outside (the new card of a Replace) are the
// caller's to set on the result.
func (c Card) Move(p *Product, m Move, at time.Time) (Card, error) {
	const op = "cms.Card.Move"
	if p.ID != c.Product {
		return c, citycard.E(op, citycard.Invalid, "card %v is a %s card, not %s", &c, c.Product, p.ID)
	}
	to, ok := Next(c.State, m)
	if !ok {
		return c, forbidden(op, &c, m)
	}
	today := Today(at)
	switch m {
	case Issue:
		c.IssuedAt = at
		c.Expiry = today.AddDate(p.ValidityYears, 0, 0)
		if c.ReviewDue.IsZero() { // a replacement keeps the review of the card it replaces
			c.ReviewDue = p.ReviewDue(today)
		}
	case ReportLoss:
		if c.Holder == 0 {
			return c, citycard.E(op, citycard.Conflict, "card %v is anonymous: only a registered card can be reported lost", &c)
		}
		c.StateBefore = c.State
		c.LostAt = at
	case ReportDamaged:
		c.LostAt = at
	case CancelLoss:
		if c.StateBefore == Issued {
			to = Issued
		}
		c.LostAt, c.StateBefore = time.Time{}, 0
	case Expire:
		if !c.Expiry.Before(today) {
			return c, citycard.E(op, citycard.Conflict, "card %v is valid until %v: it cannot expire on %v", &c, c.Expiry, today)
		}
	case Renew:
		from := c.Expiry
		if from.Before(today) {
			from = today
		}
		c.Expiry = from.AddDate(p.ValidityYears, 0, 0)
	case MoveBalance:
		if ends := CoolingEnds(p, &c); at.Before(ends) {
			return c, citycard.E(op, citycard.Conflict, "card %v: the cooling period runs until %v", &c, ends.UTC().Format(time.RFC3339))
		}
	}
	if to == Closed {
		c.ClosedAt = at
	}
	c.State = to
	c.Version++
	return c, nil
}

// CoolingEnds returns the time from which a lost or damaged card's balance
// may move to its replacement: CoolingDays after its loss (or damage)
// report.
func CoolingEnds(p *Product, c *Card) time.Time {
	return c.LostAt.Add(time.Duration(p.CoolingDays) * 24 * time.Hour)
}

// forbidden is the error of move m refused from c's state: kind
// Conflict, naming the card, its state, the move and the states it is
// allowed from.
func forbidden(op string, c *Card, m Move) error {
	return citycard.E(op, citycard.Conflict, "card %v is %v: %v is allowed only from %s", c, c.State, m, allowedFrom(m))
}

// allowedFrom lists the states m is allowed from, for an error message.
func allowedFrom(m Move) string {
	if m < Personalize || m > Void {
		return "no state (not a move)"
	}
	var names []string
	for _, s := range transitions[m].from {
		names = append(names, s.String())
	}
	return strings.Join(names, " or ")
}
