package keys_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

var (
	testIssuer = citycard.IssuerCode{0x31, 0x01, 0, 0, 0, 0, 0, 1}
	testNow    = time.Date(2026, 11, 24, 8, 30, 0, 0, time.UTC)
)

func mustPut(t testing.TB, s *keys.MemStore, ref keys.Ref, alg keys.Alg, key []byte) keys.Info {
	t.Helper()
	info, err := s.Put(ref, alg, key, "generated", testNow)
	if err != nil {
		t.Fatalf("Put(%v): %v", ref, err)
	}
	return info
}

func TestMemStorePutListActive(t *testing.T) {
	s := keys.NewMemStore()
	k1 := unhex(t, "0123456789abcdeffedcba9876543210")
	k2 := unhex(t, "00112233445566778899aabbccddeeff")
	other := citycard.IssuerCode{0x21, 0, 0, 0, 0, 0, 0, 9}

	// Out of order on purpose: List sorts, and the highest version is
	// active whatever the order of Put.
	mustPut(t, s, keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 2}, keys.Alg3DES, k2)
	info := mustPut(t, s, keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 1}, keys.Alg3DES, k1)
	mustPut(t, s, keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1}, keys.AlgSM4, k1)
	mustPut(t, s, keys.Ref{Issuer: other, Type: keys.KeyPurchase, Version: 1}, keys.Alg3DES, k1)

	if want := [3]byte{0x08, 0xD7, 0xB4}; info.KCV != want { // openssl, see testdata/crypto.json
		t.Errorf("Put KCV = %X, want %X", info.KCV, want)
	}
	if info.Active {
		t.Error("v1 put after v2 reported active")
	}
	if !info.Created.Equal(testNow) || info.Origin != "generated" {
		t.Errorf("Put info = %+v", info)
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range list {
		got = append(got, i.Ref.String())
	}
	want := []string{
		"2100000000000009/purchase/v1",
		"3101000000000001/purchase/v1",
		"3101000000000001/tac/v1",
		"3101000000000001/tac/v2",
	}
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("List = %v, want %v", got, want)
		}
	}
	if !list[3].Active || list[2].Active {
		t.Errorf("active flags: v1 %v, v2 %v; want v2 only", list[2].Active, list[3].Active)
	}

	act, err := s.Active(testIssuer, keys.KeyTAC)
	if err != nil || act.Version != 2 {
		t.Errorf("Active(tac) = %v, %v; want v2", act.Ref, err)
	}
	if _, err := s.Active(testIssuer, keys.KeyLoad); !citycard.IsKind(err, citycard.KeyMissing) {
		t.Errorf("Active(load): err = %v, want kind KeyMissing", err)
	}
	if _, err := s.Info(keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 3}); !citycard.IsKind(err, citycard.KeyMissing) {
		t.Errorf("Info(v3): err = %v, want kind KeyMissing", err)
	}
	i2, err := s.Info(keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 2})
	if err != nil || !i2.Active || i2.Alg != keys.Alg3DES {
		t.Errorf("Info(v2) = %+v, %v", i2, err)
	}

	// Errors: a taken ref, a bad key.
	if _, err := s.Put(keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 2}, keys.Alg3DES, k1, "x", testNow); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("Put of a taken ref: err = %v, want kind Exists", err)
	}
	if _, err := s.Put(keys.Ref{Issuer: testIssuer, Type: keys.KeyLoad, Version: 1}, keys.Alg3DES, k1[:8], "x", testNow); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("Put of an 8-byte key: err = %v, want kind Invalid", err)
	}
	if _, err := s.Put(keys.Ref{Issuer: testIssuer, Type: keys.KeyLoad, Version: 1}, keys.Alg(7), k1, "x", testNow); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("Put with an unknown alg: err = %v, want kind Invalid", err)
	}
}

func TestMemStoreDeriveInto(t *testing.T) {
	cv := readCryptoVectors(t)
	for _, v := range cv.TwoLevel {
		alg := mustAlg(t, v.Alg)
		s := keys.NewMemStore()
		master := unhex(t, v.Master)
		ref := keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1}
		mustPut(t, s, ref, alg, master)
		issuer, asn := unhex(t, v.Issuer), unhex(t, v.ASN)

		// One level: the card key straight from the master key.
		var dst [keys.KeyLen]byte
		gotAlg, err := s.DeriveInto(&dst, ref, asn)
		if err != nil || gotAlg != alg {
			t.Fatalf("%v: DeriveInto one level: %v, %v", alg, gotAlg, err)
		}
		want, _ := keys.Diversify(alg, master, asn)
		if !bytes.Equal(dst[:], want) {
			t.Errorf("%v: DeriveInto one level = %X, want %X", alg, dst, want)
		}

		// Two levels, checked against openssl; twice, the second time from
		// the cached intermediate key.
		for range 2 {
			if _, err := s.DeriveInto(&dst, ref, issuer, asn); err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, v.Child); !bytes.Equal(dst[:], want) {
				t.Errorf("%v: DeriveInto two levels = %X, openssl says %X", alg, dst, want)
			}
		}
		// Another intermediate id gives another key (the cache is per id).
		otherIssuer := append([]byte(nil), issuer...)
		otherIssuer[7] ^= 0xFF
		var dst2 [keys.KeyLen]byte
		if _, err := s.DeriveInto(&dst2, ref, otherIssuer, asn); err != nil || dst2 == dst {
			t.Errorf("%v: two levels under another issuer: %X, %v", alg, dst2, err)
		}

		if _, err := s.DeriveInto(&dst, ref); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("DeriveInto with no path: err = %v, want kind Invalid", err)
		}
		if _, err := s.DeriveInto(&dst, ref, asn, asn, asn); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("DeriveInto with 3 levels: err = %v, want kind Invalid", err)
		}
		missing := keys.Ref{Issuer: testIssuer, Type: keys.KeyLoad, Version: 1}
		if _, err := s.DeriveInto(&dst, missing, asn); !citycard.IsKind(err, citycard.KeyMissing) {
			t.Errorf("DeriveInto of a missing key: err = %v, want kind KeyMissing", err)
		}
	}
}

// TestMemStoreConcurrent runs readers against a writer; run with -race.
func TestMemStoreConcurrent(t *testing.T) {
	s := keys.NewMemStore()
	key := unhex(t, "0123456789abcdeffedcba9876543210")
	ref := keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1}
	mustPut(t, s, ref, keys.Alg3DES, key)
	asn := unhex(t, "3101000000001234")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var dst [keys.KeyLen]byte
			for i := range 200 {
				if _, err := s.Info(ref); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.DeriveInto(&dst, ref, []byte{byte(g), byte(i)}, asn); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.List(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for v := uint8(2); v <= 50; v++ {
		mustPut(t, s, keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: v}, keys.Alg3DES, key)
	}
	wg.Wait()
	if a, err := s.Active(testIssuer, keys.KeyPurchase); err != nil || a.Version != 50 {
		t.Errorf("Active = %v, %v; want v50", a.Ref, err)
	}
}

func BenchmarkDeriveInto(b *testing.B) {
	asn := unhex(b, "31010000000012345678")
	issuer := testIssuer[:]
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		s := keys.NewMemStore()
		ref := keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1}
		mustPut(b, s, ref, alg, unhex(b, "0123456789abcdeffedcba9876543210"))
		var dst [keys.KeyLen]byte
		b.Run(alg.String()+"/one-level", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.DeriveInto(&dst, ref, asn); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg.String()+"/two-levels", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.DeriveInto(&dst, ref, issuer, asn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPurchaseTAC is the back office's check of one purchase record:
// derive the card's DTK from the store, fold it, MAC the TAC data.
func BenchmarkPurchaseTAC(b *testing.B) {
	asn := unhex(b, "31010000000012345678")
	tid := citycard.TerminalID{0x31, 0x01, 0, 0, 0, 0x42}
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		s := keys.NewMemStore()
		ref := keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 1}
		mustPut(b, s, ref, alg, unhex(b, "f0e1d2c3b4a5968778695a4b3c2d1e0f"))
		b.Run(alg.String(), func(b *testing.B) {
			b.ReportAllocs()
			var dtk [keys.KeyLen]byte
			var buf [32]byte
			d, tm := citycard.DateTime(testNow)
			for b.Loop() {
				if _, err := s.DeriveInto(&dtk, ref, asn); err != nil {
					b.Fatal(err)
				}
				data := keys.AppendPurchaseTACData(buf[:0], 200, citycard.TxPurchase, tid, 12345, d, tm)
				if _, err := keys.MAC(alg, keys.TACKey(alg, dtk[:]), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDeriveIntoAllocs pins the Store contract: deriving a card key on the
// verification hot path does not allocate.
func TestDeriveIntoAllocs(t *testing.T) {
	asn := unhex(t, "31010000000012345678")
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		s := keys.NewMemStore()
		ref := keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 1}
		mustPut(t, s, ref, alg, unhex(t, "f0e1d2c3b4a5968778695a4b3c2d1e0f"))
		var dst [keys.KeyLen]byte
		s.DeriveInto(&dst, ref, testIssuer[:], asn) // fill the intermediate cache
		one := testing.AllocsPerRun(100, func() { s.DeriveInto(&dst, ref, asn) })
		two := testing.AllocsPerRun(100, func() { s.DeriveInto(&dst, ref, testIssuer[:], asn) })
		if one != 0 || two != 0 {
			t.Errorf("%v: DeriveInto allocates %v (one level), %v (two levels) times, want 0", alg, one, two)
		}
	}
}
