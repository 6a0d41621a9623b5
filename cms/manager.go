package cms

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
)

// ActorLenMax bounds an actor's name and service point.
const ActorLenMax = 64

// Actor is who asks for a change and where: the member of staff (or
// terminal, or cardholder) and the service point. Every audit record
// names both.
type Actor struct {
	Who          string
	ServicePoint string
}

func (a Actor) check(op string) error {
	if a.Who == "" || len(a.Who) > ActorLenMax || a.ServicePoint == "" || len(a.ServicePoint) > ActorLenMax {
		return citycard.E(op, citycard.Invalid, "actor %q at %q: want both, 1 to %d bytes each", a.Who, a.ServicePoint, ActorLenMax)
	}
	return nil
}

// Manager applies card management's rules over a Store: it validates,
// encrypts personal data before the store sees it, checks eligibility and
// the state machine, and writes every change with its audit record in the
// same transaction. Time comes from the injected clock, one reading per
// change.
type Manager struct {
	store     Store
	products  *Catalog
	protector *Protector
	now       func() time.Time
	blacklist Blacklist // nil: none (tests of card management alone)
	// replaced moves a replaced card's waiting remote top-ups to its
	// replacement; NewTopUps sets it (TopUps.follow). nil: none.
	replaced func(ctx context.Context, by Actor, issuer citycard.IssuerCode, old citycard.ASN) error
	// adjustTopUp pays a remote top-up from the issuer's adjustment
	// account, for Adjust's credit of a card in use; NewTopUps sets it
	// (TopUps.pay). nil: none.
	adjustTopUp func(ctx context.Context, op string, by Actor, key string, issuer citycard.IssuerCode, asn citycard.ASN, payer Channel, amountFen int64, audit func(*TopUp) *AuditRecord) (TopUp, bool, error)
}

// Blacklist is the blacklist terminals download (*blacklist.List has
// it): a card reported lost is listed, a cancelled loss delists it.
type Blacklist interface {
	Set(ctx context.Context, c blacklist.Card, added bool, reason, by string) (int64, error)
}

// WithBlacklist makes m list the cards reported lost on b (and delist
// them when the loss is cancelled), and returns m.
func (m *Manager) WithBlacklist(b Blacklist) *Manager {
	m.blacklist = b
	return m
}

// NewManager returns a Manager over store, selling products, protecting
// personal data with protector, reading time from now.
func NewManager(store Store, products *Catalog, protector *Protector, now func() time.Time) *Manager {
	return &Manager{store: store, products: products, protector: protector, now: now}
}

func (m *Manager) audit(by Actor, at time.Time, subject, action, before, after string) *AuditRecord {
	return &AuditRecord{At: at, Actor: by.Who, ServicePoint: by.ServicePoint, Subject: subject, Action: action, Before: before, After: after}
}

func holderSubject(id int64) string { return "holder:" + strconv.FormatInt(id, 10) }

// Register stores a new cardholder and returns it with its ID. The
// document number is normalized first. Kinds Invalid (Cardholder.Validate,
// the actor), Exists (the document is registered already), IO.
func (m *Manager) Register(ctx context.Context, by Actor, h Cardholder) (Cardholder, error) {
	const op = "cms.Manager.Register"
	if err := by.check(op); err != nil {
		return Cardholder{}, err
	}
	h.DocNumber = NormalizeDocNumber(string(h.DocNumber))
	if err := h.Validate(); err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	at := m.now()
	id, err := m.store.CreateHolder(ctx, func(id int64) (Protected, *AuditRecord, error) {
		h.ID = id
		p, err := m.protector.Protect(&h)
		if err != nil {
			return Protected{}, nil, err
		}
		return p, m.audit(by, at, holderSubject(id), "register", "", p.Snapshot()), nil
	})
	if err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	h.ID = id
	return h, nil
}

// UpdateHolder replaces cardholder h.ID's personal data with h's (a new
// phone, a school), encrypted afresh, the audit record showing the
// protected form before and after. Kinds Invalid, NotFound, Exists
// (another holder's document), Crypto, IO.
func (m *Manager) UpdateHolder(ctx context.Context, by Actor, h Cardholder) error {
	const op = "cms.Manager.UpdateHolder"
	if err := by.check(op); err != nil {
		return err
	}
	h.DocNumber = NormalizeDocNumber(string(h.DocNumber))
	old, err := m.store.Holder(ctx, h.ID)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	p, err := m.protector.Protect(&h)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	a := m.audit(by, m.now(), holderSubject(h.ID), "update", old.Snapshot(), p.Snapshot())
	return citycard.Wrap(op, citycard.Other, m.store.UpdateHolder(ctx, p, a))
}

// Holder returns cardholder id, decrypted. Kinds NotFound, Crypto (the
// stored form does not open under this data key), IO.
func (m *Manager) Holder(ctx context.Context, id int64) (Cardholder, error) {
	const op = "cms.Manager.Holder"
	p, err := m.store.Holder(ctx, id)
	if err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	h, err := m.protector.Reveal(p)
	return h, citycard.Wrap(op, citycard.Other, err)
}

// FindHolder returns the cardholder of a document, looked up by its keyed
// hash. Kinds NotFound (the message names the document type only), Crypto,
// IO.
func (m *Manager) FindHolder(ctx context.Context, t DocType, number string) (Cardholder, error) {
	const op = "cms.Manager.FindHolder"
	p, err := m.store.HolderByLookup(ctx, m.protector.LookupHash(t, NormalizeDocNumber(number)))
	if citycard.IsKind(err, citycard.NotFound) {
		return Cardholder{}, citycard.E(op, citycard.NotFound, "no cardholder with that %v", t)
	}
	if err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	h, err := m.protector.Reveal(p)
	return h, citycard.Wrap(op, citycard.Other, err)
}

// Apply records an application for a card of product (state applied),
// for cardholder holder (0 for an anonymous card). Kinds NotFound (no
// such product or cardholder), Invalid (a holder missing where the
// product is registered, or given where it is anonymous), Permission (the
// holder is not eligible today, Product.CheckEligible), Exists (the ASN
// is taken), IO.
func (m *Manager) Apply(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN, product string, holder int64) (Card, error) {
	const op = "cms.Manager.Apply"
	if err := by.check(op); err != nil {
		return Card{}, err
	}
	p, err := m.products.Product(product)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	switch {
	case p.Registration == Registered && holder == 0:
		return Card{}, citycard.E(op, citycard.Invalid, "product %s: a card is issued to a cardholder", p.ID)
	case p.Registration == Anonymous && holder != 0:
		return Card{}, citycard.E(op, citycard.Invalid, "product %s: cards are anonymous", p.ID)
	}
	at := m.now()
	if holder != 0 {
		h, err := m.Holder(ctx, holder)
		if err != nil {
			return Card{}, citycard.Wrap(op, citycard.Other, err)
		}
		if err := p.CheckEligible(h.Facts(), Today(at)); err != nil {
			return Card{}, citycard.Wrap(op, citycard.Other, err)
		}
	}
	c := Card{Issuer: issuer, ASN: asn, Product: p.ID, Holder: holder, State: Applied, Version: 1, AppliedAt: at}
	if err := m.store.CreateCard(ctx, &c, m.audit(by, at, "card:"+c.String(), "apply", "", c.Snapshot())); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	return c, nil
}

// Card returns a card. Kinds NotFound, IO.
func (m *Manager) Card(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (Card, error) {
	c, err := m.store.Card(ctx, issuer, asn)
	return c, citycard.Wrap("cms.Manager.Card", citycard.Other, err)
}

// moneyMove returns the Manager method that makes move mv with the
// money it moves (a sale's deposit, a replacement's fee, a balance, a
// refund), or "" for a move that moves none.
func moneyMove(mv Move) string {
	switch mv {
	case Issue:
		return "Sell"
	case Replace:
		return "Replace"
	case MoveBalance:
		return "MoveBalance"
	case Refund:
		return "Refund"
	}
	return ""
}

// Move makes move mv on a card (Card.Move at the clock's time) and
// stores it with its audit record, before and after. A loss report puts
// the card on the blacklist (WithBlacklist), its reason holding the
// report's time; a cancelled loss takes it off. A move that moves
// money (issue, replace, move balance, refund) is made only by the
// method that books it: here it is kind Invalid, naming that method.
// Kinds NotFound, Conflict (the state machine, or another move stored
// first: read again and retry), Invalid, IO (also: the card moved, the
// blacklist did not take it; the card is returned).
func (m *Manager) Move(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN, mv Move) (Card, error) {
	const op = "cms.Manager.Move"
	if err := by.check(op); err != nil {
		return Card{}, err
	}
	if method := moneyMove(mv); method != "" {
		return Card{}, citycard.E(op, citycard.Invalid, "%v moves money: Manager.%s makes it with its booking", mv, method)
	}
	c, err := m.store.Card(ctx, issuer, asn)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	p, err := m.products.Product(c.Product)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	at := m.now()
	next, err := c.Move(p, mv, at)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	if err := m.store.UpdateCard(ctx, &next, m.audit(by, at, "card:"+c.String(), mv.String(), c.Snapshot(), next.Snapshot())); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	if mv == ReportLoss || mv == CancelLoss {
		if err := m.list(ctx, by, &next); err != nil {
			return next, citycard.Wrap(op, citycard.Other, err)
		}
	}
	return next, nil
}

// list puts a lost card on the blacklist, with the report's time in the
// reason, or takes a card that is no longer lost off it. Kind IO when the
// blacklist cannot store the change: the card has moved, and ListLost
// lists it again.
func (m *Manager) list(ctx context.Context, by Actor, c *Card) error {
	if m.blacklist == nil {
		return nil
	}
	lost := c.State == Lost
	reason := "loss cancelled"
	if lost {
		reason = "reported lost at " + c.LostAt.UTC().Format(time.RFC3339Nano)
	}
	_, err := m.blacklist.Set(ctx, blacklist.Card{Issuer: c.Issuer, ASN: c.ASN}, lost, reason, by.Who)
	if err != nil {
		return citycard.E("cms.Manager.list", citycard.IO, "card %v is %v in card management, the blacklist did not take it (Manager.ListLost again): %w", c, c.State, err)
	}
	return nil
}

// ListLost brings a card's blacklist entry in line with its state (listed
// while lost, delisted otherwise), for a Move whose blacklist change
// failed; a change already made is not made again. Kinds NotFound,
// Invalid (the actor), IO.
func (m *Manager) ListLost(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN) error {
	const op = "cms.Manager.ListLost"
	if err := by.check(op); err != nil {
		return err
	}
	c, err := m.store.Card(ctx, issuer, asn)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	return citycard.Wrap(op, citycard.Other, m.list(ctx, by, &c))
}

// moneyAudit is a money operation's audit record: the card before, and
// after it the card, the operation's key and its flows.
func (m *Manager) moneyAudit(by Actor, at time.Time, action string, before, after *Card, b *Booking) *AuditRecord {
	type flow struct {
		Card string `json:"card"`
		Type string `json:"type"`
		Fen  int64  `json:"fen"`
	}
	flows := make([]flow, 0, len(b.Flows))
	for _, f := range b.Flows {
		flows = append(flows, flow{f.Card.String(), f.Type.String(), f.Fen})
	}
	j, err := json.Marshal(struct {
		Card      json.RawMessage `json:"card"`
		Operation string          `json:"operation"`
		Flows     []flow          `json:"flows"`
	}{json.RawMessage(after.Snapshot()), b.Key, flows})
	if err != nil {
		panic(err) // strings and integers always encode
	}
	return m.audit(by, at, "card:"+before.String(), action, before.Snapshot(), string(j))
}

// book runs a money operation: the replay check (before anything is
// moved, as a retry finds the card moved already), then moves, which
// returns the cards the operation moves and creates (the first moved is
// the audit's subject), then the commit. Errors are wrapped in op's name.
func (m *Manager) book(ctx context.Context, name string, by Actor, at time.Time, action string, op MoneyOp, before *Card, moves func() (moved, created []*Card, err error)) (bool, error) {
	if replayed, err := m.replay(ctx, name, op); err != nil || replayed {
		return replayed, err
	}
	moved, created, err := moves()
	if err != nil {
		return false, citycard.Wrap(name, citycard.Other, err)
	}
	b, err := op.Book()
	if err != nil {
		return false, citycard.Wrap(name, citycard.Other, err)
	}
	replayed, err := m.store.Commit(ctx, &Operation{Booking: &b, At: at, Cards: moved, NewCards: created,
		Audit: m.moneyAudit(by, at, action, before, moved[0], &b)})
	return replayed, citycard.Wrap(name, citycard.Other, err)
}

// replay tells whether op was booked already under its key with the
// same input (true: a retry, answered as the first try); a key booked
// with another input is kind Conflict naming the key.
func (m *Manager) replay(ctx context.Context, name string, op MoneyOp) (bool, error) {
	h, err := m.store.OperationHash(ctx, op.OpKey())
	switch {
	case err == nil && h == op.InputHash():
		return true, nil
	case err == nil:
		return false, citycard.E(name, citycard.Conflict, "idempotency key %q was used for another operation", op.OpKey())
	case !citycard.IsKind(err, citycard.NotFound):
		return false, citycard.Wrap(name, citycard.Other, err)
	}
	return false, nil
}

// RefundReplay tells a retry of a refund before it is reckoned again:
// the refund of card issuer/asn through payee under key booked already
// (replayed, with the quote the first try booked, whatever late records
// arrived since), not booked (false), or the key booked for another
// request (kind Conflict naming the key). Kinds NotFound (no such
// card), IO.
func (m *Manager) RefundReplay(ctx context.Context, key string, issuer citycard.IssuerCode, asn citycard.ASN, payee Channel) (RefundQuote, bool, error) {
	const op = "cms.Manager.RefundReplay"
	c := Card{Issuer: issuer, ASN: asn}
	replayed, err := m.replay(ctx, op, Refunding{Key: key, Card: &c, Payee: payee})
	if err != nil || !replayed {
		return RefundQuote{}, false, err
	}
	a, err := m.store.OperationAnswer(ctx, key)
	if err != nil {
		return RefundQuote{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	q, err := ParseRefundAnswer(a)
	return q, err == nil, citycard.Wrap(op, citycard.Other, err)
}

// MoveBalanceReplay tells a retry of a balance move before it is
// reckoned again: the move of card issuer/asn's balance under key
// booked already (true), not booked (false), or the key booked for
// another request (kind Conflict naming the key). Kind IO.
func (m *Manager) MoveBalanceReplay(ctx context.Context, key string, issuer citycard.IssuerCode, asn citycard.ASN) (bool, error) {
	c := Card{Issuer: issuer, ASN: asn}
	return m.replay(ctx, "cms.Manager.MoveBalanceReplay", BalanceMove{Key: key, Old: &c})
}

// cardFor checks the actor and reads a card and its product for a money
// operation, errors wrapped in op's name.
func (m *Manager) cardFor(ctx context.Context, name string, by Actor, issuer citycard.IssuerCode, asn citycard.ASN) (Card, *Product, error) {
	if err := by.check(name); err != nil {
		return Card{}, nil, err
	}
	c, err := m.store.Card(ctx, issuer, asn)
	if err != nil {
		return Card{}, nil, citycard.Wrap(name, citycard.Other, err)
	}
	p, err := m.products.Product(c.Product)
	return c, p, citycard.Wrap(name, citycard.Other, err)
}

// touched returns c one version on: a money operation that moves no state
// still writes the card, so that two operations racing on one card are
// serialized (the second finds the version moved: Conflict, retry).
func touched(c Card) *Card {
	c.Version++
	return &c
}

// moving makes move mv on c at at, for book's moves.
func moving(c Card, p *Product, mv Move, at time.Time, also ...*Card) func() ([]*Card, []*Card, error) {
	return func() ([]*Card, []*Card, error) {
		next, err := c.Move(p, mv, at)
		return append([]*Card{&next}, also...), nil, err
	}
}

// Sell issues a personalized card against its deposit and issue fee, and
// loadFen loaded onto it (0 for none), paid through ch: the Issue move
// and the Sale's booking in one commit. A retry of key answers replayed
// and books nothing. Kinds of Sale.Book, Card.Move and Store.Commit.
func (m *Manager) Sell(ctx context.Context, by Actor, key string, issuer citycard.IssuerCode, asn citycard.ASN, ch Channel, loadFen int64) (replayed bool, err error) {
	const op = "cms.Manager.Sell"
	c, p, err := m.cardFor(ctx, op, by, issuer, asn)
	if err != nil {
		return false, err
	}
	at := m.now()
	sale := Sale{Key: key, Card: &c, Product: p, Channel: ch, LoadFen: loadFen}
	return m.book(ctx, op, by, at, "sell", sale, &c, moving(c, p, Issue, at))
}

// Load books an online load of amountFen onto a card whose shadow holds
// balanceFen, loadedTodayFen loaded already today, paid through ch; a
// card issued and not yet active is activated by it. The card is written
// one version on, so that loads racing on one card are serialized (the
// second is a Conflict: read the shadow again and retry). Kinds of
// CheckLoad, Load.Book and Store.Commit.
func (m *Manager) Load(ctx context.Context, by Actor, key string, issuer citycard.IssuerCode, asn citycard.ASN, ch Channel, amountFen, balanceFen, loadedTodayFen int64) (replayed bool, err error) {
	const op = "cms.Manager.Load"
	c, p, err := m.cardFor(ctx, op, by, issuer, asn)
	if err != nil {
		return false, err
	}
	at := m.now()
	load := Load{Key: key, Card: &c, Product: p, Channel: ch, AmountFen: amountFen, BalanceFen: balanceFen, LoadedTodayFen: loadedTodayFen}
	moves := func() ([]*Card, []*Card, error) { return []*Card{touched(c)}, nil, nil }
	if c.State == Issued {
		moves = moving(c, p, Activate, at)
	}
	return m.book(ctx, op, by, at, "load", load, &c, moves)
}

// Refund refunds and closes a card: the shadow's balance balanceFen after
// its purchases since issue (a lost or damaged card's cut at its report,
// SplitAtCut, once the cooling period is over), the deposit if the card
// is handed back, through payee. Kinds of Refunding.Book, Card.Move and
// Store.Commit.
func (m *Manager) Refund(ctx context.Context, by Actor, key string, issuer citycard.IssuerCode, asn citycard.ASN, payee Channel, balanceFen int64, purchases []Purchase) (replayed bool, err error) {
	const op = "cms.Manager.Refund"
	c, p, err := m.cardFor(ctx, op, by, issuer, asn)
	if err != nil {
		return false, err
	}
	at := m.now()
	r := Refunding{Key: key, Card: &c, Product: p, Payee: payee, Purchases: len(purchases), BalanceFen: balanceFen, At: at}
	if !c.LostAt.IsZero() {
		s := SplitAtCut(c.LostAt, balanceFen, purchases)
		r.BalanceFen, r.LossBorneFen = s.BalanceAtCutFen, s.LossBorneFen
	}
	return m.book(ctx, op, by, at, "refund", r, &c, moving(c, p, Refund, at))
}

// Replace replaces a lost or damaged card with a new one, newASN, of the
// same product and cardholder (applied for, to be personalized and
// issued as any), the replacement fee paid through ch. The old card's
// balance waits for MoveBalance; its remote top-ups waiting to be
// claimed move to the new card at once (with remote top-up wired:
// NewTopUps), also when the replacement is a retry. Kinds of
// ReplacementFee.Book, Card.Move and Store.Commit (Exists for a new ASN
// taken); of the top-ups' move (the replacement standing).
func (m *Manager) Replace(ctx context.Context, by Actor, key string, issuer citycard.IssuerCode, oldASN, newASN citycard.ASN, ch Channel) (replayed bool, err error) {
	const op = "cms.Manager.Replace"
	c, p, err := m.cardFor(ctx, op, by, issuer, oldASN)
	if err != nil {
		return false, err
	}
	at := m.now()
	fee := ReplacementFee{Key: key, Old: &c, NewASN: newASN, Product: p, Channel: ch}
	replayed, err = m.book(ctx, op, by, at, "replace", fee, &c, func() ([]*Card, []*Card, error) {
		next, err := c.Move(p, Replace, at)
		next.ReplacedBy = newASN
		// The new card keeps the old one's review due: a replacement is
		// no review (its eligibility is not checked again).
		nu := Card{Issuer: issuer, ASN: newASN, Product: p.ID, Holder: c.Holder, State: Applied, Version: 1, AppliedAt: at, Replaces: oldASN,
			ReviewDue: c.ReviewDue}
		return []*Card{&next}, []*Card{&nu}, err
	})
	if err != nil {
		return replayed, err
	}
	return replayed, m.followReplacement(ctx, op, by, issuer, oldASN)
}

// followReplacement moves a replaced card's waiting remote top-ups to
// its replacement (see TopUps.follow), after the replacement or the
// balance move has committed: an error leaves the move standing, and a
// retry of it (replayed) moves them.
func (m *Manager) followReplacement(ctx context.Context, op string, by Actor, issuer citycard.IssuerCode, old citycard.ASN) error {
	if m.replaced == nil {
		return nil
	}
	return citycard.Wrap(op, citycard.Other, m.replaced(ctx, by, issuer, old))
}

// MoveBalance moves a replaced card's balance as of its cut onto its
// replacement once the cooling period is over: the shadow's balance
// balanceFen after the old card's purchases since issue, split at the cut
// (SplitAtCut), the use after it borne by the issuer. The old card's
// remote top-ups still waiting move to the new card too (one whose claim
// was reversed since the replacement). Kinds of BalanceMove.Book,
// Card.Move and Store.Commit; of the top-ups' move (the balance moved).
func (m *Manager) MoveBalance(ctx context.Context, by Actor, key string, issuer citycard.IssuerCode, oldASN citycard.ASN, balanceFen int64, purchases []Purchase) (replayed bool, err error) {
	const op = "cms.Manager.MoveBalance"
	old, p, err := m.cardFor(ctx, op, by, issuer, oldASN)
	if err != nil {
		return false, err
	}
	nu, err := m.store.Card(ctx, issuer, old.ReplacedBy)
	if err != nil {
		return false, citycard.Wrap(op, citycard.Other, err)
	}
	at := m.now()
	mv := BalanceMove{Key: key, Old: &old, New: &nu, Product: p, Split: SplitAtCut(old.LostAt, balanceFen, purchases), At: at}
	if replayed, err = m.book(ctx, op, by, at, "move balance", mv, &old, moving(old, p, MoveBalance, at, touched(nu))); err != nil {
		return replayed, err
	}
	return replayed, m.followReplacement(ctx, op, by, issuer, oldASN)
}

// LateLoss books a lost card's purchase after its cut that arrived once
// its balance had moved or been refunded: the issuer bears it (a loss
// entry, a loss-borne flow). Kinds of LateLoss.Book and Store.Commit.
func (m *Manager) LateLoss(ctx context.Context, by Actor, key string, issuer citycard.IssuerCode, asn citycard.ASN, amountFen int64) (replayed bool, err error) {
	const op = "cms.Manager.LateLoss"
	c, _, err := m.cardFor(ctx, op, by, issuer, asn)
	if err != nil {
		return false, err
	}
	late := LateLoss{Key: key, Card: &c, AmountFen: amountFen}
	return m.book(ctx, op, by, m.now(), "late loss", late, &c, func() ([]*Card, []*Card, error) {
		return []*Card{touched(c)}, nil, nil
	})
}

// Review records a concession card's annual review (年审) today: the
// cardholder is checked against the product's eligibility again, and the
// next review falls due a review period on (Product.ReviewDue); the card
// travels in its category again from the next terminal or kiosk that
// rewrites it. Kinds Invalid (a product without a review, an anonymous
// card), Permission (no longer eligible: the card keeps travelling in the
// lapsed category), Conflict (a card neither issued nor active, or moved
// meanwhile), NotFound, IO.
func (m *Manager) Review(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN) (Card, error) {
	const op = "cms.Manager.Review"
	c, p, err := m.cardFor(ctx, op, by, issuer, asn)
	if err != nil {
		return Card{}, err
	}
	switch {
	case !p.Concession() || c.Holder == 0:
		return Card{}, citycard.E(op, citycard.Invalid, "card %v: product %s has no annual review", &c, p.ID)
	case c.State != Issued && c.State != Active:
		return Card{}, citycard.E(op, citycard.Conflict, "card %v is %v: only a card issued or active is reviewed", &c, c.State)
	}
	h, err := m.Holder(ctx, c.Holder)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	at := m.now()
	if err := p.CheckEligible(h.Facts(), Today(at)); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	next := touched(c)
	next.ReviewDue = p.ReviewDue(Today(at))
	if err := m.store.UpdateCard(ctx, next, m.audit(by, at, "card:"+c.String(), "review", c.Snapshot(), next.Snapshot())); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	return *next, nil
}
