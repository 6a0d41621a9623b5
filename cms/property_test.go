package cms

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// simCard is a card of the random lifecycle: what card management knows,
// and what the chip holds.
type simCard struct {
	Card
	chipFen int64
	uses    []Purchase
	loadDay Date
	loaded  int64 // today's loads
	// handedBack: the card came back to a counter (refunded, or replaced
	// because damaged) and taps no more.
	handedBack bool
	// adjustedFen is what manual adjustments of its book (damaged,
	// replaced) put on the card, less what they took back: owed to the
	// cardholder beside the chip's balance, until the balance moves or
	// is refunded.
	adjustedFen int64
}

// lifecycle drives random cards through sales, loads, purchases (some
// after a loss report, made offline before the blacklist arrived), loss
// reports and cancellations, replacements with their balance moves,
// damage and refunds, booking every money operation as the package does.
type lifecycle struct {
	t       *testing.T
	rnd     *rand.Rand
	p       *Product
	now     time.Time
	cards   []*simCard
	flows   []Flow
	totals  ledger.Totals
	keys    Keys
	entries map[string]bool
	ops     int
	issuer  citycard.IssuerCode
	// approvals numbers the adjustments' approvals.
	approvals int64
}

func (l *lifecycle) book(b Booking, err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatalf("op %d: %v", l.ops, err)
	}
	if replayed, err := l.keys.Admit(&b); replayed || err != nil {
		l.t.Fatalf("op %d: key %q: replayed %v, %v", l.ops, b.Key, replayed, err)
	}
	for i := range b.Entries {
		e := &b.Entries[i]
		if err := e.Validate(); err != nil {
			l.t.Fatalf("op %d: %v", l.ops, err)
		}
		if l.entries[e.Key] {
			l.t.Fatalf("op %d: entry key %q twice", l.ops, e.Key)
		}
		l.entries[e.Key] = true
		l.totals.Add(int64(len(l.entries)), e)
	}
	l.flows = append(l.flows, b.Flows...)
	// A retry of the operation is a replay, never a second booking.
	if l.rnd.IntN(4) == 0 {
		if replayed, err := l.keys.Admit(&b); !replayed || err != nil {
			l.t.Fatalf("op %d: the retry of %q: %v %v", l.ops, b.Key, replayed, err)
		}
	}
}

func (l *lifecycle) key() string {
	l.ops++
	return fmt.Sprintf("op-%d", l.ops)
}

func (l *lifecycle) move(c *simCard, m Move) {
	l.t.Helper()
	next, err := c.Move(l.p, m, l.now)
	if err != nil {
		l.t.Fatalf("op %d: %v", l.ops, err)
	}
	c.Card = next
}

func (l *lifecycle) newCard(registered bool) *simCard {
	c := &simCard{Card: Card{Issuer: l.issuer, Product: l.p.ID, State: Applied}}
	c.ASN[9] = byte(len(l.cards))
	c.ASN[8] = byte(len(l.cards) >> 8)
	c.ASN[7] = 0xC0
	if registered {
		c.Holder = int64(len(l.cards) + 1)
	}
	l.cards = append(l.cards, c)
	return c
}

func (l *lifecycle) sell() {
	c := l.newCard(l.rnd.IntN(5) != 0)
	l.move(c, Personalize)
	l.move(c, Issue)
	load := l.rnd.Int64N(l.p.LoadMaxFen/100) * 100
	l.book(Sale{Key: l.key(), Card: &c.Card, Product: l.p, Channel: counter, LoadFen: load}.Book())
	c.chipFen = load
	c.loadDay, c.loaded = Today(l.now), load
	l.move(c, Activate)
}

func (l *lifecycle) load(c *simCard) {
	if c.loadDay != Today(l.now) {
		c.loadDay, c.loaded = Today(l.now), 0
	}
	amount := 1 + l.rnd.Int64N(l.p.LoadMaxFen)
	ld := Load{Key: l.key(), Card: &c.Card, Product: l.p, Channel: alipay, AmountFen: amount, BalanceFen: c.chipFen, LoadedTodayFen: c.loaded}
	if CheckLoad(l.p, c.chipFen, c.loaded, amount) != nil {
		if _, err := ld.Book(); err == nil {
			l.t.Fatalf("op %d: a load CheckLoad refuses was booked", l.ops)
		}
		return
	}
	l.book(ld.Book())
	c.chipFen += amount
	c.loaded += amount
}

// purchase is a tap: acquire books it (card float to the operator's
// payable); the card may be lost and not yet on the terminal's blacklist.
func (l *lifecycle) purchase(c *simCard) {
	amount := 1 + l.rnd.Int64N(500)
	if c.chipFen < amount {
		return
	}
	c.chipFen -= amount
	c.uses = append(c.uses, Purchase{At: l.now, AmountFen: amount})
	e := ledger.NewEntry(l.key(), ledger.EntryPurchase, "batch", ledger.Transfer(floatAccount(&c.Card), ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}, amount)...)
	l.entries[e.Key] = true
	l.totals.Add(int64(len(l.entries)), &e)
	l.flows = append(l.flows, Flow{c.Issuer, c.ASN, FlowPurchase, amount})
	// A card whose balance has moved or been refunded: the issuer bears it.
	if c.State == Closed && !c.LostAt.IsZero() {
		l.book(LateLoss{Key: l.key(), Card: &c.Card, AmountFen: amount}.Book())
	}
}

// split is the card's balance cut at its report, as the back office
// reckons it from its book (the chip's balance and its adjustments).
func (l *lifecycle) split(c *simCard) Split {
	return SplitAtCut(c.LostAt, c.chipFen+c.adjustedFen, c.uses)
}

// adjust is a manual adjustment a supervisor approved of a card whose
// balance is in the back office: a credit, or a debit of at most what
// the card is owed (a larger one refused, nothing booked); of a lost
// card it is refused (it may be found).
func (l *lifecycle) adjust(c *simCard) {
	if c.State == Lost {
		a := Adjustment{Request: AdjustRequest{Key: l.key(), Direction: AdjustCredit, AmountFen: 100, Reason: "r"}, Card: &c.Card, Product: l.p, ApprovalID: 1}
		if _, err := a.Book(); !citycard.IsKind(err, citycard.Conflict) {
			l.t.Fatalf("op %d: an adjustment of a lost card: %v", l.ops, err)
		}
		return
	}
	owed := l.split(c).BalanceAtCutFen
	q := AdjustRequest{Key: l.key(), Direction: AdjustCredit, AmountFen: 1 + l.rnd.Int64N(2000), Reason: "fare charged twice"}
	if l.rnd.IntN(2) == 0 {
		q.Direction, q.AmountFen = AdjustDebit, 1+l.rnd.Int64N(owed+200)
	}
	l.approvals++
	a := Adjustment{Request: q, Card: &c.Card, Product: l.p, ApprovalID: l.approvals, OwedFen: owed}
	refused := q.Direction == AdjustDebit && q.AmountFen > owed || q.Direction == AdjustCredit && owed+q.AmountFen > l.p.BalanceMaxFen
	if refused {
		if _, err := a.Book(); err == nil {
			l.t.Fatalf("op %d: an adjustment of %d fen (%v) of a card owed %d was booked", l.ops, q.AmountFen, q.Direction, owed)
		}
		return
	}
	l.book(a.Book())
	if q.Direction == AdjustCredit {
		c.adjustedFen += q.AmountFen
	} else {
		c.adjustedFen -= q.AmountFen
	}
	c.Card = *touched(c.Card)
}

func (l *lifecycle) replace(c *simCard) {
	c.handedBack = c.State == Damaged
	l.book(ReplacementFee{Key: l.key(), Old: &c.Card, Product: l.p, Channel: counter}.Book())
	nu := l.newCard(true)
	nu.Holder = c.Holder
	l.move(nu, Personalize)
	l.move(nu, Issue)
	l.move(nu, Activate)
	l.move(c, Replace)
	c.ReplacedBy, nu.Replaces = nu.ASN, c.ASN
}

func (l *lifecycle) moveBalance(c *simCard) {
	if l.now.Before(CoolingEnds(l.p, &c.Card)) {
		return
	}
	var nu *simCard
	for _, n := range l.cards {
		if n.ASN == c.ReplacedBy {
			nu = n
		}
	}
	if nu.State != Active {
		return
	}
	s := l.split(c)
	if s.BalanceAtCutFen+nu.chipFen > l.p.BalanceMaxFen {
		return // the new card cannot take it yet; a real counter refunds instead
	}
	l.book(BalanceMove{Key: l.key(), Old: &c.Card, New: &nu.Card, Product: l.p, Split: s, At: l.now}.Book())
	l.move(c, MoveBalance)
	c.adjustedFen = 0 // moved with the balance
	// The replacement receives the balance: a load of the host onto the
	// chip, outside the card's own loads (its flow is "moved in").
	nu.chipFen += s.BalanceAtCutFen
}

func (l *lifecycle) refund(c *simCard) {
	if !c.LostAt.IsZero() && l.now.Before(CoolingEnds(l.p, &c.Card)) {
		return // its last records may still come: the counter asks to come back
	}
	balance, borne := c.chipFen+c.adjustedFen, int64(0)
	if !c.LostAt.IsZero() {
		s := l.split(c)
		balance, borne = s.BalanceAtCutFen, s.LossBorneFen
	}
	l.book(Refunding{Key: l.key(), Card: &c.Card, Product: l.p, Payee: counter, Purchases: len(c.uses), BalanceFen: balance, LossBorneFen: borne, At: l.now}.Book())
	c.handedBack = c.State != Lost
	l.move(c, Refund)
	c.adjustedFen = 0 // refunded with the balance
}

func (l *lifecycle) step() {
	l.now = l.now.Add(time.Duration(l.rnd.IntN(36*60)) * time.Minute)
	if len(l.cards) == 0 || l.rnd.IntN(12) == 0 {
		l.sell()
		return
	}
	c := l.cards[l.rnd.IntN(len(l.cards))]
	switch c.State {
	case Active:
		switch n := l.rnd.IntN(20); {
		case n < 7:
			l.load(c)
		case n < 16:
			l.purchase(c)
		case n < 18 && c.Holder != 0:
			l.move(c, ReportLoss)
		case n < 19:
			l.move(c, ReportDamaged)
		default:
			l.refund(c)
		}
	case Lost:
		switch n := l.rnd.IntN(10); {
		case n < 4:
			l.purchase(c) // offline, before the blacklist reached the terminal
		case n < 5:
			l.move(c, CancelLoss)
		case n < 9:
			l.replace(c)
		case n < 10 && l.rnd.IntN(4) == 0:
			l.adjust(c) // refused
		default:
			l.refund(c)
		}
	case Damaged:
		switch l.rnd.IntN(3) {
		case 0:
			l.replace(c)
		case 1:
			l.refund(c)
		default:
			l.adjust(c)
		}
	case Replaced:
		switch l.rnd.IntN(4) {
		case 0:
			l.purchase(c) // the lost card is still out there
		case 1:
			l.adjust(c)
		default:
			l.moveBalance(c)
		}
	case Closed:
		if !c.handedBack && l.rnd.IntN(3) == 0 {
			l.purchase(c) // a late offline record of the lost card
		}
	}
}

// check asserts conservation for every card: loads - purchases - refunds
// - moved out + moved in + loss borne is the chip's balance for a card in
// use (lost and replaced ones too, until their balance moves) and 0 for a
// card closed; over all cards, it is the issuer's float in the ledger, and
// the loss borne is the issuer's loss account.
func (l *lifecycle) check() {
	l.t.Helper()
	book := BookBalances(l.flows)
	var sum, borne, adjusted int64
	for _, c := range l.cards {
		want := c.chipFen + c.adjustedFen
		if c.State == Closed {
			want = 0
		}
		if book[c.ASN] != want {
			l.t.Fatalf("op %d: card %v (%v): book %d fen, want %d", l.ops, c.ASN, c.State, book[c.ASN], want)
		}
		sum += book[c.ASN]
	}
	for _, f := range l.flows {
		switch f.Type {
		case FlowLossBorne:
			borne += f.Fen
		case FlowAdjustCredit:
			adjusted += f.Fen
		case FlowAdjustDebit:
			adjusted -= f.Fen
		}
	}
	var float, loss, adjustments int64
	for _, b := range l.totals.List() {
		switch b.Account {
		case floatAccount(&Card{Issuer: l.issuer}):
			float = -b.NetFen()
		case lossAccount(&Card{Issuer: l.issuer}):
			loss = b.NetFen()
		case adjustAccount(&Card{Issuer: l.issuer}):
			adjustments = b.NetFen()
		}
	}
	if float != sum || loss != borne || adjustments != adjusted {
		l.t.Fatalf("op %d: float %d fen, cards %d; issuer loss %d, borne %d; adjustment account %d, adjusted %d", l.ops, float, sum, loss, borne, adjustments, adjusted)
	}
}

// TestConservation is the issue's property over random lifecycles: for
// every card, loads - purchases - refunds - balance moved out + balance
// moved in (+ the loss the issuer bears, + adjust credit - adjust debit)
// = the card's balance (the chip's, and its adjustments while the back
// office holds its balance).
func TestConservation(t *testing.T) {
	p, _ := DefaultProducts().Product("citizen")
	issuer, _ := citycard.ParseIssuerCode("31500001FFFFFFFF")
	moves := map[FlowType]int{}
	for seed := range uint64(40) {
		l := &lifecycle{t: t, rnd: rand.New(rand.NewPCG(seed, 9)), p: p, now: t0, entries: map[string]bool{}, issuer: issuer}
		for range 600 {
			l.step()
			l.check()
		}
		for _, f := range l.flows {
			moves[f.Type]++
		}
	}
	// Every term of the sum occurred, or the property proved little.
	for _, k := range []FlowType{FlowLoad, FlowPurchase, FlowRefund, FlowMovedOut, FlowMovedIn, FlowLossBorne, FlowAdjustCredit, FlowAdjustDebit} {
		if moves[k] == 0 {
			t.Errorf("no flow of type %v in the random lifecycles", k)
		}
	}
	t.Logf("flows by type: %v", moves)
}
