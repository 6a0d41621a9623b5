package cms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// TopUpState is where a remote top-up (补登) stands, from its payment to
// its claim on the card or its refund.
type TopUpState uint8

// The states. Their names are stored (pending, claimed, expired,
// refunded) or shown (claiming, and claimed until the sweep stores it:
// the claim's online load says, see TopUp): keep them.
const (
	// TopUpPending: paid, the money in the top-up pending account,
	// waiting for the card's next kiosk, counter reader or phone.
	TopUpPending TopUpState = 1
	// TopUpClaiming: a claim's load is authorized (MAC2 given) and its
	// TAC has not come back: the load host's unconfirmed load.
	TopUpClaiming TopUpState = 2
	// TopUpClaimed: on the card (the claim's load confirmed).
	TopUpClaimed TopUpState = 3
	// TopUpExpired: not claimed in the product's TopUpDays; refunded to
	// its payer by the sweep (TopUps.Sweep).
	TopUpExpired TopUpState = 4
	// TopUpRefunded: refunded to its payer before any claim, by staff at
	// the payer's request (TopUps.Refund).
	TopUpRefunded TopUpState = 5
)

var topUpStateNames = [...]string{TopUpPending: "pending", TopUpClaiming: "claiming", TopUpClaimed: "claimed", TopUpExpired: "expired", TopUpRefunded: "refunded"}

func (s TopUpState) String() string {
	if s >= TopUpPending && s <= TopUpRefunded {
		return topUpStateNames[s]
	}
	return fmt.Sprintf("topup_state(%d)", uint8(s))
}

// ParseTopUpState parses a state's name. Kind Invalid.
func ParseTopUpState(s string) (TopUpState, error) {
	for i, n := range topUpStateNames {
		if n != "" && n == s {
			return TopUpState(i), nil
		}
	}
	return 0, citycard.E("cms.ParseTopUpState", citycard.Invalid, "top-up state %q", s)
}

// TopUpMove is a move of a remote top-up's state machine.
type TopUpMove uint8

// The moves (see the package doc, "Remote top-up").
const (
	ClaimTopUp     TopUpMove = 1 // a kiosk's load of it authorized by the load host
	ConfirmClaim   TopUpMove = 2 // the card credited it: the claim's load confirmed
	ReverseClaim   TopUpMove = 3 // the card never credited it: the claim's load reversed, the top-up claimable again
	ReinstateClaim TopUpMove = 4 // a reversed claim's TAC came after all
	ExpireTopUp    TopUpMove = 5 // its claim time over: refunded to the payer by the sweep
	RefundTopUp    TopUpMove = 6 // refunded to the payer at their request
	// FollowReplacement: the card replaced, the top-up moves to its
	// replacement, pending there (TopUps.follow).
	FollowReplacement TopUpMove = 7
)

// lastTopUpMove is the last of the moves: the list only grows at the end.
const lastTopUpMove = FollowReplacement

var topUpMoveNames = [...]string{ClaimTopUp: "claim", ConfirmClaim: "confirm claim", ReverseClaim: "reverse claim",
	ReinstateClaim: "reinstate claim", ExpireTopUp: "expire", RefundTopUp: "refund", FollowReplacement: "follow replacement"}

func (m TopUpMove) String() string {
	if m >= ClaimTopUp && m <= lastTopUpMove {
		return topUpMoveNames[m]
	}
	return fmt.Sprintf("topup_move(%d)", uint8(m))
}

// topUpMoves is the state machine: each move, the states it is allowed
// from, and the state it leads to.
var topUpMoves = [...]struct {
	from []TopUpState
	to   TopUpState
}{
	ClaimTopUp:     {[]TopUpState{TopUpPending}, TopUpClaiming},
	ConfirmClaim:   {[]TopUpState{TopUpClaiming}, TopUpClaimed},
	ReverseClaim:   {[]TopUpState{TopUpClaiming}, TopUpPending},
	ReinstateClaim: {[]TopUpState{TopUpPending, TopUpClaiming}, TopUpClaimed},
	ExpireTopUp:    {[]TopUpState{TopUpPending}, TopUpExpired},
	RefundTopUp:    {[]TopUpState{TopUpPending}, TopUpRefunded},
	// A claiming top-up stays with its claim's card: the claim settles
	// there first.
	FollowReplacement: {[]TopUpState{TopUpPending}, TopUpPending},
}

// NextTopUp returns the state move mv leads to from st, and false for a
// move not allowed from st.
func NextTopUp(st TopUpState, mv TopUpMove) (TopUpState, bool) {
	if mv < ClaimTopUp || mv > lastTopUpMove {
		return 0, false
	}
	for _, f := range topUpMoves[mv].from {
		if f == st {
			return topUpMoves[mv].to, true
		}
	}
	return 0, false
}

// forbiddenTopUp is the error of a move not allowed: kind Conflict,
// naming the top-up, its state, the move and the states it is allowed
// from.
func forbiddenTopUp(op string, t *TopUp, mv TopUpMove) error {
	var from []string
	if mv >= ClaimTopUp && mv <= lastTopUpMove {
		for _, f := range topUpMoves[mv].from {
			from = append(from, f.String())
		}
	}
	return citycard.E(op, citycard.Conflict, "top-up %s of card %s is %v: %v is allowed only from %s", t.ID, t.Card(), t.State, mv, strings.Join(from, ", "))
}

// ClaimState is the state of a top-up whose claim's online load stands
// at status: the load host's moves are the claim's (unconfirmed:
// claiming; confirmed: claimed; reversed: pending again).
func ClaimState(status LoadStatus) TopUpState {
	switch status {
	case LoadUnconfirmed:
		return TopUpClaiming
	case LoadConfirmed:
		return TopUpClaimed
	}
	return TopUpPending
}

// EntryTopUp is the ledger entry of a remote top-up paid (settlement to
// top-up pending) or refunded (back).
const EntryTopUp ledger.EntryType = "topup"

// TopUpOfEntry returns the ID of the remote top-up whose payment or
// refund booked the ledger entry of key (TopUpPayment.Book's entry,
// "cms:KEY/topup", or TopUpRefund.Book's, "cms:topup-refund:ID/refund"),
// and whether it is a refund; ok is false for a key of neither. It is
// how clearing drills a payer's figures down to the top-ups behind them
// without reading card management's store.
func TopUpOfEntry(key string) (id string, refund, ok bool) {
	k, found := strings.CutPrefix(key, "cms:")
	if !found {
		return "", false, false
	}
	if r, found := strings.CutPrefix(k, "topup-refund:"); found {
		if r, found = strings.CutSuffix(r, "/refund"); found {
			id, err := ParseTopUpID(r)
			return id, true, err == nil
		}
		return "", false, false
	}
	if k, found = strings.CutSuffix(k, "/topup"); !found || k == "" {
		return "", false, false
	}
	return TopUpID(k), false, true
}

// Bounds of remote top-ups.
const (
	// TopUpsPendingMax bounds the top-ups waiting on one card: a card
	// claims one a session, and a payer with more to pay waits.
	TopUpsPendingMax = 8
	// TopUpsListMax bounds the top-ups of a card a list shows, newest
	// first.
	TopUpsListMax = 100
	// SweepPage bounds the top-ups the sweep reads at once.
	SweepPage = 256
	// DefaultTopUpDays is a product's TopUpDays when its products file
	// does not say.
	DefaultTopUpDays = 30
)

// TopUp is a remote top-up (补登): paid on the web or in the app for a
// card, held in the issuer's top-up pending account until the card
// claims it at its next kiosk, counter reader or phone NFC tap (the
// normal online load, TopUps.Claim), or it expires and is refunded to
// its payer.
type TopUp struct {
	ID        string // 16 hex digits derived from Key (TopUpID)
	Key       string // the payment's idempotency key
	Issuer    citycard.IssuerCode
	ASN       citycard.ASN
	AmountFen int64
	Payer     Channel   // how it was paid, and where its refund goes
	PaidBy    Actor     // who took the payment, where (a holder at "self", a clerk at a counter)
	PaidAt    time.Time //
	ClaimBy   time.Time // it expires at this instant: PaidAt plus the product's TopUpDays
	// State is the stored state (pending, claimed, expired, refunded),
	// or for a pending one whose claim's load is live, that load's
	// (ClaimState).
	State     TopUpState
	SettledAt time.Time // expired or refunded at; zero otherwise
	Claim     string    // the live claim's online load key (LoadKey), "" for none
}

// Card names the top-up's card as Card.String does.
func (t *TopUp) Card() string { return t.Issuer.String() + "/" + t.ASN.String() }

// TopUpID is the ID of the top-up paid under key: 16 upper-case hex
// digits of a SHA-256 over it, so that a retry of the payment names the
// same top-up. (Two keys giving one ID is a chance of one in 2^64 per
// pair; the store's primary key refuses the second, kind Exists.)
func TopUpID(key string) string {
	h := sha256.Sum256([]byte("citycard.cms.topup.v1\x00" + key))
	return strings.ToUpper(hex.EncodeToString(h[:8]))
}

// ParseTopUpID checks a top-up ID: 16 hex digits (normalized to upper
// case). Kind Invalid.
func ParseTopUpID(s string) (string, error) {
	if b, err := hex.DecodeString(s); err != nil || len(b) != 8 {
		return "", citycard.E("cms.ParseTopUpID", citycard.Invalid, "top-up ID %q: want 16 hex digits", s)
	}
	return strings.ToUpper(s), nil
}

// snapshot is a top-up as the audit log shows it.
func (t *TopUp) snapshot() string {
	b, err := json.Marshal(struct {
		ID        string `json:"id"`
		Card      string `json:"card"`
		AmountFen int64  `json:"amount_fen"`
		Payer     string `json:"payer"`
		Party     string `json:"payer_party"`
		Reference string `json:"payer_reference,omitempty"`
		State     string `json:"state"`
		ClaimBy   string `json:"claim_by"`
	}{t.ID, t.Card(), t.AmountFen, t.Payer.Type.String(), t.Payer.Party, t.Payer.Reference, t.State.String(), rfc3339(t.ClaimBy)})
	if err != nil {
		panic(err) // strings and integers always encode
	}
	return string(b)
}

// TopUpPayment is a remote top-up paid: the money from the payer's
// channel into the issuer's top-up pending account, not yet on the card.
type TopUpPayment struct {
	TopUp   *TopUp
	Card    *Card
	Product *Product
}

// OpKey returns the idempotency key: the payment's.
func (p TopUpPayment) OpKey() string { return p.TopUp.Key }

// InputHash is the hash of the request: the card, the amount, the payer.
func (p TopUpPayment) InputHash() [32]byte {
	t := p.TopUp
	return inputHash("topup", t.Card(), t.AmountFen, t.Payer.Type, t.Payer.Party, t.Payer.Reference)
}

// Book returns the payment's entry (the payer's settlement to top-up
// pending): no flow, as nothing is on the card yet. Kinds Invalid (key,
// payer: a remote top-up is paid online, by bank card, third party or a
// partner bank, never cash; an amount not above 0 or over the
// product's per-load limit, as it is claimed in one load; a product
// that takes no remote top-ups) and Conflict (a card neither issued nor
// active).
func (p TopUpPayment) Book() (Booking, error) {
	const op = "cms.TopUpPayment.Book"
	t := p.TopUp
	if err := (Sale{Key: t.Key, Card: p.Card, Product: p.Product, Channel: t.Payer}).check(op); err != nil {
		return Booking{}, err
	}
	switch {
	case t.Payer.Type != BankCard && t.Payer.Type != ThirdParty && t.Payer.Type != PartnerBank && t.Payer.Type != AdjustmentPay:
		return Booking{}, citycard.E(op, citycard.Invalid, "a remote top-up is paid online (bank_card, third_party or partner_bank), not through %v", t.Payer.Type)
	case t.Payer.Type == AdjustmentPay && t.Payer.Party != p.Card.Issuer.String():
		return Booking{}, citycard.E(op, citycard.Invalid, "an adjustment's top-up of card %v is paid by its issuer, not %s", p.Card, t.Payer.Party)
	case p.Product.TopUpDays == 0:
		return Booking{}, citycard.E(op, citycard.Invalid, "product %s takes no remote top-ups", p.Product.ID)
	case t.AmountFen <= 0 || t.AmountFen > p.Product.LoadMaxFen:
		return Booking{}, citycard.E(op, citycard.Invalid, "product %s: a remote top-up of %s yuan: want more than 0 and at most one load, %s", p.Product.ID, citycard.Yuan(t.AmountFen), citycard.Yuan(p.Product.LoadMaxFen))
	case p.Card.State != Issued && p.Card.State != Active:
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v is %v: a remote top-up is for a card issued or active", p.Card, p.Card.State)
	}
	b := Booking{Key: t.Key, InputHash: p.InputHash()}
	e, ok := entry(t.Key, "topup", topUpEntryType(t), p.Card, ledger.Transfer(t.Payer.account(), pendingAccount(p.Card.Issuer), t.AmountFen)...)
	e.Memo = "remote top-up " + t.ID
	b.add(e, ok)
	b.throughPayer(t.Payer, t.AmountFen)
	return b, nil
}

// topUpEntryType is the ledger entry type of t's payment and refund:
// topup for a payer's, which clearing reads as the payer's position;
// adjustment for one an adjustment pays, which no channel took and
// clearing does not see (its claim is a load through the issuer itself,
// as every claim).
func topUpEntryType(t *TopUp) ledger.EntryType {
	if t.Payer.Type == AdjustmentPay {
		return ledger.EntryAdjustment
	}
	return EntryTopUp
}

// throughPayer records a top-up's money through its payer's channel:
// none for an adjustment's, which no channel took.
func (b *Booking) throughPayer(payer Channel, fen int64) {
	if payer.Type != AdjustmentPay {
		b.through(payer, fen, 0)
	}
}

func pendingAccount(issuer citycard.IssuerCode) ledger.Account {
	return ledger.Account{Type: ledger.TopUpPending, Party: issuer.String()}
}

// TopUpRefund is a pending top-up paid back to its payer: expired (the
// sweep) or refunded at the payer's request.
type TopUpRefund struct {
	TopUp *TopUp
	Card  *Card
	Move  TopUpMove // ExpireTopUp or RefundTopUp
}

// OpKey returns the idempotency key: one refund a top-up, whoever asks
// (the sweep and a clerk racing make one refund, the first standing).
func (r TopUpRefund) OpKey() string { return "topup-refund:" + r.TopUp.ID }

// InputHash is the hash of the request: the top-up and its payer.
func (r TopUpRefund) InputHash() [32]byte {
	t := r.TopUp
	return inputHash("topup_refund", t.ID, t.AmountFen, t.Payer.Type, t.Payer.Party, t.Payer.Reference)
}

// Book returns the refund's entry (top-up pending back to the payer's
// settlement). Kinds Invalid (a move that refunds nothing), Conflict (a
// top-up not pending: claiming, claimed, refunded already).
func (r TopUpRefund) Book() (Booking, error) {
	const op = "cms.TopUpRefund.Book"
	t := r.TopUp
	if r.Move != ExpireTopUp && r.Move != RefundTopUp {
		return Booking{}, citycard.E(op, citycard.Invalid, "top-up %s: %v refunds nothing", t.ID, r.Move)
	}
	if _, ok := NextTopUp(t.State, r.Move); !ok {
		return Booking{}, forbiddenTopUp(op, t, r.Move)
	}
	key := r.OpKey()
	b := Booking{Key: key, InputHash: r.InputHash()}
	e, ok := entry(key, "refund", topUpEntryType(t), r.Card, ledger.Transfer(pendingAccount(t.Issuer), t.Payer.account(), t.AmountFen)...)
	e.Memo = r.Move.String() + " remote top-up " + t.ID
	b.add(e, ok)
	b.throughPayer(t.Payer, -t.AmountFen)
	return b, nil
}

// TopUpStore keeps remote top-ups. sqlite.DB.TopUps and
// postgres.DB.TopUps implement it, beside their cms.Store, in the same
// database (a top-up's claim is an online load of cms_loads).
type TopUpStore interface {
	// CommitTopUp commits op as Store.Commit does and, in the same
	// transaction, writes t: a pending one is inserted (kind Exists for
	// its ID taken by another key); an expired or refunded one is written
	// over its row while that is pending with no live claim, a claimed
	// one while it is pending with a confirmed claim (else kind Conflict,
	// nothing kept). A replayed op writes nothing.
	CommitTopUp(ctx context.Context, op *Operation, t *TopUp) (replayed bool, err error)
	// TopUp returns a top-up by ID, its State and Claim as TopUp says.
	// Kind NotFound.
	TopUp(ctx context.Context, id string) (TopUp, error)
	// TopUpsOf returns up to limit top-ups of a card, newest first.
	TopUpsOf(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]TopUp, error)
	// WaitingTopUps returns up to limit top-ups of a card stored
	// pending (pending, claiming, and claimed ones the sweep has not
	// stored yet), oldest first.
	WaitingTopUps(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]TopUp, error)
	// DueTopUps returns up to limit top-ups stored pending whose ClaimBy
	// is at or before at or whose claim is confirmed, with IDs after
	// after, by ID: what the sweep expires or stores as claimed.
	DueTopUps(ctx context.Context, at time.Time, after string, limit int) ([]TopUp, error)
	// MoveTopUp commits op as Store.Commit does and, in the same
	// transaction, writes t's card (its Issuer and ASN) over its row
	// while that is pending on card from with no live claim (else kind
	// Conflict, nothing kept): a top-up following its card's replacement.
	MoveTopUp(ctx context.Context, op *Operation, t *TopUp, from citycard.ASN) error
}

// TopUps is remote top-up (补登): payments for a card, its kiosks'
// claims through the load host, refunds and the sweep of the expired.
// See the package doc, "Remote top-up".
type TopUps struct {
	host  *LoadHost
	m     *Manager
	store TopUpStore
}

// NewTopUps returns remote top-up over host (whose Manager's store
// holds the cards and loads) and store, and makes host check the claims
// it is asked to book: call it before the host serves.
func NewTopUps(host *LoadHost, store TopUpStore) *TopUps {
	t := &TopUps{host: host, m: host.m, store: store}
	host.claims = t.checkClaim
	host.reinstated = t.reinstateFrom
	host.m.replaced = t.follow
	host.m.adjustTopUp = t.pay
	return t
}

// claim checks a load through ch before the host books it: nothing for
// a load paid through another channel; for a claim, the check TopUps set
// (kind Invalid on a host without remote top-up).
func (h *LoadHost) claim(ctx context.Context, op string, c *Card, s *LoadSession, ch Channel) error {
	if ch.Type != TopUpClaim {
		return nil
	}
	if h.claims == nil {
		return citycard.E(op, citycard.Invalid, "card %v: this load host takes no remote top-up claims", c)
	}
	return h.claims(ctx, c, s, ch)
}

// loadAction is the audit log's action of an online load through ch:
// a claim names its top-up.
func loadAction(ch Channel) string {
	if ch.Type == TopUpClaim {
		return "claim remote top-up " + ch.Reference
	}
	return "online load"
}

// checkClaim is the load host's check of a claim, under the card's lock
// with the card as read: the top-up is this card's, of the session's
// amount, pending (or claimed by this very session: a retry, which the
// host answers as one) and not expired. Kinds NotFound, Invalid,
// Conflict.
func (t *TopUps) checkClaim(ctx context.Context, c *Card, s *LoadSession, ch Channel) error {
	const op = "cms.TopUps.Claim"
	if c.ReplacedBy != (citycard.ASN{}) {
		return citycard.E(op, citycard.Conflict, "card %v is replaced by card %v/%v: its remote top-ups follow it there, claim top-up %s on the new card", c, c.Issuer, c.ReplacedBy, ch.Reference)
	}
	tu, err := t.store.TopUp(ctx, ch.Reference)
	switch {
	case citycard.IsKind(err, citycard.NotFound) || err == nil && (tu.Issuer != c.Issuer || tu.ASN != c.ASN):
		return citycard.E(op, citycard.NotFound, "card %v has no remote top-up %s", c, ch.Reference)
	case err != nil:
		return citycard.Wrap(op, citycard.Other, err)
	case tu.Claim != "" && tu.Claim == LoadKey(s):
		return nil
	case tu.AmountFen != int64(s.Load.Amount):
		return citycard.E(op, citycard.Invalid, "top-up %s is of %d fen, the card's load of %d", tu.ID, tu.AmountFen, s.Load.Amount)
	}
	if _, ok := NextTopUp(tu.State, ClaimTopUp); !ok {
		return forbiddenTopUp(op, &tu, ClaimTopUp)
	}
	if now := t.m.now(); !now.Before(tu.ClaimBy) {
		return citycard.E(op, citycard.Conflict, "top-up %s of card %v expired at %s: it is refunded to its payer, not claimed", tu.ID, c, tu.ClaimBy.UTC().Format(time.RFC3339))
	}
	return nil
}

// follow moves the waiting top-ups of a replaced card to its
// replacement (the move FollowReplacement), each in its own transaction
// with its audit record, under the old card's lock: no money moves (the
// top-up pending account is the issuer's, whichever card the top-up
// waits for), the claim time stays the payer's. A top-up claiming stays
// with its claim (it settles on the old card first: reversed, it follows
// at the balance move; confirmed, it is on the old card and moves with
// its balance). The Manager calls it after a replacement and a balance
// move, replayed or not, so that a retry of either moves what a crash
// between the two transactions left behind. Kinds IO, Conflict (a
// top-up claimed or settled meanwhile: the next call moves the rest).
func (t *TopUps) follow(ctx context.Context, by Actor, issuer citycard.IssuerCode, old citycard.ASN) error {
	const op = "cms.TopUps.follow"
	mu := t.host.lock(issuer, old)
	mu.Lock()
	defer mu.Unlock()
	c, err := t.m.store.Card(ctx, issuer, old)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if c.ReplacedBy == (citycard.ASN{}) {
		return nil
	}
	l, err := t.store.WaitingTopUps(ctx, issuer, old, TopUpsListMax)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	for i := range l {
		tu := l[i]
		if _, ok := NextTopUp(tu.State, FollowReplacement); !ok {
			continue
		}
		moved := tu
		moved.ASN = c.ReplacedBy
		at := t.m.now()
		a := t.m.audit(by, at, "topup:"+tu.ID, "remote top-up "+FollowReplacement.String(), tu.snapshot(), moved.snapshot())
		if err := t.store.MoveTopUp(ctx, &Operation{At: at, Audit: a}, &moved, old); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
	}
	return nil
}

// reinstateFrom is the account a reversed claim's late TAC books its
// load from, and the entry's memo, under the card's lock once the card's
// load at the same counter has been reversed (LoadHost.reinstate): the
// card credited the claim, so the load is genuine and is booked whatever
// became of the top-up since. While the top-up waits, pending with no
// live claim (on this card or, moved, on its replacement), its money is
// in the top-up pending account: the claim takes it from there, and the
// top-up is claimed (its claim's load confirmed). Once the money has left
// that account (the top-up expired or refunded to its payer, or claimed
// by another load, on the replacement), taking it from there again would
// drive the account negative: the load is booked from an error
// receivable instead (error handling, 差错处理), the payer's
// (error_receivable:PAYER: the refund to be reclaimed from them) or, for
// a top-up loaded twice, the issuer's (error_receivable:ISSUER: to be
// recovered from the cardholder); the top-up keeps its state, its claim
// confirmed beside it. Kinds of the store.
func (t *TopUps) reinstateFrom(ctx context.Context, l *OnlineLoad) (ledger.Account, string, error) {
	tu, err := t.store.TopUp(ctx, l.Channel.Reference)
	if err != nil {
		return ledger.Account{}, "", citycard.Wrap("cms.TopUps.reinstateFrom", citycard.Other, err)
	}
	switch tu.State {
	case TopUpPending:
		return pendingAccount(tu.Issuer), "late TAC of remote top-up " + tu.ID, nil
	case TopUpExpired, TopUpRefunded:
		return ledger.Account{Type: ledger.ErrorReceivable, Party: tu.Payer.Party},
			fmt.Sprintf("late TAC of remote top-up %s, %v to its payer: the refund to be reclaimed", tu.ID, tu.State), nil
	}
	return ledger.Account{Type: ledger.ErrorReceivable, Party: tu.Issuer.String()},
		fmt.Sprintf("late TAC of remote top-up %s, %v by another load: loaded twice", tu.ID, tu.State), nil
}

// Pay books a remote top-up of amountFen for a card, paid through payer
// (bank card, third party with its reference, a partner bank) under
// idempotency key: the money into the top-up pending account, claimable
// on the card until the product's TopUpDays have passed. A retry of the
// key answers the same top-up, replayed. Kinds Invalid (the actor, the
// key, TopUpPayment.Book), NotFound (no such card), Conflict (the card's
// state; TopUpsPendingMax waiting already; the key used for another
// request), Exists, IO.
func (t *TopUps) Pay(ctx context.Context, by Actor, key string, issuer citycard.IssuerCode, asn citycard.ASN, payer Channel, amountFen int64) (TopUp, bool, error) {
	if payer.Type == AdjustmentPay {
		return TopUp{}, false, citycard.E("cms.TopUps.Pay", citycard.Invalid, "a top-up paid by an adjustment is Manager.Adjust's, with its approval")
	}
	return t.pay(ctx, "cms.TopUps.Pay", by, key, issuer, asn, payer, amountFen, func(tu *TopUp) *AuditRecord {
		return t.m.audit(by, tu.PaidAt, "topup:"+tu.ID, "remote top-up paid", "", tu.snapshot())
	})
}

// pay is Pay with its audit record made by audit, of the top-up paid.
func (t *TopUps) pay(ctx context.Context, op string, by Actor, key string, issuer citycard.IssuerCode, asn citycard.ASN, payer Channel, amountFen int64, audit func(*TopUp) *AuditRecord) (TopUp, bool, error) {
	if err := checkKey(op, key); err != nil {
		return TopUp{}, false, err
	}
	mu := t.host.lock(issuer, asn)
	mu.Lock()
	defer mu.Unlock()
	c, p, err := t.m.cardFor(ctx, op, by, issuer, asn)
	if err != nil {
		return TopUp{}, false, err
	}
	at := t.m.now()
	tu := TopUp{ID: TopUpID(key), Key: key, Issuer: issuer, ASN: asn, AmountFen: amountFen, Payer: payer, PaidBy: by,
		PaidAt: at, ClaimBy: at.AddDate(0, 0, p.TopUpDays), State: TopUpPending}
	pay := TopUpPayment{TopUp: &tu, Card: &c, Product: p}
	h, err := t.m.store.OperationHash(ctx, key)
	switch {
	case err == nil && h == pay.InputHash():
		prev, err := t.store.TopUp(ctx, tu.ID)
		return prev, true, citycard.Wrap(op, citycard.Other, err)
	case err == nil:
		return TopUp{}, false, citycard.E(op, citycard.Conflict, "idempotency key %q was used for another operation", key)
	case !citycard.IsKind(err, citycard.NotFound):
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	b, err := pay.Book()
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	l, err := t.store.WaitingTopUps(ctx, issuer, asn, TopUpsListMax)
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	waiting := 0
	for i := range l {
		if l[i].State == TopUpPending || l[i].State == TopUpClaiming {
			waiting++
		}
	}
	if waiting >= TopUpsPendingMax {
		return TopUp{}, false, citycard.E(op, citycard.Conflict, "card %v has %d remote top-ups waiting to be claimed, at most %d", &c, waiting, TopUpsPendingMax)
	}
	replayed, err := t.store.CommitTopUp(ctx, &Operation{Booking: &b, At: at, Audit: audit(&tu)}, &tu)
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	if replayed {
		prev, err := t.store.TopUp(ctx, tu.ID)
		return prev, true, citycard.Wrap(op, citycard.Other, err)
	}
	return tu, false, nil
}

// TopUp returns a top-up. Kinds NotFound, IO.
func (t *TopUps) TopUp(ctx context.Context, id string) (TopUp, error) {
	tu, err := t.store.TopUp(ctx, id)
	return tu, citycard.Wrap("cms.TopUps.TopUp", citycard.Other, err)
}

// Of returns a card's top-ups, newest first, at most TopUpsListMax.
// Kind IO.
func (t *TopUps) Of(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]TopUp, error) {
	l, err := t.store.TopUpsOf(ctx, issuer, asn, TopUpsListMax)
	return l, citycard.Wrap("cms.TopUps.Of", citycard.Other, err)
}

// Pending returns the top-ups a kiosk may claim on a card now, oldest
// first: pending or claiming, not expired. A claiming one is offered
// again because only the card's next online session settles a torn
// claim (its counter shows whether the card credited it) and a kiosk
// holding nothing else to load would never start one: its claim is
// that session, the host settling the torn claim first (reversed, the
// top-up is claimed afresh; confirmed, the claim is refused Conflict,
// the card holds the money already). Kind IO.
func (t *TopUps) Pending(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]TopUp, error) {
	l, err := t.store.WaitingTopUps(ctx, issuer, asn, TopUpsListMax)
	if err != nil {
		return nil, citycard.Wrap("cms.TopUps.Pending", citycard.Other, err)
	}
	now := t.m.now()
	var out []TopUp
	for i := range l {
		if (l[i].State == TopUpPending || l[i].State == TopUpClaiming) && now.Before(l[i].ClaimBy) {
			out = append(out, l[i])
		}
	}
	return out, nil
}

// Claim is a kiosk's (counter reader's, phone's) claim of top-up id on
// the card whose INITIALIZE FOR LOAD answer s is, for the top-up's
// amount: the load host's Authorize through channel TopUpClaim (MAC1
// checked, the card's limits, the card's unconfirmed load settled first,
// MAC2 returned), the money from the top-up pending account onto the
// card float. The card's TAC goes to LoadHost.Confirm as any load's;
// a claim whose TAC never comes is settled by the host's rule for an
// unconfirmed load (reversed: the top-up pending again). Kinds of
// LoadHost.Authorize and checkClaim.
func (t *TopUps) Claim(ctx context.Context, by Actor, id string, s *LoadSession, mac1 [4]byte) ([4]byte, error) {
	const op = "cms.TopUps.Claim"
	id, err := ParseTopUpID(id)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	return t.host.Authorize(ctx, by, Channel{Type: TopUpClaim, Party: s.Issuer.String(), Reference: id}, s, mac1)
}

// Refund pays a pending top-up back to its payer at their request (staff
// at a counter). A retry answers replayed. Kinds NotFound, Conflict (a
// top-up claiming, claimed, expired or refunded), Invalid, IO.
func (t *TopUps) Refund(ctx context.Context, by Actor, id string) (TopUp, bool, error) {
	return t.settle(ctx, "cms.TopUps.Refund", by, id, RefundTopUp)
}

// Sweep expires the top-ups not claimed by their ClaimBy and refunds
// them to their payers, in pages of SweepPage, and returns how many it
// expired. A top-up claiming is left alone (its claim's load settles
// first); one whose claim is confirmed is stored as claimed (with its
// audit record), so that the pending rows a card's kiosk and the sweep
// read stay few. Kinds Invalid (the actor), IO.
func (t *TopUps) Sweep(ctx context.Context, by Actor) (int, error) {
	const op = "cms.TopUps.Sweep"
	if err := by.check(op); err != nil {
		return 0, err
	}
	at := t.m.now()
	n := 0
	for after := ""; ; {
		page, err := t.store.DueTopUps(ctx, at, after, SweepPage)
		if err != nil {
			return n, citycard.Wrap(op, citycard.Other, err)
		}
		for i := range page {
			after = page[i].ID
			if page[i].State == TopUpClaimed {
				if err := t.storeClaimed(ctx, op, by, &page[i]); err != nil && !citycard.IsKind(err, citycard.Conflict) {
					return n, err
				}
				continue
			}
			if page[i].State != TopUpPending {
				continue
			}
			_, replayed, err := t.settle(ctx, op, by, page[i].ID, ExpireTopUp)
			switch {
			case citycard.IsKind(err, citycard.Conflict):
			case err != nil:
				return n, err
			case !replayed:
				n++
			}
		}
		if len(page) < SweepPage {
			return n, nil
		}
	}
}

// storeClaimed writes a top-up whose claim is confirmed as claimed: no
// money moves (the claim booked it), so no operation key; an audit
// record of the change.
func (t *TopUps) storeClaimed(ctx context.Context, op string, by Actor, tu *TopUp) error {
	at := t.m.now()
	before := *tu
	before.State = TopUpPending
	stored := *tu
	stored.SettledAt = at
	a := t.m.audit(by, at, "topup:"+tu.ID, "remote top-up claimed", before.snapshot(), stored.snapshot())
	_, err := t.store.CommitTopUp(ctx, &Operation{At: at, Audit: a}, &stored)
	return citycard.Wrap(op, citycard.Other, err)
}

// settle refunds top-up id by move mv (ExpireTopUp, RefundTopUp) under
// its card's lock, the card written one version on so that a claim
// racing it in another process is serialized by the card's version.
func (t *TopUps) settle(ctx context.Context, op string, by Actor, id string, mv TopUpMove) (TopUp, bool, error) {
	if err := by.check(op); err != nil {
		return TopUp{}, false, err
	}
	id, err := ParseTopUpID(id)
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	tu, err := t.store.TopUp(ctx, id)
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	mu := t.host.lock(tu.Issuer, tu.ASN)
	mu.Lock()
	defer mu.Unlock()
	if tu, err = t.store.TopUp(ctx, id); err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	c, err := t.m.store.Card(ctx, tu.Issuer, tu.ASN)
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	r := TopUpRefund{TopUp: &tu, Card: &c, Move: mv}
	if h, err := t.m.store.OperationHash(ctx, r.OpKey()); err == nil && h == r.InputHash() {
		return tu, true, nil
	} else if err != nil && !citycard.IsKind(err, citycard.NotFound) {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	at := t.m.now()
	if mv == ExpireTopUp && at.Before(tu.ClaimBy) {
		return TopUp{}, false, citycard.E(op, citycard.Conflict, "top-up %s of card %s may be claimed until %s", tu.ID, tu.Card(), tu.ClaimBy.UTC().Format(time.RFC3339))
	}
	b, err := r.Book()
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	settled := tu
	settled.State, _ = NextTopUp(tu.State, mv)
	settled.SettledAt = at
	a := t.m.audit(by, at, "topup:"+tu.ID, "remote top-up "+mv.String(), tu.snapshot(), settled.snapshot())
	replayed, err := t.store.CommitTopUp(ctx, &Operation{Booking: &b, At: at, Cards: []*Card{touched(c)}, Audit: a}, &settled)
	if err != nil {
		return TopUp{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	return settled, replayed, nil
}

// TopUp pays a remote top-up for the holder's own card from the app or
// the website (OwnCard: another's card is NotFound), under the holder's
// key (kept as "holder:ID/KEY", so that two holders' keys never meet).
// Kinds of OwnCard and TopUps.Pay.
func (s *SelfService) TopUp(ctx context.Context, t *TopUps, holder int64, key string, issuer citycard.IssuerCode, asn citycard.ASN, payer Channel, amountFen int64) (TopUp, bool, error) {
	if _, err := s.OwnCard(ctx, holder, issuer, asn); err != nil {
		return TopUp{}, false, err
	}
	if err := checkKey("cms.SelfService.TopUp", key); err != nil {
		return TopUp{}, false, err
	}
	return t.Pay(ctx, Actor{Who: holderSubject(holder), ServicePoint: "self"}, holderSubject(holder)+"/"+key, issuer, asn, payer, amountFen)
}

// TopUps returns the top-ups of the holder's own card (OwnCard's kinds).
func (s *SelfService) TopUps(ctx context.Context, t *TopUps, holder int64, issuer citycard.IssuerCode, asn citycard.ASN) ([]TopUp, error) {
	if _, err := s.OwnCard(ctx, holder, issuer, asn); err != nil {
		return nil, err
	}
	return t.Of(ctx, issuer, asn)
}

// The stores' spelling of a top-up, as CardColumns is of a card:
// TopUpColumns in this order, then the claim (TopUpClaimColumns: the
// key and status of the top-up's live claim, "" for none, from
// cms_loads), TopUpArgs to write them, ScanTopUp to read them. Times are
// Unix nanoseconds (0 for none), the state by name (pending, expired,
// refunded are stored).
const (
	TopUpColumns      = "id, op_key, issuer, asn, amount_fen, payer_type, payer_party, payer_ref, paid_by, paid_at_point, paid_ns, claim_by_ns, state, settled_ns"
	TopUpClaimColumns = "coalesce((SELECT l.key FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status <> 'reversed' LIMIT 1), ''), " +
		"coalesce((SELECT l.status FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status <> 'reversed' LIMIT 1), '')"
)

// TopUpArgs returns t's values in TopUpColumns' order.
func TopUpArgs(t *TopUp) []any {
	return []any{t.ID, t.Key, t.Issuer.String(), ASNHex(t.ASN), t.AmountFen, int64(t.Payer.Type), t.Payer.Party, t.Payer.Reference,
		t.PaidBy.Who, t.PaidBy.ServicePoint, nanos(t.PaidAt), nanos(t.ClaimBy), t.State.String(), nanos(t.SettledAt)}
}

// ScanTopUp reads a top-up from a row of TopUpColumns and
// TopUpClaimColumns. Kind Invalid for a value the stores never write.
func ScanTopUp(row Scanner) (TopUp, error) {
	const op = "cms.ScanTopUp"
	var t TopUp
	var issuer, asn, state, claimStatus string
	var payer, paid, claimBy, settled int64
	if err := row.Scan(&t.ID, &t.Key, &issuer, &asn, &t.AmountFen, &payer, &t.Payer.Party, &t.Payer.Reference,
		&t.PaidBy.Who, &t.PaidBy.ServicePoint, &paid, &claimBy, &state, &settled, &t.Claim, &claimStatus); err != nil {
		return TopUp{}, err
	}
	var err error
	if t.Issuer, err = citycard.ParseIssuerCode(issuer); err != nil {
		return TopUp{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if t.ASN, err = citycard.ParseASN(asn); err != nil {
		return TopUp{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if t.State, err = ParseTopUpState(state); err != nil {
		return TopUp{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if (payer < int64(Cash) || payer > int64(PartnerBank)) && payer != int64(AdjustmentPay) {
		return TopUp{}, citycard.E(op, citycard.Invalid, "top-up %s: payer channel %d", t.ID, payer)
	}
	t.Payer.Type = ChannelType(payer)
	t.PaidAt, t.ClaimBy, t.SettledAt = fromNanos(paid), fromNanos(claimBy), fromNanos(settled)
	if claimStatus != "" {
		ls, err := ParseLoadStatus(claimStatus)
		if err != nil {
			return TopUp{}, citycard.Wrap(op, citycard.Invalid, err)
		}
		if t.State == TopUpPending {
			t.State = ClaimState(ls)
		}
	}
	return t, nil
}

// ScanTopUps reads every top-up of rows as ScanTopUp.
func ScanTopUps(rows Rows) ([]TopUp, error) { return scanAll(rows, ScanTopUp) }

// scanAll reads every row of rows with scan.
func scanAll[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
