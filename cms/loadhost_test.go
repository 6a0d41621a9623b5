package cms_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/sqlite"
)

const issuerHex = "31500001FFFFFFFF"

var (
	issuer = func() citycard.IssuerCode {
		c, err := citycard.ParseIssuerCode(issuerHex)
		if err != nil {
			panic(err)
		}
		return c
	}()
	clerk = cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}
	kiosk = cms.Actor{Who: "315000002001", ServicePoint: "terminal:315000002001"}
	cash  = cms.Channel{Type: cms.Cash, Party: issuerHex}
	tid   = citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, 0x01}
)

// chip is the e-purse of a card as the load flow sees it: its balance,
// its online counter and its keys, answering INITIALIZE FOR LOAD (a new
// random each time, replacing the session before) and CREDIT FOR LOAD
// (MAC2 checked under the session's key, then the TAC), as the virtual
// card does (package card).
type chip struct {
	mu       sync.Mutex
	asn      citycard.ASN
	balance  uint32
	counter  uint16
	dlk, dtk []byte
	draws    uint32
	session  *keys.Load
	version  uint8
}

func (c *chip) initialize(t *testing.T, amount uint32, at time.Time) (*cms.LoadSession, [4]byte) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draws++
	d, tm := citycard.DateTime(at.In(citycard.ChinaTime))
	l := keys.Load{OnlineCounter: c.counter, BalanceBefore: c.balance, Amount: amount, Type: citycard.TxLoad, TerminalID: tid, Date: d, Time: tm}
	l.Random = [4]byte{byte(c.draws >> 24), byte(c.draws >> 16), byte(c.draws >> 8), byte(c.draws)}
	pr, err := keys.LoadProof(keys.Alg3DES, c.dlk, c.dtk, &l)
	if err != nil {
		t.Fatal(err)
	}
	c.session = &l
	return &cms.LoadSession{Issuer: issuer, ASN: c.asn, KeyVersion: c.version, Alg: keys.Alg3DES, Load: l}, pr.MAC1
}

// credit answers CREDIT FOR LOAD of session s: refused (false) unless s is
// the chip's current session and mac2 verifies.
func (c *chip) credit(t *testing.T, s *cms.LoadSession, mac2 [4]byte) ([4]byte, bool) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == nil || *c.session != s.Load {
		return [4]byte{}, false
	}
	pr, err := keys.LoadProof(keys.Alg3DES, c.dlk, c.dtk, c.session)
	if err != nil {
		t.Fatal(err)
	}
	if pr.MAC2 != mac2 {
		return [4]byte{}, false
	}
	c.balance += c.session.Amount
	c.counter++
	c.session = nil
	return pr.TAC, true
}

// records is acquisition's view of the cards' online counters, as the
// test sets it.
type records struct {
	mu   sync.Mutex
	seen map[citycard.ASN]uint16
}

func (r *records) OnlineCounter(_ citycard.IssuerCode, asn citycard.ASN) (uint16, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.seen[asn]
	return c, ok
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) read() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// rig is a load host over a fresh SQLite store, with its key store, its
// manager and a clock at 09:00 China time.
type rig struct {
	db      *sqlite.DB
	store   cms.Store // the store under the host, faults injected here
	m       *cms.Manager
	host    *cms.LoadHost
	ks      *keys.MemStore
	clk     *clock
	records *records
}

func newRig(t *testing.T, wrap func(cms.Store) cms.Store) *rig {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ks := keys.NewMemStore()
	for i, typ := range []keys.KeyType{keys.KeyLoad, keys.KeyTAC} {
		k := make([]byte, keys.KeyLen)
		for j := range k {
			k[j] = byte(0x40 + 16*i + j)
		}
		if _, err := ks.Put(keys.Ref{Issuer: issuer, Type: typ, Version: 1}, keys.Alg3DES, k, "test", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := cms.NewProtector(make([]byte, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{db: db, ks: ks, clk: &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, citycard.ChinaTime)}, records: &records{seen: map[citycard.ASN]uint16{}}}
	var s cms.Store = cms.NewGroupCommit(db.CMS())
	if wrap != nil {
		s = wrap(s)
	}
	r.store = s
	r.m = cms.NewManager(s, cms.DefaultProducts(), p, r.clk.read)
	r.host = cms.NewLoadHost(r.m, ks, r.records)
	return r
}

// card sells a transit card (anonymous) and returns its chip, empty.
func (r *rig) card(t *testing.T, n byte) *chip {
	t.Helper()
	ctx := context.Background()
	asn := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, n}
	if _, err := r.m.Apply(ctx, clerk, issuer, asn, "transit", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-"+asn.String(), issuer, asn, cash, 0); err != nil {
		t.Fatal(err)
	}
	c := &chip{asn: asn, version: 1}
	r.keysOf(t, c)
	return c
}

// keysOf personalizes c's keys from the key store.
func (r *rig) keysOf(t *testing.T, c *chip) {
	t.Helper()
	for _, k := range []struct {
		typ keys.KeyType
		dst *[]byte
	}{{keys.KeyLoad, &c.dlk}, {keys.KeyTAC, &c.dtk}} {
		var key [keys.KeyLen]byte
		if _, err := r.ks.DeriveInto(&key, keys.Ref{Issuer: issuer, Type: k.typ, Version: 1}, c.asn.Div()); err != nil {
			t.Fatal(err)
		}
		*k.dst = key[:]
	}
}

// load runs one whole load: INITIALIZE, the host's MAC2, CREDIT, the TAC
// confirmed.
func (r *rig) load(t *testing.T, c *chip, amount uint32) error {
	t.Helper()
	ctx := context.Background()
	s, mac1 := c.initialize(t, amount, r.clk.read())
	mac2, err := r.host.Authorize(ctx, kiosk, cash, s, mac1)
	if err != nil {
		return err
	}
	tac, ok := c.credit(t, s, mac2)
	if !ok {
		return fmt.Errorf("the card refused the credit")
	}
	return r.host.Confirm(ctx, kiosk, s, tac)
}

// book is what card management owes on the card: its flows summed.
func (r *rig) book(t *testing.T, c *chip) int64 {
	t.Helper()
	flows, err := r.db.CMS().Flows(context.Background(), issuer, c.asn)
	if err != nil {
		t.Fatal(err)
	}
	return cms.BookBalances(flows)[c.asn]
}

// float is the issuer's card float in the ledger.
func (r *rig) float(t *testing.T) int64 {
	t.Helper()
	b, err := r.db.Ledger().Balance(context.Background(), ledger.Account{Type: ledger.CardFloat, Party: issuerHex})
	if citycard.IsKind(err, citycard.NotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return -b.NetFen()
}

func wantKind(t *testing.T, what string, err error, k citycard.Kind) {
	t.Helper()
	if !citycard.IsKind(err, k) {
		t.Errorf("%s: %v, want kind %v", what, err, k)
	}
}

func TestLoadHostLoad(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	c := r.card(t, 1)
	s, mac1 := c.initialize(t, 5000, r.clk.read())
	mac2, err := r.host.Authorize(ctx, kiosk, cash, s, mac1)
	if err != nil {
		t.Fatal(err)
	}
	card, _ := r.m.Card(ctx, issuer, c.asn)
	if card.State != cms.Active {
		t.Errorf("a load left the issued card %v", card.State)
	}
	// The request resent (a lost answer): the same MAC2, booked once.
	again, err := r.host.Authorize(ctx, kiosk, cash, s, mac1)
	if err != nil || again != mac2 {
		t.Fatalf("Authorize retried: %X %v, want %X", again, err, mac2)
	}
	other := cms.Channel{Type: cms.BankCard, Party: "icbc"}
	_, err = r.host.Authorize(ctx, kiosk, other, s, mac1)
	wantKind(t, "the session's key for another channel", err, citycard.Conflict)
	l, err := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s))
	if err != nil || l.Status != cms.LoadUnconfirmed || l.AmountFen != 5000 || l.Counter != 0 {
		t.Fatalf("before the TAC: %+v %v", l, err)
	}
	tac, ok := c.credit(t, s, mac2)
	if !ok {
		t.Fatal("the card refused the host's MAC2")
	}
	wantKind(t, "a wrong TAC", r.host.Confirm(ctx, kiosk, s, [4]byte{1, 2, 3, 4}), citycard.Crypto)
	for range 2 {
		if err := r.host.Confirm(ctx, kiosk, s, tac); err != nil {
			t.Fatal(err)
		}
	}
	l, _ = r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s))
	if l.Status != cms.LoadConfirmed || l.Settlement != cms.SettledByTAC {
		t.Errorf("after the TAC: %+v", l)
	}
	if got := r.book(t, c); got != 5000 || r.float(t) != 5000 || c.balance != 5000 {
		t.Errorf("book %d, float %d, card %d; want 5000 each", got, r.float(t), c.balance)
	}
	if _, err := cms.VerifyAudit(ctx, r.db.CMS()); err != nil {
		t.Error(err)
	}
	if _, err := ledger.Verify(ctx, r.db.Ledger()); err != nil {
		t.Error(err)
	}
}

// TestLoadHostRefusals follows the package doc's limits (CheckLoad: each
// limit reached, never passed; cms/products.conf's transit card: 500 a
// load, 1,000 a day, a cap of 1,000) and the host's checks.
func TestLoadHostRefusals(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	c := r.card(t, 1)

	s, mac1 := c.initialize(t, 100, r.clk.read())
	mac1[0] ^= 1
	_, err := r.host.Authorize(ctx, kiosk, cash, s, mac1)
	wantKind(t, "a wrong MAC1", err, citycard.Crypto)
	s, mac1 = c.initialize(t, 100, r.clk.read())
	s.KeyVersion = 2
	_, err = r.host.Authorize(ctx, kiosk, cash, s, mac1)
	wantKind(t, "a key version the store does not hold", err, citycard.KeyMissing)
	s, mac1 = c.initialize(t, 100, r.clk.read())
	s.Alg = keys.AlgSM4
	_, err = r.host.Authorize(ctx, kiosk, cash, s, mac1)
	wantKind(t, "another algorithm than the key's", err, citycard.Invalid)

	// Per load: 500.00 yuan passes, 500.01 does not.
	wantKind(t, "a load of 500.01 yuan", r.load(t, c, 50001), citycard.Invalid)
	if err := r.load(t, c, 50000); err != nil {
		t.Fatalf("a load of 500.00 yuan: %v", err)
	}
	// The cap: 500 + 500.01 passes it, 500 + 500 reaches it. The day's
	// loads are then at their 1,000 too.
	wantKind(t, "a load onto 500 of 500.01", r.load(t, c, 50001), citycard.Invalid)
	if err := r.load(t, c, 50000); err != nil {
		t.Fatalf("a load to the cap: %v", err)
	}
	wantKind(t, "a load over the cap", r.load(t, c, 1), citycard.Conflict)

	// The daily limit, on a card spending between loads: 1,000 loaded
	// today; one fen more waits for tomorrow (China time).
	d := r.card(t, 2)
	for range 2 {
		if err := r.load(t, d, 50000); err != nil {
			t.Fatal(err)
		}
	}
	d.balance = 0 // spent offline
	err = r.load(t, d, 1)
	wantKind(t, "one fen past the daily limit", err, citycard.Conflict)
	r.clk.advance(15 * time.Hour) // 00:00 the next day in China
	if err := r.load(t, d, 1); err != nil {
		t.Errorf("the next day: %v", err)
	}
	if got := r.book(t, c); got != 100000 {
		t.Errorf("the refusals booked: %d fen, want 100000", got)
	}

	// A lost card is refused, nothing booked; so is a closed one.
	holder, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236",
		DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}, Phone: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	lost := &chip{asn: citycard.ASN{0, 0, 9, 9, 9, 9, 9, 9, 9, 9}, version: 1}
	if _, err := r.m.Apply(ctx, clerk, issuer, lost.asn, "citizen", holder.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, lost.asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-lost", issuer, lost.asn, cash, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, lost.asn, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	r.keysOf(t, lost)
	wantKind(t, "a load onto a lost card", r.load(t, lost, 100), citycard.Conflict)
	if got := r.book(t, lost); got != 0 {
		t.Errorf("the lost card's book: %d", got)
	}
	ghost := &chip{asn: citycard.ASN{0, 0, 8, 8, 8, 8, 8, 8, 8, 8}, version: 1}
	r.keysOf(t, ghost)
	s, mac1 = ghost.initialize(t, 100, r.clk.read())
	_, err = r.host.Authorize(ctx, kiosk, cash, s, mac1)
	wantKind(t, "a card card management never sold", err, citycard.NotFound)
	_, err = r.host.Authorize(ctx, cms.Actor{}, cash, s, mac1)
	wantKind(t, "no actor", err, citycard.Invalid)
	_, err = r.host.Authorize(ctx, kiosk, cms.Channel{Type: cms.ThirdParty, Party: "alipay"}, s, mac1)
	wantKind(t, "a third-party payment without its reference", err, citycard.Invalid)
}

// TestLoadHostUnconfirmed settles loads whose TAC never came back: from
// the card's next session (its counter past the load's: credited; the
// same counter: never credited, reversed) and from acquisition's records.
func TestLoadHostUnconfirmed(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)

	// Credited, the TAC lost; the card's next load shows counter 1.
	a := r.card(t, 1)
	s, mac1 := a.initialize(t, 1000, r.clk.read())
	mac2, err := r.host.Authorize(ctx, kiosk, cash, s, mac1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.credit(t, s, mac2); !ok {
		t.Fatal("refused")
	}
	if err := r.load(t, a, 2000); err != nil {
		t.Fatal(err)
	}
	if l, _ := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s)); l.Status != cms.LoadConfirmed || l.Settlement != cms.SettledByNextLoad {
		t.Errorf("the first load: %v by %q", l.Status, l.Settlement)
	}

	// Never credited (the card left the reader before CREDIT): the next
	// session at the same counter reverses it, and a retry of it is
	// refused.
	b := r.card(t, 2)
	s, mac1 = b.initialize(t, 1000, r.clk.read())
	if _, err := r.host.Authorize(ctx, kiosk, cash, s, mac1); err != nil {
		t.Fatal(err)
	}
	if got := r.book(t, b); got != 1000 {
		t.Fatalf("booked %d before the TAC", got)
	}
	if err := r.load(t, b, 3000); err != nil {
		t.Fatal(err)
	}
	if l, _ := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s)); l.Status != cms.LoadReversed || l.Settlement != cms.SettledByNewSession {
		t.Errorf("the lost load: %v by %q", l.Status, l.Settlement)
	}
	_, err = r.host.Authorize(ctx, kiosk, cash, s, mac1)
	wantKind(t, "a retry of a reversed load", err, citycard.Conflict)
	// Once more, the card's newer session open: the old one's retry is
	// refused and leaves the newer one alone.
	s1, m1 := b.initialize(t, 500, r.clk.read())
	if _, err := r.host.Authorize(ctx, kiosk, cash, s1, m1); err != nil {
		t.Fatal(err)
	}
	s2, m2 := b.initialize(t, 600, r.clk.read())
	mac2, err = r.host.Authorize(ctx, kiosk, cash, s2, m2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.host.Authorize(ctx, kiosk, cash, s1, m1)
	wantKind(t, "a retry of a session reversed by a newer one still open", err, citycard.Conflict)
	if l, _ := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s2)); l.Status != cms.LoadUnconfirmed {
		t.Errorf("the newer session's load: %v", l.Status)
	}
	tac, _ := b.credit(t, s2, mac2)
	if err := r.host.Confirm(ctx, kiosk, s2, tac); err != nil {
		t.Fatal(err)
	}

	// Credited, the TAC lost, the card never loads again here: its
	// record reaches acquisition, whose shadow settles it.
	c := r.card(t, 3)
	s, mac1 = c.initialize(t, 700, r.clk.read())
	mac2, err = r.host.Authorize(ctx, kiosk, cash, s, mac1)
	if err != nil {
		t.Fatal(err)
	}
	c.credit(t, s, mac2)
	if n, err := r.host.Settle(ctx, kiosk); err != nil || n != 0 {
		t.Errorf("Settle before the records: %d %v", n, err)
	}
	r.records.seen[c.asn] = 0
	if n, err := r.host.Settle(ctx, kiosk); err != nil || n != 1 {
		t.Errorf("Settle: %d %v, want 1", n, err)
	}
	if l, _ := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s)); l.Status != cms.LoadConfirmed || l.Settlement != cms.SettledByRecords {
		t.Errorf("settled from the records: %v by %q", l.Status, l.Settlement)
	}
	for _, ch := range []*chip{a, b, c} {
		if got := r.book(t, ch); got != int64(ch.balance) {
			t.Errorf("card %v: book %d, the card holds %d", ch.asn, got, ch.balance)
		}
	}
	if got, want := r.float(t), int64(a.balance+b.balance+c.balance); got != want {
		t.Errorf("float %d, the cards hold %d", got, want)
	}
}

// TestLoadHostConcurrent races loads on one card: kiosks sharing the card
// run whole loads (the card answers one command at a time, a new
// INITIALIZE replacing the session before), and retries of one session.
// The host serializes them; once the card's next load settles the last,
// what card management owes is what the card holds, and the ledger's
// float too.
func TestLoadHostConcurrent(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	c := r.card(t, 1)
	const racers = 8
	var wg sync.WaitGroup
	var done atomic.Int64
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.load(t, c, 1000); err == nil {
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err := r.load(t, c, 100); err != nil { // settles what the race left open
		t.Fatal(err)
	}
	if done.Load() == 0 || int64(c.balance) != 1000*done.Load()+100 {
		t.Errorf("%d loads done, the card holds %d", done.Load(), c.balance)
	}
	if got := r.book(t, c); got != int64(c.balance) || r.float(t) != got {
		t.Errorf("book %d, float %d, the card holds %d", got, r.float(t), c.balance)
	}

	// One session sent by many at once: booked once.
	s, mac1 := c.initialize(t, 500, r.clk.read())
	macs := make([][4]byte, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if macs[i], err = r.host.Authorize(ctx, kiosk, cash, s, mac1); err != nil {
				t.Errorf("a retry: %v", err)
			}
		}()
	}
	wg.Wait()
	for _, m := range macs[1:] {
		if m != macs[0] {
			t.Errorf("MAC2s differ: %X %X", m, macs[0])
		}
	}
	if got := r.book(t, c); got != int64(c.balance)+500 {
		t.Errorf("after %d copies of one load: book %d, want %d", racers, got, c.balance+500)
	}
}

// TestLoadHostOldSession: two readers on one card, the session the card
// began first reaching the host after the other's was credited and
// confirmed. Both answered the same online counter; the card's has moved
// past it, so the old one is refused (Conflict) and books nothing, where
// before it was booked, unconfirmed, and confirmed by the card's next
// load: a load the card never credited (TestLoadHostConcurrent found it,
// once in a hundred runs). A retry of the credited session still replays.
func TestLoadHostOldSession(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	c := r.card(t, 1)
	old, oldMAC1 := c.initialize(t, 1000, r.clk.read())
	cur, curMAC1 := c.initialize(t, 1000, r.clk.read())
	mac2, err := r.host.Authorize(ctx, kiosk, cash, cur, curMAC1)
	if err != nil {
		t.Fatal(err)
	}
	tac, ok := c.credit(t, cur, mac2)
	if !ok {
		t.Fatal("the card refused the credit of its current session")
	}
	if err := r.host.Confirm(ctx, kiosk, cur, tac); err != nil {
		t.Fatal(err)
	}
	_, err = r.host.Authorize(ctx, kiosk, cash, old, oldMAC1)
	wantKind(t, "the old session", err, citycard.Conflict)
	if err == nil || !strings.Contains(err.Error(), "an old session") {
		t.Errorf("the old session's error: %v", err)
	}
	if again, err := r.host.Authorize(ctx, kiosk, cash, cur, curMAC1); err != nil || again != mac2 {
		t.Errorf("a retry of the credited session: %X %v, want its MAC2 %X", again, err, mac2)
	}
	if err := r.load(t, c, 100); err != nil {
		t.Fatal(err)
	}
	if got := r.book(t, c); got != int64(c.balance) || got != 1100 || r.float(t) != got {
		t.Errorf("book %d, float %d, the card holds %d; want 1100", got, r.float(t), c.balance)
	}
}

// faulty fails the named method of the store under it once armed.
type faulty struct {
	cms.Store
	armed atomic.Pointer[string]
}

var errInjected = citycard.E("test", citycard.IO, "injected")

func (f *faulty) fail(name string) error {
	if p := f.armed.Load(); p != nil && *p == name {
		return errInjected
	}
	return nil
}

func (f *faulty) OnlineLoad(ctx context.Context, key string) (cms.OnlineLoad, error) {
	if err := f.fail("OnlineLoad"); err != nil {
		return cms.OnlineLoad{}, err
	}
	return f.Store.OnlineLoad(ctx, key)
}

func (f *faulty) OpenLoad(ctx context.Context, i citycard.IssuerCode, a citycard.ASN) (cms.OnlineLoad, error) {
	if err := f.fail("OpenLoad"); err != nil {
		return cms.OnlineLoad{}, err
	}
	return f.Store.OpenLoad(ctx, i, a)
}

func (f *faulty) LoadedFen(ctx context.Context, i citycard.IssuerCode, a citycard.ASN, from, to time.Time) (int64, error) {
	if err := f.fail("LoadedFen"); err != nil {
		return 0, err
	}
	return f.Store.LoadedFen(ctx, i, a, from, to)
}

func (f *faulty) CardLoads(ctx context.Context, i citycard.IssuerCode, a citycard.ASN, from, to time.Time) (cms.CardLoads, error) {
	if err := f.fail("CardLoads"); err != nil {
		return cms.CardLoads{}, err
	}
	return f.Store.CardLoads(ctx, i, a, from, to)
}

func (f *faulty) Card(ctx context.Context, i citycard.IssuerCode, a citycard.ASN) (cms.Card, error) {
	if err := f.fail("Card"); err != nil {
		return cms.Card{}, err
	}
	return f.Store.Card(ctx, i, a)
}

func (f *faulty) Commit(ctx context.Context, op *cms.Operation) (bool, error) {
	if err := f.fail("Commit"); err != nil {
		return false, err
	}
	return f.Store.Commit(ctx, op)
}

func (f *faulty) OperationHash(ctx context.Context, key string) ([32]byte, error) {
	if err := f.fail("OperationHash"); err != nil {
		return [32]byte{}, err
	}
	return f.Store.OperationHash(ctx, key)
}

func (f *faulty) UnconfirmedLoads(ctx context.Context, after string, limit int) ([]cms.OnlineLoad, error) {
	if err := f.fail("UnconfirmedLoads"); err != nil {
		return nil, err
	}
	return f.Store.UnconfirmedLoads(ctx, after, limit)
}

// TestLoadHostFaults injects a store fault at every call of the write
// path, Authorize, the settlement of an open load by the next session,
// Confirm and Settle: each is returned as it is (kind IO), nothing is
// booked, and the same request succeeds once the store is back.
func TestLoadHostFaults(t *testing.T) {
	ctx := context.Background()
	f := &faulty{}
	r := newRig(t, func(s cms.Store) cms.Store { f.Store = s; return f })
	c := r.card(t, 1)
	// An open load (credited, the TAC lost) for the next session to settle.
	s0, mac1 := c.initialize(t, 100, r.clk.read())
	mac2, err := r.host.Authorize(ctx, kiosk, cash, s0, mac1)
	if err != nil {
		t.Fatal(err)
	}
	tac0, _ := c.credit(t, s0, mac2)
	for _, name := range []string{"OnlineLoad", "CardLoads", "Commit"} {
		before := r.book(t, c)
		s, mac1 := c.initialize(t, 100, r.clk.read())
		f.armed.Store(&name)
		_, err := r.host.Authorize(ctx, kiosk, cash, s, mac1)
		f.armed.Store(nil)
		if !errors.Is(err, errInjected) || !citycard.IsKind(err, citycard.IO) {
			t.Errorf("Authorize with %s failing: %v", name, err)
		}
		if got := r.book(t, c); got != before {
			t.Errorf("Authorize with %s failing booked %d fen", name, got-before)
		}
		mac2, err := r.host.Authorize(ctx, kiosk, cash, s, mac1)
		if err != nil {
			t.Fatalf("Authorize after %s came back: %v", name, err)
		}
		tac, _ := c.credit(t, s, mac2)
		for _, cn := range []string{"OnlineLoad", "Commit"} {
			f.armed.Store(&cn)
			err := r.host.Confirm(ctx, kiosk, s, tac)
			f.armed.Store(nil)
			if !errors.Is(err, errInjected) {
				t.Errorf("Confirm with %s failing: %v", cn, err)
			}
		}
		if l, _ := r.db.CMS().OnlineLoad(ctx, cms.LoadKey(s)); l.Status != cms.LoadUnconfirmed {
			t.Errorf("a failed Confirm settled the load: %v", l.Status)
		}
		if name == "Commit" {
			continue // left open, for the next session to settle
		}
		if err := r.host.Confirm(ctx, kiosk, s, tac); err != nil {
			t.Fatal(err)
		}
	}
	// A retry whose replay check fails.
	name := "OperationHash"
	f.armed.Store(&name)
	_, err = r.host.Authorize(ctx, kiosk, cash, s0, mac1)
	f.armed.Store(nil)
	if !errors.Is(err, errInjected) {
		t.Errorf("a retry with OperationHash failing: %v", err)
	}
	if err := r.host.Confirm(ctx, kiosk, s0, tac0); err != nil {
		t.Errorf("the first load's late TAC: %v", err)
	}
	// One more credited, its TAC lost, for the records to settle.
	s, mac1 := c.initialize(t, 100, r.clk.read())
	if mac2, err = r.host.Authorize(ctx, kiosk, cash, s, mac1); err != nil {
		t.Fatal(err)
	}
	c.credit(t, s, mac2)
	r.records.seen[c.asn] = c.counter
	for _, name := range []string{"UnconfirmedLoads", "OnlineLoad", "Commit"} {
		f.armed.Store(&name)
		_, err := r.host.Settle(ctx, kiosk)
		f.armed.Store(nil)
		if !errors.Is(err, errInjected) {
			t.Errorf("Settle with %s failing: %v", name, err)
		}
	}
	if n, err := r.host.Settle(ctx, kiosk); err != nil || n != 1 {
		t.Errorf("Settle: %d %v, want the one load left open", n, err)
	}
	if got := r.book(t, c); got != int64(c.balance) || r.float(t) != got {
		t.Errorf("book %d, float %d, card %d", got, r.float(t), c.balance)
	}
}

// counting counts the transactions under a GroupCommit.
type counting struct {
	cms.Store
	batches, ops atomic.Int64
}

func (c *counting) CommitBatch(ctx context.Context, ops []*cms.Operation) ([]cms.CommitResult, error) {
	c.batches.Add(1)
	c.ops.Add(int64(len(ops)))
	return c.Store.CommitBatch(ctx, ops)
}

// TestGroupCommit commits loads of many cards at once: they share
// transactions, each booked once with its own audit record, and an
// operation refused in a group (a card moved meanwhile) is refused alone.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(dir, "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cnt := &counting{Store: db.CMS()}
	g := cms.NewGroupCommit(cnt)
	p, _ := cms.NewProtector(make([]byte, cms.DataKeyLen), nil)
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, citycard.ChinaTime)}
	m := cms.NewManager(g, cms.DefaultProducts(), p, clk.read)
	const cards = 64
	asns := make([]citycard.ASN, cards)
	for i := range asns {
		asns[i] = citycard.ASN{0, 0, 1, 2, 3, 4, 5, 6, 7, byte(i)}
		if _, err := m.Apply(ctx, clerk, issuer, asns[i], "transit", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Move(ctx, clerk, issuer, asns[i], cms.Personalize); err != nil {
			t.Fatal(err)
		}
	}
	cnt.batches.Store(0)
	cnt.ops.Store(0)
	var wg sync.WaitGroup
	errs := make([]error, cards+1)
	for i := range cards + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two sales of card 0 from one read: one of them is refused.
			_, errs[i] = m.Sell(ctx, clerk, fmt.Sprintf("sale-%d", i), issuer, asns[i%cards], cash, 100)
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if !citycard.IsKind(err, citycard.Conflict) || i%cards != 0 {
				t.Errorf("sale %d: %v", i, err)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d sales refused, want the one of card 0 that came second", failed)
	}
	if b, n := cnt.batches.Load(), cnt.ops.Load(); b >= n || n < cards {
		t.Errorf("%d operations in %d transactions", n, b)
	}
	t.Logf("%d operations in %d transactions", cnt.ops.Load(), cnt.batches.Load())
	if n, err := cms.VerifyAudit(ctx, db.CMS()); err != nil || n != 2*cards+cards {
		t.Errorf("VerifyAudit: %d %v", n, err)
	}
	flows, _ := db.CMS().Flows(ctx, issuer, asns[1])
	if len(flows) != 1 || flows[0].Fen != 100 {
		t.Errorf("card 1's flows: %+v", flows)
	}
}

// TestConfirmLater confirms loads without waiting for their write: once a
// commit queued after them returns, every confirmation is stored (the
// group commit keeps the queue's order), and a failed write is reported.
func TestConfirmLater(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	r.host.ConfirmLater = func(err error) { t.Errorf("a confirmation's write failed: %v", err) }
	const cards = 16
	chips := make([]*chip, cards)
	for i := range chips {
		chips[i] = r.card(t, byte(i+1))
	}
	var wg sync.WaitGroup
	for _, c := range chips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.load(t, c, 100); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r.card(t, 99) // its sale commits after every confirmation queued
	open, err := r.db.CMS().UnconfirmedLoads(ctx, "", 100)
	if err != nil || len(open) != 0 {
		t.Errorf("after a later commit: %d unconfirmed, %v", len(open), err)
	}
	if n, err := cms.VerifyAudit(ctx, r.db.CMS()); err != nil || n != 3*(cards+1)+2*cards {
		t.Errorf("VerifyAudit: %d %v, want %d", n, err, 3*(cards+1)+2*cards)
	}
}

// lostAnswer commits the reversal of a load, then answers an error once
// (the answer lost after the commit), keeping the operation.
type lostAnswer struct {
	cms.Store
	armed    atomic.Bool
	reversal *cms.Operation
}

func (l *lostAnswer) Commit(ctx context.Context, op *cms.Operation) (bool, error) {
	replayed, err := l.Store.Commit(ctx, op)
	if err == nil && op.Audit != nil && op.Audit.Action == "reverse load" && l.armed.CompareAndSwap(true, false) {
		l.reversal = op
		return false, errInjected
	}
	return replayed, err
}

// TestLoadReversalInLedger: a load through a partner bank the card never
// credited, reversed by the card's next session at the same counter, is
// a ledger reversal of the load's entry; the float, the bank's
// commission, the cycle's loads and the day's loads are then as if the
// load never was. The reversal whose answer was lost, retried, is booked
// once; its operation committed again is a replay; and the ledger
// refuses to reverse the load's entry a second time under another key.
func TestLoadReversalInLedger(t *testing.T) {
	ctx := context.Background()
	la := &lostAnswer{}
	r := newRig(t, func(s cms.Store) cms.Store { la.Store = s; return la })
	c := r.card(t, 1)
	bank := cms.Channel{Type: cms.PartnerBank, Party: "nb-bank"}
	s1, mac1 := c.initialize(t, 30000, r.clk.read())
	if _, err := r.host.Authorize(ctx, clerk, bank, s1, mac1); err != nil {
		t.Fatal(err)
	}
	// The card left the reader before CREDIT; its next session, at the
	// same online counter, is a cash load at our own counter.
	s2, mac1 := c.initialize(t, 1000, r.clk.read())
	la.armed.Store(true)
	_, err := r.host.Authorize(ctx, kiosk, cash, s2, mac1)
	if !errors.Is(err, errInjected) {
		t.Fatalf("the reversal's answer lost: %v", err)
	}
	mac2, err := r.host.Authorize(ctx, kiosk, cash, s2, mac1) // the terminal retries
	if err != nil {
		t.Fatal(err)
	}
	tac, ok := c.credit(t, s2, mac2)
	if !ok {
		t.Fatal("the card refused the credit")
	}
	if err := r.host.Confirm(ctx, kiosk, s2, tac); err != nil {
		t.Fatal(err)
	}

	lg := r.db.Ledger()
	load, err := lg.EntryByKey(ctx, cms.LoadEntryKey(cms.LoadKey(s1)))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := lg.EntryByKey(ctx, "cms:reverse:"+cms.LoadKey(s1)+"/reverse")
	if err != nil {
		t.Fatal(err)
	}
	if rev.Type != ledger.EntryReversal || rev.ReversalOf != load.Seq || rev.Source != load.Source || len(rev.Postings) != 2 ||
		rev.Postings[0] != (ledger.Posting{Account: load.Postings[0].Account, AmountFen: -load.Postings[0].AmountFen}) {
		t.Errorf("the reversal %+v of load %+v", rev.Entry, load.Entry)
	}
	// As if the bank's load never was: the float and the card's book are
	// the cash load, the bank's settlement account is back at 0, and the
	// day's loads count the cash load alone.
	if got := r.float(t); got != 1000 || r.book(t, c) != 1000 || c.balance != 1000 {
		t.Errorf("float %d, book %d, card %d; want 1000 each", got, r.book(t, c), c.balance)
	}
	if b, err := lg.Balance(ctx, bank.Account()); err != nil || b.NetFen() != 0 {
		t.Errorf("the bank's settlement account: %+v %v, want 0", b, err)
	}
	from, to := time.Date(2026, 3, 2, 0, 0, 0, 0, citycard.ChinaTime), time.Date(2026, 3, 3, 0, 0, 0, 0, citycard.ChinaTime)
	if got, err := r.db.CMS().LoadedFen(ctx, issuer, c.asn, from, to); err != nil || got != 1000 {
		t.Errorf("the day's loads: %d %v, want 1000", got, err)
	}
	cal := clearing.DefaultCalendar()
	day := cal.Day(r.clk.read())
	claim, loads, _, err := clearing.GatherLoads(ctx, lg, 0, time.Time{}, cal.End(day))
	if err != nil {
		t.Fatal(err)
	}
	want := []clearing.Load{{Seq: load.Seq, Channel: "nb-bank", Issuer: issuerHex, AmountFen: 30000},
		{Seq: rev.Seq, Channel: "nb-bank", Issuer: issuerHex, AmountFen: -30000}}
	if n := len(loads); n != 3 || loads[0] != want[0] || loads[1] != want[1] || loads[2].AmountFen != 1000 || loads[2].Channel != issuerHex {
		t.Fatalf("the cycle's loads %+v, want %+v and the cash load", loads, want)
	}
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: issuerHex, Rounding: clearing.RoundDown,
		Commissions: []clearing.FeeSchedule{{Party: "nb-bank", Rules: []clearing.FeeRule{{Name: "bank", RatePPM: 3000, MinFen: 50}}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := clr.Clear(&clearing.Input{Day: day, LoadClaim: claim, Loads: loads})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != (clearing.Totals{Count: 1, AmountFen: 1000}) || len(res.Commissions) != 0 {
		t.Errorf("cleared: loads %+v, commissions %+v; want the cash load alone, no commission", res.Loaded, res.Commissions)
	}
	for _, p := range res.Positions {
		if p.NetFen != 0 {
			t.Errorf("position %+v: want every party at 0", p)
		}
	}

	// The reversal committed again: a replay, nothing booked.
	head, _ := lg.Head(ctx)
	if la.reversal == nil {
		t.Fatal("no reversal committed")
	}
	again := *la.reversal
	again.Cards = nil // the card has moved on since; the key answers first
	if replayed, err := r.store.Commit(ctx, &again); err != nil || !replayed {
		t.Errorf("the reversal committed again: replayed %v, %v", replayed, err)
	}
	// Under another key, the ledger refuses a second reversal of the load.
	twice := rev.Entry
	twice.Key = "cms:reverse-again/reverse"
	_, err = ledger.New(lg, r.clk.read).Post(ctx, twice)
	wantKind(t, "the load's entry reversed twice", err, citycard.Conflict)
	if h, _ := lg.Head(ctx); h != head {
		t.Errorf("the ledger moved from %+v to %+v", head, h)
	}
	if _, err := ledger.Verify(ctx, lg); err != nil {
		t.Error(err)
	}
}
