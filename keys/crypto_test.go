package keys_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// cryptoVectors is testdata/crypto.json, written by testdata/genvectors.sh
// with openssl.
type cryptoVectors struct {
	KCV []struct {
		Alg string `json:"alg"`
		Key string `json:"key"`
		KCV string `json:"kcv"`
	} `json:"kcv"`
	MAC []struct {
		Alg  string `json:"alg"` // des (8-byte key), sm4, retail (16-byte 3DES key)
		Key  string `json:"key"`
		Data string `json:"data"`
		MAC  string `json:"mac"`
	} `json:"mac"`
	Diversify []struct {
		Alg    string `json:"alg"`
		Master string `json:"master"`
		ID     string `json:"id"`
		Child  string `json:"child"`
	} `json:"diversify"`
	TwoLevel []struct {
		Alg    string `json:"alg"`
		Master string `json:"master"`
		Issuer string `json:"issuer"`
		ASN    string `json:"asn"`
		Child  string `json:"child"`
	} `json:"two_level"`
	Components []struct {
		Alg        string   `json:"alg"`
		Components []string `json:"components"`
		KCVs       []string `json:"kcvs"`
		Key        string   `json:"key"`
		KCV        string   `json:"kcv"`
	} `json:"components"`
	Wrap []wrapVector `json:"wrap"`
}

// wrapVector is a master key wrapped for a PSAM (Store.Wrap, UnwrapKey).
type wrapVector struct {
	Alg             string `json:"alg"` // the transport master key's
	TransportMaster string `json:"transport_master"`
	PSAMID          string `json:"psam_id"`
	TransportKey    string `json:"transport_key"` // the master diversified by the PSAM ID
	KWK             string `json:"kwk"`           // checked by the package's own test
	Ref             string `json:"ref"`
	KeyAlg          string `json:"key_alg"`
	Key             string `json:"key"`
	Nonce           string `json:"nonce"`
	Wrapped         string `json:"wrapped"`
}

func readCryptoVectors(t testing.TB) cryptoVectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "crypto.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var cv cryptoVectors
	if err := dec.Decode(&cv); err != nil {
		t.Fatalf("crypto.json: %v", err)
	}
	if len(cv.KCV) == 0 || len(cv.MAC) == 0 || len(cv.Diversify) == 0 || len(cv.TwoLevel) == 0 || len(cv.Components) == 0 || len(cv.Wrap) == 0 {
		t.Fatal("crypto.json: a section is empty")
	}
	return cv
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func mustAlg(t testing.TB, s string) keys.Alg {
	t.Helper()
	a, err := keys.ParseAlg(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestKCVOpenSSL(t *testing.T) {
	for _, v := range readCryptoVectors(t).KCV {
		got, err := keys.KCV(mustAlg(t, v.Alg), unhex(t, v.Key))
		if err != nil {
			t.Errorf("KCV(%s, %s): %v", v.Alg, v.Key, err)
			continue
		}
		if want := unhex(t, v.KCV); !bytes.Equal(got[:], want) {
			t.Errorf("KCV(%s, %s) = %X, openssl says %X", v.Alg, v.Key, got, want)
		}
	}
}

// TestMACOpenSSL covers the padding edge cases: empty data, one byte short
// of a block, exactly a block (which gets a whole padding block), one byte
// over, for DES, SM4 and the retail MAC.
func TestMACOpenSSL(t *testing.T) {
	for _, v := range readCryptoVectors(t).MAC {
		alg := keys.Alg3DES
		switch v.Alg {
		case "sm4":
			alg = keys.AlgSM4
		case "des", "retail":
		default:
			t.Fatalf("crypto.json: mac alg %q", v.Alg)
		}
		data := unhex(t, v.Data)
		want := unhex(t, v.MAC)
		got, err := keys.MAC(alg, unhex(t, v.Key), data)
		if err != nil {
			t.Errorf("MAC(%s, %d bytes): %v", v.Alg, len(data), err)
			continue
		}
		if !bytes.Equal(got[:], want) {
			t.Errorf("MAC(%s, %d bytes) = %X, openssl says %X", v.Alg, len(data), got, want)
		}
		// The data may come in pieces; the MAC is that of their concatenation.
		if len(data) > 1 {
			split, err := keys.MAC(alg, unhex(t, v.Key), data[:1], nil, data[1:])
			if err != nil || split != got {
				t.Errorf("MAC(%s, %d bytes in pieces) = %X, %v; want %X", v.Alg, len(data), split, err, got)
			}
		}
	}
}

func TestDiversifyOpenSSL(t *testing.T) {
	cv := readCryptoVectors(t)
	for _, v := range cv.Diversify {
		got, err := keys.Diversify(mustAlg(t, v.Alg), unhex(t, v.Master), unhex(t, v.ID))
		if err != nil {
			t.Errorf("Diversify(%s, id %q): %v", v.Alg, v.ID, err)
			continue
		}
		if want := unhex(t, v.Child); !bytes.Equal(got, want) {
			t.Errorf("Diversify(%s, id %q) = %X, openssl says %X", v.Alg, v.ID, got, want)
		}
	}
	for _, v := range cv.TwoLevel {
		alg := mustAlg(t, v.Alg)
		mid, err := keys.Diversify(alg, unhex(t, v.Master), unhex(t, v.Issuer))
		if err != nil {
			t.Fatal(err)
		}
		got, err := keys.Diversify(alg, mid, unhex(t, v.ASN))
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, v.Child); !bytes.Equal(got, want) {
			t.Errorf("two-level %s = %X, openssl says %X", v.Alg, got, want)
		}
	}
}

// TestMACPadding checks the padding rule without openssl: the MAC of data
// equals the CBC-MAC, with no padding, of data || 80 || zeros, so data that
// already ends like padding is not confused with shorter data.
func TestMACPadding(t *testing.T) {
	key8 := unhex(t, "133457799bbcdff1")
	key16 := unhex(t, "0123456789abcdeffedcba9876543210")
	for _, tc := range []struct {
		alg keys.Alg
		key []byte
	}{{keys.Alg3DES, key8}, {keys.AlgSM4, key16}} {
		bs := tc.alg.BlockSize()
		for n := 0; n <= 3*bs; n++ {
			data := bytes.Repeat([]byte{0xA5}, n)
			got, err := keys.MAC(tc.alg, tc.key, data)
			if err != nil {
				t.Fatal(err)
			}
			// data || 80, then the MAC of that with its own padding must
			// differ: method 2 always adds at least one byte.
			withPad, err := keys.MAC(tc.alg, tc.key, data, []byte{0x80})
			if err != nil {
				t.Fatal(err)
			}
			if got == withPad {
				t.Errorf("%v: MAC of %d bytes equals MAC of the same || 80", tc.alg, n)
			}
		}
	}
	// The longest data accepted is 256 bytes; more is a programmer error.
	if _, err := keys.MAC(keys.AlgSM4, key16, make([]byte, 256)); err != nil {
		t.Errorf("MAC of 256 bytes: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MAC of 257 bytes did not panic")
			}
		}()
		keys.MAC(keys.Alg3DES, key8, make([]byte, 200), make([]byte, 57))
	}()
}

func TestKeyLengths(t *testing.T) {
	k := func(n int) []byte { return bytes.Repeat([]byte{0x5A}, n) }
	for _, tc := range []struct {
		name string
		fn   func() error
	}{
		{"NewBlock 3DES 7 bytes", func() error { _, err := keys.NewBlock(keys.Alg3DES, k(7)); return err }},
		{"NewBlock 3DES 24 bytes", func() error { _, err := keys.NewBlock(keys.Alg3DES, k(24)); return err }},
		{"NewBlock SM4 8 bytes", func() error { _, err := keys.NewBlock(keys.AlgSM4, k(8)); return err }},
		{"NewBlock SM4 32 bytes", func() error { _, err := keys.NewBlock(keys.AlgSM4, k(32)); return err }},
		{"NewBlock unknown alg", func() error { _, err := keys.NewBlock(keys.Alg(0x07), k(16)); return err }},
		{"NewDiversifier 3DES 8 bytes", func() error { _, err := keys.NewDiversifier(keys.Alg3DES, k(8)); return err }},
		{"NewDiversifier SM4 0 bytes", func() error { _, err := keys.NewDiversifier(keys.AlgSM4, nil); return err }},
		{"Diversify 3DES 24 bytes", func() error { _, err := keys.Diversify(keys.Alg3DES, k(24), k(8)); return err }},
		{"SessionKey 3DES 8 bytes", func() error { _, err := keys.SessionKey(keys.Alg3DES, k(8), [8]byte{}); return err }},
		{"SessionKey SM4 15 bytes", func() error { _, err := keys.SessionKey(keys.AlgSM4, k(15), [8]byte{}); return err }},
		{"MAC 3DES 3 bytes", func() error { _, err := keys.MAC(keys.Alg3DES, k(3), nil); return err }},
		{"MAC SM4 8 bytes", func() error { _, err := keys.MAC(keys.AlgSM4, k(8), nil); return err }},
		{"KCV 3DES 17 bytes", func() error { _, err := keys.KCV(keys.Alg3DES, k(17)); return err }},
		{"KCV SM4 8 bytes", func() error { _, err := keys.KCV(keys.AlgSM4, k(8)); return err }},
		{"PurchaseProof SM4 short DPK", func() error {
			_, err := keys.PurchaseProof(keys.AlgSM4, k(8), k(16), &keys.Purchase{})
			return err
		}},
		{"LoadProof 3DES short DLK", func() error {
			_, err := keys.LoadProof(keys.Alg3DES, k(8), k(16), &keys.Load{})
			return err
		}},
	} {
		err := tc.fn()
		if !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: err = %v (kind %v), want kind Invalid", tc.name, err, citycard.KindOf(err))
		}
	}
}

func TestTACKey(t *testing.T) {
	dtk := unhex(t, "0123456789abcdeffedcba9876543210")
	if got, want := keys.TACKey(keys.Alg3DES, dtk), unhex(t, "ffffffffffffffff"); !bytes.Equal(got, want) {
		t.Errorf("TACKey(3DES) = %X, want %X", got, want)
	}
	got := keys.TACKey(keys.AlgSM4, dtk)
	if !bytes.Equal(got, dtk) {
		t.Errorf("TACKey(SM4) = %X, want the DTK itself", got)
	}
	got[0] ^= 1
	if dtk[0] != 0x01 {
		t.Error("TACKey(SM4) returned the caller's slice, not a copy")
	}
}

func TestSessionInputs(t *testing.T) {
	p := keys.PurchaseSessionInput([4]byte{1, 2, 3, 4}, 0xABCD, 0x89ABCDEF)
	if want := unhex(t, "01020304abcdcdef"); !bytes.Equal(p[:], want) {
		t.Errorf("PurchaseSessionInput = %X, want %X", p, want)
	}
	l := keys.LoadSessionInput([4]byte{1, 2, 3, 4}, 0xFFFE)
	if want := unhex(t, "01020304fffe8000"); !bytes.Equal(l[:], want) {
		t.Errorf("LoadSessionInput = %X, want %X", l, want)
	}
}

func TestParseAlg(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want keys.Alg
		ok   bool
	}{
		{"3des", keys.Alg3DES, true}, {"3DES", keys.Alg3DES, true}, {"00", keys.Alg3DES, true},
		{"sm4", keys.AlgSM4, true}, {"SM4", keys.AlgSM4, true}, {"04", keys.AlgSM4, true},
		{"des", 0, false}, {"", 0, false}, {"aes", 0, false},
	} {
		got, err := keys.ParseAlg(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseAlg(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if !tc.ok && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("ParseAlg(%q): err = %v, want kind Invalid", tc.in, err)
		}
	}
	if keys.Alg3DES.String() != "3DES" || keys.AlgSM4.String() != "SM4" || !strings.Contains(keys.Alg(9).String(), "09") {
		t.Error("Alg.String")
	}
	if keys.Alg3DES.BlockSize() != 8 || keys.AlgSM4.BlockSize() != 16 {
		t.Error("Alg.BlockSize")
	}
	if keys.Alg(1).Valid() || !keys.Alg3DES.Valid() || !keys.AlgSM4.Valid() {
		t.Error("Alg.Valid")
	}
}

func TestEqual4(t *testing.T) {
	if !keys.Equal4([4]byte{1, 2, 3, 4}, [4]byte{1, 2, 3, 4}) || keys.Equal4([4]byte{1, 2, 3, 4}, [4]byte{1, 2, 3, 5}) {
		t.Error("Equal4")
	}
}
