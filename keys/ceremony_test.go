package keys_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

func kcv3(t testing.TB, s string) [3]byte {
	t.Helper()
	var k [3]byte
	if copy(k[:], unhex(t, s)) != 3 {
		t.Fatalf("KCV %q: want 3 bytes", s)
	}
	return k
}

// TestCombineComponentsOpenSSL combines the components of crypto.json,
// whose KCVs and combined KCV openssl computed.
func TestCombineComponentsOpenSSL(t *testing.T) {
	for _, v := range readCryptoVectors(t).Components {
		alg := mustAlg(t, v.Alg)
		var comps [][]byte
		var kcvs [][3]byte
		for i := range v.Components {
			comps = append(comps, unhex(t, v.Components[i]))
			kcvs = append(kcvs, kcv3(t, v.KCVs[i]))
		}
		key, kcv, err := keys.CombineComponents(alg, comps, kcvs)
		if err != nil {
			t.Fatalf("%s, %d components: %v", v.Alg, len(comps), err)
		}
		if !bytes.Equal(key, unhex(t, v.Key)) || kcv != kcv3(t, v.KCV) {
			t.Errorf("%s, %d components: key %X KCV %X, want %s %s", v.Alg, len(comps), key, kcv, v.Key, v.KCV)
		}

		// Each component checked against its own KCV: a wrong one names
		// which component, and never shows it.
		for bad := range comps {
			wrong := append([][3]byte(nil), kcvs...)
			wrong[bad][2] ^= 1
			_, _, err := keys.CombineComponents(alg, comps, wrong)
			if !citycard.IsKind(err, citycard.Crypto) {
				t.Fatalf("wrong KCV of component %d: err = %v, want kind Crypto", bad+1, err)
			}
			if want := "component " + string(rune('1'+bad)) + " of"; !strings.Contains(err.Error(), want) {
				t.Errorf("wrong KCV of component %d: %q does not say %q", bad+1, err, want)
			}
			for _, c := range v.Components {
				if strings.Contains(strings.ToLower(err.Error()), c) {
					t.Errorf("error shows a component: %v", err)
				}
			}
		}
	}
}

func TestCombineComponentsInvalid(t *testing.T) {
	c1 := unhex(t, "1f2e3d4c5b6a79881f2e3d4c5b6a7988")
	c2 := unhex(t, "0123456789abcdeffedcba9876543210")
	k1, k2 := kcv3(t, "72305b"), kcv3(t, "08d7b4")
	half := unhex(t, "0123456789abcdef0123456789abcdef")
	kHalf, _ := keys.KCV(keys.Alg3DES, half)
	c1Again := make([]byte, 16)
	copy(c1Again, c1)
	kc1, _ := keys.KCV(keys.Alg3DES, c1)
	for _, tc := range []struct {
		name  string
		alg   keys.Alg
		comps [][]byte
		kcvs  [][3]byte
	}{
		{"one component", keys.Alg3DES, [][]byte{c1}, [][3]byte{k1}},
		{"ten components", keys.Alg3DES, make([][]byte, 10), make([][3]byte, 10)},
		{"KCV count", keys.Alg3DES, [][]byte{c1, c2}, [][3]byte{k1}},
		{"short component", keys.Alg3DES, [][]byte{c1, c2[:8]}, [][3]byte{k1, k2}},
		{"unknown alg", keys.Alg(3), [][]byte{c1, c2}, [][3]byte{k1, k2}},
		// Two custodians with the same component: the key is all zero.
		{"equal components", keys.Alg3DES, [][]byte{c1, c1Again}, [][3]byte{k1, kc1}},
		// Components whose XOR has equal halves: single DES in disguise.
		{"single DES", keys.Alg3DES, [][]byte{half, make([]byte, 16)}, [][3]byte{kHalf, mustKCV(t, keys.Alg3DES, make([]byte, 16))}},
	} {
		_, _, err := keys.CombineComponents(tc.alg, tc.comps, tc.kcvs)
		if !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: err = %v, want kind Invalid", tc.name, err)
		}
	}
}

func mustKCV(t testing.TB, alg keys.Alg, key []byte) [3]byte {
	t.Helper()
	k, err := keys.KCV(alg, key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerateSplit(t *testing.T) {
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		for _, n := range []int{2, 3, 9} {
			s, err := keys.GenerateSplit(alg, n)
			if err != nil {
				t.Fatalf("%v, %d: %v", alg, n, err)
			}
			if len(s.Components) != n || len(s.KCVs) != n || len(s.Key) != keys.KeyLen {
				t.Fatalf("%v, %d: split of %d components, %d KCVs, key %d bytes", alg, n, len(s.Components), len(s.KCVs), len(s.Key))
			}
			// The custodians' components recombine into the key.
			key, kcv, err := keys.CombineComponents(alg, s.Components, s.KCVs)
			if err != nil || !bytes.Equal(key, s.Key) || kcv != s.KCV {
				t.Errorf("%v, %d: recombined %X %X, %v; want %X %X", alg, n, key, kcv, err, s.Key, s.KCV)
			}
			if kcv != mustKCV(t, alg, s.Key) {
				t.Errorf("%v, %d: KCV %X is not the key's", alg, n, s.KCV)
			}
			// No component is the key.
			for i, c := range s.Components {
				if bytes.Equal(c, s.Key) {
					t.Errorf("%v, %d: component %d is the key", alg, n, i+1)
				}
			}
		}
		a, _ := keys.GenerateSplit(alg, 2)
		b, _ := keys.GenerateSplit(alg, 2)
		if bytes.Equal(a.Key, b.Key) {
			t.Errorf("%v: two generated keys are equal", alg)
		}
	}
	for _, n := range []int{-1, 0, 1, 10} {
		if _, err := keys.GenerateSplit(keys.Alg3DES, n); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("GenerateSplit(%d): err = %v, want kind Invalid", n, err)
		}
	}
	if _, err := keys.GenerateSplit(keys.Alg(5), 2); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("GenerateSplit(alg 05): err = %v, want kind Invalid", err)
	}
	k, err := keys.GenerateKey(keys.AlgSM4)
	if err != nil || len(k) != keys.KeyLen {
		t.Errorf("GenerateKey = %d bytes, %v", len(k), err)
	}
	if _, err := keys.GenerateKey(keys.Alg(5)); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("GenerateKey(alg 05): err = %v, want kind Invalid", err)
	}
}

func TestNextVersion(t *testing.T) {
	s := keys.NewMemStore()
	ref, err := keys.NextVersion(s, testIssuer, keys.KeyLoad)
	if err != nil || ref.Version != 1 || ref.Type != keys.KeyLoad || ref.Issuer != testIssuer {
		t.Fatalf("NextVersion of an empty store = %v, %v", ref, err)
	}
	key := unhex(t, "0123456789abcdeffedcba9876543210")
	mustPut(t, s, keys.Ref{Issuer: testIssuer, Type: keys.KeyLoad, Version: 7}, keys.Alg3DES, key)
	mustPut(t, s, keys.Ref{Issuer: testIssuer, Type: keys.KeyTAC, Version: 9}, keys.Alg3DES, key)
	if ref, err = keys.NextVersion(s, testIssuer, keys.KeyLoad); err != nil || ref.Version != 8 {
		t.Errorf("NextVersion after v7 = %v, %v; want v8", ref, err)
	}
	mustPut(t, s, keys.Ref{Issuer: testIssuer, Type: keys.KeyLoad, Version: 255}, keys.Alg3DES, key)
	if _, err = keys.NextVersion(s, testIssuer, keys.KeyLoad); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("NextVersion after v255: err = %v, want kind Conflict", err)
	}
}
