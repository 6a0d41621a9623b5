package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

func TestSealOpenGCM(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, 32)
	plain := []byte("a master key, 16")
	ad := []byte("3101000000000001/purchase/v1")
	sealed, err := sealGCM(kek, plain, ad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 12+len(plain)+16 {
		t.Errorf("sealed length %d, want nonce + plain + tag = %d", len(sealed), 12+len(plain)+16)
	}
	got, err := openGCM(kek, sealed, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("openGCM = %q, %v", got, err)
	}

	// Any flipped bit, in the nonce, the ciphertext or the tag, is caught.
	for i := range sealed {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 0x01
		if _, err := openGCM(kek, bad, ad); !citycard.IsKind(err, citycard.Crypto) {
			t.Fatalf("openGCM with byte %d flipped: err = %v, want kind Crypto", i, err)
		}
	}
	wrongKEK := bytes.Repeat([]byte{8}, 32)
	if _, err := openGCM(wrongKEK, sealed, ad); !citycard.IsKind(err, citycard.Crypto) {
		t.Errorf("openGCM under the wrong key: err = %v, want kind Crypto", err)
	}
	if _, err := openGCM(kek, sealed, []byte("3101000000000001/purchase/v2")); !citycard.IsKind(err, citycard.Crypto) {
		t.Errorf("openGCM with the wrong ad: err = %v, want kind Crypto", err)
	}
	if _, err := openGCM(kek, sealed[:len(sealed)-1], ad); !citycard.IsKind(err, citycard.Crypto) {
		t.Errorf("openGCM of a truncated seal: err = %v, want kind Crypto", err)
	}
	if _, err := openGCM(kek, sealed[:27], ad); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("openGCM of 27 bytes: err = %v, want kind Invalid", err)
	}
	if _, err := sealGCM(kek[:16], plain, ad); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("sealGCM under a 16-byte key: err = %v, want kind Invalid", err)
	}
}

// TestWrappingKeyOpenSSL checks the wrapping key of each PSAM transport
// key of testdata/crypto.json against openssl's HKDF, and that the wrap
// with the vector's nonce gives the vector's bytes (the GCM that
// genvectors.sh computes from openssl's AES).
func TestWrappingKeyOpenSSL(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "crypto.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cv struct {
		Wrap []struct {
			TransportKey string `json:"transport_key"`
			KWK          string `json:"kwk"`
			Ref          string `json:"ref"`
			KeyAlg       string `json:"key_alg"`
			Key          string `json:"key"`
			Nonce        string `json:"nonce"`
			Wrapped      string `json:"wrapped"`
		} `json:"wrap"`
	}
	if err := json.Unmarshal(b, &cv); err != nil || len(cv.Wrap) == 0 {
		t.Fatalf("crypto.json wrap vectors: %v (%d)", err, len(cv.Wrap))
	}
	dec := func(s string) []byte {
		t.Helper()
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, v := range cv.Wrap {
		kwk, err := wrappingKey(dec(v.TransportKey))
		if err != nil || !bytes.Equal(kwk, dec(v.KWK)) {
			t.Errorf("%s: wrappingKey = %x, %v; openssl says %s", v.Ref, kwk, err, v.KWK)
			continue
		}
		ref, err := ParseRef(v.Ref)
		if err != nil {
			t.Fatal(err)
		}
		alg, err := ParseAlg(v.KeyAlg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wrapKeyNonce(dec(v.TransportKey), ref, alg, dec(v.Key), dec(v.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, dec(v.Wrapped)) {
			t.Errorf("%s: wrapped = %x, genvectors.sh says %s", v.Ref, got, v.Wrapped)
		}
	}
}

// TestLoadRefusesBadExports writes stores whose log is intact (chained,
// its head sealed under the KEK, as only a writer holding the KEK could
// make it) but holds an export that Wrap would never have made: the store
// refuses to open.
func TestLoadRefusesBadExports(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 24, 8, 30, 0, 0, time.UTC) }
	issuer := citycard.IssuerCode{0x31, 0x01, 0, 0, 0, 0, 0, 1}
	ref := func(typ KeyType) Ref { return Ref{Issuer: issuer, Type: typ, Version: 1} }
	kek := bytes.Repeat([]byte{0x4B}, KEKLen)
	psam := [][]byte{{0x31, 0x50, 0, 0, 0, 0, 1, 0, 0, 1}}
	good := func(s *FileStore, r Ref) Event {
		info, err := s.Info(r)
		if err != nil {
			t.Fatal(err)
		}
		return Event{Time: now(), Kind: EventWrapped, Ref: r, Alg: info.Alg, KCV: info.KCV, By: "ann", Transport: ref(KeyTransport), Path: psam}
	}
	for _, tc := range []struct {
		name string
		ev   func(s *FileStore) Event
	}{
		{"a load key exported", func(s *FileStore) Event { return good(s, ref(KeyLoad)) }},
		{"a transport key exported", func(s *FileStore) Event { return good(s, ref(KeyTransport)) }},
		{"a key never created", func(s *FileStore) Event {
			e := good(s, ref(KeyPurchase))
			e.Ref.Version = 2
			return e
		}},
		{"under a purchase key", func(s *FileStore) Event {
			e := good(s, ref(KeyPurchase))
			e.Transport = ref(KeyPurchase)
			return e
		}},
		{"under a transport key never created", func(s *FileStore) Event {
			e := good(s, ref(KeyPurchase))
			e.Transport.Version = 2
			return e
		}},
		{"another KCV", func(s *FileStore) Event {
			e := good(s, ref(KeyPurchase))
			e.KCV[0] ^= 1
			return e
		}},
		{"with an origin", func(s *FileStore) Event {
			e := good(s, ref(KeyPurchase))
			e.Origin = "generated"
			return e
		}},
		{"no path", func(s *FileStore) Event {
			e := good(s, ref(KeyPurchase))
			e.Path = nil
			return e
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			s, err := CreateFileStore(path, kek, now)
			if err != nil {
				t.Fatal(err)
			}
			for i, typ := range []KeyType{KeyPurchase, KeyLoad, KeyTransport} {
				k := bytes.Repeat([]byte{byte(0x10 * (i + 1))}, KeyLen)
				k[0] ^= 0xFF
				if _, err := s.Add(NewKey{Issuer: issuer, Type: typ, Alg: Alg3DES, Key: k}); err != nil {
					t.Fatal(err)
				}
			}
			ev := tc.ev(s)
			ev.Seq = len(s.doc.Events) + 1
			doc := storeDoc{Format: storeFormat, Keys: s.doc.Keys, Events: slices.Clone(s.doc.Events)}
			head, err := s.appendEvent(&doc, ev)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.sealHead(&doc, head); err != nil {
				t.Fatal(err)
			}
			data, err := s.encode(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenFileStore(path, kek, nil); !citycard.IsKind(err, citycard.Invalid) {
				t.Errorf("err = %v, want kind Invalid", err)
			}
		})
	}
}
