package card_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// The tests play terminal, PSAM and host: they derive the card keys from
// the issuer's master keys in a MemStore, as those would, and compute
// every MAC and TAC with keys.PurchaseProof and keys.LoadProof; nothing
// is read from the card's insides but its State snapshot.

var (
	testIssuer   = citycard.IssuerCode{0x33, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01}
	testTerminal = citycard.TerminalID{0x00, 0x00, 0x00, 0x00, 0x00, 0x01}
	testDate     = citycard.BCDDate{0x20, 0x25, 0x06, 0x01}
	testTime     = citycard.BCDTime{0x08, 0x30, 0x00}
	testStart    = citycard.BCDDate{0x20, 0x25, 0x01, 0x01}
	testExpiry   = citycard.BCDDate{0x20, 0x34, 0x12, 0x31}
)

// testASN returns a card ASN of the profile's length.
func testASN(p card.Profile) citycard.ASN {
	if p.ASNLen() == 8 {
		return citycard.ASN{0, 0, 0x33, 0x02, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78}
	}
	return citycard.ASN{0x33, 0x02, 0x10, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78}
}

// masterKey is the deterministic master key of one issuer, type and
// version in the tests.
func masterKey(ref keys.Ref) []byte {
	h := sha256.Sum256([]byte("citycard test master " + ref.String()))
	return h[:keys.KeyLen]
}

// newStore returns a MemStore with the four card master keys of testIssuer
// for each version, version i under algs[i-1] (versions start at 1).
func newStore(t testing.TB, algs ...keys.Alg) *keys.MemStore {
	t.Helper()
	s := keys.NewMemStore()
	for i, alg := range algs {
		for _, kt := range keys.CardKeyTypes {
			ref := keys.Ref{Issuer: testIssuer, Type: kt, Version: uint8(i + 1)}
			if _, err := s.Put(ref, alg, masterKey(ref), "test", time.Unix(0, 0)); err != nil {
				t.Fatalf("put %v: %v", ref, err)
			}
		}
	}
	return s
}

// hostKeys are the card keys of one version as a host or PSAM derives
// them from the store, without going through card.DeriveKeySet.
type hostKeys struct {
	alg                 keys.Alg
	dpk, dlk, dtk, damk []byte
}

func deriveHostKeys(t testing.TB, s keys.Store, asn citycard.ASN, version uint8) hostKeys {
	t.Helper()
	var hk hostKeys
	for _, kt := range keys.CardKeyTypes {
		var k [keys.KeyLen]byte
		alg, err := s.DeriveInto(&k, keys.Ref{Issuer: testIssuer, Type: kt, Version: version}, asn.Div())
		if err != nil {
			t.Fatalf("derive %v v%d: %v", kt, version, err)
		}
		hk.alg = alg
		switch kt {
		case keys.KeyPurchase:
			hk.dpk = k[:]
		case keys.KeyLoad:
			hk.dlk = k[:]
		case keys.KeyTAC:
			hk.dtk = k[:]
		case keys.KeyMaintenance:
			hk.damk = k[:]
		}
	}
	return hk
}

// fixture is one card with the host's view of its keys.
type fixture struct {
	t       testing.TB
	profile card.Profile
	asn     citycard.ASN
	store   *keys.MemStore
	cfg     card.Config // without Rand: fresh sets it
	card    *card.Card
	keys    map[uint8]hostKeys // by version
	seq     uint32             // the terminal sequence of the next purchase
	trace   []string           // card.Describe of every exchange, when tracing
	tracing bool
}

type option func(*card.Config)

func withBalance(fen uint32) option  { return func(c *card.Config) { c.InitialBalanceFen = fen } }
func withOverdraw(fen uint32) option { return func(c *card.Config) { c.OverdrawLimitFen = fen } }
func withMax(fen uint32) option      { return func(c *card.Config) { c.BalanceMaxFen = fen } }
func withCounters(online, offline uint16) option {
	return func(c *card.Config) { c.OnlineCounter, c.OfflineCounter = online, offline }
}

// newFixture personalizes a card of profile with one key set per alg
// (versions 1, 2, ...) and a deterministic random source.
func newFixture(t testing.TB, p card.Profile, algs []keys.Alg, opts ...option) *fixture {
	t.Helper()
	f := &fixture{t: t, profile: p, asn: testASN(p), store: newStore(t, algs...), keys: map[uint8]hostKeys{}, seq: 1}
	cfg := card.Config{
		Profile:       p,
		Issuer:        testIssuer,
		ASN:           f.asn,
		CardType:      0x01,
		RiderCategory: 0x00,
		Start:         testStart,
		Expiry:        testExpiry,
	}
	for i := range algs {
		v := uint8(i + 1)
		ks, err := card.DeriveKeySet(f.store, testIssuer, f.asn, v)
		if err != nil {
			t.Fatalf("DeriveKeySet v%d: %v", v, err)
		}
		cfg.KeySets = append(cfg.KeySets, ks)
		f.keys[v] = deriveHostKeys(t, f.store, f.asn, v)
	}
	for _, o := range opts {
		o(&cfg)
	}
	f.cfg = cfg
	return f.fresh(t)
}

// fresh returns a fixture of a newly personalized card like f's, with the
// same keys and a random source restarted from the same seed.
func (f *fixture) fresh(t testing.TB) *fixture {
	t.Helper()
	cfg := f.cfg
	cfg.Rand = rand.NewChaCha8([32]byte{1, 2, 3})
	c, err := card.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{t: t, profile: f.profile, asn: f.asn, store: f.store, cfg: f.cfg, card: c, keys: f.keys, seq: 1}
}

// send transmits one APDU and splits the answer; a transport error fails
// the test.
func (f *fixture) send(cmd []byte) ([]byte, apdu.SW) {
	f.t.Helper()
	resp, err := f.card.Transmit(cmd)
	if f.tracing {
		f.trace = append(f.trace, card.Describe(cmd, resp))
	}
	if err != nil {
		f.t.Fatalf("Transmit %s: %v", apdu.Hex(cmd), err)
	}
	r, err := apdu.ParseResponse(resp)
	if err != nil {
		f.t.Fatalf("Transmit %s: %v", apdu.Hex(cmd), err)
	}
	return r.Data, r.SW
}

// must sends cmd and fails the test unless the card answers want.
func (f *fixture) must(cmd []byte, want apdu.SW) []byte {
	f.t.Helper()
	d, sw := f.send(cmd)
	if sw != want {
		f.t.Fatalf("%s: SW %v, want %v", apdu.Hex(cmd), sw, want)
	}
	return d
}

func (f *fixture) selectEPurse() {
	f.t.Helper()
	f.must(cmdSelect(f.profile.AID()), apdu.SWOK)
}

// money is what no failed command may change.
type money struct {
	balance         int64
	online, offline uint16
	logLen          int
}

func (f *fixture) money() money {
	s := f.card.State()
	return money{s.BalanceFen, s.OnlineCounter, s.OfflineCounter, len(s.Log)}
}

// APDU builders, byte for byte as the table of card/doc.go.

func cmdSelect(aid []byte) []byte {
	return append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, append(aid, 0x00)...)
}

func cmdGetBalance() []byte { return []byte{0x80, 0x5C, 0x00, 0x02, 0x04} }

func cmdGetChallenge() []byte { return []byte{0x00, 0x84, 0x00, 0x00, 0x04} }

func cmdInit(p1, version byte, amount uint32, tid citycard.TerminalID) []byte {
	le := byte(0x0F)
	if p1 == 0x00 {
		le = 0x10
	}
	b := []byte{0x80, 0x50, p1, 0x02, 0x0B, version}
	b = binary.BigEndian.AppendUint32(b, amount)
	b = append(b, tid[:]...)
	return append(b, le)
}

func cmdDebit(seq uint32, d citycard.BCDDate, tm citycard.BCDTime, mac1 [4]byte) []byte {
	b := []byte{0x80, 0x54, 0x01, 0x00, 0x0F}
	b = binary.BigEndian.AppendUint32(b, seq)
	b = append(b, d[:]...)
	b = append(b, tm[:]...)
	b = append(b, mac1[:]...)
	return append(b, 0x08)
}

func cmdCredit(d citycard.BCDDate, tm citycard.BCDTime, mac2 [4]byte) []byte {
	b := []byte{0x80, 0x52, 0x00, 0x00, 0x0B}
	b = append(b, d[:]...)
	b = append(b, tm[:]...)
	b = append(b, mac2[:]...)
	return append(b, 0x04)
}

func cmdProof(typ byte, counter uint16) []byte {
	return []byte{0x80, 0x5A, 0x00, typ, 0x02, byte(counter >> 8), byte(counter), 0x08}
}

func cmdUpdateCAPP(rec []byte) []byte {
	return append([]byte{0x80, 0xDC, rec[0], 0xB8, byte(len(rec))}, rec...)
}

func cmdReadLog(n byte) []byte      { return []byte{0x00, 0xB2, n, 0xC4, 0x17} }
func cmdReadTransit(id byte) []byte { return []byte{0x00, 0xB2, id, 0xB8, 0x00} }

func cmdBlock(ins byte, mac [4]byte) []byte {
	return append([]byte{0x84, ins, 0x00, 0x00, 0x04}, mac[:]...)
}

// initPurchase is the answer to INITIALIZE FOR (CAPP) PURCHASE.
type initPurchase struct {
	balance  int32
	counter  uint16
	overdraw uint32
	version  byte
	alg      keys.Alg
	random   [4]byte
}

func parseInitPurchase(t testing.TB, d []byte) initPurchase {
	t.Helper()
	if len(d) != 15 {
		t.Fatalf("INITIALIZE FOR PURCHASE answered %d bytes, want 15", len(d))
	}
	r := initPurchase{
		balance:  int32(binary.BigEndian.Uint32(d[0:4])),
		counter:  binary.BigEndian.Uint16(d[4:6]),
		overdraw: uint32(d[6])<<16 | uint32(d[7])<<8 | uint32(d[8]),
		version:  d[9],
		alg:      keys.Alg(d[10]),
	}
	copy(r.random[:], d[11:15])
	return r
}

// initLoad is the answer to INITIALIZE FOR LOAD.
type initLoad struct {
	balance int32
	counter uint16
	version byte
	alg     keys.Alg
	random  [4]byte
	mac1    [4]byte
}

func parseInitLoad(t testing.TB, d []byte) initLoad {
	t.Helper()
	if len(d) != 16 {
		t.Fatalf("INITIALIZE FOR LOAD answered %d bytes, want 16", len(d))
	}
	r := initLoad{
		balance: int32(binary.BigEndian.Uint32(d[0:4])),
		counter: binary.BigEndian.Uint16(d[4:6]),
		version: d[6],
		alg:     keys.Alg(d[7]),
	}
	copy(r.random[:], d[8:12])
	copy(r.mac1[:], d[12:16])
	return r
}

// purchased is what a terminal keeps of a completed purchase.
type purchased struct {
	init initPurchase
	p    keys.Purchase
	tac  [4]byte
	mac2 [4]byte
}

// startPurchase runs INITIALIZE FOR PURCHASE (typ TxPurchase) or CAPP
// PURCHASE (TxCompositePurchase) and returns the purchase a PSAM would
// MAC, with the next terminal sequence.
func (f *fixture) startPurchase(typ byte, version uint8, amount uint32) (initPurchase, *keys.Purchase) {
	f.t.Helper()
	p1 := byte(0x01)
	if typ == citycard.TxCompositePurchase {
		p1 = 0x03
	}
	in := parseInitPurchase(f.t, f.must(cmdInit(p1, version, amount, testTerminal), apdu.SWOK))
	p := &keys.Purchase{
		Random:         in.random,
		OfflineCounter: in.counter,
		TerminalSeq:    f.seq,
		Amount:         amount,
		Type:           typ,
		TerminalID:     testTerminal,
		Date:           testDate,
		Time:           testTime,
	}
	f.seq++
	return in, p
}

// proof computes a purchase's MACs and TAC as PSAM and back office do.
func (f *fixture) purchaseProof(version uint8, p *keys.Purchase) keys.Proof {
	f.t.Helper()
	hk := f.keys[version]
	pr, err := keys.PurchaseProof(hk.alg, hk.dpk, hk.dtk, p)
	if err != nil {
		f.t.Fatalf("PurchaseProof: %v", err)
	}
	return pr
}

func (f *fixture) loadProof(version uint8, l *keys.Load) keys.Proof {
	f.t.Helper()
	hk := f.keys[version]
	pr, err := keys.LoadProof(hk.alg, hk.dlk, hk.dtk, l)
	if err != nil {
		f.t.Fatalf("LoadProof: %v", err)
	}
	return pr
}

// purchase runs a whole purchase on a selected card, writing records
// into the transit cache first (composite purchases only), and checks
// MAC2 and TAC against an independent computation.
func (f *fixture) purchase(typ byte, version uint8, amount uint32, records ...[]byte) purchased {
	f.t.Helper()
	in, p := f.startPurchase(typ, version, amount)
	for _, r := range records {
		f.must(cmdUpdateCAPP(r), apdu.SWOK)
	}
	pr := f.purchaseProof(version, p)
	d := f.must(cmdDebit(p.TerminalSeq, p.Date, p.Time, pr.MAC1), apdu.SWOK)
	if len(d) != 8 {
		f.t.Fatalf("DEBIT answered %d bytes, want 8", len(d))
	}
	var out purchased
	out.init, out.p = in, *p
	copy(out.tac[:], d[0:4])
	copy(out.mac2[:], d[4:8])
	if out.tac != pr.TAC {
		f.t.Fatalf("purchase TAC %X, want %X", out.tac, pr.TAC)
	}
	if out.mac2 != pr.MAC2 {
		f.t.Fatalf("purchase MAC2 %X, want %X", out.mac2, pr.MAC2)
	}
	return out
}

// loaded is what a host keeps of a completed load.
type loaded struct {
	init initLoad
	l    keys.Load
	mac2 [4]byte
	tac  [4]byte
}

// load runs a whole load on a selected card: checks MAC1 as the host,
// sends MAC2 and checks the TAC.
func (f *fixture) load(version uint8, amount uint32) loaded {
	f.t.Helper()
	in := parseInitLoad(f.t, f.must(cmdInit(0x00, version, amount, testTerminal), apdu.SWOK))
	l := keys.Load{
		Random:        in.random,
		OnlineCounter: in.counter,
		BalanceBefore: uint32(in.balance),
		Amount:        amount,
		Type:          citycard.TxLoad,
		TerminalID:    testTerminal,
		Date:          testDate,
		Time:          testTime,
	}
	pr := f.loadProof(version, &l)
	if in.mac1 != pr.MAC1 {
		f.t.Fatalf("load MAC1 %X, want %X", in.mac1, pr.MAC1)
	}
	d := f.must(cmdCredit(l.Date, l.Time, pr.MAC2), apdu.SWOK)
	var out loaded
	out.init, out.l, out.mac2 = in, l, pr.MAC2
	copy(out.tac[:], d)
	if out.tac != pr.TAC {
		f.t.Fatalf("load TAC %X, want %X", out.tac, pr.TAC)
	}
	return out
}

// each runs fn for every profile and algorithm.
func each(t *testing.T, fn func(t *testing.T, p card.Profile, alg keys.Alg)) {
	for _, p := range []card.Profile{card.ProfileCitizen, card.ProfileMOHURD, card.ProfileMoT} {
		for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
			t.Run(fmt.Sprintf("%v/%v", p, alg), func(t *testing.T) { fn(t, p, alg) })
		}
	}
}

func swOf(t testing.TB, resp []byte) apdu.SW {
	t.Helper()
	r, err := apdu.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	return r.SW
}
