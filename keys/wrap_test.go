package keys_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// TestWrapOpenSSL opens the wrapped keys of testdata/crypto.json (made by
// genvectors.sh with openssl) with the PSAM's transport key, derived from
// the transport master as the PSAM's vendor derives it, and checks that
// Store.Wrap makes keys that open the same way.
func TestWrapOpenSSL(t *testing.T) {
	for _, v := range readCryptoVectors(t).Wrap {
		alg, keyAlg := mustAlg(t, v.Alg), mustAlg(t, v.KeyAlg)
		ref, err := keys.ParseRef(v.Ref)
		if err != nil {
			t.Fatal(err)
		}
		id, key := unhex(t, v.PSAMID), unhex(t, v.Key)
		tk, err := keys.Diversify(alg, unhex(t, v.TransportMaster), id)
		if err != nil || !bytes.Equal(tk, unhex(t, v.TransportKey)) {
			t.Errorf("%s: transport key = %X, %v; openssl says %s", v.Ref, tk, err, v.TransportKey)
			continue
		}
		gotAlg, got, err := keys.UnwrapKey(tk, ref, unhex(t, v.Wrapped))
		if err != nil || gotAlg != keyAlg || !bytes.Equal(got, key) {
			t.Errorf("%s: UnwrapKey(vector) = %v %X, %v; want %v %s", v.Ref, gotAlg, got, err, keyAlg, v.Key)
		}

		s := keys.NewMemStore()
		tref := keys.Ref{Issuer: ref.Issuer, Type: keys.KeyTransport, Version: 1}
		mustPut(t, s, tref, alg, unhex(t, v.TransportMaster))
		mustPut(t, s, ref, keyAlg, key)
		w, err := s.Wrap(ref, tref, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != keys.WrappedLen || bytes.Equal(w, unhex(t, v.Wrapped)) {
			t.Errorf("%s: Wrap gave %d bytes equal to the fixed-nonce vector: want %d bytes under a random nonce", v.Ref, len(w), keys.WrappedLen)
		}
		gotAlg, got, err = keys.UnwrapKey(tk, ref, w)
		if err != nil || gotAlg != keyAlg || !bytes.Equal(got, key) {
			t.Errorf("%s: UnwrapKey(Wrap) = %v %X, %v; want %v %s", v.Ref, gotAlg, got, err, keyAlg, v.Key)
		}
	}
}

// wrapKeys are the keys of the wrap tests: one of each type, the
// maintenance key SM4 under a 3DES transport master.
var wrapKeys = []struct {
	typ keys.KeyType
	alg keys.Alg
	key string
}{
	{keys.KeyPurchase, keys.Alg3DES, keyA},
	{keys.KeyLoad, keys.Alg3DES, keyB},
	{keys.KeyTAC, keys.Alg3DES, keyC},
	{keys.KeyMaintenance, keys.AlgSM4, keyB},
	{keys.KeyRecord, keys.Alg3DES, keyC},
	{keys.KeyTransport, keys.Alg3DES, "2b7e151628aed2a6abf7158809cf4f3c"},
}

// wrapStores returns a MemStore and a FileStore holding wrapKeys, each
// at version 1 of testIssuer.
func wrapStores(t *testing.T) map[string]keys.Store {
	t.Helper()
	mem := keys.NewMemStore()
	fs, _, _ := newTestStore(t)
	if err := fs.SetOperator("ann"); err != nil {
		t.Fatal(err)
	}
	for _, k := range wrapKeys {
		mustPut(t, mem, keys.Ref{Issuer: testIssuer, Type: k.typ, Version: 1}, k.alg, unhex(t, k.key))
		if _, err := fs.Add(newKey(t, k.typ, k.alg, k.key)); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]keys.Store{"MemStore": mem, "FileStore": fs}
}

func TestWrapRules(t *testing.T) {
	ref := func(typ keys.KeyType, v uint8) keys.Ref { return keys.Ref{Issuer: testIssuer, Type: typ, Version: v} }
	purchase, maintenance, transport := ref(keys.KeyPurchase, 1), ref(keys.KeyMaintenance, 1), ref(keys.KeyTransport, 1)
	psamA := []byte{0x31, 0x50, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01}
	psamB := []byte{0x31, 0x50, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x02}
	operator := []byte{0x31, 0x50, 0, 0, 0, 0, 0, 0x09}
	tmk := unhex(t, wrapKeys[len(wrapKeys)-1].key)
	vendorKey := func(path ...[]byte) []byte { // the PSAM's transport key, as its vendor derives it
		t.Helper()
		k := tmk
		for _, id := range path {
			var err error
			if k, err = keys.Diversify(keys.Alg3DES, k, id); err != nil {
				t.Fatal(err)
			}
		}
		return k
	}

	for name, s := range wrapStores(t) {
		t.Run(name, func(t *testing.T) {
			w, err := s.Wrap(purchase, transport, psamA)
			if err != nil {
				t.Fatal(err)
			}
			alg, got, err := keys.UnwrapKey(vendorKey(psamA), purchase, w)
			if err != nil || alg != keys.Alg3DES || !bytes.Equal(got, unhex(t, keyA)) {
				t.Fatalf("UnwrapKey = %v %X, %v; want 3DES %s", alg, got, err, keyA)
			}
			if bytes.Contains(w, unhex(t, keyA)) {
				t.Error("the wrapped key holds the key in clear")
			}
			// Only this PSAM's transport key opens it, and only as the key
			// it is.
			if _, _, err := keys.UnwrapKey(vendorKey(psamB), purchase, w); !citycard.IsKind(err, citycard.Crypto) {
				t.Errorf("UnwrapKey with another PSAM's transport key: err = %v, want kind Crypto", err)
			}
			if _, _, err := keys.UnwrapKey(tmk, purchase, w); !citycard.IsKind(err, citycard.Crypto) {
				t.Errorf("UnwrapKey with the transport master itself: err = %v, want kind Crypto", err)
			}
			if _, _, err := keys.UnwrapKey(vendorKey(psamA), maintenance, w); !citycard.IsKind(err, citycard.Crypto) {
				t.Errorf("UnwrapKey as another ref: err = %v, want kind Crypto", err)
			}
			if _, _, err := keys.UnwrapKey(vendorKey(psamA), ref(keys.KeyPurchase, 2), w); !citycard.IsKind(err, citycard.Crypto) {
				t.Errorf("UnwrapKey as another version: err = %v, want kind Crypto", err)
			}
			for i := range w {
				bad := bytes.Clone(w)
				bad[i] ^= 0x80
				if _, _, err := keys.UnwrapKey(vendorKey(psamA), purchase, bad); !citycard.IsKind(err, citycard.Crypto) {
					t.Fatalf("UnwrapKey with byte %d flipped: err = %v, want kind Crypto", i, err)
				}
			}
			if _, _, err := keys.UnwrapKey(vendorKey(psamA), purchase, w[:len(w)-1]); !citycard.IsKind(err, citycard.Invalid) {
				t.Errorf("UnwrapKey of a short wrapping: err = %v, want kind Invalid", err)
			}
			if _, _, err := keys.UnwrapKey(vendorKey(psamA)[:8], purchase, w); !citycard.IsKind(err, citycard.Invalid) {
				t.Errorf("UnwrapKey with an 8-byte transport key: err = %v, want kind Invalid", err)
			}
			again, err := s.Wrap(purchase, transport, psamA)
			if err != nil || bytes.Equal(again, w) {
				t.Errorf("a second wrap: %v, identical %v; want a fresh nonce", err, bytes.Equal(again, w))
			}

			// The algorithm travels inside the wrapping.
			w, err = s.Wrap(maintenance, transport, psamA)
			if err != nil {
				t.Fatal(err)
			}
			if alg, got, err := keys.UnwrapKey(vendorKey(psamA), maintenance, w); err != nil || alg != keys.AlgSM4 || !bytes.Equal(got, unhex(t, keyB)) {
				t.Errorf("UnwrapKey(maintenance) = %v %X, %v; want SM4 %s", alg, got, err, keyB)
			}
			// A two-level path: the transport key of a PSAM under an operator.
			w, err = s.Wrap(purchase, transport, operator, psamA)
			if err != nil {
				t.Fatal(err)
			}
			if _, got, err := keys.UnwrapKey(vendorKey(operator, psamA), purchase, w); err != nil || !bytes.Equal(got, unhex(t, keyA)) {
				t.Errorf("UnwrapKey(two levels) = %X, %v; want %s", got, err, keyA)
			}

			// No transport key leaves the store, in clear or wrapped.
			var dst [keys.KeyLen]byte
			if _, err := s.DeriveInto(&dst, transport, psamA); !citycard.IsKind(err, citycard.Permission) || dst != ([keys.KeyLen]byte{}) {
				t.Errorf("DeriveInto(transport) = %X, %v; want nothing, kind Permission", dst, err)
			}
			if _, err := s.DeriveInto(&dst, transport, operator, psamA); !citycard.IsKind(err, citycard.Permission) {
				t.Errorf("DeriveInto(transport, two levels): err = %v, want kind Permission", err)
			}
			for _, tc := range []struct {
				name       string
				ref, under keys.Ref
				path       [][]byte
				kind       citycard.Kind
			}{
				{"a transport key", transport, transport, [][]byte{psamA}, citycard.Permission},
				{"a load key", ref(keys.KeyLoad, 1), transport, [][]byte{psamA}, citycard.Permission},
				{"a TAC key", ref(keys.KeyTAC, 1), transport, [][]byte{psamA}, citycard.Permission},
				{"a record master key", ref(keys.KeyRecord, 1), transport, [][]byte{psamA}, citycard.Permission},
				{"under a purchase key", purchase, purchase, [][]byte{psamA}, citycard.Permission},
				{"under a record key", purchase, ref(keys.KeyRecord, 1), [][]byte{psamA}, citycard.Permission},
				{"under a missing transport key", purchase, ref(keys.KeyTransport, 2), [][]byte{psamA}, citycard.KeyMissing},
				{"a missing key", ref(keys.KeyPurchase, 9), transport, [][]byte{psamA}, citycard.KeyMissing},
				{"no path", purchase, transport, nil, citycard.Invalid},
				{"three levels", purchase, transport, [][]byte{operator, operator, psamA}, citycard.Invalid},
				{"an empty id", purchase, transport, [][]byte{{}}, citycard.Invalid},
				{"an id of 17 bytes", purchase, transport, [][]byte{make([]byte, 17)}, citycard.Invalid},
			} {
				w, err := s.Wrap(tc.ref, tc.under, tc.path...)
				if !citycard.IsKind(err, tc.kind) || w != nil {
					t.Errorf("Wrap %s: %d bytes, err = %v; want nothing, kind %v", tc.name, len(w), err, tc.kind)
				}
			}
		})
	}
}

// TestFileStoreWrapLogged: every export is in the event log, saved before
// the wrapped key is returned, with who made it and for which PSAM; a
// store with no operator named exports nothing.
func TestFileStoreWrapLogged(t *testing.T) {
	s, path, clk := newTestStore(t)
	for _, k := range wrapKeys {
		if _, err := s.Add(newKey(t, k.typ, k.alg, k.key)); err != nil {
			t.Fatal(err)
		}
	}
	purchase := keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1}
	transport := keys.Ref{Issuer: testIssuer, Type: keys.KeyTransport, Version: 1}
	psam := []byte{0x31, 0x50, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01}
	before := readFile(t, path)

	if _, err := s.Wrap(purchase, transport, psam); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("Wrap with no operator named: err = %v, want kind Permission", err)
	}
	for _, bad := range []string{"", "ann\n", "0123456789abcdef0123"} {
		if err := s.SetOperator(bad); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("SetOperator(%q): err = %v, want kind Invalid", bad, err)
		}
	}
	if err := s.SetOperator("ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Wrap(keys.Ref{Issuer: testIssuer, Type: keys.KeyLoad, Version: 1}, transport, psam); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("Wrap(load): err = %v, want kind Permission", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Fatal("refused exports changed the store file")
	}

	clk.advance(time.Minute)
	if _, err := s.Wrap(purchase, transport, psam); err != nil {
		t.Fatal(err)
	}
	s2, err := keys.OpenFileStore(path, testKEK, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := s2.Events()
	if len(evs) != len(wrapKeys)+1 {
		t.Fatalf("%d events, want %d", len(evs), len(wrapKeys)+1)
	}
	ev := evs[len(evs)-1]
	info, _ := s2.Info(purchase)
	if ev.Kind != keys.EventWrapped || ev.Ref != purchase || ev.Transport != transport || ev.By != "ann" ||
		len(ev.Path) != 1 || !bytes.Equal(ev.Path[0], psam) || ev.KCV != info.KCV || ev.Alg != info.Alg ||
		!ev.Time.Equal(clk.now()) || ev.Seq != len(evs) {
		t.Errorf("export event = %+v", ev)
	}
	// The export is on the hash chain: altering it is seen.
	if l, _ := s2.List(); len(l) != len(wrapKeys) {
		t.Errorf("reopened store lists %d keys, want %d", len(l), len(wrapKeys))
	}
	raw := readFile(t, path)
	for _, edit := range [][2]string{{`"by": "ann"`, `"by": "bob"`}, {`"path": [`, `"path": ["00",`}} {
		p := filepath.Join(t.TempDir(), "keys.json")
		writeFile(t, p, bytes.Replace(raw, []byte(edit[0]), []byte(edit[1]), 1))
		if _, err := keys.OpenFileStore(p, testKEK, nil); !citycard.IsKind(err, citycard.Crypto) {
			t.Errorf("export event edited (%s): err = %v, want kind Crypto", edit[1], err)
		}
	}
}

// TestFileStoreExportsFull: exports may fill the file up to their limit,
// not a byte more, and a store full of exports still takes keys.
func TestFileStoreExportsFull(t *testing.T) {
	s, path, _ := newTestStore(t)
	for _, k := range wrapKeys {
		if _, err := s.Add(newKey(t, k.typ, k.alg, k.key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetOperator("ann"); err != nil {
		t.Fatal(err)
	}
	purchase := keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1}
	transport := keys.Ref{Issuer: testIssuer, Type: keys.KeyTransport, Version: 1}
	psam := []byte{0x31, 0x50, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01}
	wrap := func() error {
		_, err := s.Wrap(purchase, transport, psam)
		return err
	}
	if err := wrap(); err != nil {
		t.Fatal(err)
	}
	n1 := len(readFile(t, path))
	if err := wrap(); err != nil {
		t.Fatal(err)
	}
	n2 := len(readFile(t, path))
	// Room for exactly one more export of the same size: events 7 and 8
	// were the two exports, 9 has as many digits.
	keys.SetExportBytesMax(s, n2+(n2-n1))
	if err := wrap(); err != nil {
		t.Fatalf("the export that fills the file to its limit: %v", err)
	}
	full := readFile(t, path)
	if len(full) != n2+(n2-n1) {
		t.Fatalf("file of %d bytes, want exactly the limit %d", len(full), n2+(n2-n1))
	}
	if err := wrap(); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("an export past the limit: err = %v, want kind Conflict", err)
	}
	if !bytes.Equal(full, readFile(t, path)) {
		t.Error("the refused export changed the file")
	}
	if _, err := s.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyC)); err != nil {
		t.Errorf("Add to a store full of exports: %v", err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// FuzzUnwrapKey: whatever a host relays into a PSAM, UnwrapKey opens only
// what the store wrapped for it, and refuses the rest with kind Invalid
// or Crypto.
func FuzzUnwrapKey(f *testing.F) {
	v := readCryptoVectors(f).Wrap[0]
	tk, ref := unhex(f, v.TransportKey), v.Ref
	f.Add(unhex(f, v.Wrapped), ref)
	f.Add(unhex(f, v.Wrapped)[:keys.WrappedLen-1], ref)
	f.Add([]byte{}, "3150000100000000/maintenance/v1")
	f.Fuzz(func(t *testing.T, wrapped []byte, refText string) {
		r, err := keys.ParseRef(refText)
		if err != nil {
			return
		}
		alg, key, err := keys.UnwrapKey(tk, r, wrapped)
		if err != nil {
			if k := citycard.KindOf(err); k != citycard.Invalid && k != citycard.Crypto {
				t.Fatalf("err = %v, kind %v; want Invalid or Crypto", err, k)
			}
			return
		}
		if r.String() != v.Ref || !bytes.Equal(wrapped, unhex(t, v.Wrapped)) || alg != mustAlg(t, v.KeyAlg) || !bytes.Equal(key, unhex(t, v.Key)) {
			t.Fatalf("opened %X as %v: %v %X", wrapped, r, alg, key)
		}
	})
}
