package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
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
	// Review records a concession card's annual review in by's name
	// (cms.Manager.Review: the cardholder checked again). Kinds of
	// cms.Manager.Review.
	Review(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN) (cms.Card, error)
	// Replace replaces a lost or damaged card with a new one, newASN
	// (cms.Manager.Replace), the replacement fee paid in cash at the
	// counter, under idempotency key key. It returns the old card and
	// the new. Kinds of cms.Manager.Replace.
	Replace(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn, newASN citycard.ASN, key string) (old, nu cms.Card, err error)
	// QuoteRefund quotes what a refund of the card would pay now (its
	// balance as acquisition has it, the deposit, the fee and the
	// payout), and the payout over which a supervisor must approve it.
	QuoteRefund(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (q cms.RefundQuote, limitFen int64, err error)
	// Refund refunds and closes the card in by's name, paid out in cash
	// at the counter, under key (cms.Manager.Refund). Over the limit and
	// naming no approval (approvalID 0), it asks a supervisor's approval
	// and moves nothing (the approval returned); naming one, it must be
	// that request's, approved (cms.Staffing.GateRefund).
	Refund(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN, key string, approvalID int64) (RefundOutcome, error)
	// Decide approves or rejects an approval request in by's name: a
	// supervisor, never its requester (cms.Staffing.Decide).
	Decide(ctx context.Context, by Staff, id int64, approve bool) (cms.Approval, error)
	// Approval returns an approval request. Kind NotFound.
	Approval(ctx context.Context, id int64) (cms.Approval, error)
}

// RefundOutcome is what a refund asked for did: refunded (the card
// after it and the quote it paid), or waiting for an approval.
type RefundOutcome struct {
	Card     cms.Card
	Quote    cms.RefundQuote
	Approval *cms.Approval // not nil: asked for, nothing moved
	Replayed bool
}

// ManagedCard is what card management knows of one card.
type ManagedCard struct {
	Card          cms.Card
	ReplaceFeeFen int64      // the product's replacement fee
	Product       string     // the product's name for people
	Holder        string     // masked: name, ID and document, phone (cms's masks); "" for an anonymous card
	Flows         []cms.Flow // oldest first
}

// CMS is Cards over a cms.Manager. A refund reads the card's purse
// from Balances (nil: api.ShadowBalances over the Manager alone, no
// purchases) and asks approvals of Staffing (nil: a refund over the
// limit is refused, Unavailable); money at the console's counter is cash
// through CashParty's settlement account ("": the card's issuer's).
type CMS struct {
	Manager  *cms.Manager
	Staffing *cms.Staffing
	Balances api.Balances
	// RefundApprovalFen is the payout over which a refund needs a
	// supervisor; 0: api.DefaultRefundApprovalFen, as the API's.
	RefundApprovalFen int64
	CashParty         string
}

// ManagedCard implements Cards.
func (m CMS) ManagedCard(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (ManagedCard, error) {
	const op = "console.CMS.ManagedCard"
	c, err := m.Manager.Card(ctx, issuer, asn)
	if err != nil {
		return ManagedCard{}, citycard.Wrap(op, citycard.Other, err)
	}
	mc := ManagedCard{Card: c, Product: c.Product}
	if p, err := m.Manager.Product(c.Product); err == nil {
		mc.Product, mc.ReplaceFeeFen = p.Name, p.ReplacementFeeFen
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
	mc.Flows, err = m.Manager.Flows(ctx, issuer, asn)
	return mc, citycard.Wrap(op, citycard.Other, err)
}

// consolePoint is the service point of a move by staff whose account
// names none.
const consolePoint = "console"

// actor is by as card management names them.
func actor(by Staff) cms.Actor {
	sp := by.ServicePoint
	if sp == "" {
		sp = consolePoint
	}
	return cms.Actor{Who: by.Name, ServicePoint: sp}
}

// cash is the console counter's cash channel for a card of issuer.
func (m CMS) cash(issuer citycard.IssuerCode) cms.Channel {
	party := m.CashParty
	if party == "" {
		party = issuer.String()
	}
	return cms.Channel{Type: cms.Cash, Party: party}
}

func (m CMS) balances() api.Balances {
	if m.Balances != nil {
		return m.Balances
	}
	return api.ShadowBalances{Cards: m.Manager}
}

func (m CMS) limit() int64 {
	if m.RefundApprovalFen > 0 {
		return m.RefundApprovalFen
	}
	return api.DefaultRefundApprovalFen
}

// Replace implements Cards.
func (m CMS) Replace(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn, newASN citycard.ASN, key string) (cms.Card, cms.Card, error) {
	const op = "console.CMS.Replace"
	if _, err := m.Manager.Replace(ctx, actor(by), key, issuer, asn, newASN, m.cash(issuer)); err != nil {
		return cms.Card{}, cms.Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	old, err := m.Manager.Card(ctx, issuer, asn)
	if err != nil {
		return cms.Card{}, cms.Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	nu, err := m.Manager.Card(ctx, issuer, newASN)
	return old, nu, citycard.Wrap(op, citycard.Other, err)
}

// QuoteRefund implements Cards.
func (m CMS) QuoteRefund(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (cms.RefundQuote, int64, error) {
	q, _, _, _, err := m.quote(ctx, issuer, asn)
	return q, m.limit(), err
}

// quote reads the card and its purse (its balance and purchases) and
// quotes its refund.
func (m CMS) quote(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (q cms.RefundQuote, c cms.Card, bal int64, purchases []cms.Purchase, err error) {
	const op = "console.CMS.QuoteRefund"
	if c, err = m.Manager.Card(ctx, issuer, asn); err == nil {
		bal, purchases, err = m.balances().Balance(ctx, issuer, asn)
	}
	if err == nil {
		q, err = m.Manager.QuoteRefund(&c, bal, purchases)
	}
	return q, c, bal, purchases, citycard.Wrap(op, citycard.Other, err)
}

// Refund implements Cards. The request an approval is given for is the
// key and the card: the payee is the counter's cash, always.
func (m CMS) Refund(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN, key string, approvalID int64) (RefundOutcome, error) {
	const op = "console.CMS.Refund"
	// A confirmation sent again is answered by its key, before the card
	// (closed, its book moved) is reckoned again: the first quote,
	// whatever arrived since; the key of another card's or payee's
	// refund is a Conflict naming it.
	if q, replayed, err := m.Manager.RefundReplay(ctx, key, issuer, asn, m.cash(issuer)); err != nil || replayed {
		if err != nil {
			return RefundOutcome{}, citycard.Wrap(op, citycard.Other, err)
		}
		c, err := m.Manager.Card(ctx, issuer, asn)
		return RefundOutcome{Card: c, Quote: q, Replayed: true}, citycard.Wrap(op, citycard.Other, err)
	}
	q, c, bal, purchases, err := m.quote(ctx, issuer, asn)
	if err != nil {
		return RefundOutcome{}, err
	}
	out := RefundOutcome{Card: c, Quote: q}
	if q.PaidFen > m.limit() || approvalID != 0 {
		if m.Staffing == nil {
			return out, citycard.E(op, citycard.Unavailable, "card %v: a refund of %s yuan needs a supervisor's approval, and the console has no approvals", &c, citycard.Yuan(q.PaidFen))
		}
		a, err := m.Staffing.GateRefund(ctx, &cms.StaffMember{Name: by.Name, Role: cms.Role(by.Role), ServicePoint: actor(by).ServicePoint},
			"card:"+c.String(), refundRequest(key), q.PaidFen, m.limit(), approvalID)
		if err != nil || a != nil {
			out.Approval = a
			return out, citycard.Wrap(op, citycard.Other, err)
		}
	}
	out.Replayed, err = m.Manager.Refund(ctx, actor(by), key, issuer, asn, m.cash(issuer), bal, purchases)
	if err == nil {
		out.Card, err = m.Manager.Card(ctx, issuer, asn)
	}
	return out, citycard.Wrap(op, citycard.Other, err)
}

// refundRequest is the request a console refund's approval is asked
// for: its key (the card is the approval's subject, the payee the
// counter's cash).
func refundRequest(key string) string { return "console refund " + key }

// Approval implements Cards.
func (m CMS) Approval(ctx context.Context, id int64) (cms.Approval, error) {
	const op = "console.CMS.Approval"
	if m.Staffing == nil {
		return cms.Approval{}, citycard.E(op, citycard.Unavailable, "the console has no approvals")
	}
	a, err := m.Staffing.Approval(ctx, id)
	return a, citycard.Wrap(op, citycard.Other, err)
}

// Decide implements Cards.
func (m CMS) Decide(ctx context.Context, by Staff, id int64, approve bool) (cms.Approval, error) {
	const op = "console.CMS.Decide"
	if m.Staffing == nil {
		return cms.Approval{}, citycard.E(op, citycard.Unavailable, "the console has no approvals")
	}
	a, err := m.Staffing.Decide(ctx, &cms.StaffMember{Name: by.Name, Role: cms.Role(by.Role), ServicePoint: actor(by).ServicePoint}, id, approve)
	return a, citycard.Wrap(op, citycard.Other, err)
}

// Move implements Cards: the staff member is the actor, at their service
// point.
func (m CMS) Move(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN, mv cms.Move) (cms.Card, error) {
	c, err := m.Manager.Move(ctx, actor(by), issuer, asn, mv)
	return c, citycard.Wrap("console.CMS.Move", citycard.Other, err)
}

// Review implements Cards: the staff member is the actor, at their
// service point.
func (m CMS) Review(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN) (cms.Card, error) {
	c, err := m.Manager.Review(ctx, actor(by), issuer, asn)
	return c, citycard.Wrap("console.CMS.Review", citycard.Other, err)
}

// cardMoves are the lifecycle moves the card page offers, by form value,
// each with the least role that makes it; the annual review is no move
// of the state machine, but the page offers it beside them.
var cardMoves = map[string]struct {
	move   cms.Move
	role   Role
	review bool // the annual review (Cards.Review), not a move
}{
	"report-loss": {move: cms.ReportLoss, role: RoleClerk},
	"cancel-loss": {move: cms.CancelLoss, role: RoleClerk},
	"expire":      {move: cms.Expire, role: RoleClerk},
	"renew":       {move: cms.Renew, role: RoleClerk},
	"review":      {role: RoleClerk, review: true},
}

// managedView is the card page's part from card management.
type managedView struct {
	ManagedCard
	BookFen  int64      // BookBalances of every flow
	Shown    []flowView // the newest cardFlowsMax flows, newest first
	FlowsCut bool
	ReportOK bool // the card's state allows a loss report
	CancelOK bool // the card's state allows a cancel
	// ReviewOK: a concession card in use, to review; ExpireOK: a card in
	// use past its last day of validity; RenewOK: the card's state
	// allows a renewal.
	ReviewOK, ExpireOK, RenewOK bool
	// ReplaceOK: the card's state allows a replacement, of
	// ReplaceFeeFen; RefundOK: a refund (its quote first).
	ReplaceOK     bool
	ReplaceFeeFen int64
	RefundOK      bool
	Key           string       // a fresh idempotency key for the replacement's form
	Quote         *refundQuote // the refund's quote, when asked for
	ApproveOK     bool         // the staff member decides approvals (a supervisor)
	// ReplacedBy and Replaces are the ASNs of the card's replacement and
	// of the card it replaces, "" for none.
	ReplacedBy, Replaces string
	FlowsMax             int
	NotKnown             bool // card management has no such card
	NoCards              bool // the console has no card management
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
	_, v.ExpireOK = cms.Next(mc.Card.State, cms.Expire)
	v.ExpireOK = v.ExpireOK && mc.Card.Expiry.Before(cms.Today(c.Now()))
	_, v.RenewOK = cms.Next(mc.Card.State, cms.Renew)
	v.ReviewOK = !mc.Card.ReviewDue.IsZero() && (mc.Card.State == cms.Issued || mc.Card.State == cms.Active)
	_, v.ReplaceOK = cms.Next(mc.Card.State, cms.Replace)
	_, v.RefundOK = cms.Next(mc.Card.State, cms.Refund)
	v.ReplaceFeeFen, v.Key = mc.ReplaceFeeFen, "console:"+randomToken()
	if a := mc.Card.ReplacedBy; a != (citycard.ASN{}) {
		v.ReplacedBy = a.String()
	}
	if a := mc.Card.Replaces; a != (citycard.ASN{}) {
		v.Replaces = a.String()
	}
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
		c.fail(w, r, s, citycard.E(op, citycard.Invalid, "move=%q: report-loss, cancel-loss, expire, renew or review", r.PostFormValue("move")))
		return
	case s.staff.Role < m.role:
		c.fail(w, r, s, citycard.E(op, citycard.Permission, "%s (%v) may not %s: it takes the %v role", s.staff.Name, s.staff.Role, r.PostFormValue("move"), m.role))
		return
	case c.Cards == nil:
		c.fail(w, r, s, citycard.E(op, citycard.NotFound, "no card management: the console moves no card"))
		return
	}
	if m.review {
		card, err := c.Cards.Review(r.Context(), s.staff, issuer, asn)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		c.Logger.Info("console: card reviewed", "by", s.staff.Name, "card", card.String(), "review_due", card.ReviewDue.String())
		c.card(w, r, s, http.StatusOK, fmt.Sprintf("Card %v: reviewed, next review due %v.", card.String(), card.ReviewDue))
		return
	}
	card, err := c.Cards.Move(r.Context(), s.staff, issuer, asn, m.move)
	if err != nil && card.State == 0 {
		c.fail(w, r, s, err)
		return
	}
	c.Logger.Info("console: card moved", "by", s.staff.Name, "card", card.String(), "move", m.move.String(), "state", card.State.String())
	msg := fmt.Sprintf("Card %v: %v, now %v.", card.String(), m.move, card.State)
	if m.move == cms.Renew {
		msg = fmt.Sprintf("Card %v: renewed, valid until %v.", card.String(), card.Expiry)
	}
	if err != nil { // moved, the blacklist did not take it (cms.Manager.ListLost)
		c.Logger.Error("console: card moved, blacklist not changed", "card", card.String(), "err", err)
		msg += " The blacklist did not take it: see the server's log."
	}
	c.card(w, r, s, http.StatusOK, msg)
}

// refundQuote is a refund's quote as the card page shows it before the
// confirmation: what it pays, whether a supervisor must approve it, and
// the form's key (the same through the approval, so that the request
// approved is the one confirmed) and approval.
type refundQuote struct {
	cms.RefundQuote
	LimitFen   int64
	Over       bool // the payout is over the limit: a supervisor approves it
	Key        string
	ApprovalID int64
}

// formKey reads a form's idempotency key: 1 to cms.KeyLenMax bytes.
func formKey(op, key string) error {
	if key == "" || len(key) > cms.KeyLenMax {
		return citycard.E(op, citycard.Invalid, "key: want an idempotency key of 1 to %d bytes", cms.KeyLenMax)
	}
	return nil
}

// formCard reads the form's card and checks that the console has card
// management.
func (c *Console) formCard(r *http.Request, op string) (citycard.IssuerCode, citycard.ASN, error) {
	issuer, asn, err := parseCard(r.FormValue("issuer"), r.FormValue("asn"))
	if err != nil {
		return issuer, asn, citycard.Wrap(op, citycard.Invalid, err)
	}
	if c.Cards == nil {
		return issuer, asn, citycard.E(op, citycard.NotFound, "no card management: the console moves no card")
	}
	return issuer, asn, nil
}

// handleRefundQuote shows the card with its refund's quote (balance,
// deposit, fee, payout) and the form that confirms it.
func (c *Console) handleRefundQuote(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.refundQuote"
	issuer, asn, err := c.formCard(r, op)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	quote := &refundQuote{Key: "console:" + randomToken()}
	if v := r.FormValue("approval"); v != "" {
		// The confirmation of a refund approved: the key it was asked
		// with is the approval's request's.
		id, err := strconv.ParseInt(v, 10, 64)
		var a cms.Approval
		if err == nil && id > 0 {
			a, err = c.Cards.Approval(r.Context(), id)
		} else {
			err = citycard.E(op, citycard.Invalid, "approval=%q: an approval request's number", v)
		}
		key, ok := strings.CutPrefix(a.Request, refundRequest(""))
		switch {
		case citycard.IsKind(err, citycard.NotFound):
			err = citycard.Wrap(op, citycard.Invalid, err)
		case err == nil && (a.Action != "refund" || a.Subject != "card:"+issuer.String()+"/"+asn.String() || !ok):
			err = citycard.E(op, citycard.Invalid, "approval %d is not a console refund of card %v/%v", id, issuer, asn)
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		quote.Key, quote.ApprovalID = key, id
	}
	q, limit, err := c.Cards.QuoteRefund(r.Context(), issuer, asn)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	quote.RefundQuote, quote.LimitFen, quote.Over = q, limit, q.PaidFen > limit
	c.cardWith(w, r, s, http.StatusOK, "", quote)
}

// handleRefund makes the refund the quote's form confirms; over the
// limit it asks a supervisor's approval first (nothing moved) and shows
// the quote again with it, to be confirmed once approved.
func (c *Console) handleRefund(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.refund"
	issuer, asn, err := c.formCard(r, op)
	key := r.PostFormValue("key")
	if err == nil {
		err = formKey(op, key)
	}
	var approval int64
	if v := strings.TrimSpace(r.PostFormValue("approval")); v != "" && err == nil {
		if approval, err = strconv.ParseInt(v, 10, 64); err != nil || approval < 1 {
			err = citycard.E(op, citycard.Invalid, "approval=%q: an approval request's number", v)
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	out, err := c.Cards.Refund(r.Context(), s.staff, issuer, asn, key, approval)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if a := out.Approval; a != nil {
		c.Logger.Info("console: refund waits for approval", "by", s.staff.Name, "card", out.Card.String(), "approval", a.ID, "paid_fen", out.Quote.PaidFen)
		_, limit, _ := c.Cards.QuoteRefund(r.Context(), issuer, asn)
		msg := fmt.Sprintf("Refund of card %v: %s yuan is over the limit of %s: approval %d asked; a supervisor approves it on this card's page, then confirm it here (or from the refund's page with approval %d).", out.Card.String(), citycard.Yuan(out.Quote.PaidFen), citycard.Yuan(limit), a.ID, a.ID)
		c.cardWith(w, r, s, http.StatusAccepted, msg, &refundQuote{RefundQuote: out.Quote, LimitFen: limit, Over: true, Key: key, ApprovalID: a.ID})
		return
	}
	c.Logger.Info("console: card refunded", "by", s.staff.Name, "card", out.Card.String(), "paid_fen", out.Quote.PaidFen, "approval", approval, "replayed", out.Replayed)
	msg := fmt.Sprintf("Card %v refunded: %s yuan paid out in cash (balance %s, deposit %s, fee %s), now %v.", out.Card.String(),
		citycard.Yuan(out.Quote.PaidFen), citycard.Yuan(out.Quote.BalanceFen), citycard.Yuan(out.Quote.DepositFen), citycard.Yuan(out.Quote.FeeFen), out.Card.State)
	if out.Replayed {
		msg = fmt.Sprintf("Card %v was refunded already under this confirmation: nothing paid twice.", out.Card.String())
	}
	c.card(w, r, s, http.StatusOK, msg)
}

// handleReplace replaces the form's lost or damaged card with a new one
// (new_asn), the replacement fee paid in cash.
func (c *Console) handleReplace(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.replace"
	issuer, asn, err := c.formCard(r, op)
	key := r.PostFormValue("key")
	if err == nil {
		err = formKey(op, key)
	}
	var nu citycard.ASN
	if err == nil {
		if nu, err = citycard.ParseASN(strings.TrimSpace(r.PostFormValue("new_asn"))); err != nil {
			err = citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	old, n, err := c.Cards.Replace(r.Context(), s.staff, issuer, asn, nu, key)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.Logger.Info("console: card replaced", "by", s.staff.Name, "card", old.String(), "new_card", n.String())
	c.card(w, r, s, http.StatusOK, fmt.Sprintf("Card %v replaced by %v (%v): its balance moves to it when the cooling period ends.", old.String(), n.ASN, n.State))
}

// handleApproval decides an approval request (a supervisor, never its
// requester), then shows the form's card.
func (c *Console) handleApproval(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.approval"
	_, _, err := c.formCard(r, op)
	id, perr := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("approval")), 10, 64)
	decision := r.PostFormValue("decision")
	switch {
	case err != nil:
	case perr != nil || id < 1:
		err = citycard.E(op, citycard.Invalid, "approval=%q: an approval request's number", r.PostFormValue("approval"))
	case decision != "approve" && decision != "reject":
		err = citycard.E(op, citycard.Invalid, "decision=%q: approve or reject", decision)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	a, err := c.Cards.Decide(r.Context(), s.staff, id, decision == "approve")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.Logger.Info("console: approval decided", "by", s.staff.Name, "approval", a.ID, "state", a.State.String())
	c.card(w, r, s, http.StatusOK, fmt.Sprintf("Approval %d (%s on %s, %s yuan, asked by %s): %v.", a.ID, a.Action, a.Subject, citycard.Yuan(a.AmountFen), a.RequestedBy, a.State))
}
