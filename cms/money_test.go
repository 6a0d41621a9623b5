package cms

import (
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// TestCheckLoad takes each limit of products.conf's citizen card at its
// boundary: 500 yuan a load, a 1,000-yuan cap, 1,000 yuan a day.
func TestCheckLoad(t *testing.T) {
	p, _ := DefaultProducts().Product("citizen")
	tests := []struct {
		name                   string
		balance, today, amount int64
		kind                   citycard.Kind // Other: accepted
	}{
		{"one fen", 0, 0, 1, citycard.Other},
		{"zero", 0, 0, 0, citycard.Invalid},
		{"negative", 0, 0, -100, citycard.Invalid},
		{"the per-load limit", 0, 0, 50000, citycard.Other},
		{"a fen over it", 0, 0, 50001, citycard.Invalid},
		{"up to the cap", 50000, 0, 50000, citycard.Other},
		{"a fen past the cap", 50001, 0, 50000, citycard.Conflict},
		{"up to the daily limit", 0, 50000, 50000, citycard.Other},
		{"a fen past the daily limit", 0, 50001, 50000, citycard.Conflict},
	}
	for _, tt := range tests {
		err := CheckLoad(p, tt.balance, tt.today, tt.amount)
		if err == nil && tt.kind != citycard.Other || err != nil && !citycard.IsKind(err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
		}
	}
}

// TestQuoteRefund follows Octopus's published handling fee (HK$11 or 1% of
// the remaining value, whichever is higher, when returned within 90 days
// of issue, or after 5 payment transactions or fewer, or holding more than
// HK$1,000), with products.conf's citizen card: 5 yuan or 1%, within 90
// days or 5 purchases or fewer.
func TestQuoteRefund(t *testing.T) {
	c := DefaultProducts()
	citizen, _ := c.Product("citizen")
	student, _ := c.Product("student")
	over := *citizen
	over.RefundFee = RefundFee{MinFen: 500, PercentBp: 100, BalanceOverFen: 100000}
	always := *citizen
	always.RefundFee = RefundFee{MinFen: 200}
	noDeposit := *citizen
	noDeposit.DepositFen = 0
	issued := time.Date(2026, 1, 1, 23, 30, 0, 0, citycard.ChinaTime)
	day := func(n int) time.Time { return issued.AddDate(0, 0, n) }
	tests := []struct {
		name     string
		p        *Product
		at       time.Time
		n        int
		balance  int64
		returned bool
		fee      int64
		paid     int64
	}{
		{"day 90 is within", citizen, day(90), 100, 10000, true, 500, 10500},
		{"day 91 is not", citizen, day(91), 100, 10000, true, 0, 11000},
		{"5 purchases", citizen, day(200), 5, 10000, true, 500, 10500},
		{"6 purchases", citizen, day(200), 6, 10000, true, 0, 11000},
		{"1% under the minimum", citizen, day(1), 0, 40000, true, 500, 40500},
		{"1% over the minimum", citizen, day(1), 0, 60000, true, 600, 60400},
		{"1% of 550.50 rounds half up", citizen, day(1), 0, 55050, true, 551, 55499},
		{"1% of 550.49 rounds down", citizen, day(1), 0, 55049, true, 550, 55499},
		{"empty card, deposit back less the fee", citizen, day(1), 0, 0, true, 500, 500},
		{"the fee never passes what is owed", &noDeposit, day(1), 0, 300, true, 300, 0},
		{"overdrawn within the deposit", citizen, day(1), 0, -500, true, 500, 0},
		{"overdrawn, no fee due", citizen, day(300), 50, -500, true, 0, 500},
		{"lost: the deposit is kept", citizen, day(300), 50, 10000, false, 0, 10000},
		{"a balance over the bound", &over, day(300), 50, 100001, true, 1000, 100001},
		{"a balance at the bound", &over, day(300), 50, 100000, true, 0, 101000},
		{"no condition: always", &always, day(300), 50, 100, true, 200, 900},
		{"no refund fee", student, day(1), 0, 10000, true, 0, 11000},
	}
	for _, tt := range tests {
		q, err := QuoteRefund(tt.p, issued, tt.at, tt.n, tt.balance, tt.returned)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if q.FeeFen != tt.fee || q.PaidFen != tt.paid || (q.FeeRule != "") != (tt.fee != 0) && tt.balance >= 0 {
			t.Errorf("%s: fee %d paid %d (%q), want %d and %d", tt.name, q.FeeFen, q.PaidFen, q.FeeRule, tt.fee, tt.paid)
		}
		if q.FeeFen+q.PaidFen != q.BalanceFen+q.DepositFen {
			t.Errorf("%s: fee %d + paid %d is not balance %d + deposit %d", tt.name, q.FeeFen, q.PaidFen, q.BalanceFen, q.DepositFen)
		}
	}
	if _, err := QuoteRefund(citizen, issued, day(1), 0, -1001, true); !citycard.IsKind(err, citycard.Insufficient) {
		t.Errorf("overdrawn past the deposit: %v", err)
	}
}

func TestSplitAtCut(t *testing.T) {
	uses := []Purchase{{t0.Add(-time.Hour), 200}, {t0, 300}, {t0.Add(time.Nanosecond), 400}, {t0.Add(time.Hour), 500}}
	s := SplitAtCut(t0, 1000, uses)
	// The use at the report's instant is the cardholder's; from a
	// nanosecond after, the issuer's.
	if s.LossBorneFen != 900 || s.BalanceAtCutFen != 1900 {
		t.Errorf("%+v", s)
	}
}

var (
	counter = Channel{Type: Cash, Party: "31500001FFFFFFFF"}
	alipay  = Channel{Type: ThirdParty, Party: "alipay", Reference: "2026030122001"}
)

// postings returns an account's net amount (debits positive) over entries,
// checking each entry as the ledger would.
func net(t *testing.T, b Booking, a string) int64 {
	t.Helper()
	var n int64
	for _, e := range b.Entries {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.Key, "cms:"+b.Key+"/") {
			t.Errorf("entry key %q is not the operation's", e.Key)
		}
		for _, p := range e.Postings {
			if p.Account.String() == a {
				n += p.AmountFen
			}
		}
	}
	return n
}

func TestBookings(t *testing.T) {
	cat := DefaultProducts()
	p, _ := cat.Product("citizen")
	const float, dep, fee, cash, loss = "card_float:31500001FFFFFFFF", "card_deposit:31500001FFFFFFFF", "fee_income", "settlement:31500001FFFFFFFF", "issuer_loss:31500001FFFFFFFF"

	c := cardIn(Issued)
	c.IssuedAt = t0
	b, err := Sale{Key: "s1", Card: &c, Product: p, Channel: counter, LoadFen: 5000}.Book()
	if err != nil || net(t, b, cash) != 6000 || net(t, b, dep) != -1000 || net(t, b, float) != -5000 || len(b.Entries) != 2 {
		t.Fatalf("sale: %+v %v", b, err)
	}

	// A replacement's sale: the old card's deposit stays with it, no fee.
	repl := c
	repl.Replaces = cardIn(Lost).ASN
	if b, err := (Sale{Key: "s2", Card: &repl, Product: p, Channel: counter, LoadFen: 0}).Book(); err != nil || len(b.Entries) != 0 {
		t.Fatalf("a replacement's sale: %+v %v", b, err)
	}

	l, err := Load{Key: "l1", Card: &c, Product: p, Channel: alipay, AmountFen: 10000, BalanceFen: 5000}.Book()
	if err != nil || net(t, l, "settlement:alipay") != 10000 || net(t, l, float) != -10000 || l.Flows[0] != (Flow{c.Issuer, c.ASN, FlowLoad, 10000}) {
		t.Fatalf("load: %+v %v", l, err)
	}
	if _, err := (Load{Key: "l2", Card: &c, Product: p, Channel: Channel{Type: ThirdParty, Party: "alipay"}, AmountFen: 100}).Book(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a third-party load without its reference: %v", err)
	}
	lost := cardIn(Lost)
	if _, err := (Load{Key: "l3", Card: &lost, Product: p, Channel: counter, AmountFen: 100}).Book(); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a load onto a lost card: %v", err)
	}

	// A refund of a lost card: the balance as of the report, the deposit
	// kept, the use after the report borne by the issuer.
	lost.IssuedAt = t0.AddDate(-1, 0, 0)
	r, err := Refunding{Key: "r1", Card: &lost, Product: p, Payee: counter, Purchases: 50, BalanceFen: 8000, LossBorneFen: 300, At: t0}.Book()
	if err != nil || net(t, r, loss) != 300 || net(t, r, float) != 8000-300 || net(t, r, dep) != 1000 || net(t, r, fee) != -1000 || net(t, r, cash) != -8000 {
		t.Fatalf("refund of a lost card: %+v %v", r, err)
	}
	if r.Refund.DepositKeptFen != 1000 || r.Refund.PaidFen != 8000 {
		t.Errorf("quote %+v", r.Refund)
	}
	cooling := lost
	cooling.LostAt = t0.Add(-7*24*time.Hour + time.Nanosecond)
	if _, err := (Refunding{Key: "r0", Card: &cooling, Product: p, Payee: counter, At: t0}).Book(); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a refund of a lost card inside its cooling period: %v", err)
	}
	cooling.LostAt = t0.Add(-7 * 24 * time.Hour)
	if _, err := (Refunding{Key: "r0", Card: &cooling, Product: p, Payee: counter, At: t0}).Book(); err != nil {
		t.Errorf("a refund of a lost card as its cooling period ends: %v", err)
	}
	active := cardIn(Active)
	active.LostAt = time.Time{}
	if _, err := (Refunding{Key: "r2", Card: &active, Product: p, Payee: counter, LossBorneFen: 1}).Book(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a loss borne on a card never lost: %v", err)
	}
	closed := cardIn(Closed)
	if _, err := (Refunding{Key: "r3", Card: &closed, Product: p, Payee: counter}).Book(); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a refund of a closed card: %v", err)
	}
	empty := cardIn(Active)
	empty.IssuedAt = t0.AddDate(-1, 0, 0)
	noDeposit := *p
	noDeposit.DepositFen = 0
	if b, err := (Refunding{Key: "r4", Card: &empty, Product: &noDeposit, Payee: counter, Purchases: 50, At: t0}).Book(); err != nil || len(b.Entries) != 0 {
		t.Errorf("an empty card without a deposit: %+v %v", b, err)
	}

	f, err := ReplacementFee{Key: "f1", Old: &lost, Product: p, Channel: counter}.Book()
	if err != nil || net(t, f, fee) != -2000 {
		t.Fatalf("replacement fee: %+v %v", f, err)
	}

	old := cardIn(Replaced)
	old.LostAt = t0
	nu := cardIn(Active)
	nu.ASN[9]++
	old.ReplacedBy, nu.Replaces = nu.ASN, old.ASN
	move := BalanceMove{Key: "m1", Old: &old, New: &nu, Product: p, Split: Split{BalanceAtCutFen: 7000, LossBorneFen: 400}, At: CoolingEnds(p, &old)}
	m, err := move.Book()
	if err != nil || net(t, m, loss) != 400 || net(t, m, float) != -400 {
		t.Fatalf("balance move: %+v %v", m, err)
	}
	bal := BookBalances(m.Flows)
	if bal[old.ASN] != 400-7000 || bal[nu.ASN] != 7000 {
		t.Errorf("flows %+v", m.Flows)
	}
	early := move
	early.At = CoolingEnds(p, &old).Add(-time.Nanosecond)
	if _, err := early.Book(); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a move inside the cooling period: %v", err)
	}
	stranger := move
	other := nu
	other.ASN[9]++
	stranger.New = &other
	if _, err := stranger.Book(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a move onto a card that does not replace it: %v", err)
	}

	ll, err := LateLoss{Key: "x1", Card: &old, AmountFen: 250}.Book()
	if err != nil || net(t, ll, loss) != 250 || ll.Flows[0] != (Flow{old.Issuer, old.ASN, FlowLossBorne, 250}) {
		t.Fatalf("late loss: %+v %v", ll, err)
	}
	if _, err := (LateLoss{Key: "x2", Card: &active, AmountFen: 250}).Book(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a late loss on a card never lost: %v", err)
	}
	if _, err := (Load{Key: "", Card: &c, Product: p, Channel: counter, AmountFen: 100}).Book(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("no key: %v", err)
	}
	if _, err := (Load{Key: strings.Repeat("k", KeyLenMax), Card: &c, Product: p, Channel: counter, AmountFen: 100}).Book(); err != nil {
		t.Errorf("a key of %d bytes: %v", KeyLenMax, err)
	}
	if _, err := (Load{Key: strings.Repeat("k", KeyLenMax+1), Card: &c, Product: p, Channel: counter, AmountFen: 100}).Book(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a key of %d bytes: %v", KeyLenMax+1, err)
	}
}

// TestIdempotency: a key booked again with the same input is a replay,
// however later it comes; with another input it is a Conflict.
func TestIdempotency(t *testing.T) {
	p, _ := DefaultProducts().Product("citizen")
	c := cardIn(Active)
	load := Load{Key: "k1", Card: &c, Product: p, Channel: counter, AmountFen: 1000}
	var keys Keys
	first, _ := load.Book()
	if replayed, err := keys.Admit(&first); replayed || err != nil {
		t.Fatalf("first: %v %v", replayed, err)
	}
	later := load
	later.BalanceFen, later.LoadedTodayFen = 1000, 1000 // the shadow moved on: still the same request
	again, _ := later.Book()
	if replayed, err := keys.Admit(&again); !replayed || err != nil {
		t.Errorf("the same load again: %v %v", replayed, err)
	}
	for _, other := range []Load{
		{Key: "k1", Card: &c, Product: p, Channel: counter, AmountFen: 1001},
		{Key: "k1", Card: &c, Product: p, Channel: alipay, AmountFen: 1000},
	} {
		b, _ := other.Book()
		if _, err := keys.Admit(&b); !citycard.IsKind(err, citycard.Conflict) {
			t.Errorf("key k1 with another input: %v", err)
		}
	}
	// Another operation under the same key is another input too.
	r := Booking{Key: "k1", InputHash: Refunding{Key: "k1", Card: &c, Product: p, Payee: counter}.InputHash()}
	if _, err := keys.Admit(&r); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a refund under a load's key: %v", err)
	}
	if first.Entries[0].InputHash() != again.Entries[0].InputHash() {
		t.Error("the same request gives ledger entries of different inputs")
	}
}
