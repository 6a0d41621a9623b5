package card_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

func TestProfiles(t *testing.T) {
	tests := []struct {
		p      card.Profile
		name   string
		aid    string
		asnLen int
	}{
		{card.ProfileCitizen, "citizen", "A00000000386980701", 8},
		{card.ProfileMOHURD, "mohurd", "A00000000386980701", 8},
		{card.ProfileMoT, "mot", "A000000632010105", 10},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", tt.p, got, tt.name)
		}
		if got := hexs(tt.p.AID()); got != tt.aid {
			t.Errorf("%v.AID() = %s, want %s", tt.p, got, tt.aid)
		}
		if got := tt.p.ASNLen(); got != tt.asnLen {
			t.Errorf("%v.ASNLen() = %d, want %d", tt.p, got, tt.asnLen)
		}
		p, err := card.ParseProfile(tt.name)
		if err != nil || p != tt.p {
			t.Errorf("ParseProfile(%q) = %v, %v", tt.name, p, err)
		}
	}
	if hexs(card.BankAID()) != "A000000333010101" {
		t.Errorf("BankAID() = %X", card.BankAID())
	}
	if _, err := card.ParseProfile("bank"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("ParseProfile(bank) error %v, want kind Invalid", err)
	}
	if card.Profile(4).AID() != nil || card.Profile(0).ASNLen() != 0 || card.Profile(9).Valid() {
		t.Errorf("invalid profile has an AID, an ASN length or is valid")
	}
	// AID returns a fresh slice each time.
	a := card.ProfileMoT.AID()
	a[0] = 0
	if card.ProfileMoT.AID()[0] != 0xA0 {
		t.Errorf("AID() shares its memory")
	}
}

func hexs(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func TestDeriveKeySet(t *testing.T) {
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		s := newStore(t, alg)
		asn := testASN(card.ProfileMoT)
		ks, err := card.DeriveKeySet(s, testIssuer, asn, 1)
		if err != nil {
			t.Fatalf("%v: %v", alg, err)
		}
		if ks.Version != 1 || ks.Alg != alg {
			t.Errorf("%v: version %d alg %v", alg, ks.Version, ks.Alg)
		}
		// Independently: diversify the raw master key by the ASN's right 8 bytes.
		for kt, got := range map[keys.KeyType][]byte{
			keys.KeyPurchase: ks.Purchase[:], keys.KeyLoad: ks.Load[:],
			keys.KeyTAC: ks.TAC[:], keys.KeyMaintenance: ks.Maintenance[:],
		} {
			want, err := keys.Diversify(alg, masterKey(keys.Ref{Issuer: testIssuer, Type: kt, Version: 1}), asn[2:])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%v %v key %X, want %X", alg, kt, got, want)
			}
		}
	}

	s := newStore(t, keys.Alg3DES)
	if _, err := card.DeriveKeySet(s, testIssuer, testASN(card.ProfileMOHURD), 2); !citycard.IsKind(err, citycard.KeyMissing) {
		t.Errorf("unknown version: error %v, want kind KeyMissing", err)
	}
	// A store whose TAC master key of v1 is SM4 while the others are 3DES.
	mixed := keys.NewMemStore()
	for _, kt := range keys.CardKeyTypes {
		alg := keys.Alg3DES
		if kt == keys.KeyTAC {
			alg = keys.AlgSM4
		}
		ref := keys.Ref{Issuer: testIssuer, Type: kt, Version: 1}
		if _, err := mixed.Put(ref, alg, masterKey(ref), "test", testTimeZero); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := card.DeriveKeySet(mixed, testIssuer, testASN(card.ProfileMOHURD), 1); !citycard.IsKind(err, citycard.Crypto) {
		t.Errorf("mixed algorithms: error %v, want kind Crypto", err)
	}
}

func TestNewValidates(t *testing.T) {
	s := newStore(t, keys.Alg3DES)
	ks, err := card.DeriveKeySet(s, testIssuer, testASN(card.ProfileMOHURD), 1)
	if err != nil {
		t.Fatal(err)
	}
	good := func() card.Config {
		return card.Config{
			Profile: card.ProfileMOHURD, Issuer: testIssuer, ASN: testASN(card.ProfileMOHURD),
			Start: testStart, Expiry: testExpiry, KeySets: []card.KeySet{ks},
		}
	}
	if _, err := card.New(good()); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		name string
		edit func(*card.Config)
	}{
		{"unknown profile", func(c *card.Config) { c.Profile = 7 }},
		{"10-byte ASN on mohurd", func(c *card.Config) { c.ASN = testASN(card.ProfileMoT) }},
		{"8-byte ASN on mot", func(c *card.Config) { c.Profile = card.ProfileMoT }},
		{"no key set", func(c *card.Config) { c.KeySets = nil }},
		{"duplicate version", func(c *card.Config) { c.KeySets = []card.KeySet{ks, ks} }},
		{"unknown alg", func(c *card.Config) { k := ks; k.Alg = 0x07; c.KeySets = []card.KeySet{k} }},
		{"no start date", func(c *card.Config) { c.Start = citycard.BCDDate{} }},
		{"bad expiry date", func(c *card.Config) { c.Expiry = citycard.BCDDate{0x20, 0x25, 0x13, 0x01} }},
		{"expiry before start", func(c *card.Config) { c.Start, c.Expiry = c.Expiry, c.Start }},
		{"maximum over 2^31", func(c *card.Config) { c.BalanceMaxFen = 1 << 31 }},
		{"overdraw over 3 bytes", func(c *card.Config) { c.OverdrawLimitFen = 1 << 24 }},
		{"initial over maximum", func(c *card.Config) { c.InitialBalanceFen = card.BalanceMaxFenDefault + 1 }},
	}
	for _, tt := range tests {
		cfg := good()
		tt.edit(&cfg)
		if _, err := card.New(cfg); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: error %v, want kind Invalid", tt.name, err)
		}
	}
}

func TestSelectAndBasicData(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		f := newFixture(t, p, []keys.Alg{alg}, withBalance(5000))
		fci := f.must(cmdSelect(p.AID()), apdu.SWOK)
		if !bytes.Contains(fci, append([]byte{0x84, byte(len(p.AID()))}, p.AID()...)) || fci[0] != 0x6F {
			t.Errorf("FCI %X does not hold 84 AID", fci)
		}
		if s := f.card.State(); !bytes.Equal(s.Selected, p.AID()) {
			t.Errorf("selected %X, want %X", s.Selected, p.AID())
		}

		d := f.must([]byte{0x00, 0xB0, 0x95, 0x00, 0x20}, apdu.SWOK)
		want := append([]byte{}, testIssuer[:]...)
		want = append(want, 0x01, card.AppVersion)
		want = append(want, f.asn[:]...)
		want = append(want, testStart[:]...)
		want = append(want, testExpiry[:]...)
		want = append(want, 0x01, 0x00, byte(p), 0x00)
		if !bytes.Equal(d, want) {
			t.Errorf("basic data\n got %X\nwant %X", d, want)
		}
		bd, err := card.ParseBasicData(d)
		if err != nil || bd.ASN != f.asn || bd.Profile != p || bd.Issuer != testIssuer {
			t.Errorf("ParseBasicData: %+v, %v", bd, err)
		}
		if p.ASNLen() == 8 && !bytes.Equal(d[10:12], []byte{0, 0}) {
			t.Errorf("8-byte ASN not right-aligned: %X", d[10:20])
		}
		// Offsets and Le 00.
		if got := f.must([]byte{0x00, 0xB0, 0x95, 0x0A, 0x0A}, apdu.SWOK); !bytes.Equal(got, f.asn[:]) {
			t.Errorf("READ BINARY offset 10 length 10 = %X, want the ASN", got)
		}
		if got := f.must([]byte{0x00, 0xB0, 0x95, 0x1C, 0x00}, apdu.SWOK); !bytes.Equal(got, want[28:]) {
			t.Errorf("READ BINARY offset 28 Le 00 = %X", got)
		}
		if got := f.must(cmdGetBalance(), apdu.SWOK); !bytes.Equal(got, []byte{0, 0, 0x13, 0x88}) {
			t.Errorf("GET BALANCE = %X, want 00001388", got)
		}
		if got := f.must(cmdGetChallenge(), apdu.SWOK); len(got) != 4 {
			t.Errorf("GET CHALLENGE answered %d bytes", len(got))
		}

		if p == card.ProfileCitizen {
			bank := f.must(cmdSelect(card.BankAID()), apdu.SWOK)
			if !bytes.Contains(bank, card.BankAID()) {
				t.Errorf("bank FCI %X lacks its AID", bank)
			}
			f.must(cmdGetBalance(), apdu.SWINSNotSupported)
			f.must(cmdInit(0x01, 1, 100, testTerminal), apdu.SWINSNotSupported)
			f.must([]byte{0x00, 0xB0, 0x95, 0x00, 0x20}, apdu.SWConditionsNotMet)
			f.must(cmdGetChallenge(), apdu.SWConditionsNotMet)
			f.must(cmdSelect(p.AID()), apdu.SWOK)
			f.must(cmdGetBalance(), apdu.SWOK)
		} else {
			f.must(cmdSelect(card.BankAID()), apdu.SWFileNotFound)
			// A failed SELECT keeps the selection.
			f.must(cmdGetBalance(), apdu.SWOK)
		}
	})
}

func TestPurchase(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		f := newFixture(t, p, []keys.Alg{alg}, withBalance(5000))
		f.selectEPurse()
		for i, amount := range []uint32{200, 0, 4800} {
			got := f.purchase(citycard.TxPurchase, 1, amount)
			if got.init.counter != uint16(i) {
				t.Errorf("purchase %d: INITIALIZE counter %d, want %d", i, got.init.counter, i)
			}
			if got.init.version != 1 || got.init.alg != alg || got.init.overdraw != 0 {
				t.Errorf("purchase %d: INITIALIZE key v%d alg %v overdraw %d", i, got.init.version, got.init.alg, got.init.overdraw)
			}
			// The proof of the last transaction is the debit's MAC2 and TAC.
			d := f.must(cmdProof(citycard.TxPurchase, got.init.counter), apdu.SWOK)
			if !bytes.Equal(d, append(got.mac2[:], got.tac[:]...)) {
				t.Errorf("GET TRANSACTION PROOF = %X, want MAC2 %X TAC %X", d, got.mac2, got.tac)
			}
			// The log's newest record is this purchase.
			e, err := card.ParseLogEntry(f.must(cmdReadLog(1), apdu.SWOK))
			want := card.LogEntry{Counter: uint16(i), AmountFen: amount, Type: citycard.TxPurchase, Terminal: testTerminal, Date: testDate, Time: testTime}
			if err != nil || e != want {
				t.Errorf("log record 1 = %+v, %v; want %+v", e, err, want)
			}
		}
		s := f.card.State()
		if s.BalanceFen != 0 || s.OfflineCounter != 3 || s.OnlineCounter != 0 || len(s.Log) != 3 {
			t.Errorf("after 5000 fen of purchases: balance %d, offline %d, online %d, %d log records", s.BalanceFen, s.OfflineCounter, s.OnlineCounter, len(s.Log))
		}
		f.must(cmdInit(0x01, 1, 1, testTerminal), apdu.SWInsufficientFunds)
	})
}

func TestLoad(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		f := newFixture(t, p, []keys.Alg{alg}, withBalance(100))
		f.selectEPurse()
		got := f.load(1, 2000)
		if got.init.counter != 0 || got.init.balance != 100 || got.init.version != 1 || got.init.alg != alg {
			t.Errorf("INITIALIZE FOR LOAD: %+v", got.init)
		}
		d := f.must(cmdProof(citycard.TxLoad, 0), apdu.SWOK)
		if !bytes.Equal(d, append(got.mac2[:], got.tac[:]...)) {
			t.Errorf("GET TRANSACTION PROOF = %X, want host MAC2 %X TAC %X", d, got.mac2, got.tac)
		}
		f.load(1, 300)
		s := f.card.State()
		if s.BalanceFen != 2400 || s.OnlineCounter != 2 || s.OfflineCounter != 0 {
			t.Errorf("balance %d online %d offline %d, want 2400 2 0", s.BalanceFen, s.OnlineCounter, s.OfflineCounter)
		}
		e, err := card.ParseLogEntry(f.must(cmdReadLog(2), apdu.SWOK))
		want := card.LogEntry{Counter: 0, AmountFen: 2000, Type: citycard.TxLoad, Terminal: testTerminal, Date: testDate, Time: testTime}
		if err != nil || e != want {
			t.Errorf("log record 2 = %+v, %v; want %+v", e, err, want)
		}
		if got := f.must(cmdGetBalance(), apdu.SWOK); !bytes.Equal(got, []byte{0, 0, 0x09, 0x60}) {
			t.Errorf("GET BALANCE = %X, want 00000960", got)
		}
	})
}

func TestCompositePurchase(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		f := newFixture(t, p, []keys.Alg{alg}, withBalance(1000))
		f.selectEPurse()
		f.must(cmdReadTransit(card.RecordJourney), apdu.SWRecordNotFound)

		trip := card.JourneyRecord{Status: card.LegOpen, Network: 1, Line: 2, Station: 17, EntryDate: testDate, EntryTime: testTime,
			Terminal: testTerminal, ProvisionalFen: 300, JourneyDate: testDate, JourneyTime: testTime, JourneyLegs: 1, JourneySpendFen: 300}
		spend := card.Spend{Day: testDate, DaySpendFen: 300, DayRides: 1, Month: card.BCDMonth{0x20, 0x25, 0x06}, MonthSpendFen: 300, MonthRides: 1}
		tb, sb := mustMarshal(t, trip), mustMarshal(t, spend)

		// Tap-on: the cache is not visible before the debit commits.
		in, pur := f.startPurchase(citycard.TxCompositePurchase, 1, 300)
		f.must(cmdUpdateCAPP(tb), apdu.SWOK)
		f.must(cmdUpdateCAPP(sb), apdu.SWOK)
		f.must(cmdReadTransit(card.RecordJourney), apdu.SWRecordNotFound) // reads keep the transaction open
		f.must(cmdGetBalance(), apdu.SWOK)
		pr := f.purchaseProof(1, pur)
		d := f.must(cmdDebit(pur.TerminalSeq, pur.Date, pur.Time, pr.MAC1), apdu.SWOK)
		if !bytes.Equal(d, append(pr.TAC[:], pr.MAC2[:]...)) {
			t.Fatalf("DEBIT = %X, want TAC %X MAC2 %X", d, pr.TAC, pr.MAC2)
		}
		if got := f.must(cmdReadTransit(card.RecordJourney), apdu.SWOK); !bytes.Equal(got, tb) {
			t.Errorf("journey record %X, want %X", got, tb)
		}
		if got := f.must(cmdReadTransit(card.RecordSpend), apdu.SWOK); !bytes.Equal(got, sb) {
			t.Errorf("spend record %X, want %X", got, sb)
		}
		f.must(cmdProof(citycard.TxCompositePurchase, in.counter), apdu.SWOK)
		f.must(cmdProof(citycard.TxPurchase, in.counter), apdu.SWMACNotAvailable)

		// Tap-off with a wrong MAC1: the cached trip is dropped.
		closed := trip
		closed.Status = card.LegClosed
		_, pur = f.startPurchase(citycard.TxCompositePurchase, 1, 200)
		f.must(cmdUpdateCAPP(mustMarshal(t, closed)), apdu.SWOK)
		pr = f.purchaseProof(1, pur)
		pr.MAC1[0] ^= 1
		f.must(cmdDebit(pur.TerminalSeq, pur.Date, pur.Time, pr.MAC1), apdu.SWMACInvalid)
		if got := f.must(cmdReadTransit(card.RecordJourney), apdu.SWOK); !bytes.Equal(got, tb) {
			t.Errorf("after a failed debit the journey record is %X, want %X", got, tb)
		}
		// Tap-off for real.
		cb := mustMarshal(t, closed)
		f.purchase(citycard.TxCompositePurchase, 1, 200, cb)
		s := f.card.State()
		if s.JourneyRecord == nil || *s.JourneyRecord != closed || s.Spend == nil || *s.Spend != spend {
			t.Errorf("State transit: trip %+v spend %+v", s.JourneyRecord, s.Spend)
		}
		if s.BalanceFen != 500 || s.OfflineCounter != 2 {
			t.Errorf("balance %d offline %d, want 500 2", s.BalanceFen, s.OfflineCounter)
		}

		// Products: SetProduct, then a composite purchase updating one.
		prod := card.Product{Record: 0x10, ProductID: 7, Type: card.ProductCountTicket, Network: 1,
			ValidFrom: testStart, ValidTo: testExpiry, RidesLeft: 10, DailyLimit: 4}
		if err := f.card.SetProduct(prod); err != nil {
			t.Fatal(err)
		}
		if got := f.must(cmdReadTransit(0x10), apdu.SWOK); !bytes.Equal(got, mustMarshal(t, prod)) {
			t.Errorf("product record %X", got)
		}
		used := prod
		used.RidesLeft, used.RidesToday, used.RidesTodayDate = 9, 1, testDate
		f.purchase(citycard.TxCompositePurchase, 1, 0, mustMarshal(t, used))
		if s := f.card.State(); len(s.Products) != 1 || s.Products[0] != used {
			t.Errorf("products %+v, want %+v", s.Products, used)
		}
		bad := prod
		bad.Record = 0x18
		if err := f.card.SetProduct(bad); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("SetProduct(record 18): %v, want kind Invalid", err)
		}
	})
}

func mustMarshal(t testing.TB, r card.TransitRecord) []byte {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyVersions(t *testing.T) {
	// v1 3DES and v2 SM4 on one card: each INITIALIZE uses the set it names.
	f := newFixture(t, card.ProfileMoT, []keys.Alg{keys.Alg3DES, keys.AlgSM4}, withBalance(1000))
	f.selectEPurse()
	a := f.purchase(citycard.TxPurchase, 1, 10)
	b := f.purchase(citycard.TxPurchase, 2, 10)
	if a.init.alg != keys.Alg3DES || b.init.alg != keys.AlgSM4 || b.init.version != 2 {
		t.Errorf("v1 alg %v, v2 alg %v version %d", a.init.alg, b.init.alg, b.init.version)
	}
	f.load(2, 20)
	f.must(cmdInit(0x01, 3, 10, testTerminal), apdu.SWKeyIndexUnsupported)
	// The newest key set (v2, SM4) keys APPLICATION BLOCK.
	ch := f.challenge()
	mac, err := card.BlockMAC(keys.AlgSM4, f.keys[2].damk, ch, 0x84, 0x1E)
	if err != nil {
		t.Fatal(err)
	}
	f.must(cmdBlock(0x1E, mac), apdu.SWOK)
	if !f.card.State().Blocked {
		t.Errorf("not blocked by the v2 maintenance key")
	}
}

// challenge runs GET CHALLENGE.
func (f *fixture) challenge() [4]byte {
	f.t.Helper()
	var c [4]byte
	copy(c[:], f.must(cmdGetChallenge(), apdu.SWOK))
	return c
}

func TestBlock(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		f := newFixture(t, p, []keys.Alg{alg}, withBalance(1000))
		f.selectEPurse()
		hk := f.keys[1]
		blockMAC := func(ins byte) [4]byte {
			ch := f.challenge()
			// Independently of card.BlockMAC: keys.MAC over challenge || header.
			m, err := keys.MAC(hk.alg, hk.damk, append(ch[:], 0x84, ins, 0x00, 0x00, 0x04))
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		f.must(cmdBlock(0x1E, blockMAC(0x1E)), apdu.SWOK)
		before := f.money()
		fci := f.must(cmdSelect(p.AID()), apdu.SWWarnFileInvalidated)
		if len(fci) == 0 || fci[0] != 0x6F {
			t.Errorf("blocked SELECT answered %X, want the FCI", fci)
		}
		f.must(cmdInit(0x01, 1, 10, testTerminal), apdu.SWFuncNotSupported)
		f.must(cmdInit(0x03, 1, 10, testTerminal), apdu.SWFuncNotSupported)
		f.must(cmdInit(0x00, 1, 10, testTerminal), apdu.SWFuncNotSupported)
		f.must(cmdGetBalance(), apdu.SWOK)
		f.must([]byte{0x00, 0xB0, 0x95, 0x00, 0x20}, apdu.SWOK)
		if after := f.money(); after != before {
			t.Errorf("blocked card changed: %+v -> %+v", before, after)
		}
		f.must(cmdBlock(0x1E, blockMAC(0x1E)), apdu.SWOK) // blocking again changes nothing
		// An unblock MAC computed for the block header does not unblock.
		f.must(cmdBlock(0x18, blockMAC(0x1E)), apdu.SWSecurityStatus)
		f.must(cmdBlock(0x18, blockMAC(0x18)), apdu.SWOK)
		f.must(cmdSelect(p.AID()), apdu.SWOK)
		f.purchase(citycard.TxPurchase, 1, 10)
	})
}

func TestCounterLimit(t *testing.T) {
	f := newFixture(t, card.ProfileMOHURD, []keys.Alg{keys.Alg3DES}, withBalance(1000), withCounters(0xFFFE, 0xFFFE))
	f.selectEPurse()
	got := f.purchase(citycard.TxPurchase, 1, 1)
	if got.init.counter != 0xFFFE {
		t.Errorf("counter %04X, want FFFE", got.init.counter)
	}
	f.load(1, 1)
	before := f.money()
	f.must(cmdInit(0x01, 1, 1, testTerminal), card.SWCounterLimit)
	f.must(cmdInit(0x03, 1, 1, testTerminal), card.SWCounterLimit)
	f.must(cmdInit(0x00, 1, 1, testTerminal), card.SWCounterLimit)
	if after := f.money(); after != before || after.offline != 0xFFFF || after.online != 0xFFFF {
		t.Errorf("at the counter limit: %+v -> %+v", before, after)
	}
}

func TestOverdraw(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		f := newFixture(t, p, []keys.Alg{alg}, withBalance(100), withOverdraw(500))
		f.selectEPurse()
		f.must(cmdInit(0x01, 1, 601, testTerminal), apdu.SWInsufficientFunds)
		got := f.purchase(citycard.TxPurchase, 1, 250)
		if got.init.overdraw != 500 {
			t.Errorf("INITIALIZE overdraw %d, want 500", got.init.overdraw)
		}
		// The balance is now -150 fen: 32-bit two's complement on the wire.
		if d := f.must(cmdGetBalance(), apdu.SWOK); !bytes.Equal(d, []byte{0xFF, 0xFF, 0xFF, 0x6A}) {
			t.Errorf("GET BALANCE = %X, want FFFFFF6A", d)
		}
		f.must(cmdInit(0x01, 1, 351, testTerminal), apdu.SWInsufficientFunds)
		f.purchase(citycard.TxPurchase, 1, 350)
		// A load from a negative balance: MAC1 and TAC cover the wire balance.
		l := f.load(1, 1000)
		if l.init.balance != -500 {
			t.Errorf("INITIALIZE FOR LOAD balance %d, want -500", l.init.balance)
		}
		if s := f.card.State(); s.BalanceFen != 500 {
			t.Errorf("balance %d, want 500", s.BalanceFen)
		}
		e, err := card.ParseLogEntry(f.must(cmdReadLog(2), apdu.SWOK))
		if err != nil || e.OverdrawFen != 500 {
			t.Errorf("log overdraw %d, %v; want 500", e.OverdrawFen, err)
		}
	})
}

func TestBalanceMax(t *testing.T) {
	f := newFixture(t, card.ProfileMoT, []keys.Alg{keys.AlgSM4}, withBalance(900), withMax(1000))
	f.selectEPurse()
	before := f.money()
	f.must(cmdInit(0x00, 1, 101, testTerminal), apdu.SWWrongData)
	f.must(cmdInit(0x00, 1, 0, testTerminal), apdu.SWWrongData)
	if after := f.money(); after != before {
		t.Errorf("refused load changed the card: %+v -> %+v", before, after)
	}
	f.load(1, 100)
	if s := f.card.State(); s.BalanceFen != 1000 {
		t.Errorf("balance %d, want 1000", s.BalanceFen)
	}
}

func TestLogKeepsTen(t *testing.T) {
	f := newFixture(t, card.ProfileMOHURD, []keys.Alg{keys.Alg3DES}, withBalance(10000))
	f.selectEPurse()
	for i := range 12 {
		f.purchase(citycard.TxPurchase, 1, uint32(i+1))
	}
	for n := byte(1); n <= card.LogLen; n++ {
		e, err := card.ParseLogEntry(f.must(cmdReadLog(n), apdu.SWOK))
		if err != nil || e.Counter != uint16(12-n) || e.AmountFen != uint32(13-n) {
			t.Errorf("log record %d: %+v %v; want counter %d amount %d", n, e, err, 12-n, 13-n)
		}
	}
	f.must(cmdReadLog(11), apdu.SWRecordNotFound)
	if s := f.card.State(); len(s.Log) != card.LogLen || s.Log[0].Counter != 11 {
		t.Errorf("State log: %d records, newest counter %d", len(s.Log), s.Log[0].Counter)
	}
}

func TestTransactionClosedByOtherCommands(t *testing.T) {
	// Each of these commands between INITIALIZE and DEBIT closes the
	// transaction; the DEBIT then answers 6985 and nothing changes.
	// A new INITIALIZE replaces it: the old MAC1 no longer verifies.
	closers := map[string]struct {
		cmd  []byte
		want apdu.SW
	}{
		"SELECT":            {cmdSelect(card.ProfileMOHURD.AID()), apdu.SWConditionsNotMet},
		"GET CHALLENGE":     {cmdGetChallenge(), apdu.SWConditionsNotMet},
		"GET PROOF":         {cmdProof(citycard.TxPurchase, 0), apdu.SWConditionsNotMet},
		"INITIALIZE":        {cmdInit(0x01, 1, 10, testTerminal), apdu.SWMACInvalid},
		"refused INIT":      {cmdInit(0x01, 9, 10, testTerminal), apdu.SWConditionsNotMet},
		"CREDIT":            {cmdCredit(testDate, testTime, [4]byte{}), apdu.SWConditionsNotMet},
		"UPDATE CAPP":       {cmdUpdateCAPP(make([]byte, card.JourneyRecordLen)), apdu.SWConditionsNotMet},
		"bad DEBIT":         {[]byte{0x80, 0x54, 0x01, 0x00, 0x01, 0x00}, apdu.SWConditionsNotMet},
		"unknown INS":       {[]byte{0x80, 0xCA, 0x00, 0x00, 0x00}, apdu.SWConditionsNotMet},
		"unknown CLA":       {[]byte{0x90, 0x54, 0x01, 0x00}, apdu.SWConditionsNotMet},
		"short":             {[]byte{0x80, 0x5C}, apdu.SWConditionsNotMet},
		"bad Lc":            {[]byte{0x80, 0x5C, 0x00, 0x02, 0x03, 0x00}, apdu.SWConditionsNotMet},
		"APPLICATION BLOCK": {cmdBlock(0x1E, [4]byte{}), apdu.SWConditionsNotMet},
	}
	for name, closer := range closers {
		f := newFixture(t, card.ProfileMOHURD, []keys.Alg{keys.Alg3DES}, withBalance(1000))
		f.selectEPurse()
		_, p := f.startPurchase(citycard.TxPurchase, 1, 100)
		pr := f.purchaseProof(1, p)
		before := f.money()
		if _, err := f.card.Transmit(closer.cmd); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, sw := f.send(cmdDebit(p.TerminalSeq, p.Date, p.Time, pr.MAC1)); sw != closer.want {
			t.Errorf("%s: DEBIT answered %v, want %v", name, sw, closer.want)
		}
		if after := f.money(); after != before {
			t.Errorf("%s: %+v -> %+v", name, before, after)
		}
	}
	// Reads and GET BALANCE keep it open.
	f := newFixture(t, card.ProfileMOHURD, []keys.Alg{keys.Alg3DES}, withBalance(1000))
	f.selectEPurse()
	_, p := f.startPurchase(citycard.TxPurchase, 1, 100)
	f.must(cmdGetBalance(), apdu.SWOK)
	f.must([]byte{0x00, 0xB0, 0x95, 0x00, 0x20}, apdu.SWOK)
	f.must(cmdReadLog(1), apdu.SWRecordNotFound)
	if !f.card.State().InTransaction {
		t.Fatalf("reads closed the transaction")
	}
	pr := f.purchaseProof(1, p)
	f.must(cmdDebit(p.TerminalSeq, p.Date, p.Time, pr.MAC1), apdu.SWOK)
	// A second DEBIT after the commit.
	f.must(cmdDebit(p.TerminalSeq, p.Date, p.Time, pr.MAC1), apdu.SWConditionsNotMet)
}

func TestRandomSourceFailure(t *testing.T) {
	ks, err := card.DeriveKeySet(newStore(t, keys.Alg3DES), testIssuer, testASN(card.ProfileMOHURD), 1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: testIssuer, ASN: testASN(card.ProfileMOHURD),
		Start: testStart, Expiry: testExpiry, KeySets: []card.KeySet{ks}, InitialBalanceFen: 100,
		Rand: bytes.NewReader(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Transmit(cmdSelect(card.ProfileMOHURD.AID())); err != nil || swOf(t, resp) != apdu.SWOK {
		t.Fatalf("SELECT: %X %v", resp, err)
	}
	_, err = c.Transmit(cmdInit(0x01, 1, 10, testTerminal))
	if !citycard.IsKind(err, citycard.IO) {
		t.Errorf("INITIALIZE with a dead random source: %v, want kind IO", err)
	}
	if s := c.State(); s.InTransaction || s.BalanceFen != 100 {
		t.Errorf("state after a random failure: %+v", s)
	}
}

func TestStateIsACopy(t *testing.T) {
	f := newFixture(t, card.ProfileMOHURD, []keys.Alg{keys.Alg3DES}, withBalance(1000))
	f.selectEPurse()
	f.purchase(citycard.TxPurchase, 1, 5)
	s := f.card.State()
	s.Log[0].AmountFen = 999
	s.Last.TAC[0] ^= 0xFF
	s.Selected[0] = 0
	s2 := f.card.State()
	if s2.Log[0].AmountFen != 5 || s2.Last.TAC == s.Last.TAC || s2.Selected[0] != 0xA0 {
		t.Errorf("State shares memory with the card")
	}
}

var testTimeZero = time.Unix(0, 0)
