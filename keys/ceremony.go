package keys

import (
	"crypto/rand"
	"crypto/subtle"

	"github.com/citycard/citycard"
)

// The bounds on the number of components of a key. Dual control needs two
// at least; more than nine custodians is a ceremony nobody can convene.
const (
	MinComponents = 2
	MaxComponents = 9
)

// Split is a key and the XOR components it was split into, each with its
// key check value, for custodians to hold one each.
type Split struct {
	Key        []byte    // the combined key (the XOR of Components); never printed
	KCV        [3]byte   // the combined key's KCV
	Components [][]byte  // one per custodian
	KCVs       [][3]byte // KCVs[i] is the KCV of Components[i]
}

// CombineComponents checks each component against its custodian's KCV and
// XORs them into the key, whose KCV it returns with it. Dual control: at
// least MinComponents components, at most MaxComponents.
//
// Kind Invalid for a wrong count, a component of the wrong length, or a
// combined key that is unusable (all zero, or for 3DES with equal halves,
// which would make it single DES: two custodians gave the same component).
// Kind Crypto when a component does not match its KCV; the error names the
// component (1-based) but never shows it.
func CombineComponents(alg Alg, components [][]byte, kcvs [][3]byte) ([]byte, [3]byte, error) {
	const op = "keys.CombineComponents"
	var kcv [3]byte
	if !alg.Valid() {
		return nil, kcv, citycard.E(op, citycard.Invalid, "unknown algorithm id %02X", byte(alg))
	}
	n := len(components)
	if n < MinComponents || n > MaxComponents {
		return nil, kcv, citycard.E(op, citycard.Invalid, "%d components, want %d to %d", n, MinComponents, MaxComponents)
	}
	if len(kcvs) != n {
		return nil, kcv, citycard.E(op, citycard.Invalid, "%d components but %d KCVs", n, len(kcvs))
	}
	key := make([]byte, KeyLen)
	for i, c := range components {
		if len(c) != KeyLen {
			return nil, kcv, citycard.E(op, citycard.Invalid, "component %d of %d: %d bytes, want %d", i+1, n, len(c), KeyLen)
		}
		got, err := KCV(alg, c)
		if err != nil {
			return nil, kcv, citycard.Wrap(op, citycard.Invalid, err)
		}
		if subtle.ConstantTimeCompare(got[:], kcvs[i][:]) != 1 {
			return nil, kcv, citycard.E(op, citycard.Crypto,
				"component %d of %d: its KCV is %X, the custodian's KCV is %X: wrong component or mistyped", i+1, n, got, kcvs[i])
		}
		subtle.XORBytes(key, key, c)
	}
	if err := checkKey(alg, key); err != nil {
		return nil, kcv, citycard.E(op, citycard.Invalid, "combined key: %w", err)
	}
	kcv, err := KCV(alg, key)
	if err != nil {
		return nil, kcv, citycard.Wrap(op, citycard.Invalid, err)
	}
	return key, kcv, nil
}

// GenerateSplit generates a random key for alg and splits it into n random
// XOR components (MinComponents to MaxComponents), each with its KCV.
// Kind Invalid for a bad n or algorithm; IO if the system's random source
// fails.
func GenerateSplit(alg Alg, n int) (Split, error) {
	const op = "keys.GenerateSplit"
	if !alg.Valid() {
		return Split{}, citycard.E(op, citycard.Invalid, "unknown algorithm id %02X", byte(alg))
	}
	if n < MinComponents || n > MaxComponents {
		return Split{}, citycard.E(op, citycard.Invalid, "%d components, want %d to %d", n, MinComponents, MaxComponents)
	}
	// Random components XORed together make a random key. A combined key
	// that checkKey refuses has probability 2^-64 or less; draw again then.
	for range 4 {
		s := Split{Key: make([]byte, KeyLen), Components: make([][]byte, n), KCVs: make([][3]byte, n)}
		for i := range s.Components {
			c := make([]byte, KeyLen)
			if _, err := rand.Read(c); err != nil {
				return Split{}, citycard.E(op, citycard.IO, "random component: %w", err)
			}
			kcv, err := KCV(alg, c)
			if err != nil {
				return Split{}, citycard.Wrap(op, citycard.Invalid, err)
			}
			s.Components[i], s.KCVs[i] = c, kcv
			subtle.XORBytes(s.Key, s.Key, c)
		}
		if checkKey(alg, s.Key) != nil {
			continue
		}
		var err error
		if s.KCV, err = KCV(alg, s.Key); err != nil {
			return Split{}, citycard.Wrap(op, citycard.Invalid, err)
		}
		return s, nil
	}
	return Split{}, citycard.E(op, citycard.IO, "the random source keeps giving unusable keys")
}

// GenerateKey returns a random master key for alg, in one piece (no
// components). Kind Invalid for an unknown algorithm, IO if the random
// source fails.
func GenerateKey(alg Alg) ([]byte, error) {
	const op = "keys.GenerateKey"
	if !alg.Valid() {
		return nil, citycard.E(op, citycard.Invalid, "unknown algorithm id %02X", byte(alg))
	}
	key := make([]byte, KeyLen)
	for range 4 {
		if _, err := rand.Read(key); err != nil {
			return nil, citycard.E(op, citycard.IO, "random key: %w", err)
		}
		if checkKey(alg, key) == nil {
			return key, nil
		}
	}
	return nil, citycard.E(op, citycard.IO, "the random source keeps giving unusable keys")
}

// checkKey refuses master keys that are no keys: the wrong length, all
// zero, or, for 2-key 3DES, two equal halves (K1 K1 K1 is single DES).
func checkKey(alg Alg, key []byte) error {
	if len(key) != KeyLen {
		return citycard.E("keys.checkKey", citycard.Invalid, "%v key of %d bytes, want %d", alg, len(key), KeyLen)
	}
	var zero [KeyLen]byte
	if subtle.ConstantTimeCompare(key, zero[:]) == 1 {
		return citycard.E("keys.checkKey", citycard.Invalid, "%v key is all zero", alg)
	}
	if alg == Alg3DES && subtle.ConstantTimeCompare(key[:8], key[8:]) == 1 {
		return citycard.E("keys.checkKey", citycard.Invalid, "3DES key has equal halves: it is single DES")
	}
	return nil
}

// NextVersion returns the ref of the next version of (issuer, t) in s:
// version 1 when s has none, else one more than the highest. Older
// versions stay in the store and keep verifying what was made under them;
// the store makes the newest one active. Kind Conflict when version 255,
// the last a card can name, is taken.
func NextVersion(s Store, issuer citycard.IssuerCode, t KeyType) (Ref, error) {
	const op = "keys.NextVersion"
	list, err := s.List()
	if err != nil {
		return Ref{}, citycard.Wrap(op, citycard.Other, err)
	}
	var top uint8
	for _, info := range list {
		if info.Issuer == issuer && info.Type == t && info.Version > top {
			top = info.Version
		}
	}
	if top == 255 {
		return Ref{}, citycard.E(op, citycard.Conflict, "%v/%v: version 255 is taken, no version left", issuer, t)
	}
	return Ref{Issuer: issuer, Type: t, Version: top + 1}, nil
}
