package cms_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/postgres"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/sqlite"
	"github.com/citycard/citycard/terminal"
)

var (
	lifeSeed  = flag.Uint64("seed", 0, "TestConservationLive: replay the lifecycles of this seed (0: drawn, and logged)")
	lifeSteps = flag.Int("lifesteps", 0, "TestConservationLive: steps per lifecycle (0: 600, or 6000 with CITYCARD_LIFE_LONG set)")
)

// liveCard is a card of a live lifecycle: its virtual card, and what the
// test knows of it that the platform does not yet (purchases spooled on
// the terminal, not uploaded).
type liveCard struct {
	asn     citycard.ASN
	chip    int // index in the device city's cards; -1: no chip yet
	pending int64
	// uncredited are loads the host booked that the chip never credited
	// (it tore before it committed), waiting for the host to reverse them
	// (the card's next session at the same online counter).
	uncredited []uncredited
	// handedBack: the chip came back to a counter (refunded while in
	// use) and taps no more; a lost card's chip goes on tapping.
	handedBack bool
	// adjustedFen is what manual adjustments of its book (damaged,
	// replaced) put on the card less what they took back: owed beside
	// the chip's balance until the balance moves or is refunded.
	adjustedFen int64
	// elsewhereFen is what its records accepted in another city's INC
	// files debited (the float paid that city).
	elsewhereFen int64
}

// live drives cards through card management (cms.Manager over SQLite),
// the load host and acquisition, as the platform runs: sales at a
// counter, online loads from a kiosk terminal (some torn: the TAC never
// reaches the host), purchases sealed on a POS and uploaded in batches
// that acquire books (some after the card's loss report, some after its
// balance moved or was refunded), loss reports, replacements with the
// balance move after the cooling period, refunds; a quarter of the
// purchases made on a POS of another city, whose records come back in
// its INC files (imported by interop, booked from the float), which the
// refunds and balance moves count (api.ShadowBalances' Elsewhere).
type live struct {
	t      *testing.T
	ctx    context.Context
	rnd    *rand.Rand
	at     time.Time
	city   *sim.DeviceCity
	stores liveStores
	m      *cms.Manager
	host   *cms.LoadHost
	acq    *acquire.Acquirer
	purse  api.ShadowBalances
	// x imports the INC files of the cards' purchases in another city
	// (on the POS elsewhere), into the same ledger.
	x      *interop.Interop
	holder int64
	cards  []*liveCard
	ops    int
	batch  int
	counts map[string]int
	// approvals numbers the adjustments' approvals (a supervisor's,
	// given here as the staff store would return them).
	approvals int64
}

var (
	liveClerk = cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}
	liveKiosk = cms.Actor{Who: "315002000001", ServicePoint: "terminal:315002000001"}
	liveCash  = cms.Channel{Type: cms.Cash, Party: "nb-card"}
)

// liveStores are the stores a live lifecycle runs on, one database's.
type liveStores struct {
	cms          cms.Store
	journal      acquire.Journal
	ledger       ledger.Store
	blacklist    blacklist.Store
	interconnect interface {
		interop.Store
		interop.CardStore
	}
}

func sqliteStores(t *testing.T) liveStores {
	t.Helper()
	db, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "cms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return liveStores{db.CMS(), db.Journal(), db.Ledger(), db.Blacklist(), db.Interop()}
}

// postgresStores opens a fresh schema on the server of
// CITYCARD_TEST_POSTGRES, dropped when the test ends; it skips the test
// without that variable.
func postgresStores(t *testing.T) liveStores {
	t.Helper()
	base := os.Getenv("CITYCARD_TEST_POSTGRES")
	if base == "" {
		t.Skip("CITYCARD_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	url, drop, err := postgres.FreshSchema(ctx, base, "citycard_life_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(ctx); err != nil {
			t.Error(err)
		}
	})
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return liveStores{db.CMS(), db.Journal(), db.Ledger(), db.Blacklist(), db.Interop()}
}

func newLive(t *testing.T, seed uint64, st liveStores) *live {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 11, 24, 8, 0, 0, 0, citycard.ChinaTime)
	city, err := sim.NewDeviceCity(sim.DeviceConfig{Seed: seed, Alg: keys.Alg3DES, Fare: terminal.FlatFare{}, Start: start.AddDate(0, 0, -1),
		Stops: []sim.DeviceStop{{Mode: terminal.ModePOS}, {Mode: terminal.ModePOS}, {Mode: terminal.ModePOS}}, Cards: []sim.DeviceCard{{BalanceFen: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	l := &live{t: t, ctx: ctx, rnd: rand.New(rand.NewPCG(seed, 9)), at: start, city: city, stores: st, counts: map[string]int{}}
	now := func() time.Time { return l.at }
	p, err := cms.NewProtector(make([]byte, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.m = cms.NewManager(cms.NewGroupCommit(st.cms), cms.DefaultProducts(), p, now).WithBlacklist(blacklist.New(st.blacklist, now))
	tm := acquire.TerminalMap{}
	for _, d := range city.Terminals {
		tm[d.ID] = acquire.TerminalInfo{ID: d.ID, PSAM: d.PSAM, Operator: d.Operator, OperatorCode: d.OperatorCode, Active: true}
	}
	l.acq, err = acquire.Open(ctx, acquire.Config{Journal: st.journal, Verifier: record.NewVerifier(city.Store, sim.Issuer), Terminals: tm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.acq.Close() })
	l.host = cms.NewLoadHost(l.m, city.Store, l.acq)
	l.purse = api.ShadowBalances{Acquirer: l.acq, Cards: l.m, Elsewhere: api.InteropElsewhere{Store: st.interconnect}}
	l.x = &interop.Interop{Own: sim.Issuer, Centre: interop.Centre, Store: st.interconnect, Verifier: record.NewVerifier(city.Store, sim.Issuer), Now: now}
	h, err := l.m.Register(ctx, liveClerk, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236",
		DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}, Phone: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	l.holder = h.ID
	return l
}

func (l *live) fatalf(format string, args ...any) {
	l.t.Helper()
	l.t.Fatalf("op %d (%s): %s", l.ops, l.at.Format(time.DateTime), fmt.Sprintf(format, args...))
}

func (l *live) must(err error, what string, c *liveCard) {
	l.t.Helper()
	if err != nil {
		l.fatalf("card %v: %s: %v", c.asn, what, err)
	}
}

func (l *live) key(what string) string {
	l.ops++
	return fmt.Sprintf("%s-%d", what, l.ops)
}

func (l *live) newASN() citycard.ASN {
	n := len(l.cards) + 1
	return citycard.ASN{0, 0, 0x31, 0x50, 0, 0x02, 0x10, 0, byte(n >> 8), byte(n)}
}

// personalize makes the virtual card of c holding balanceFen, its keys
// derived from the key store.
func (l *live) personalize(c *liveCard, balanceFen int64) {
	l.t.Helper()
	ks, err := card.DeriveKeySet(l.city.Store, sim.Issuer, c.asn, 1)
	l.must(err, "deriving its keys", c)
	start, _ := citycard.DateTime(l.at.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(l.at.AddDate(10, 0, 0))
	cd, err := card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: sim.Issuer, ASN: c.asn, Start: start, Expiry: expiry,
		KeySets: []card.KeySet{ks}, InitialBalanceFen: uint32(balanceFen), BalanceMaxFen: 200000})
	l.must(err, "personalizing the chip", c)
	c.chip = len(l.city.Cards)
	l.city.Cards = append(l.city.Cards, cd)
}

func (l *live) card(c *liveCard) cms.Card {
	l.t.Helper()
	k, err := l.m.Card(l.ctx, sim.Issuer, c.asn)
	l.must(err, "reading it", c)
	return k
}

func (l *live) sell() {
	c := &liveCard{asn: l.newASN(), chip: -1}
	l.cards = append(l.cards, c)
	load := 100 * (1 + l.rnd.Int64N(100))
	_, err := l.m.Apply(l.ctx, liveClerk, sim.Issuer, c.asn, "citizen", l.holder)
	l.must(err, "applying", c)
	_, err = l.m.Move(l.ctx, liveClerk, sim.Issuer, c.asn, cms.Personalize)
	l.must(err, "personalizing", c)
	key := l.key("sale")
	_, err = l.m.Sell(l.ctx, liveClerk, key, sim.Issuer, c.asn, liveCash, load)
	l.must(err, "selling", c)
	if l.rnd.IntN(3) == 0 {
		l.retried(c, "sale", func() (bool, error) { return l.m.Sell(l.ctx, liveClerk, key, sim.Issuer, c.asn, liveCash, load) })
	}
	l.personalize(c, load)
	l.counts["sale"]++
}

// retried asserts that a money operation sent again under its key is a
// replay, booking nothing (check sees a second booking).
func (l *live) retried(c *liveCard, what string, again func() (bool, error)) {
	l.t.Helper()
	replayed, err := again()
	if err != nil || !replayed {
		l.fatalf("card %v: the %s sent again: replayed %v, %v", c.asn, what, replayed, err)
	}
	l.counts["retry"]++
}

// retryHost is the load host as a kiosk that sends the card's INITIALIZE
// FOR LOAD answer twice (its first answer lost): the host answers the
// same MAC2 and books the load once.
type retryHost struct{ terminal.LoadHost }

func (h retryHost) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	first, err := h.LoadHost.AuthorizeLoad(req)
	if err != nil {
		return first, err
	}
	again, err := h.LoadHost.AuthorizeLoad(req)
	if err == nil && again != first {
		return again, fmt.Errorf("the retry of the load was answered MAC2 %X, the first %X", again, first)
	}
	return again, err
}

type uncredited struct {
	key string
	fen int64
}

// seenHost remembers the last load request the host authorized.
type seenHost struct {
	terminal.LoadHost
	last *terminal.LoadRequest
}

func (h seenHost) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	mac2, err := h.LoadHost.AuthorizeLoad(req)
	if err == nil {
		*h.last = req
	}
	return mac2, err
}

// tornHost is the load host as a kiosk that loses the card's TAC: the
// card credited, the host never hears it, and the load stays unconfirmed
// until the card's next session or its records settle it.
type tornHost struct{ terminal.LoadHost }

func (tornHost) ConfirmLoad(terminal.LoadRequest, [4]byte) error { return nil }

func (l *live) load(c *liveCard) {
	l.t.Helper()
	amount := uint32(1 + l.rnd.IntN(30000))
	var h terminal.LoadHost = cms.TerminalHost{Host: l.host, Actor: liveKiosk, Channel: cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: l.key("pay")}}
	if l.rnd.IntN(4) == 0 {
		h = retryHost{h}
	}
	torn := l.rnd.IntN(4) == 0
	if torn {
		h = tornHost{h}
	}
	var req terminal.LoadRequest
	h = seenHost{h, &req}
	cd := l.city.Cards[c.chip]
	before := cd.State().BalanceFen
	tear := card.TearNone
	if l.rnd.IntN(6) == 0 {
		tear = card.TearStep(1 + l.rnd.IntN(2))
		cd.Tear(tear)
	}
	_, err := l.city.Terminals[1].Load(cd, amount, h)
	switch {
	case tear != card.TearNone && err != nil && cd.State().BalanceFen == before && req.Load.Amount == amount:
		// Torn before the card committed: the host booked a load the
		// card never credited, until the card's next session reverses it.
		cd.Tear(card.TearNone)
		c.uncredited = append(c.uncredited, uncredited{cms.LoadKey(&cms.LoadSession{Issuer: req.Issuer, ASN: req.ASN, KeyVersion: req.KeyVersion, Alg: req.Alg, Load: req.Load}), int64(amount)})
		l.counts["load torn before commit"]++
	case tear != card.TearNone && err != nil:
		// Torn after it committed: the terminal recovers the TAC with GET
		// TRANSACTION PROOF before the card's next load there.
		cd.Tear(card.TearNone)
		l.counts["load torn after commit"]++
	case err == nil && torn:
		l.counts["load torn"]++
	case err == nil:
		l.counts["load"]++
	case citycard.IsKind(err, citycard.Conflict) || citycard.IsKind(err, citycard.Invalid):
		// A limit (the cap, the day's loads, the per-load limit): nothing
		// credited.
		if after := cd.State().BalanceFen; after != before {
			l.fatalf("card %v: a load refused (%v) moved the chip from %d to %d fen", c.asn, err, before, after)
		}
		l.counts["load refused"]++
	default:
		l.fatalf("card %v: load of %d fen: %v", c.asn, amount, err)
	}
}

// strayLoad is a load tried on a lost card (its finder at a kiosk without
// the blacklist): the host refuses it, and the chip is not credited.
func (l *live) strayLoad(c *liveCard) {
	l.t.Helper()
	cd := l.city.Cards[c.chip]
	before := cd.State().BalanceFen
	h := cms.TerminalHost{Host: l.host, Actor: liveKiosk, Channel: cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: l.key("pay")}}
	_, err := l.city.Terminals[1].Load(cd, 100, h)
	if !citycard.IsKind(err, citycard.Conflict) || cd.State().BalanceFen != before {
		l.fatalf("card %v: a load on the lost card: %v, the chip from %d to %d fen", c.asn, err, before, cd.State().BalanceFen)
	}
	l.counts["stray load"]++
}

// purchase taps c on the POS (offline: a lost card is not on its
// blacklist), spooled until the next upload; one in four on the POS of
// another city (elsewhereStop), whose records come back in an INC file.
func (l *live) purchase(c *liveCard) {
	l.t.Helper()
	cd := l.city.Cards[c.chip]
	amount := uint32(1 + l.rnd.IntN(800))
	if cd.State().BalanceFen < int64(amount) {
		return
	}
	stop, what := 0, "purchase"
	if l.rnd.IntN(4) == 0 {
		stop, what = elsewhereStop, "purchase elsewhere"
	}
	if _, err := l.city.Tap(c.chip, stop, l.at, amount); err != nil {
		l.fatalf("card %v: tap of %d fen: %v", c.asn, amount, err)
	}
	c.pending += int64(amount)
	l.counts[what]++
}

// elsewhereStop is the device city's POS in another city: its records
// are not uploaded to acquisition but sent back in that city's INC file.
const elsewhereStop = 2

// liveCity is the acquiring city of the purchases elsewhere.
var liveCity = citycard.IssuerCode{0x20, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}

// incoming imports recs, the records the POS elsewhere took, as that
// city's INC file: each accepted, booked from our float to the city.
func (l *live) incoming(recs [][]byte) {
	l.t.Helper()
	now := l.at.In(citycard.ChinaTime).Truncate(time.Second)
	f := &interop.File{Header: interop.Header{Type: interop.FileIncoming, ID: fmt.Sprintf("INC-%v-%d", liveCity, l.batch), Sender: liveCity, Receiver: sim.Issuer,
		Day: interop.Day(clearing.DayOf(now.Date())), Created: now}}
	for _, b := range recs {
		r, err := record.DecodeBinary(b)
		if err != nil {
			l.fatalf("a record elsewhere: %v", err)
		}
		cl, err := interop.ClearingOf(&r)
		if err != nil {
			l.fatalf("a record elsewhere: %v", err)
		}
		f.Clearing = append(f.Clearing, cl)
		l.cardOf(r.ASN).elsewhereFen += int64(r.Amount)
	}
	b, err := interop.Encode(f)
	if err != nil {
		l.fatalf("INC file %s: %v", f.Header.ID, err)
	}
	imp, err := l.x.Import(l.ctx, f.Header.ID, b)
	if err != nil || imp.Rejected.Count != 0 {
		l.fatalf("INC file %s: %+v %v, want every record accepted", f.Header.ID, imp, err)
	}
}

// upload submits what the terminals spooled to acquisition, which books
// it, then has the issuer bear the use of closed lost cards beyond their
// book (the late-loss sweep) and settles unconfirmed loads from records.
func (l *live) upload() {
	l.t.Helper()
	for _, u := range l.city.Uploads() {
		if len(u.Records) == 0 {
			continue
		}
		l.batch++
		if u.Terminal.ID == l.city.Terminals[elsewhereStop].ID {
			l.incoming(u.Records)
			continue
		}
		b := acquire.Batch{Terminal: u.Terminal.ID, ID: fmt.Sprint("b", l.batch), Count: len(u.Records), AmountFen: u.GenuineFen}
		for _, r := range u.Records {
			b.Body = append(b.Body, r...)
		}
		if _, err := l.acq.Submit(l.ctx, b); err != nil {
			l.fatalf("batch %s: %v", b.ID, err)
		}
	}
	for _, c := range l.cards {
		c.pending = 0
	}
	var closed []cms.Card
	for _, c := range l.cards {
		if k := l.card(c); k.State == cms.Closed && !k.LostAt.IsZero() {
			closed = append(closed, k)
		}
	}
	n, _, err := l.purse.SettleLateLosses(l.ctx, liveClerk, closed)
	if err != nil {
		l.fatalf("settling late losses: %v", err)
	}
	l.counts["late loss"] += n
	n, err = l.host.Settle(l.ctx, liveClerk)
	if err != nil {
		l.fatalf("settling loads from records: %v", err)
	}
	l.counts["load settled by records"] += n
	l.counts["upload"]++
}

func (l *live) reportLoss(c *liveCard) {
	_, err := l.m.Move(l.ctx, liveClerk, sim.Issuer, c.asn, cms.ReportLoss)
	l.must(err, "reporting it lost", c)
	l.counts["loss"]++
}

func (l *live) replace(c *liveCard) {
	nu := &liveCard{asn: l.newASN(), chip: -1}
	l.cards = append(l.cards, nu)
	key := l.key("replace")
	_, err := l.m.Replace(l.ctx, liveClerk, key, sim.Issuer, c.asn, nu.asn, liveCash)
	l.must(err, "replacing it", c)
	if l.rnd.IntN(3) == 0 {
		l.retried(c, "replacement", func() (bool, error) { return l.m.Replace(l.ctx, liveClerk, key, sim.Issuer, c.asn, nu.asn, liveCash) })
	}
	l.counts["replace"]++
}

// moveBalance moves a replaced card's balance once its cooling period is
// over, as the API's move does (api.ShadowBalances reckons it), onto a
// new chip personalized with the balance moved, as a counter does.
func (l *live) moveBalance(c *liveCard, old cms.Card, p *cms.Product) {
	if l.at.Before(cms.CoolingEnds(p, &old)) {
		return
	}
	nu := l.cardOf(old.ReplacedBy)
	_, err := l.m.Move(l.ctx, liveClerk, sim.Issuer, nu.asn, cms.Personalize)
	l.must(err, "personalizing the replacement", nu)
	_, err = l.m.Sell(l.ctx, liveClerk, l.key("sale"), sim.Issuer, nu.asn, liveCash, 0)
	l.must(err, "issuing the replacement", nu)
	bal, purchases, err := l.purse.Balance(l.ctx, sim.Issuer, c.asn)
	l.must(err, "its shadow balance", c)
	key := l.key("move")
	_, err = l.m.MoveBalance(l.ctx, liveClerk, key, sim.Issuer, c.asn, bal, purchases)
	l.must(err, "moving its balance", c)
	if l.rnd.IntN(3) == 0 {
		l.retried(c, "balance move", func() (bool, error) { return l.m.MoveBalanceReplay(l.ctx, key, sim.Issuer, c.asn) })
	}
	moved, err := l.m.BookBalance(l.ctx, sim.Issuer, nu.asn)
	l.must(err, "the replacement's book", nu)
	l.personalize(nu, moved)
	l.counts["move"]++
}

// refund refunds and closes c: a card in use is handed back and read at
// the counter (its chip's balance); a lost one is reckoned from its
// shadow once the cooling period is over.
func (l *live) refund(c *liveCard, k cms.Card, p *cms.Product) {
	bal, purchases, err := l.purse.Balance(l.ctx, sim.Issuer, c.asn)
	l.must(err, "its shadow balance", c)
	if k.LostAt.IsZero() {
		l.upload() // the counter's card reader: the chip's records are in
		bal = l.city.Cards[c.chip].State().BalanceFen
		c.handedBack = true
		if _, purchases, err = l.purse.Balance(l.ctx, sim.Issuer, c.asn); err != nil {
			l.fatalf("card %v: its purchases: %v", c.asn, err)
		}
	} else if l.at.Before(cms.CoolingEnds(p, &k)) {
		return
	}
	key := l.key("refund")
	_, err = l.m.Refund(l.ctx, liveClerk, key, sim.Issuer, c.asn, liveCash, bal, purchases)
	l.must(err, "refunding it", c)
	if l.rnd.IntN(3) == 0 {
		l.retried(c, "refund", func() (bool, error) {
			_, replayed, err := l.m.RefundReplay(l.ctx, key, sim.Issuer, c.asn, liveCash)
			return replayed, err
		})
	}
	l.counts["refund"]++
}

// adjust makes a manual adjustment of a damaged or replaced card, as the
// API does (its book less its purchases booked, cut at its report,
// api.ShadowBalances): a credit, or a debit of at most what the card is
// owed; one past that, or a credit past the balance cap, is refused and
// books nothing.
func (l *live) adjust(c *liveCard, k cms.Card, p *cms.Product) {
	bal, purchases, err := l.purse.Balance(l.ctx, sim.Issuer, c.asn)
	l.must(err, "its shadow balance", c)
	owed := cms.SplitAtCut(k.LostAt, bal, purchases).BalanceAtCutFen
	q := cms.AdjustRequest{Key: l.key("adjust"), Direction: cms.AdjustCredit, AmountFen: 1 + l.rnd.Int64N(3000), Reason: "fare charged twice"}
	if l.rnd.IntN(2) == 0 {
		// Mostly within what the card is owed, a quarter past it.
		q.Direction, q.AmountFen = cms.AdjustDebit, owed+1+l.rnd.Int64N(300)
		if owed > 0 && l.rnd.IntN(4) != 0 {
			q.AmountFen = 1 + l.rnd.Int64N(owed)
		}
	}
	l.approvals++
	a := &cms.Approval{ID: l.approvals, Action: cms.ApprovalAdjust, Subject: "card:" + k.String(), Request: q.Canonical(),
		RequestedBy: liveClerk.Who, State: cms.ApprovalApproved, DecidedBy: "sue"}
	_, err = l.m.Adjust(l.ctx, liveClerk, sim.Issuer, c.asn, q, a, bal, purchases)
	switch {
	case q.Direction == cms.AdjustDebit && q.AmountFen > owed:
		if !citycard.IsKind(err, citycard.Insufficient) {
			l.fatalf("card %v: a debit of %d fen, owed %d: %v, want kind Insufficient", c.asn, q.AmountFen, owed, err)
		}
		return
	case q.Direction == cms.AdjustCredit && owed+q.AmountFen > p.BalanceMaxFen:
		if !citycard.IsKind(err, citycard.Conflict) {
			l.fatalf("card %v: a credit of %d fen onto %d: %v, want kind Conflict", c.asn, q.AmountFen, owed, err)
		}
		return
	}
	l.must(err, "adjusting it", c)
	if l.rnd.IntN(3) == 0 {
		l.retried(c, "adjustment", func() (bool, error) {
			got, err := l.m.Adjust(l.ctx, liveClerk, sim.Issuer, c.asn, q, a, bal, purchases)
			return got.Replayed, err
		})
	}
	if q.Direction == cms.AdjustCredit {
		c.adjustedFen += q.AmountFen
	} else {
		c.adjustedFen -= q.AmountFen
	}
	l.counts["adjust "+q.Direction.String()]++
}

// unseen lists the terms of the conserved sum no step has made yet.
func (l *live) unseen() []string {
	var ks []string
	for _, k := range []string{"sale", "load", "load torn", "purchase", "purchase elsewhere", "refund", "move", "late loss", "adjust credit", "adjust debit"} {
		if l.counts[k] == 0 {
			ks = append(ks, k)
		}
	}
	return ks
}

func (l *live) cardOf(asn citycard.ASN) *liveCard {
	for _, c := range l.cards {
		if c.asn == asn {
			return c
		}
	}
	l.fatalf("no card %v", asn)
	return nil
}

func (l *live) step() {
	l.at = l.at.Add(time.Duration(1+l.rnd.IntN(12*60)) * time.Minute)
	if len(l.cards) == 0 || l.rnd.IntN(10) == 0 {
		l.sell()
		return
	}
	if l.rnd.IntN(5) == 0 {
		l.upload()
		return
	}
	c := l.cards[l.rnd.IntN(len(l.cards))]
	if c.chip < 0 {
		return // a replacement waiting for its balance
	}
	k := l.card(c)
	p, err := cms.DefaultProducts().Product(k.Product)
	l.must(err, "its product", c)
	switch k.State {
	case cms.Active, cms.Issued:
		switch n := l.rnd.IntN(20); {
		case n < 7:
			l.load(c)
		case n < 17:
			l.purchase(c)
		case n < 18:
			l.reportLoss(c)
		case n < 19 && k.State == cms.Active:
			// The chip cannot be read: handed back, refunded or replaced
			// from its shadow as a lost card is.
			_, err := l.m.Move(l.ctx, liveClerk, sim.Issuer, c.asn, cms.ReportDamaged)
			l.must(err, "reporting it damaged", c)
			c.handedBack = true
			l.counts["damaged"]++
		case k.State == cms.Issued:
			_, err := l.m.Move(l.ctx, liveClerk, sim.Issuer, c.asn, cms.Activate) // at the counter; a first load does it otherwise
			l.must(err, "activating it", c)
		default:
			l.refund(c, k, p)
		}
	case cms.Lost:
		switch n := l.rnd.IntN(10); {
		case n < 3:
			l.purchase(c) // offline, before the blacklist reached the POS
		case n < 4:
			l.strayLoad(c) // the finder at a kiosk
		case n < 5:
			_, err := l.m.Move(l.ctx, liveClerk, sim.Issuer, c.asn, cms.CancelLoss)
			l.must(err, "cancelling its loss", c)
			l.counts["loss cancelled"]++
		case n < 8:
			l.replace(c)
		default:
			l.refund(c, k, p)
		}
	case cms.Damaged:
		switch l.rnd.IntN(3) {
		case 0:
			l.replace(c)
		case 1:
			l.refund(c, k, p)
		default:
			l.adjust(c, k, p)
		}
	case cms.Replaced:
		switch n := l.rnd.IntN(4); {
		case n == 0 && !c.handedBack:
			l.purchase(c) // the lost card is still out there
		case n == 1:
			l.adjust(c, k, p)
		default:
			l.moveBalance(c, k, p)
		}
	case cms.Closed:
		switch n := l.rnd.IntN(8); {
		case c.handedBack:
		case n == 0:
			l.strayLoad(c) // the lost card's finder at a kiosk
		case n < 4:
			l.purchase(c) // a late record of the lost card
		}
	}
}

// check asserts, for every card: loads - purchases - refunds - moved out
// + moved in + loss borne + adjust credit - adjust debit (card
// management's book, its flows, less the purchases acquisition booked,
// those accepted in another city's INC files and those still spooled,
// here or there) is the balance
// its virtual card holds (and, damaged or replaced, its adjustments);
// 0 for a card closed (a lost one's chip goes on
// spending what is no longer the cardholder's: once its records are in,
// the issuer bears it). Over all cards, the book less the purchases
// booked is the issuer's float in the ledger, and the loss borne its
// loss account.
func (l *live) check() {
	l.t.Helper()
	refs := make([]acquire.Card, len(l.cards))
	for i, c := range l.cards {
		refs[i] = acquire.Card{Issuer: sim.Issuer, ASN: c.asn}
	}
	// The purchases here from the journal, those elsewhere as the test
	// sent them, apart from what the refunds and moves read (l.purse).
	here := api.ShadowBalances{Acquirer: l.acq, Cards: l.m}
	bought := map[acquire.Card][]cms.Purchase{}
	for len(refs) > 0 {
		page := refs[:min(len(refs), acquire.CardPurchasesMax)]
		refs = refs[len(page):]
		ps, err := here.Purchases(l.ctx, page)
		if err != nil {
			l.fatalf("purchases: %v", err)
		}
		for c, p := range ps {
			bought[c] = p
		}
	}
	var sum, borne, adjusted int64
	for _, c := range l.cards {
		k := l.card(c)
		flows, err := l.m.Flows(l.ctx, sim.Issuer, c.asn)
		l.must(err, "its flows", c)
		book := cms.BookBalances(flows)[c.asn]
		for _, f := range flows {
			switch f.Type {
			case cms.FlowLossBorne:
				borne += f.Fen
			case cms.FlowAdjustCredit, cms.FlowAdjustDebit:
				adjusted += f.Type.Sign() * f.Fen
			}
		}
		held := book - cms.PurchasesFen(bought[acquire.Card{Issuer: sim.Issuer, ASN: c.asn}]) - c.elsewhereFen
		sum += held
		var want int64
		switch {
		case k.State == cms.Closed && !k.LostAt.IsZero():
			// Its spooled records are the issuer's, at their upload; its
			// balance reckoned at the cut counted its unconfirmed load.
			want = 0
		case k.State == cms.Closed:
			// Refunded at the counter from the chip's balance: a load it
			// never credited, unconfirmed, stays in the book, and no
			// session of the handed-back card will reverse it (the payer's
			// money left in the float: a refund does not settle the card's
			// unconfirmed load first).
			held -= c.pending + l.uncredited(c)
		case c.chip >= 0:
			// A damaged or replaced card's adjustments are in its book,
			// not on its chip: they move or are refunded with its balance.
			held -= c.pending + l.uncredited(c)
			want = l.city.Cards[c.chip].State().BalanceFen + c.adjustedFen
		}
		if held != want {
			l.fatalf("card %v (%v): book %d fen less purchases booked and spooled is %d, the chip holds %d", c.asn, k.State, book, held, want)
		}
	}
	var float, loss, adjustments int64
	for _, b := range l.balances() {
		switch b.Account {
		case ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()}:
			float = -b.NetFen()
		case ledger.Account{Type: ledger.IssuerLoss, Party: sim.Issuer.String()}:
			loss = b.NetFen()
		case ledger.Account{Type: ledger.Adjustment, Party: sim.Issuer.String()}:
			adjustments = b.NetFen()
		}
	}
	if float != sum || loss != borne || adjustments != adjusted {
		l.fatalf("ledger float %d fen, the cards hold %d by the book; issuer loss %d, borne %d; adjustment account %d, adjusted %d", float, sum, loss, borne, adjustments, adjusted)
	}
}

// uncredited sums c's loads the chip never credited that the host has
// not reversed yet, forgetting those it has. A load the chip never
// credited cannot be confirmed.
func (l *live) uncredited(c *liveCard) int64 {
	l.t.Helper()
	var fen int64
	left := c.uncredited[:0]
	for _, u := range c.uncredited {
		ol, err := l.stores.cms.OnlineLoad(l.ctx, u.key)
		l.must(err, "reading load "+u.key, c)
		switch ol.Status {
		case cms.LoadReversed:
			l.counts["load reversed"]++
			continue
		case cms.LoadConfirmed:
			l.fatalf("card %v: load %s, which the chip never credited, confirmed (%s)", c.asn, u.key, ol.Settlement)
		}
		fen += u.fen
		left = append(left, u)
	}
	c.uncredited = left
	return fen
}

func (l *live) balances() []ledger.Balance {
	l.t.Helper()
	bs, err := l.stores.ledger.Balances(l.ctx)
	if err != nil {
		l.fatalf("ledger balances: %v", err)
	}
	return bs
}

// TestConservationLive is TestConservation through the platform itself:
// random lifecycles drawn from a seed (logged; -seed replays one) run
// through cms.Manager over SQLite, the load host with virtual cards and a
// kiosk terminal, and acquire booking the POS's sealed records into the
// same ledger; after every step each card's book less its purchases is
// what its chip holds, and the ledger's float and loss agree with the
// book. -lifesteps or CITYCARD_LIFE_LONG runs it longer.
func TestConservationLive(t *testing.T) {
	seed := *lifeSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	steps := *lifeSteps
	if steps == 0 {
		steps = 600
		if os.Getenv("CITYCARD_LIFE_LONG") != "" {
			steps = 6000
		}
	}
	t.Logf("seed %d, %d steps (go test ./cms -run TestConservationLive -seed %s to replay)", seed, steps, strconv.FormatUint(seed, 10))
	for _, st := range []struct {
		name   string
		stores func(*testing.T) liveStores
	}{{"sqlite", sqliteStores}, {"postgres", postgresStores}} {
		t.Run(st.name, func(t *testing.T) {
			l := newLive(t, seed, st.stores(t))
			// Every term of the sum occurs, or the property proved little:
			// a lifecycle runs on past its steps, to at most four times
			// as many, until each has.
			n := 0
			for ; n < steps || (n < 4*steps && len(l.unseen()) > 0); n++ {
				l.step()
				l.check()
			}
			l.upload()
			l.check()
			t.Logf("operations in %d steps: %v", n, l.counts)
			for _, k := range l.unseen() {
				t.Errorf("no %s in %d steps of seed %d", k, n, seed)
			}
		})
	}
}
