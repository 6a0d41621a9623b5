package record

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// The fixture's parties. The operator is also the home issuer, as in most
// cities; the second issuer uses SM4; the foreign issuer's keys are not in
// the store.
var (
	operator   = citycard.IssuerCode{0x31, 0x50, 0, 0, 0, 0, 0, 0x01}
	sm4Issuer  = citycard.IssuerCode{0x31, 0x51, 0, 0, 0, 0, 0, 0x02}
	foreign    = citycard.IssuerCode{0x10, 0x00, 0, 0, 0, 0, 0, 0x09}
	created    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	issuerAlgs = map[citycard.IssuerCode]keys.Alg{operator: keys.Alg3DES, sm4Issuer: keys.AlgSM4}
)

// The record master key versions of the fixture: v1 is 3DES, v2 SM4.
const (
	recordV3DES = 1
	recordVSM4  = 2
)

// fixture is a MemStore of random master keys together with the keys in
// clear, so that tests seal records by hand with the keys primitives and
// never through the code under test.
type fixture struct {
	store  *keys.MemStore
	master map[keys.Ref][]byte
	algs   map[keys.Ref]keys.Alg
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{store: keys.NewMemStore(), master: map[keys.Ref][]byte{}, algs: map[keys.Ref]keys.Alg{}}
	for issuer, alg := range issuerAlgs {
		for _, typ := range []keys.KeyType{keys.KeyPurchase, keys.KeyLoad, keys.KeyTAC} {
			f.put(t, keys.Ref{Issuer: issuer, Type: typ, Version: 1}, alg)
		}
	}
	f.put(t, keys.Ref{Issuer: operator, Type: keys.KeyRecord, Version: recordV3DES}, keys.Alg3DES)
	f.put(t, keys.Ref{Issuer: operator, Type: keys.KeyRecord, Version: recordVSM4}, keys.AlgSM4)
	return f
}

// put adds a random master key to the store and keeps it in clear.
func (f *fixture) put(t testing.TB, ref keys.Ref, alg keys.Alg) {
	t.Helper()
	k := make([]byte, keys.KeyLen)
	rand.Read(k)
	if _, err := f.store.Put(ref, alg, k, "test", created); err != nil {
		t.Fatal(err)
	}
	f.master[ref] = k
	f.algs[ref] = alg
}

// cardKey derives a card key by hand from the master key in clear.
func (f *fixture) cardKey(t testing.TB, issuer citycard.IssuerCode, typ keys.KeyType, version uint8, asn citycard.ASN) []byte {
	t.Helper()
	ref := keys.Ref{Issuer: issuer, Type: typ, Version: version}
	m, ok := f.master[ref]
	if !ok {
		t.Fatalf("fixture has no key %v", ref)
	}
	k, err := keys.Diversify(f.algs[ref], m, asn[2:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealTAC sets r.TAC as the card computes it, with keys.PurchaseProof or
// keys.LoadProof. A grey record keeps its zero TAC.
func (f *fixture) sealTAC(t testing.TB, r *Record) {
	t.Helper()
	if r.Status == StatusGrey {
		r.TAC = [4]byte{}
		return
	}
	var random [4]byte
	rand.Read(random[:])
	dtk := f.cardKey(t, r.Issuer, keys.KeyTAC, r.KeyVersion, r.ASN)
	var pr keys.Proof
	var err error
	if r.Type == citycard.TxLoad {
		dlk := f.cardKey(t, r.Issuer, keys.KeyLoad, r.KeyVersion, r.ASN)
		pr, err = keys.LoadProof(r.Alg, dlk, dtk, &keys.Load{
			Random: random, OnlineCounter: r.Counter, BalanceBefore: r.BalanceBefore,
			Amount: r.Amount, Type: r.Type, TerminalID: r.TerminalID, Date: r.Date, Time: r.Time,
		})
	} else {
		dpk := f.cardKey(t, r.Issuer, keys.KeyPurchase, r.KeyVersion, r.ASN)
		pr, err = keys.PurchaseProof(r.Alg, dpk, dtk, &keys.Purchase{
			Random: random, OfflineCounter: r.Counter, TerminalSeq: r.TerminalSeq,
			Amount: r.Amount, Type: r.Type, TerminalID: r.TerminalID, Date: r.Date, Time: r.Time,
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	r.TAC = pr.TAC
}

// sealMAC sets r.RecordMAC as the PSAM computes it: keys.MAC under the
// record master key diversified by hand by the PSAM ID, over the test's
// own encoding of the layout.
func (f *fixture) sealMAC(t testing.TB, r *Record) {
	t.Helper()
	ref := keys.Ref{Issuer: operator, Type: keys.KeyRecord, Version: r.RecordKeyVersion}
	m, ok := f.master[ref]
	if !ok {
		t.Fatalf("fixture has no key %v", ref)
	}
	pk, err := keys.Diversify(f.algs[ref], m, r.PSAMID[2:])
	if err != nil {
		t.Fatal(err)
	}
	mac, err := keys.MAC(f.algs[ref], pk, layoutBytes(r)[:Size-4])
	if err != nil {
		t.Fatal(err)
	}
	r.RecordMAC = mac
}

// seal sets both MACs.
func (f *fixture) seal(t testing.TB, r *Record) {
	t.Helper()
	f.sealTAC(t, r)
	f.sealMAC(t, r)
}

// layoutBytes is the test's own encoder of layout v1, written from the
// table in the package doc, field by field.
func layoutBytes(r *Record) []byte {
	b := []byte{'C', 'R', 1, byte(r.Status), r.Type}
	b = append(b, r.Issuer[:]...)
	b = append(b, r.ASN[:]...)
	b = append(b, r.CardType, r.RiderCategory, byte(r.Alg), r.KeyVersion)
	b = binary.BigEndian.AppendUint16(b, r.Counter)
	b = binary.BigEndian.AppendUint32(b, r.BalanceBefore)
	b = binary.BigEndian.AppendUint32(b, r.Amount)
	b = append(b, r.TerminalID[:]...)
	b = append(b, r.PSAMID[:]...)
	b = binary.BigEndian.AppendUint32(b, r.TerminalSeq)
	b = append(b, r.Date[:]...)
	b = append(b, r.Time[:]...)
	b = binary.BigEndian.AppendUint16(b, r.Network)
	for _, v := range []uint32{r.Line, r.Station, r.EntryLine, r.EntryStation} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, r.EntryDate[:]...)
	b = append(b, r.EntryTime[:]...)
	b = binary.BigEndian.AppendUint16(b, r.Product)
	b = binary.BigEndian.AppendUint32(b, r.FareFull)
	b = append(b, r.TAC[:]...)
	b = append(b, r.RecordKeyVersion)
	return append(b, r.RecordMAC[:]...)
}

// kind describes a sample record: its issuer (and so its algorithm), its
// type, its status and the record key version that seals it.
type kind struct {
	issuer    citycard.IssuerCode
	typ       byte
	status    Status
	recordKey uint8
}

// kinds covers both algorithms, the three types, both verifiable statuses
// and both record key algorithms.
var kinds = []kind{
	{operator, citycard.TxPurchase, StatusComplete, recordV3DES},
	{operator, citycard.TxCompositePurchase, StatusComplete, recordV3DES},
	{operator, citycard.TxLoad, StatusComplete, recordV3DES},
	{operator, citycard.TxPurchase, StatusRecovered, recordVSM4},
	{sm4Issuer, citycard.TxPurchase, StatusComplete, recordVSM4},
	{sm4Issuer, citycard.TxCompositePurchase, StatusRecovered, recordV3DES},
	{sm4Issuer, citycard.TxLoad, StatusComplete, recordVSM4},
}

// sample returns an unsealed record of kind k whose other fields rnd
// chooses: different cards, terminals, PSAMs, times and places.
func sample(rnd *mrand.Rand, k kind) Record {
	r := Record{
		Status:        k.status,
		Type:          k.typ,
		Issuer:        k.issuer,
		CardType:      uint8(rnd.IntN(4)),
		RiderCategory: uint8(rnd.IntN(4)),
		Alg:           issuerAlgs[k.issuer],
		KeyVersion:    1,
		Counter:       uint16(rnd.Uint32()),
		BalanceBefore: rnd.Uint32N(100000),
		Amount:        rnd.Uint32N(1000),
		TerminalSeq:   rnd.Uint32(),
		Network:       uint16(rnd.IntN(3)),
		Line:          rnd.Uint32N(300),
		Station:       rnd.Uint32N(60),
		Product:       uint16(rnd.IntN(3)),
		FareFull:      rnd.Uint32N(1000),

		RecordKeyVersion: k.recordKey,
	}
	// Half the cards are 8-byte (CJ/T 166), half 10-byte (JT/T 978) ASNs.
	for i := 2; i < len(r.ASN); i++ {
		r.ASN[i] = byte(rnd.Uint32())
	}
	r.ASN[9] |= 1
	if rnd.IntN(2) == 0 {
		r.ASN[0], r.ASN[1] = 0x31, 0x50
	}
	for i := range r.TerminalID {
		r.TerminalID[i] = byte(rnd.Uint32())
	}
	r.TerminalID[0] = 0x31
	for i := range r.PSAMID {
		r.PSAMID[i] = byte(rnd.Uint32())
	}
	r.PSAMID[9] |= 1
	when := created.Add(time.Duration(rnd.Int64N(int64(3 * 365 * 24 * time.Hour))))
	r.Date, r.Time = citycard.DateTime(when)
	if k.typ == citycard.TxCompositePurchase {
		r.EntryLine, r.EntryStation = r.Line, rnd.Uint32N(60)
		r.EntryDate, r.EntryTime = citycard.DateTime(when.Add(-time.Duration(rnd.IntN(3600)) * time.Second))
	}
	return r
}

// sealedSamples returns n sealed records of each kind.
func sealedSamples(t testing.TB, f *fixture, n int) []Record {
	t.Helper()
	rnd := mrand.New(mrand.NewPCG(1, 2))
	var out []Record
	for _, k := range kinds {
		for range n {
			r := sample(rnd, k)
			f.seal(t, &r)
			out = append(out, r)
		}
	}
	return out
}
