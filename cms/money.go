package cms

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// ChannelType is how money comes in or goes out at a service point.
type ChannelType uint8

// The channels. The values are stored: keep them.
const (
	Cash        ChannelType = 1 // at our own counter
	BankCard    ChannelType = 2 // a bank card at a counter or kiosk
	ThirdParty  ChannelType = 3 // a third-party payment (Alipay, WeChat Pay), with its reference
	PartnerBank ChannelType = 4 // a partner bank's counter, its own staff
	// TopUpClaim is a remote top-up claimed on its card (TopUps.Claim):
	// the money comes from the top-up pending account (Party: the
	// issuer), Reference is the top-up's ID. Only the load host's claim
	// books through it; the API's channels are the four above.
	TopUpClaim ChannelType = 5
	// AdjustmentPay is internal too: the payer of a remote top-up a
	// manual adjustment credits to a card whose balance is on its chip
	// (Manager.Adjust): the issuer's adjustment account (Party: the
	// issuer), Reference the approval ("approval:ID"). No channel took
	// the money, so it has no channel move.
	AdjustmentPay ChannelType = 6
)

var channelNames = [...]string{Cash: "cash", BankCard: "bank_card", ThirdParty: "third_party", PartnerBank: "partner_bank", TopUpClaim: "topup_claim",
	AdjustmentPay: "adjustment"}

// ParseChannelType parses a channel type's name. Kind Invalid.
func ParseChannelType(s string) (ChannelType, error) {
	for i, n := range channelNames {
		if n != "" && n == s {
			return ChannelType(i), nil
		}
	}
	return 0, citycard.E("cms.ParseChannelType", citycard.Invalid, "channel %q: want cash, bank_card, third_party, partner_bank, topup_claim or adjustment", s)
}

func (k ChannelType) String() string {
	if k >= Cash && k <= AdjustmentPay {
		return channelNames[k]
	}
	return fmt.Sprintf("channel(%d)", uint8(k))
}

// ReferenceLenMax bounds a channel's payment reference.
const ReferenceLenMax = 64

// Channel is where money is paid in or out: the kind, the registry party
// whose settlement account it passes through (our issuer for our own
// counters, the bank, the payment company), and the payment's reference
// at the channel (required for a third-party payment).
type Channel struct {
	Type      ChannelType
	Party     string
	Reference string
}

func (ch Channel) check(op string) error {
	if ch.Type < Cash || ch.Type > AdjustmentPay {
		return citycard.E(op, citycard.Invalid, "channel type %d", ch.Type)
	}
	if err := (ledger.Account{Type: ledger.Settlement, Party: ch.Party}).Validate(); err != nil {
		return citycard.E(op, citycard.Invalid, "channel %v: party: %w", ch.Type, err)
	}
	if len(ch.Reference) > ReferenceLenMax || !utf8.ValidString(ch.Reference) {
		return citycard.E(op, citycard.Invalid, "channel %v: reference of %d bytes, at most %d of UTF-8", ch.Type, len(ch.Reference), ReferenceLenMax)
	}
	if (ch.Type == ThirdParty || ch.Type == TopUpClaim || ch.Type == AdjustmentPay) && ch.Reference == "" {
		return citycard.E(op, citycard.Invalid, "channel %v: the payment's reference is missing", ch.Type)
	}
	return nil
}

// Account is the ledger account money comes in through (or goes out
// to): the party's settlement account, or for a claimed remote top-up
// the issuer's top-up pending account.
func (ch Channel) Account() ledger.Account { return ch.account() }

func (ch Channel) account() ledger.Account {
	switch ch.Type {
	case TopUpClaim:
		return ledger.Account{Type: ledger.TopUpPending, Party: ch.Party}
	case AdjustmentPay:
		return ledger.Account{Type: ledger.Adjustment, Party: ch.Party}
	}
	return ledger.Account{Type: ledger.Settlement, Party: ch.Party}
}

// FlowType is one of the terms of a card's conservation.
type FlowType uint8

// The terms: a card's book balance is loads - purchases - refunds - moved
// out + moved in + loss borne (BookBalances).
const (
	FlowLoad      FlowType = 1 // money onto the card
	FlowPurchase  FlowType = 2 // spent at a terminal (acquire books these)
	FlowRefund    FlowType = 3 // the balance paid back (the fee kept out of it included)
	FlowMovedOut  FlowType = 4 // the balance moved to a replacement
	FlowMovedIn   FlowType = 5 // the balance moved in from the card it replaces
	FlowLossBorne FlowType = 6 // use after the loss report, borne by the issuer
	// FlowLoadReversed is an online load the card never credited, taken
	// back (LoadReversal): a load's negative.
	FlowLoadReversed FlowType = 7
	// FlowAdjustCredit and FlowAdjustDebit are manual adjustments of a
	// card's book a supervisor approved (Adjustment): money onto it, and
	// taken back.
	FlowAdjustCredit FlowType = 8
	FlowAdjustDebit  FlowType = 9
)

var flowNames = [...]string{FlowLoad: "load", FlowPurchase: "purchase", FlowRefund: "refund",
	FlowMovedOut: "moved_out", FlowMovedIn: "moved_in", FlowLossBorne: "loss_borne", FlowLoadReversed: "load_reversed",
	FlowAdjustCredit: "adjust_credit", FlowAdjustDebit: "adjust_debit"}

// String gives the name the stores write.
func (k FlowType) String() string {
	if k >= FlowLoad && k <= FlowAdjustDebit {
		return flowNames[k]
	}
	return fmt.Sprintf("flow(%d)", uint8(k))
}

// ParseFlowType parses a flow type's name. Kind Invalid.
func ParseFlowType(s string) (FlowType, error) {
	for i, n := range flowNames {
		if n != "" && n == s {
			return FlowType(i), nil
		}
	}
	return 0, citycard.E("cms.ParseFlowType", citycard.Invalid, "flow type %q", s)
}

// Flow is one term of one card's conservation.
type Flow struct {
	Issuer citycard.IssuerCode // the card's issuer: two issuers may number their cards alike
	Card   citycard.ASN
	Type   FlowType
	Fen    int64
}

// Sign is the flow's term in a card's book: +1 for money onto the card
// (load, moved in, loss borne, adjust credit), -1 for money off it
// (purchase, refund, moved out, load reversed, adjust debit), 0 for a
// type that is none.
func (k FlowType) Sign() int64 {
	switch k {
	case FlowLoad, FlowMovedIn, FlowLossBorne, FlowAdjustCredit:
		return 1
	case FlowPurchase, FlowRefund, FlowMovedOut, FlowLoadReversed, FlowAdjustDebit:
		return -1
	}
	return 0
}

// BookBalances sums flows per card into what card management owes on
// each: loads - loads reversed - purchases - refunds - moved out + moved
// in + loss borne + adjust credit - adjust debit.
// For a card in use it is the balance the card reports once all its
// records are in; for a card closed it is 0.
func BookBalances(flows []Flow) map[citycard.ASN]int64 {
	m := make(map[citycard.ASN]int64)
	for _, f := range flows {
		m[f.Card] += f.Type.Sign() * f.Fen
	}
	return m
}

// BookTotal is BookBalances over the sums of every card's flows by type
// (Store.FlowTotals): what card management owes on all its cards.
func BookTotal(totals map[FlowType]int64) int64 {
	var fen int64
	for t, v := range totals {
		fen += t.Sign() * v
	}
	return fen
}

// Booking is what a money operation books: its idempotency key, the hash
// of its input, its ledger entries (their keys derived from the
// operation's) and the flows of the cards it moves. A Booking with no
// entries moved nothing (a refund of an empty card without a deposit).
type Booking struct {
	Key       string
	InputHash [32]byte
	Entries   []ledger.Entry
	Flows     []Flow
	Refund    *RefundQuote // for a refund, how it was reckoned
	// Answer is what the operation answers beyond its cards, kept with
	// its key so that a retry answers it again exactly (a refund's quote
	// as JSON, RefundAnswer); "" for none.
	Answer string
	// Channel is the channel the operation's money came in or went out
	// through (Type 0: none, as a balance move), ChannelFen how much (paid
	// in; below 0 paid out) and LoadFen how much of it went onto a card
	// (below 0: a load reversed). The store keeps them with the
	// operation's service point (its audit record's): the channel moves
	// from which clearing reckons a channel's commission per load
	// (ChannelMove).
	Channel    Channel
	ChannelFen int64
	LoadFen    int64
}

// through records on b the channel its money passed through.
func (b *Booking) through(ch Channel, fen, loadFen int64) {
	b.Channel, b.ChannelFen, b.LoadFen = ch, fen, loadFen
}

// KeyLenMax bounds an operation's idempotency key, leaving the ledger's
// bound room for the part each entry's key adds.
const KeyLenMax = ledger.KeyLenMax - 32

func checkKey(op, key string) error {
	if key == "" || len(key) > KeyLenMax || !utf8.ValidString(key) {
		return citycard.E(op, citycard.Invalid, "idempotency key: want 1 to %d bytes of UTF-8", KeyLenMax)
	}
	return nil
}

// inputHash hashes an operation's input: its name and its fields, each
// printed with %q or %d so that no two inputs print alike. The clock is
// not an input: a retry later is the same request.
func inputHash(name string, fields ...any) [32]byte {
	b := fmt.Appendf(nil, "citycard.cms.%s.v1", name)
	for _, f := range fields {
		switch f := f.(type) {
		case string:
			b = fmt.Appendf(b, "|%q", f)
		case fmt.Stringer:
			b = fmt.Appendf(b, "|%q", f.String())
		default:
			b = fmt.Appendf(b, "|%d", f)
		}
	}
	return sha256.Sum256(b)
}

// entry builds one of a booking's entries: key KEY/part, postings without
// the zero ones. It returns false when fewer than two postings move money.
func entry(key, part string, typ ledger.EntryType, c *Card, postings ...ledger.Posting) (ledger.Entry, bool) {
	var ps []ledger.Posting
	for _, p := range postings {
		if p.AmountFen != 0 {
			ps = append(ps, p)
		}
	}
	if len(ps) < 2 {
		return ledger.Entry{}, false
	}
	e := ledger.NewEntry("cms:"+key+"/"+part, typ, "card:"+c.String(), ps...)
	e.Count = 1
	return e, true
}

func (b *Booking) add(e ledger.Entry, ok bool) {
	if ok {
		b.Entries = append(b.Entries, e)
	}
}

func floatAccount(c *Card) ledger.Account {
	return ledger.Account{Type: ledger.CardFloat, Party: c.Issuer.String()}
}

func deposit(c *Card) ledger.Account {
	return ledger.Account{Type: ledger.CardDeposit, Party: c.Issuer.String()}
}

func lossAccount(c *Card) ledger.Account {
	return ledger.Account{Type: ledger.IssuerLoss, Party: c.Issuer.String()}
}

var feeIncome = ledger.Account{Type: ledger.FeeIncome}

// Sale is the money of a card's issue: its deposit and issue fee, and the
// first load if any, paid in through Channel.
type Sale struct {
	Key     string
	Card    *Card
	Product *Product
	Channel Channel
	LoadFen int64 // loaded at issue; 0 for none
}

// Book returns the sale's entries: deposit (settlement to card deposit),
// fee (settlement to fee income) and load (settlement to card float), each
// only if not 0. A replacement (a card that Replaces another) takes
// neither deposit nor issue fee: the old card's deposit stays with it,
// and its fee was the replacement fee. Kinds Invalid (key, channel, a load
// over the per-load limit or below 0) and Conflict (a card not being
// issued: it must be personalized or issued, or a load over the cap).
func (s Sale) Book() (Booking, error) {
	const op = "cms.Sale.Book"
	if err := s.check(op); err != nil {
		return Booking{}, err
	}
	if s.Card.State != Personalized && s.Card.State != Issued {
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v is %v: a sale is of a card personalized or issued", s.Card, s.Card.State)
	}
	if s.LoadFen != 0 {
		if err := CheckLoad(s.Product, 0, 0, s.LoadFen); err != nil {
			return Booking{}, citycard.Wrap(op, citycard.Other, err)
		}
	}
	b := Booking{Key: s.Key, InputHash: s.InputHash()}
	in := s.Channel.account()
	depositFen, feeFen := s.Product.DepositFen, s.Product.IssueFeeFen
	if s.Card.Replaces != (citycard.ASN{}) {
		depositFen, feeFen = 0, 0
	}
	b.add(entry(s.Key, "deposit", ledger.EntryDeposit, s.Card, ledger.Transfer(in, deposit(s.Card), depositFen)...))
	b.add(entry(s.Key, "fee", ledger.EntryFee, s.Card, ledger.Transfer(in, feeIncome, feeFen)...))
	b.add(entry(s.Key, "load", ledger.EntryLoad, s.Card, ledger.Transfer(in, floatAccount(s.Card), s.LoadFen)...))
	if s.LoadFen != 0 {
		b.Flows = append(b.Flows, Flow{s.Card.Issuer, s.Card.ASN, FlowLoad, s.LoadFen})
	}
	b.through(s.Channel, depositFen+feeFen+s.LoadFen, s.LoadFen)
	return b, nil
}

func (s Sale) check(op string) error {
	if err := checkKey(op, s.Key); err != nil {
		return err
	}
	if s.Card.Product != s.Product.ID {
		return citycard.E(op, citycard.Invalid, "card %v is a %s card, not %s", s.Card, s.Card.Product, s.Product.ID)
	}
	return s.Channel.check(op)
}

// CheckLoad checks a load of amountFen onto a card of p holding
// balanceFen, which has had loadedTodayFen loaded already today (China
// time): more than 0 and at most the per-load limit (else Invalid); the
// balance after it at most the cap and the day's loads at most the daily
// limit (else Conflict, naming the limit). Each limit is reached
// exactly, never passed.
func CheckLoad(p *Product, balanceFen, loadedTodayFen, amountFen int64) error {
	const op = "cms.CheckLoad"
	switch {
	case amountFen <= 0 || amountFen > p.LoadMaxFen:
		return citycard.E(op, citycard.Invalid, "product %s: a load of %s yuan: want more than 0 and at most %s", p.ID, citycard.Yuan(amountFen), citycard.Yuan(p.LoadMaxFen))
	case balanceFen+amountFen > p.BalanceMaxFen:
		return citycard.E(op, citycard.Conflict, "product %s: a load of %s yuan onto %s would pass the balance cap of %s", p.ID, citycard.Yuan(amountFen), citycard.Yuan(balanceFen), citycard.Yuan(p.BalanceMaxFen))
	case loadedTodayFen+amountFen > p.DailyLoadMaxFen:
		return citycard.E(op, citycard.Conflict, "product %s: a load of %s yuan after %s today would pass the daily limit of %s", p.ID, citycard.Yuan(amountFen), citycard.Yuan(loadedTodayFen), citycard.Yuan(p.DailyLoadMaxFen))
	}
	return nil
}

// Load is an online load (圈存) of AmountFen onto a card whose shadow
// holds BalanceFen, LoadedTodayFen loaded already today, paid in through
// Channel.
type Load struct {
	Key            string
	Card           *Card
	Product        *Product
	Channel        Channel
	AmountFen      int64
	BalanceFen     int64
	LoadedTodayFen int64
}

// Book returns the load's entry (settlement to card float) and flow.
// Kinds Invalid and Conflict as CheckLoad, and Conflict for a card that
// is neither issued nor active (lost, closed, ...).
func (l Load) Book() (Booking, error) {
	const op = "cms.Load.Book"
	if err := (Sale{Key: l.Key, Card: l.Card, Product: l.Product, Channel: l.Channel}).check(op); err != nil {
		return Booking{}, err
	}
	if l.Card.State != Issued && l.Card.State != Active {
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v is %v: a load is onto a card issued or active", l.Card, l.Card.State)
	}
	if err := CheckLoad(l.Product, l.BalanceFen, l.LoadedTodayFen, l.AmountFen); err != nil {
		return Booking{}, citycard.Wrap(op, citycard.Other, err)
	}
	b := Booking{Key: l.Key, InputHash: l.InputHash()}
	b.add(entry(l.Key, "load", ledger.EntryLoad, l.Card, ledger.Transfer(l.Channel.account(), floatAccount(l.Card), l.AmountFen)...))
	b.Flows = []Flow{{l.Card.Issuer, l.Card.ASN, FlowLoad, l.AmountFen}}
	b.through(l.Channel, l.AmountFen, l.AmountFen)
	return b, nil
}

// Purchase is one purchase of a card as its shadow has it: when, and how much.
type Purchase struct {
	At        time.Time
	AmountFen int64
}

// OwedFen is what card c's holder is owed of balanceFen, the balance the
// shadow holds after all of purchases: the balance as of the cut
// (SplitAtCut) for a card reported lost or damaged, balanceFen itself
// otherwise.
func (c *Card) OwedFen(balanceFen int64, purchases []Purchase) int64 {
	if c.LostAt.IsZero() {
		return balanceFen
	}
	return SplitAtCut(c.LostAt, balanceFen, purchases).BalanceAtCutFen
}

// Split is a lost or damaged card's balance cut at its report: what the
// cardholder is owed (the balance as of the report) and what the issuer
// bears (the card's purchases after it).
type Split struct {
	BalanceAtCutFen int64
	LossBorneFen    int64
}

// SplitAtCut cuts the liability of a card at time cut (its loss or damage
// report): of purchases, those after cut are borne by the issuer; those
// at or before it are the cardholder's. balanceFen is the balance the
// shadow holds after all of purchases; the balance as of the cut is it
// plus the purchases after the cut. The caller waits for the card's
// records up to the cut to arrive (the cooling period) before it trusts
// the split.
func SplitAtCut(cut time.Time, balanceFen int64, purchases []Purchase) Split {
	s := Split{BalanceAtCutFen: balanceFen}
	for _, u := range purchases {
		if u.At.After(cut) {
			s.LossBorneFen += u.AmountFen
		}
	}
	s.BalanceAtCutFen += s.LossBorneFen
	return s
}

// RefundQuote is how a refund is reckoned: the balance and deposit owed,
// the fee kept, and what is paid out (balance + deposit - fee). The
// deposit of a card not handed back (a lost one) is kept, not owed.
type RefundQuote struct {
	BalanceFen     int64
	DepositFen     int64 // the deposit paid back
	DepositKeptFen int64 // the deposit of a card not handed back, kept as income
	FeeFen         int64
	PaidFen        int64
	// FeeRule says why the fee was charged ("within 90 days of issue",
	// "5 purchases or fewer", ...) or "" when it was not.
	FeeRule string
}

// answer is the quote as a refund's Booking.Answer keeps it.
func (q RefundQuote) answer() string {
	b, err := json.Marshal(refundAnswer{q.BalanceFen, q.DepositFen, q.DepositKeptFen, q.FeeFen, q.PaidFen, q.FeeRule})
	if err != nil {
		panic(err) // integers and a string always encode
	}
	return string(b)
}

// refundAnswer is RefundQuote's stored form (the stores keep it: keep
// the names).
type refundAnswer struct {
	BalanceFen     int64  `json:"balance_fen"`
	DepositFen     int64  `json:"deposit_fen"`
	DepositKeptFen int64  `json:"deposit_kept_fen"`
	FeeFen         int64  `json:"fee_fen"`
	PaidFen        int64  `json:"paid_fen"`
	FeeRule        string `json:"fee_rule"`
}

// ParseRefundAnswer reads a refund's Booking.Answer. Kind Invalid.
func ParseRefundAnswer(s string) (RefundQuote, error) {
	var a refundAnswer
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return RefundQuote{}, citycard.E("cms.ParseRefundAnswer", citycard.Invalid, "a refund's stored answer: %v", err)
	}
	return RefundQuote(a), nil
}

// QuoteRefund reckons the refund of a card of p issued at issued,
// refunded at at after n purchases, owed balanceFen (the balance as of
// the cut for a lost or damaged card), handed back or not (returned: the
// deposit is refunded on return, and kept for a card that is lost). The
// fee is p's RefundFee when any of its conditions holds (days since the
// day of issue at most WithinDays, n at most PurchasesMax, balance over
// BalanceOverFen; with none set, always): the larger of MinFen and
// PercentBp of the balance, the percentage rounded half up to the fen;
// never more than balance and deposit together, so that the payout is
// never below 0 and no fen is lost to rounding (fee + payout = balance +
// deposit). Kind Insufficient when an overdrawn balance is more than the
// deposit.
func QuoteRefund(p *Product, issued, at time.Time, n int, balanceFen int64, returned bool) (RefundQuote, error) {
	const op = "cms.QuoteRefund"
	q := RefundQuote{BalanceFen: balanceFen, DepositFen: p.DepositFen}
	if !returned {
		q.DepositFen, q.DepositKeptFen = 0, p.DepositFen
	}
	owed := balanceFen + q.DepositFen
	if owed < 0 {
		return q, citycard.E(op, citycard.Insufficient, "product %s: the card is overdrawn by %s yuan, more than the deposit paid back, %s", p.ID, citycard.Yuan(-balanceFen), citycard.Yuan(q.DepositFen))
	}
	r := p.RefundFee
	days := Today(issued).DaysUntil(Today(at))
	switch {
	case r.MinFen == 0 && r.PercentBp == 0:
	case r.WithinDays > 0 && days <= r.WithinDays:
		q.FeeRule = fmt.Sprintf("returned %d days after issue, within %d", days, r.WithinDays)
	case r.PurchasesMax > 0 && n <= r.PurchasesMax:
		q.FeeRule = fmt.Sprintf("%d purchases, %d or fewer", n, r.PurchasesMax)
	case r.BalanceOverFen > 0 && balanceFen > r.BalanceOverFen:
		q.FeeRule = fmt.Sprintf("a balance over %s yuan", citycard.Yuan(r.BalanceOverFen))
	case r.WithinDays == 0 && r.PurchasesMax == 0 && r.BalanceOverFen == 0:
		q.FeeRule = "always"
	}
	if q.FeeRule != "" {
		q.FeeFen = r.MinFen
		if pct := (max(balanceFen, 0)*r.PercentBp + 5000) / 10000; pct > q.FeeFen {
			q.FeeFen = pct
		}
		q.FeeFen = min(q.FeeFen, owed)
	}
	q.PaidFen = owed - q.FeeFen
	return q, nil
}

// Refunding is the refund of a card: its balance (as of the cut for a
// lost or damaged card, Split) and deposit back through Payee, the fee
// kept; the issuer bears LossBorneFen, the card's use after its cut.
type Refunding struct {
	Key          string
	Card         *Card
	Product      *Product
	Payee        Channel
	Purchases    int   // the card's purchases since issue, for the fee rule
	BalanceFen   int64 // what the cardholder is owed of the balance
	LossBorneFen int64 // 0 unless the card was lost or damaged
	At           time.Time
}

// Book returns the refund's entries (a lost or damaged card's only once
// its cooling period is over, so that its balance as of the cut is
// known): loss (issuer loss to card float, if any) and refund (card float
// and card deposit to fee income and the payee's settlement; a lost
// card's deposit kept goes to fee income); the quote; and the flows: loss
// borne, refund. Kinds Invalid (key, payee, a loss borne below 0 or on a
// card never lost), Conflict (a card whose state refuses a refund, a cut
// card's cooling period not over), Insufficient (QuoteRefund).
func (r Refunding) Book() (Booking, error) {
	const op = "cms.Refunding.Book"
	if err := (Sale{Key: r.Key, Card: r.Card, Product: r.Product, Channel: r.Payee}).check(op); err != nil {
		return Booking{}, err
	}
	if _, ok := Next(r.Card.State, Refund); !ok {
		return Booking{}, forbidden(op, r.Card, Refund)
	}
	if err := checkLoss(op, r.Card, r.LossBorneFen); err != nil {
		return Booking{}, err
	}
	if ends := CoolingEnds(r.Product, r.Card); !r.Card.LostAt.IsZero() && r.At.Before(ends) {
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v: the cooling period runs until %v", r.Card, ends.UTC().Format(time.RFC3339))
	}
	q, err := QuoteRefund(r.Product, r.Card.IssuedAt, r.At, r.Purchases, r.BalanceFen, r.Card.State != Lost)
	if err != nil {
		return Booking{}, citycard.Wrap(op, citycard.Other, err)
	}
	b := Booking{Key: r.Key, Refund: &q, InputHash: r.InputHash(), Answer: q.answer()}
	b.addLoss(r.Key, r.Card, r.LossBorneFen)
	b.add(entry(r.Key, "refund", ledger.EntryRefund, r.Card,
		ledger.Debit(floatAccount(r.Card), q.BalanceFen), ledger.Debit(deposit(r.Card), q.DepositFen+q.DepositKeptFen),
		ledger.Credit(feeIncome, q.FeeFen+q.DepositKeptFen), ledger.Credit(r.Payee.account(), q.PaidFen)))
	b.Flows = append(b.Flows, Flow{r.Card.Issuer, r.Card.ASN, FlowRefund, q.BalanceFen})
	b.through(r.Payee, -q.PaidFen, 0)
	return b, nil
}

func checkLoss(op string, c *Card, lossFen int64) error {
	if lossFen < 0 || lossFen > 0 && c.LostAt.IsZero() {
		return citycard.E(op, citycard.Invalid, "card %v: a loss of %d fen borne, on a card lost at %v", c, lossFen, c.LostAt)
	}
	return nil
}

func (b *Booking) addLoss(key string, c *Card, lossFen int64) {
	b.add(entry(key, "loss", ledger.EntryLoss, c, ledger.Transfer(lossAccount(c), floatAccount(c), lossFen)...))
	if lossFen != 0 {
		b.Flows = append(b.Flows, Flow{c.Issuer, c.ASN, FlowLossBorne, lossFen})
	}
}

// ReplacementFee is the fee of a replacement card, paid in through
// Channel when the old card is replaced. The old card's deposit stays
// with the card that replaces it: no deposit moves.
type ReplacementFee struct {
	Key     string
	Old     *Card
	NewASN  citycard.ASN // the card that replaces it (the request's, for the input hash)
	Product *Product
	Channel Channel
}

// Book returns the fee's entry (settlement to fee income). Kinds Invalid
// (key, channel) and Conflict (a card that cannot be replaced).
func (f ReplacementFee) Book() (Booking, error) {
	const op = "cms.ReplacementFee.Book"
	if err := (Sale{Key: f.Key, Card: f.Old, Product: f.Product, Channel: f.Channel}).check(op); err != nil {
		return Booking{}, err
	}
	if _, ok := Next(f.Old.State, Replace); !ok {
		return Booking{}, forbidden(op, f.Old, Replace)
	}
	b := Booking{Key: f.Key, InputHash: f.InputHash()}
	b.add(entry(f.Key, "fee", ledger.EntryFee, f.Old, ledger.Transfer(f.Channel.account(), feeIncome, f.Product.ReplacementFeeFen)...))
	b.through(f.Channel, f.Product.ReplacementFeeFen, 0)
	return b, nil
}

// BalanceMove moves a replaced card's balance as of its cut onto the card
// that replaces it, once the cooling period has passed; the issuer bears
// the old card's use after the cut (Split).
type BalanceMove struct {
	Key     string
	Old     *Card // replaced
	New     *Card // its replacement: issued or active
	Product *Product
	Split   Split
	At      time.Time
}

// Book returns the move's entries: loss (issuer loss to card float, if
// any) and the move (card float to card float: the same account, so the
// general ledger's float stands still while the cards' subledger moves),
// and the flows: loss borne and moved out on the old card, moved in on the
// new. Kinds Invalid (key, amounts below 0, a new card not the old's
// replacement), Conflict (the old card not replaced, the new one neither
// issued nor active, the cooling period not over).
func (m BalanceMove) Book() (Booking, error) {
	const op = "cms.BalanceMove.Book"
	if err := checkKey(op, m.Key); err != nil {
		return Booking{}, err
	}
	switch {
	case m.Old.Product != m.Product.ID:
		return Booking{}, citycard.E(op, citycard.Invalid, "card %v is a %s card, not %s", m.Old, m.Old.Product, m.Product.ID)
	case m.Old.ReplacedBy != m.New.ASN || m.New.Replaces != m.Old.ASN || m.Old.Issuer != m.New.Issuer:
		return Booking{}, citycard.E(op, citycard.Invalid, "card %v is not the replacement of %v", m.New, m.Old)
	case m.Split.BalanceAtCutFen < 0:
		return Booking{}, citycard.E(op, citycard.Invalid, "card %v: a balance of %d fen at the cut: an overdrawn card is refunded, not moved", m.Old, m.Split.BalanceAtCutFen)
	case m.Old.State != Replaced:
		return Booking{}, forbidden(op, m.Old, MoveBalance)
	case m.New.State != Issued && m.New.State != Active:
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v is %v: a balance moves onto a card issued or active", m.New, m.New.State)
	}
	if ends := CoolingEnds(m.Product, m.Old); m.At.Before(ends) {
		return Booking{}, citycard.E(op, citycard.Conflict, "card %v: the cooling period runs until %v", m.Old, ends.UTC().Format(time.RFC3339))
	}
	if err := checkLoss(op, m.Old, m.Split.LossBorneFen); err != nil {
		return Booking{}, err
	}
	b := Booking{Key: m.Key, InputHash: m.InputHash()}
	b.addLoss(m.Key, m.Old, m.Split.LossBorneFen)
	b.add(entry(m.Key, "move", ledger.EntryMove, m.Old, ledger.Transfer(floatAccount(m.Old), floatAccount(m.New), m.Split.BalanceAtCutFen)...))
	if m.Split.BalanceAtCutFen != 0 {
		b.Flows = append(b.Flows, Flow{m.Old.Issuer, m.Old.ASN, FlowMovedOut, m.Split.BalanceAtCutFen}, Flow{m.New.Issuer, m.New.ASN, FlowMovedIn, m.Split.BalanceAtCutFen})
	}
	return b, nil
}

// LateLoss is the issuer bearing the use of a lost card whose records
// arrived after its balance moved or was refunded: offline purchases made
// after the cut that reached the back office late.
type LateLoss struct {
	Key       string
	Card      *Card
	AmountFen int64
}

// Book returns the loss entry (issuer loss to card float) and its flow.
// Kind Invalid (key, an amount not above 0, a card never lost).
func (l LateLoss) Book() (Booking, error) {
	const op = "cms.LateLoss.Book"
	if err := checkKey(op, l.Key); err != nil {
		return Booking{}, err
	}
	if l.AmountFen <= 0 {
		return Booking{}, citycard.E(op, citycard.Invalid, "card %v: a late loss of %d fen", l.Card, l.AmountFen)
	}
	if err := checkLoss(op, l.Card, l.AmountFen); err != nil {
		return Booking{}, err
	}
	b := Booking{Key: l.Key, InputHash: l.InputHash()}
	b.addLoss(l.Key, l.Card, l.AmountFen)
	return b, nil
}

// MoneyOp is a money operation: Sale, Load, Refunding, ReplacementFee,
// BalanceMove, LateLoss, Adjustment.
type MoneyOp interface {
	OpKey() string
	InputHash() [32]byte
	Book() (Booking, error)
}

// InputHash is the hash of the request (Booking.InputHash), whatever the
// card's state: what a retry is recognized by.
func (s Sale) InputHash() [32]byte {
	return inputHash("sale", s.Card.String(), s.Product.ID, s.Channel.Type, s.Channel.Party, s.Channel.Reference, s.LoadFen)
}

// OpKey returns the idempotency key.
func (s Sale) OpKey() string { return s.Key }

// InputHash is the hash of the request (Booking.InputHash), whatever the
// card's state: what a retry is recognized by.
func (l Load) InputHash() [32]byte {
	return inputHash("load", l.Card.String(), l.Channel.Type, l.Channel.Party, l.Channel.Reference, l.AmountFen)
}

// OpKey returns the idempotency key.
func (l Load) OpKey() string { return l.Key }

// InputHash is the hash of the request (Booking.InputHash), whatever the
// card's state: what a retry is recognized by. It is the client's input
// only, the card and the payee: the balance, purchases and loss the
// refund is reckoned from are the server's, and move when a lost card's
// late records arrive, so a retry of the same request hashes alike and
// answers the first quote (Booking.Answer), and another request under
// the key is refused.
func (r Refunding) InputHash() [32]byte {
	return inputHash("refund_request", r.Card.String(), r.Payee.Type, r.Payee.Party, r.Payee.Reference)
}

// OpKey returns the idempotency key.
func (r Refunding) OpKey() string { return r.Key }

// InputHash is the hash of the request (Booking.InputHash), whatever the
// card's state: what a retry is recognized by.
func (f ReplacementFee) InputHash() [32]byte {
	return inputHash("replacement_fee", f.Old.String(), f.NewASN.String(), f.Channel.Type, f.Channel.Party, f.Channel.Reference)
}

// OpKey returns the idempotency key.
func (f ReplacementFee) OpKey() string { return f.Key }

// InputHash is the hash of the request (Booking.InputHash), whatever the
// card's state: what a retry is recognized by. It is the client's input
// only, the old card: its replacement and the split are the server's,
// reckoned from a book the move itself changes.
func (m BalanceMove) InputHash() [32]byte {
	return inputHash("balance_move_request", m.Old.String())
}

// OpKey returns the idempotency key.
func (m BalanceMove) OpKey() string { return m.Key }

// InputHash is the hash of the request (Booking.InputHash), whatever the
// card's state: what a retry is recognized by.
func (l LateLoss) InputHash() [32]byte {
	return inputHash("late_loss", l.Card.String(), l.AmountFen)
}

// OpKey returns the idempotency key.
func (l LateLoss) OpKey() string { return l.Key }

// Keys remembers the idempotency keys of the operations booked and the
// hashes of their inputs, as a store does (in memory here, for a single
// process and for tests).
type Keys struct {
	seen map[string][32]byte
}

// Admit records b's key. It reports replayed when the key was booked
// before with the same input (the caller answers the first booking and
// books nothing); a key booked before with another input is kind Conflict.
func (k *Keys) Admit(b *Booking) (replayed bool, err error) {
	if k.seen == nil {
		k.seen = make(map[string][32]byte)
	}
	h, ok := k.seen[b.Key]
	if !ok {
		k.seen[b.Key] = b.InputHash
		return false, nil
	}
	if h != b.InputHash {
		return false, citycard.E("cms.Keys.Admit", citycard.Conflict, "idempotency key %q was used for another operation", b.Key)
	}
	return true, nil
}
