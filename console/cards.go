package console

import (
	"context"
	"fmt"
	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// cardFlowsMax bounds the transactions a card's page shows: the newest,
// as many as the cardholder's app shows (api's selfFlowsMax).
const cardFlowsMax = 50

// Cards is what the console asks of card management: a card as it knows
// it, and the lifecycle moves staff make on it (CMS adapts a
// cms.Manager).
type Cards interface {
	// ManagedCard returns the card, its product, its holder masked and
	// its flows, oldest first. Kind NotFound for a card card management
	// does not know.
	ManagedCard(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (ManagedCard, error)
	// Move makes move mv on the card in by's name (cms.Manager.Move:
	// audited, and a loss onto the blacklist). Kind Conflict for a move
	// the card's state forbids.
	Move(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN, mv cms.Move) (cms.Card, error)
}

// ManagedCard is what card management knows of one card.
type ManagedCard struct {
	Card    cms.Card
	Product string     // the product's name for people
	Holder  string     // masked: name, ID and document, phone (cms's masks); "" for an anonymous card
	Flows   []cms.Flow // oldest first
}

// CMS is Cards over a cms.Manager.
type CMS struct{ Manager *cms.Manager }

// ManagedCard implements Cards.
func (m CMS) ManagedCard(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (ManagedCard, error) {
	const op = "console.CMS.ManagedCard"
	c, err := m.Manager.Card(ctx, issuer, asn)
	if err != nil {
		return ManagedCard{}, citycard.Wrap(op, citycard.Other, err)
	}
	mc := ManagedCard{Card: c, Product: c.Product}
	if p, err := m.Manager.Product(c.Product); err == nil {
		mc.Product = p.Name
	}
	if c.Holder != 0 {
		h, err := m.Manager.Holder(ctx, c.Holder)
		if err != nil {
			return ManagedCard{}, citycard.Wrap(op, citycard.Other, err)
		}
		mc.Holder = fmt.Sprintf("%v, %v", h.Name, h)
		if h.Phone != "" {
			mc.Holder += fmt.Sprintf(", %v", h.Phone)
		}
	}
	mc.Flows, err = m.Manager.Flows(ctx, asn)
	return mc, citycard.Wrap(op, citycard.Other, err)
}

// consolePoint is the service point of a move by staff whose account
// names none.
const consolePoint = "console"

// Move implements Cards: the staff member is the actor, at their service
// point.
func (m CMS) Move(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN, mv cms.Move) (cms.Card, error) {
	sp := by.ServicePoint
	if sp == "" {
		sp = consolePoint
	}
	c, err := m.Manager.Move(ctx, cms.Actor{Who: by.Name, ServicePoint: sp}, issuer, asn, mv)
	return c, citycard.Wrap("console.CMS.Move", citycard.Other, err)
}

// cardMoves are the lifecycle moves the card page offers, by form value,
// each with the least role that makes it.
var cardMoves = map[string]struct {
	move cms.Move
	role Role
}{
	"report-loss": {cms.ReportLoss, RoleClerk},
	"cancel-loss": {cms.CancelLoss, RoleClerk},
}

// managedView is the card page's part from card management.
type managedView struct {
	ManagedCard
	BookFen  int64      // BookBalances of every flow
	Shown    []flowView // the newest cardFlowsMax flows, newest first
	FlowsCut bool
	ReportOK bool // the card's state allows a loss report
	CancelOK bool // the card's state allows a cancel
	FlowsMax int
	NotKnown bool // card management has no such card
	NoCards  bool // the console has no card management
}

type flowView struct {
	N    int // its place in the card's book, from 1
	Type string
	Fen  int64
}

// managed reads what card management knows of the card; a card it does
// not know is a view saying so, anything else an error.
func (c *Console) managed(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (*managedView, error) {
	if c.Cards == nil {
		return &managedView{NoCards: true}, nil
	}
	mc, err := c.Cards.ManagedCard(ctx, issuer, asn)
	if citycard.IsKind(err, citycard.NotFound) {
		return &managedView{NotKnown: true}, nil
	}
	if err != nil {
		return nil, err
	}
	v := &managedView{ManagedCard: mc, BookFen: cms.BookBalances(mc.Flows)[asn], FlowsMax: cardFlowsMax}
	_, v.ReportOK = cms.Next(mc.Card.State, cms.ReportLoss)
	v.ReportOK = v.ReportOK && mc.Card.Holder != 0 // an anonymous card is nobody's to report (Card.Move)
	_, v.CancelOK = cms.Next(mc.Card.State, cms.CancelLoss)
	v.FlowsCut = len(mc.Flows) > cardFlowsMax
	for i := len(mc.Flows) - 1; i >= 0 && len(v.Shown) < cardFlowsMax; i-- {
		v.Shown = append(v.Shown, flowView{N: i + 1, Type: mc.Flows[i].Type.String(), Fen: mc.Flows[i].Fen})
	}
	return v, nil
}

// handleCardMove makes the form's lifecycle move on the form's card in
// the staff member's name, then shows the card; a move the card's state
// forbids is card management's Conflict, shown as its error page.
func (c *Console) handleCardMove(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.cardMove"
	issuer, asn, err := parseCard(r.PostFormValue("issuer"), r.PostFormValue("asn"))
	if err != nil {
		c.fail(w, r, s, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	m, ok := cardMoves[r.PostFormValue("move")]
	switch {
	case !ok:
		c.fail(w, r, s, citycard.E(op, citycard.Invalid, "move=%q: report-loss or cancel-loss", r.PostFormValue("move")))
		return
	case s.staff.Role < m.role:
		c.fail(w, r, s, citycard.E(op, citycard.Permission, "%s (%v) may not %v: it takes the %v role", s.staff.Name, s.staff.Role, m.move, m.role))
		return
	case c.Cards == nil:
		c.fail(w, r, s, citycard.E(op, citycard.NotFound, "no card management: the console moves no card"))
		return
	}
	card, err := c.Cards.Move(r.Context(), s.staff, issuer, asn, m.move)
	if err != nil && card.State == 0 {
		c.fail(w, r, s, err)
		return
	}
	c.Logger.Info("console: card moved", "by", s.staff.Name, "card", card.String(), "move", m.move.String(), "state", card.State.String())
	msg := fmt.Sprintf("Card %v: %v, now %v.", card.String(), m.move, card.State)
	if err != nil { // moved, the blacklist did not take it (cms.Manager.ListLost)
		c.Logger.Error("console: card moved, blacklist not changed", "card", card.String(), "err", err)
		msg += " The blacklist did not take it: see the server's log."
	}
	c.card(w, r, s, http.StatusOK, msg)
}
