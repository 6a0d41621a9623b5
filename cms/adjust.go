package cms

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// AdjustDirection says whether a manual adjustment puts money onto a
// card (credit) or takes it back (debit).
type AdjustDirection uint8

// The directions.
const (
	AdjustCredit AdjustDirection = 1
	AdjustDebit  AdjustDirection = 2
)

func (d AdjustDirection) String() string {
	switch d {
	case AdjustCredit:
		return "credit"
	case AdjustDebit:
		return "debit"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// ParseAdjustDirection reads "credit" or "debit". Kind Invalid.
func ParseAdjustDirection(s string) (AdjustDirection, error) {
	switch s {
	case "credit":
		return AdjustCredit, nil
	case "debit":
		return AdjustDebit, nil
	}
	return 0, citycard.E("cms.ParseAdjustDirection", citycard.Invalid, "direction %q: want credit or debit", s)
}

// Limits of a manual adjustment.
const (
	// AdjustFenMax bounds one adjustment: 1000 yuan, a card's balance
	// cap; the card's product bounds it further (Adjustment.Book,
	// TopUpPayment.Book).
	AdjustFenMax = 100000
	// AdjustReasonLenMax bounds the stated reason.
	AdjustReasonLenMax = 200
	// ApprovalAdjust is the action of an adjustment's approval.
	ApprovalAdjust = "adjust"
)

// AdjustRequest is a manual adjustment as its requester asks for it: the
// idempotency key, the direction, the amount and the reason. Its
// Canonical form is what a supervisor's approval is given for.
type AdjustRequest struct {
	Key       string
	Direction AdjustDirection
	AmountFen int64
	Reason    string
}

// Check checks the request's fields. Kind Invalid naming the field.
func (q AdjustRequest) Check() error {
	const op = "cms.AdjustRequest.Check"
	switch {
	case checkKey(op, q.Key) != nil:
		return checkKey(op, q.Key)
	case q.Direction != AdjustCredit && q.Direction != AdjustDebit:
		return citycard.E(op, citycard.Invalid, "direction %v: want credit or debit", q.Direction)
	case q.AmountFen <= 0 || q.AmountFen > AdjustFenMax:
		return citycard.E(op, citycard.Invalid, "an adjustment of %d fen: want more than 0 and at most %d", q.AmountFen, AdjustFenMax)
	case q.Reason == "" || len(q.Reason) > AdjustReasonLenMax || !utf8.ValidString(q.Reason):
		return citycard.E(op, citycard.Invalid, "reason of %d bytes: want 1 to %d of UTF-8", len(q.Reason), AdjustReasonLenMax)
	}
	return nil
}

// adjustJSON is a request's canonical form (approvals keep it: keep the
// names).
type adjustJSON struct {
	Key       string `json:"key"`
	Direction string `json:"direction"`
	AmountFen int64  `json:"amount_fen"`
	Reason    string `json:"reason"`
}

// Canonical is the request as an approval keeps it and compares it,
// byte for byte: JSON of key, direction, amount_fen and reason.
func (q AdjustRequest) Canonical() string {
	b, err := json.Marshal(adjustJSON{q.Key, q.Direction.String(), q.AmountFen, q.Reason})
	if err != nil {
		panic(err) // strings and an integer always encode
	}
	return string(b)
}

// ParseAdjustRequest reads a request's canonical form (an approval's
// Request). Kind Invalid.
func ParseAdjustRequest(s string) (AdjustRequest, error) {
	const op = "cms.ParseAdjustRequest"
	var j adjustJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return AdjustRequest{}, citycard.E(op, citycard.Invalid, "an adjustment's request: %v", err)
	}
	d, err := ParseAdjustDirection(j.Direction)
	if err != nil {
		return AdjustRequest{}, citycard.Wrap(op, citycard.Other, err)
	}
	q := AdjustRequest{Key: j.Key, Direction: d, AmountFen: j.AmountFen, Reason: j.Reason}
	return q, citycard.Wrap(op, citycard.Other, q.Check())
}

// BookHeld reports whether a card in state st has its balance in the
// back office for good (its book is the balance: damaged, or replaced
// and waiting for its balance to move), as opposed to on its chip
// (issued, active). A lost card is neither: it may be found and its
// loss cancelled, its chip holding the balance again, which an
// adjustment of its book would not be on.
func BookHeld(st State) bool { return st == Damaged || st == Replaced }

func adjustAccount(c *Card) ledger.Account {
	return ledger.Account{Type: ledger.Adjustment, Party: c.Issuer.String()}
}

// Adjustment is a manual adjustment of the book of a card whose balance
// the back office holds, approved by a supervisor (ApprovalID): the
// request, and what the cardholder is owed on the card now (OwedFen:
// its balance as of its cut).
type Adjustment struct {
	Request    AdjustRequest
	Card       *Card
	Product    *Product
	ApprovalID int64
	OwedFen    int64
}

// OpKey returns the idempotency key.
func (a Adjustment) OpKey() string { return a.Request.Key }

// InputHash is the hash of the request: the card, the request's fields
// and the approval; the balance owed is the server's.
func (a Adjustment) InputHash() [32]byte {
	q := a.Request
	return inputHash("adjust", a.Card.String(), q.Direction, q.AmountFen, q.Reason, a.ApprovalID)
}

// Book returns the adjustment's entry (a credit: the issuer's adjustment
// account to the card float; a debit: back) and its flow (adjust credit,
// adjust debit). Kinds Invalid (the request, an approval of none),
// Conflict (a card whose balance is not the back office's: on its chip
// or gone; a credit over the product's balance cap, which the balance
// could not move onto a replacement past), Insufficient (a debit of more
// than the card is owed: a book never goes below 0).
func (a Adjustment) Book() (Booking, error) {
	const op = "cms.Adjustment.Book"
	q := a.Request
	if err := q.Check(); err != nil {
		return Booking{}, citycard.Wrap(op, citycard.Other, err)
	}
	switch {
	case a.ApprovalID <= 0:
		return Booking{}, citycard.E(op, citycard.Invalid, "card %v: an adjustment needs its approval", a.Card)
	case a.Card.Product != a.Product.ID:
		return Booking{}, citycard.E(op, citycard.Invalid, "card %v is a %s card, not %s", a.Card, a.Card.Product, a.Product.ID)
	case !BookHeld(a.Card.State):
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v is %v: its book is adjusted while it is damaged or replaced, its balance in the back office", a.Card, a.Card.State)
	case q.Direction == AdjustDebit && q.AmountFen > a.OwedFen:
		return Booking{}, citycard.E(op, citycard.Insufficient, "card %v: a debit of %s yuan, and the card is owed %s: its book never goes below 0", a.Card, citycard.Yuan(q.AmountFen), citycard.Yuan(a.OwedFen))
	case q.Direction == AdjustCredit && a.OwedFen+q.AmountFen > a.Product.BalanceMaxFen:
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v: a credit of %s yuan onto %s passes product %s's balance cap, %s", a.Card, citycard.Yuan(q.AmountFen), citycard.Yuan(a.OwedFen), a.Product.ID, citycard.Yuan(a.Product.BalanceMaxFen))
	}
	b := Booking{Key: q.Key, InputHash: a.InputHash()}
	from, to, flow := adjustAccount(a.Card), floatAccount(a.Card), FlowAdjustCredit
	if q.Direction == AdjustDebit {
		from, to, flow = to, from, FlowAdjustDebit
	}
	e, ok := entry(q.Key, "adjust", ledger.EntryAdjustment, a.Card, ledger.Transfer(from, to, q.AmountFen)...)
	e.Memo = fmt.Sprintf("adjust %v, approval %d", q.Direction, a.ApprovalID)
	b.add(e, ok)
	b.Flows = append(b.Flows, Flow{a.Card.Issuer, a.Card.ASN, flow, q.AmountFen})
	return b, nil
}

// Adjusted is what Manager.Adjust made: the card after it and, for a
// credit of a card whose balance is on its chip, the remote top-up that
// carries it there.
type Adjusted struct {
	Card     Card
	TopUp    *TopUp
	Replayed bool
}

// adjustPayer is the payer of an adjustment's remote top-up: the
// issuer's adjustment account, naming the approval.
func adjustPayer(issuer citycard.IssuerCode, approvalID int64) Channel {
	return Channel{Type: AdjustmentPay, Party: issuer.String(), Reference: "approval:" + strconv.FormatInt(approvalID, 10)}
}

// Adjust makes a manual adjustment of card issuer/asn that a supervisor
// approved: approval must grant exactly q to by (Approval.Grants: the
// same key, direction, amount and reason, asked for by by, decided by
// another). Where the card's balance is:
//
//   - in the back office (damaged, replaced: balanceFen and purchases
//     are the card's book less its purchases booked, cut at its report
//     as a refund cuts it): its book is credited or debited
//     (Adjustment.Book), never below 0;
//   - on its chip (issued, active): a credit is a remote top-up paid by
//     the issuer's adjustment account, claimed at the card's next kiosk,
//     counter reader or phone tap and expiring as any (so that the chip
//     and the book stay equal); a debit is refused, kind Conflict: the
//     chip holds the money, the card is blocked (reported lost or
//     damaged) and replaced first.
//
// A lost card is refused (Conflict): it may be found and the loss
// cancelled, the chip holding the balance again; it is adjusted once
// replaced.
//
// A retry of the same request under its key answers replayed. Kinds
// Permission (no approval, or one that does not grant q to by),
// Invalid, Conflict, Insufficient, NotFound, IO; those of the top-up's
// payment.
func (m *Manager) Adjust(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN, q AdjustRequest, approval *Approval, balanceFen int64, purchases []Purchase) (Adjusted, error) {
	const op = "cms.Manager.Adjust"
	if err := q.Check(); err != nil {
		return Adjusted{}, citycard.Wrap(op, citycard.Other, err)
	}
	c, p, err := m.cardFor(ctx, op, by, issuer, asn)
	if err != nil {
		return Adjusted{}, err
	}
	if approval == nil {
		return Adjusted{}, citycard.E(op, citycard.Permission, "card %v: a manual adjustment needs a supervisor's approval", &c)
	}
	if err := approval.Grants(by.Who, ApprovalAdjust, "card:"+c.String(), q.Canonical()); err != nil {
		return Adjusted{}, citycard.Wrap(op, citycard.Other, err)
	}
	// A credit made as a top-up is replayed as one, whatever the card's
	// state has become since.
	payer := adjustPayer(c.Issuer, approval.ID)
	pay := TopUpPayment{TopUp: &TopUp{Issuer: c.Issuer, ASN: c.ASN, AmountFen: q.AmountFen, Payer: payer}}
	h, err := m.store.OperationHash(ctx, q.Key)
	switch {
	case err == nil && h == pay.InputHash():
		return m.adjustChip(ctx, op, by, &c, q, approval, true)
	case err != nil && !citycard.IsKind(err, citycard.NotFound):
		return Adjusted{}, citycard.Wrap(op, citycard.Other, err)
	case !BookHeld(c.State):
		return m.adjustChip(ctx, op, by, &c, q, approval, false)
	}
	adj := Adjustment{Request: q, Card: &c, Product: p, ApprovalID: approval.ID, OwedFen: c.OwedFen(balanceFen, purchases)}
	if replayed, err := m.replay(ctx, op, adj); err != nil || replayed {
		return Adjusted{Card: c, Replayed: replayed}, err
	}
	b, err := adj.Book()
	if err != nil {
		return Adjusted{}, citycard.Wrap(op, citycard.Other, err)
	}
	at := m.now()
	next := touched(c)
	audit := m.moneyAudit(by, at, "adjust "+q.Direction.String(), &c, next, &b)
	audit.After = withAdjustment(audit.After, q, approval)
	replayed, err := m.store.Commit(ctx, &Operation{Booking: &b, At: at, Cards: []*Card{next}, Audit: audit})
	if err != nil {
		return Adjusted{}, citycard.Wrap(op, citycard.Other, err)
	}
	if replayed {
		next = &c
	}
	return Adjusted{Card: *next, Replayed: replayed}, nil
}

// adjustChip is Adjust of a card whose balance is on its chip: a credit
// as a remote top-up from the adjustment account, a debit refused.
func (m *Manager) adjustChip(ctx context.Context, op string, by Actor, c *Card, q AdjustRequest, approval *Approval, replay bool) (Adjusted, error) {
	if !replay {
		if err := chipAdjustable(op, c, q); err != nil {
			return Adjusted{}, err
		}
	}
	if m.adjustTopUp == nil {
		return Adjusted{}, citycard.E(op, citycard.Invalid, "card %v: a credit of a card in use is a remote top-up, and none is wired (NewTopUps)", c)
	}
	tu, replayed, err := m.adjustTopUp(ctx, op, by, q.Key, c.Issuer, c.ASN, adjustPayer(c.Issuer, approval.ID), q.AmountFen, func(tu *TopUp) *AuditRecord {
		return m.audit(by, tu.PaidAt, "topup:"+tu.ID, "adjust credit as remote top-up", "", withAdjustment(tu.snapshot(), q, approval))
	})
	if err != nil {
		return Adjusted{}, citycard.Wrap(op, citycard.Other, err)
	}
	// A top-up changes no card: c is the card as it stands.
	return Adjusted{Card: *c, TopUp: &tu, Replayed: replayed}, nil
}

// chipAdjustable tells whether q may be made on c, whose balance is not
// the back office's: a credit of a card issued or active. Kind Conflict
// saying why not.
func chipAdjustable(op string, c *Card, q AdjustRequest) error {
	switch {
	case c.State == Lost:
		return citycard.E(op, citycard.Conflict, "card %v is lost: it may be found and the loss cancelled, its chip holding the balance again; adjust it once it is replaced (its book then holds the balance)", c)
	case c.State != Issued && c.State != Active:
		return citycard.E(op, citycard.Conflict, "card %v is %v: an adjustment is of a card issued or active (a credit), damaged or replaced", c, c.State)
	case q.Direction == AdjustDebit:
		return citycard.E(op, citycard.Conflict, "card %v is %v: its chip holds the money, which the back office cannot take back; report it damaged (or lost, and replace it) first, then debit its book", c, c.State)
	}
	return nil
}

// CheckAdjust tells whether q may be made on card c now, by Adjust's
// rules (the card's state, the direction, the amount against what the
// card is owed, balanceFen and purchases as Adjust takes them, and its
// product's bounds), so that a service point asks no supervisor to
// approve what cannot be made. Adjust checks it all again. Kinds as
// Adjust's, but Permission.
func (m *Manager) CheckAdjust(c *Card, q AdjustRequest, balanceFen int64, purchases []Purchase) error {
	const op = "cms.Manager.CheckAdjust"
	if err := q.Check(); err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	p, err := m.products.Product(c.Product)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if BookHeld(c.State) {
		_, err := Adjustment{Request: q, Card: c, Product: p, ApprovalID: 1, OwedFen: c.OwedFen(balanceFen, purchases)}.Book()
		return citycard.Wrap(op, citycard.Other, err)
	}
	if err := chipAdjustable(op, c, q); err != nil {
		return err
	}
	tu := TopUp{ID: TopUpID(q.Key), Key: q.Key, Issuer: c.Issuer, ASN: c.ASN, AmountFen: q.AmountFen, Payer: adjustPayer(c.Issuer, 1)}
	_, err = TopUpPayment{TopUp: &tu, Card: c, Product: p}.Book()
	return citycard.Wrap(op, citycard.Other, err)
}

// withAdjustment adds the adjustment's reason and approval to an audit
// snapshot (a JSON object).
func withAdjustment(snapshot string, q AdjustRequest, a *Approval) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(snapshot), &m); err != nil {
		panic(err) // the package's own snapshots are objects
	}
	j, err := json.Marshal(struct {
		Direction  string `json:"direction"`
		AmountFen  int64  `json:"amount_fen"`
		Reason     string `json:"reason"`
		Approval   int64  `json:"approval"`
		ApprovedBy string `json:"approved_by"`
	}{q.Direction.String(), q.AmountFen, q.Reason, a.ID, a.DecidedBy})
	if err != nil {
		panic(err)
	}
	m["adjustment"] = j
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(out)
}
