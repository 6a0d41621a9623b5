package record

import (
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

func TestVerifySealed(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	for _, r := range sealedSamples(t, f, 20) {
		if err := v.Verify(&r); err != nil {
			t.Errorf("%s %v %v record of %v: %v", TypeName(r.Type), r.Status, r.Alg, r.Issuer, err)
		}
	}
	// A fresh Verifier, with nothing cached, agrees.
	v2 := NewVerifier(f.store, operator)
	for _, r := range sealedSamples(t, f, 2) {
		if err := v2.Verify(&r); err != nil {
			t.Error(err)
		}
	}
}

// wantCrypto fails unless err is kind Crypto and says what.
func wantCrypto(t *testing.T, err error, what string) {
	t.Helper()
	if !citycard.IsKind(err, citycard.Crypto) || !strings.Contains(err.Error(), what) {
		t.Errorf("want a crypto error saying %q, have %v", what, err)
	}
}

// TestVerifyBitFlips flips every bit of sealed records of both algorithms,
// all types and both record key algorithms: each flip breaks decoding or
// verification, never passes unseen.
func TestVerifyBitFlips(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	var decodeFail, macFail, keyMissing int
	for _, r := range sealedSamples(t, f, 2) {
		b := layoutBytes(&r)
		for bit := range 8 * Size {
			b[bit/8] ^= 1 << (bit % 8)
			d, err := DecodeBinary(b)
			b[bit/8] ^= 1 << (bit % 8)
			if err != nil {
				if !citycard.IsKind(err, citycard.Invalid) {
					t.Fatalf("bit %d: decode error of kind %v", bit, citycard.KindOf(err))
				}
				decodeFail++
				continue
			}
			err = v.Verify(&d)
			switch {
			case err == nil:
				t.Fatalf("%s record: bit %d (byte %d) flipped, yet it verifies", TypeName(r.Type), bit, bit/8)
			case IsPendingIssuer(err):
				t.Fatalf("bit %d: pending issuer before the record MAC caught it: %v", bit, err)
			case citycard.IsKind(err, citycard.Crypto) && strings.Contains(err.Error(), "record MAC mismatch"):
				macFail++
			case citycard.IsKind(err, citycard.KeyMissing) && strings.Contains(err.Error(), "record key"):
				keyMissing++ // the record key version byte: no such key
			default:
				t.Fatalf("bit %d: %v", bit, err)
			}
		}
	}
	t.Logf("flips: %d refused by the decoder, %d by the record MAC, %d for want of a record key", decodeFail, macFail, keyMissing)
}

// TestVerifyAlteredFields alters each field of sealed records. Under the
// record MAC, every change shows. With the record MAC sealed again (a
// terminal whose PSAM key leaked), a change to a field the TAC covers
// still shows: the card's key is not the PSAM's.
func TestVerifyAlteredFields(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	tests := []struct {
		name   string
		alter  func(r *Record)
		tac    bool // a field the TAC covers for purchases
		tacLd  bool // a field the TAC covers for loads
		resign bool // whether a resealed record is worth checking (the change keeps the key)
	}{
		{"counter", func(r *Record) { r.Counter++ }, false, true, true},
		{"balance", func(r *Record) { r.BalanceBefore += 100 }, false, true, true},
		{"amount", func(r *Record) { r.Amount-- }, true, true, true},
		{"type", func(r *Record) {
			if r.Type == citycard.TxPurchase {
				r.Type = citycard.TxCompositePurchase
			} else if r.Type == citycard.TxCompositePurchase {
				r.Type = citycard.TxPurchase
			}
		}, true, false, true},
		{"terminal ID", func(r *Record) { r.TerminalID[5] ^= 1 }, true, true, true},
		{"terminal sequence", func(r *Record) { r.TerminalSeq++ }, true, false, true},
		{"date", func(r *Record) { r.Date = nextDay(r.Date) }, true, true, true},
		{"time", func(r *Record) { r.Time[2] ^= 0x01 }, true, true, true},
		{"card type", func(r *Record) { r.CardType ^= 1 }, false, false, true},
		{"rider category", func(r *Record) { r.RiderCategory ^= 2 }, false, false, true},
		{"network", func(r *Record) { r.Network++ }, false, false, true},
		{"line", func(r *Record) { r.Line++ }, false, false, true},
		{"station", func(r *Record) { r.Station++ }, false, false, true},
		{"entry station", func(r *Record) {
			if r.Type != citycard.TxLoad {
				r.EntryStation++
			}
		}, false, false, true},
		{"product", func(r *Record) { r.Product++ }, false, false, true},
		{"fare", func(r *Record) { r.FareFull-- }, false, false, true},
		{"status", func(r *Record) { r.Status ^= StatusRecovered }, false, false, true},
		{"ASN", func(r *Record) { r.ASN[9] ^= 2 }, true, true, true},
		{"issuer", func(r *Record) { r.Issuer[7] ^= 1 }, false, false, false},
		{"PSAM", func(r *Record) { r.PSAMID[9] ^= 2 }, false, false, false},
		{"TAC", func(r *Record) { r.TAC[0] ^= 1 }, true, true, true},
		{"record MAC", func(r *Record) { r.RecordMAC[3] ^= 1 }, false, false, false},
	}
	recs := sealedSamples(t, f, 3)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, orig := range recs {
				r := orig
				tt.alter(&r)
				if r == orig {
					continue // the field does not apply to this record
				}
				if r.Validate() != nil {
					t.Fatalf("altered record no longer valid: %v", r.Validate())
				}
				wantCrypto(t, v.Verify(&r), "record MAC mismatch")
				if !tt.resign {
					continue
				}
				f.sealMAC(t, &r)
				err := v.Verify(&r)
				covered := tt.tac
				if r.Type == citycard.TxLoad {
					covered = tt.tacLd
				}
				if covered {
					wantCrypto(t, err, "TAC mismatch")
				} else if err != nil {
					t.Errorf("%s: resealed, a field outside the TAC: %v", TypeName(r.Type), err)
				}
			}
		})
	}
}

func TestVerifyGrey(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	rnd := mrand.New(mrand.NewPCG(3, 4))
	for _, k := range kinds {
		k.status = StatusGrey
		r := sample(rnd, k)
		f.seal(t, &r)
		if r.Validate() != nil {
			t.Fatal(r.Validate())
		}
		err := v.Verify(&r)
		if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "grey record") {
			t.Errorf("grey: %v", err)
		}
		// The record MAC is checked first: an altered grey record is a
		// forgery, not a grey record.
		r.Amount++
		wantCrypto(t, v.Verify(&r), "record MAC mismatch")
		// Recovered later, with the TAC from GET TRANSACTION PROOF, and
		// sealed again, it verifies.
		r.Amount--
		r.Status = StatusRecovered
		f.seal(t, &r)
		if err := v.Verify(&r); err != nil {
			t.Errorf("recovered: %v", err)
		}
	}
	// A grey record of another city's card is still grey.
	r := sample(rnd, kind{foreign, citycard.TxPurchase, StatusGrey, recordV3DES})
	r.Alg = keys.Alg3DES
	f.sealMAC(t, &r)
	if err := v.Verify(&r); !citycard.IsKind(err, citycard.Invalid) || IsPendingIssuer(err) {
		t.Errorf("foreign grey: %v", err)
	}
}

func TestVerifyKeyRotation(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	rnd := mrand.New(mrand.NewPCG(5, 6))
	old := sample(rnd, kinds[0])
	f.seal(t, &old)
	if err := v.Verify(&old); err != nil {
		t.Fatal(err)
	}
	// Version 2 of the TAC (and purchase) key, and version 3 of the record
	// key, arrive while the Verifier runs.
	f.put(t, keys.Ref{Issuer: operator, Type: keys.KeyPurchase, Version: 2}, keys.Alg3DES)
	f.put(t, keys.Ref{Issuer: operator, Type: keys.KeyTAC, Version: 2}, keys.Alg3DES)
	f.put(t, keys.Ref{Issuer: operator, Type: keys.KeyRecord, Version: 3}, keys.Alg3DES)
	if err := v.Verify(&old); err != nil {
		t.Errorf("version 1 after rotation: %v", err)
	}
	newer := sample(rnd, kinds[0])
	newer.KeyVersion, newer.RecordKeyVersion = 2, 3
	f.seal(t, &newer)
	if err := v.Verify(&newer); err != nil {
		t.Errorf("version 2: %v", err)
	}
	// A card that claims version 2 but used version 1's key fails.
	forged := old
	forged.KeyVersion = 2
	f.sealMAC(t, &forged)
	wantCrypto(t, v.Verify(&forged), "TAC mismatch")
}

func TestVerifyMissingKeys(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	rnd := mrand.New(mrand.NewPCG(7, 8))

	// Another city's card, from one of our terminals: pending issuer.
	r := sample(rnd, kind{foreign, citycard.TxPurchase, StatusComplete, recordV3DES})
	r.Alg = keys.Alg3DES
	rand.Read(r.TAC[:])
	f.sealMAC(t, &r)
	err := v.Verify(&r)
	if !IsPendingIssuer(err) || !citycard.IsKind(err, citycard.KeyMissing) || !errors.Is(err, ErrPendingIssuer) {
		t.Errorf("foreign card: %v", err)
	}
	if err := v.Verify(&r); !IsPendingIssuer(err) { // and again, from the cache's side
		t.Errorf("foreign card again: %v", err)
	}
	// The same record altered: the record MAC rejects it first.
	r.Amount++
	if err := v.Verify(&r); IsPendingIssuer(err) || !citycard.IsKind(err, citycard.Crypto) {
		t.Errorf("altered foreign record: %v", err)
	}

	// One of our cards under a TAC key version we do not hold: rejected.
	for _, k := range []kind{kinds[0], kinds[4]} {
		r = sample(rnd, k)
		f.seal(t, &r)
		r.KeyVersion = 7
		f.sealMAC(t, &r)
		err = v.Verify(&r)
		if !citycard.IsKind(err, citycard.KeyMissing) || IsPendingIssuer(err) || !strings.Contains(err.Error(), "no TAC key v7") {
			t.Errorf("unknown TAC key version of %v: %v", r.Issuer, err)
		}
	}

	// A record key version we do not hold: rejected.
	r = sample(rnd, kinds[0])
	f.seal(t, &r)
	r.RecordKeyVersion = 9
	err = v.Verify(&r)
	if !citycard.IsKind(err, citycard.KeyMissing) || IsPendingIssuer(err) || !strings.Contains(err.Error(), "record key v9") {
		t.Errorf("unknown record key: %v", err)
	}

	// A foreign card under a missing record key: the record key decides.
	r = sample(rnd, kind{foreign, citycard.TxPurchase, StatusComplete, 9})
	r.Alg = keys.Alg3DES
	if err := v.Verify(&r); IsPendingIssuer(err) || !strings.Contains(err.Error(), "record key v9") {
		t.Errorf("foreign card, unknown record key: %v", err)
	}

	// An operator that has no TAC key of its own yet: its cards are not
	// another city's.
	bare := keys.NewMemStore()
	mk := make([]byte, 16)
	rand.Read(mk)
	bare.Put(keys.Ref{Issuer: operator, Type: keys.KeyRecord, Version: 1}, keys.Alg3DES, mk, "test", created)
	r = sample(rnd, kinds[0])
	pk, _ := keys.Diversify(keys.Alg3DES, mk, r.PSAMID[2:])
	r.RecordMAC, _ = keys.MAC(keys.Alg3DES, pk, layoutBytes(&r)[:Size-4])
	err = NewVerifier(bare, operator).Verify(&r)
	if !citycard.IsKind(err, citycard.KeyMissing) || IsPendingIssuer(err) {
		t.Errorf("own card without TAC keys: %v", err)
	}
}

func TestVerifyAlgMismatch(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	rnd := mrand.New(mrand.NewPCG(9, 10))
	r := sample(rnd, kinds[0]) // a 3DES issuer
	f.seal(t, &r)
	r.Alg = keys.AlgSM4
	f.sealMAC(t, &r)
	err := v.Verify(&r)
	wantCrypto(t, err, "the record says the card used SM4")
}

func TestVerifyRefusesNonRecords(t *testing.T) {
	v := NewVerifier(keys.NewMemStore(), operator)
	for _, r := range []Record{{Status: 3, Type: citycard.TxPurchase}, {Type: 0x07}, {Type: citycard.TxLoad, Alg: 1}} {
		if err := v.Verify(&r); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%+v: %v", r, err)
		}
	}
}

func TestRecordKeyAndComputeMAC(t *testing.T) {
	f := newFixture(t)
	r := golden()
	for _, version := range []uint8{recordV3DES, recordVSM4} {
		ref := keys.Ref{Issuer: operator, Type: keys.KeyRecord, Version: version}
		want, _ := keys.Diversify(f.algs[ref], f.master[ref], r.PSAMID[2:])
		k, alg, err := RecordKey(f.store, operator, version, r.PSAMID)
		if err != nil {
			t.Fatal(err)
		}
		if string(k[:]) != string(want) || alg != f.algs[ref] {
			t.Errorf("v%d: RecordKey %X %v, want %X %v", version, k, alg, want, f.algs[ref])
		}
		r.RecordKeyVersion = version
		wantMAC, _ := keys.MAC(alg, want, layoutBytes(&r)[:Size-4])
		if got := ComputeMAC(alg, k[:], &r); got != wantMAC {
			t.Errorf("v%d: ComputeMAC %X, want %X", version, got, wantMAC)
		}
		s := r
		Seal(alg, k[:], version, &s)
		if s.RecordMAC != wantMAC || s.RecordKeyVersion != version {
			t.Errorf("Seal: %X", s.RecordMAC)
		}
	}
	if _, _, err := RecordKey(f.store, operator, 42, r.PSAMID); !citycard.IsKind(err, citycard.KeyMissing) {
		t.Errorf("RecordKey of a missing version: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("ComputeMAC with an 8-byte key did not panic")
		}
	}()
	ComputeMAC(keys.Alg3DES, make([]byte, 8), &r)
}

// TestMACMatchesKeys holds the Verifier's MAC with prepared ciphers to
// keys.MAC: retail MAC and plain CBC-MAC, 3DES and SM4, every length of
// data up to a record's.
func TestMACMatchesKeys(t *testing.T) {
	for _, c := range []struct {
		alg    keys.Alg
		keyLen int
		retail bool
	}{{keys.Alg3DES, 16, true}, {keys.Alg3DES, 8, false}, {keys.AlgSM4, 16, false}} {
		key := make([]byte, c.keyLen)
		rand.Read(key)
		var mk macKey
		var err error
		if c.retail {
			if mk.k1, err = keys.NewBlock(c.alg, key[:8]); err != nil {
				t.Fatal(err)
			}
		}
		if mk.last, err = keys.NewBlock(c.alg, key); err != nil {
			t.Fatal(err)
		}
		s := new(scratch)
		for n := 0; n <= macDataSize; n++ {
			data := make([]byte, n)
			rand.Read(data)
			copy(s.data[:], data)
			got := mk.sum(s, n)
			want, err := keys.MAC(c.alg, key, data)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("%v key of %d bytes, %d bytes of data: %X, keys.MAC %X", c.alg, c.keyLen, n, got, want)
			}
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	recs := sealedSamples(t, f, 10)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 3 * len(recs) {
				r := recs[(i+g)%len(recs)]
				if err := v.Verify(&r); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestVerifyAllocs bounds the allocations of a verification with warm
// caches: the TAC key's schedule (crypto/des or SM4 key setup allocates
// its cipher) and what keys.MemStore.DeriveInto allocates, nothing of
// this package's.
func TestVerifyAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	for _, r := range sealedSamples(t, f, 1) {
		if err := v.Verify(&r); err != nil {
			t.Fatal(err)
		}
		// The card was seen: its TAC key schedule is kept, so a record
		// of it costs no key setup and no allocation.
		got := testing.AllocsPerRun(100, func() {
			if err := v.Verify(&r); err != nil {
				t.Fatal(err)
			}
		})
		if r.Type == citycard.TxLoad {
			got-- // keys.LoadTACData returns a fresh slice
		}
		if got > 0 {
			t.Errorf("%s %v: %v allocations a verification of a card seen before, want 0", TypeName(r.Type), r.Alg, got)
		}
	}
}

// TestVerifyTACKeysBounded: past maxTACKeys cards the kept TAC key
// schedules start over, and a record verifies as before.
func TestVerifyTACKeysBounded(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.store, operator)
	rs := sealedSamples(t, f, 1)
	for _, r := range rs {
		if err := v.Verify(&r); err != nil {
			t.Fatal(err)
		}
	}
	for i := len(v.tacs); i < maxTACKeys; i++ {
		v.tacs[tacRef{asn: citycard.ASN{0xFF, byte(i >> 16), byte(i >> 8), byte(i)}}] = tacKey{}
	}
	r := rs[0]
	r.ASN[9]++
	f.seal(t, &r)
	if err := v.Verify(&r); err != nil {
		t.Fatal(err)
	}
	if n := len(v.tacs); n != 1 {
		t.Fatalf("%d TAC keys kept after one past the bound, want 1", n)
	}
	for _, r := range rs {
		if err := v.Verify(&r); err != nil {
			t.Fatalf("after the cache started over: %v", err)
		}
	}
}

// nextDay returns the day after d.
func nextDay(d citycard.BCDDate) citycard.BCDDate {
	t, err := citycard.TimeOf(d, citycard.BCDTime{}, time.UTC)
	if err != nil {
		panic(err)
	}
	n, _ := citycard.DateTime(t.AddDate(0, 0, 1))
	return n
}

// TestVerifierWithoutStore: a Verifier over no key store (NewVerifier
// given nil, or the zero Verifier) refuses every record with an error of
// kind KeyMissing saying so, a grey one too (kind Invalid would pass a
// grey record as one whose record MAC verified); it does not panic.
func TestVerifierWithoutStore(t *testing.T) {
	f := newFixture(t)
	r := sealedSamples(t, f, 1)[0]
	grey := r
	grey.Status, grey.TAC = StatusGrey, [4]byte{}
	f.sealMAC(t, &grey)
	for name, v := range map[string]*Verifier{"NewVerifier(nil)": NewVerifier(nil, operator), "zero Verifier": {}} {
		t.Run(name, func(t *testing.T) {
			for what, verify := range map[string]func() error{
				"Verify":    func() error { return v.Verify(&r) },
				"VerifyFor": func() error { return v.VerifyFor(&r, operator) },
				"grey":      func() error { return v.Verify(&grey) },
			} {
				err := verify()
				if !citycard.IsKind(err, citycard.KeyMissing) || IsPendingIssuer(err) || !strings.Contains(err.Error(), "no key store") {
					t.Errorf("%s = %v, want kind KeyMissing saying there is no key store", what, err)
				}
			}
		})
	}
}
