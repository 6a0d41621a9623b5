package keys

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm4"

	"github.com/citycard/citycard"
)

// Alg is the algorithm identifier a card returns in INITIALIZE and every
// record carries: 00 for 3DES, 04 for SM4.
type Alg byte

// The algorithms a card may use.
const (
	Alg3DES Alg = 0x00
	AlgSM4  Alg = 0x04
)

// ParseAlg parses "3des" or "sm4" (any case) or the hex ids "00" and "04".
func ParseAlg(s string) (Alg, error) {
	switch strings.ToLower(s) {
	case "3des", "00":
		return Alg3DES, nil
	case "sm4", "04":
		return AlgSM4, nil
	}
	return 0, citycard.E("keys.ParseAlg", citycard.Invalid, "algorithm %q: want 3des or sm4", s)
}

// Valid reports whether a is a known algorithm id.
func (a Alg) Valid() bool { return a == Alg3DES || a == AlgSM4 }

// String gives the name printed by trace and list: "3DES" or "SM4".
func (a Alg) String() string {
	switch a {
	case Alg3DES:
		return "3DES"
	case AlgSM4:
		return "SM4"
	}
	return fmt.Sprintf("alg(%02X)", byte(a))
}

// BlockSize is the cipher's block size in bytes: 8 for 3DES, 16 for SM4.
func (a Alg) BlockSize() int {
	if a == AlgSM4 {
		return 16
	}
	return 8
}

// KeyLen is the length of master and card keys: 16 bytes for both (2-key
// 3DES K1 K2, used as K1 K2 K1; SM4).
const KeyLen = 16

// NewBlock returns the block cipher for key under alg. For 3DES a 16-byte
// key is 2-key triple DES (K1 K2 K1) and an 8-byte key is single DES (the
// session keys and the folded TAC key); SM4 keys are 16 bytes. Kind Invalid
// for any other length or algorithm.
func NewBlock(alg Alg, key []byte) (cipher.Block, error) {
	const op = "keys.NewBlock"
	switch alg {
	case Alg3DES:
		switch len(key) {
		case 8:
			return des.NewCipher(key)
		case 16:
			var k [24]byte
			copy(k[:16], key)
			copy(k[16:], key[:8])
			return des.NewTripleDESCipher(k[:])
		}
	case AlgSM4:
		if len(key) == 16 {
			return sm4.NewCipher(key)
		}
	default:
		return nil, citycard.E(op, citycard.Invalid, "unknown algorithm id %02X", byte(alg))
	}
	return nil, citycard.E(op, citycard.Invalid, "%v key of %d bytes", alg, len(key))
}

// divInput returns F, the rightmost 8 bytes of id, left-padded with zeros
// when id is shorter.
func divInput(id []byte) [8]byte {
	var f [8]byte
	if len(id) >= 8 {
		copy(f[:], id[len(id)-8:])
	} else {
		copy(f[8-len(id):], id)
	}
	return f
}

// Diversifier derives child keys from one master key whose key schedule it
// holds, so that deriving many card keys costs no key setup.
//
// The derivation, with F the rightmost 8 bytes of the child's identity (card
// ASN, issuer code or PSAM ID):
//   - 3DES: child = 3DES_MK(F) || 3DES_MK(NOT F)    (PBOC, CJ/T 166, JT/T 978)
//   - SM4:  child = SM4_MK(F || NOT F)              (our choice, see package doc)
type Diversifier struct {
	alg Alg
	b   cipher.Block
}

// NewDiversifier returns a Diversifier for master under alg. Kind Invalid
// for a bad key length or algorithm.
func NewDiversifier(alg Alg, master []byte) (*Diversifier, error) {
	if len(master) != KeyLen {
		return nil, citycard.E("keys.NewDiversifier", citycard.Invalid, "%v master key of %d bytes, want %d", alg, len(master), KeyLen)
	}
	b, err := NewBlock(alg, master)
	if err != nil {
		return nil, err
	}
	return &Diversifier{alg: alg, b: b}, nil
}

// Alg returns the diversifier's algorithm.
func (d *Diversifier) Alg() Alg { return d.alg }

// DeriveInto writes the child key of id into dst (16 bytes) without
// allocating.
func (d *Diversifier) DeriveInto(dst *[KeyLen]byte, id []byte) {
	// F || NOT F is laid out in dst and encrypted in place: a local array
	// passed to the cipher.Block interface would escape to the heap.
	f := divInput(id)
	copy(dst[:8], f[:])
	for i := range f {
		dst[8+i] = ^f[i]
	}
	if d.alg == AlgSM4 {
		d.b.Encrypt(dst[:], dst[:])
		return
	}
	d.b.Encrypt(dst[:8], dst[:8])
	d.b.Encrypt(dst[8:], dst[8:])
}

// Derive returns the child key of id.
func (d *Diversifier) Derive(id []byte) []byte {
	var k [KeyLen]byte
	d.DeriveInto(&k, id)
	return k[:]
}

// Diversify derives the child key of master for id (see Diversifier).
func Diversify(alg Alg, master, id []byte) ([]byte, error) {
	d, err := NewDiversifier(alg, master)
	if err != nil {
		return nil, err
	}
	return d.Derive(id), nil
}

// PurchaseSessionInput is the 8-byte input of the purchase session key:
// random(4) || offline counter(2) || terminal sequence low 2 bytes.
func PurchaseSessionInput(random [4]byte, offlineCounter uint16, terminalSeq uint32) [8]byte {
	var in [8]byte
	copy(in[:4], random[:])
	in[4], in[5] = byte(offlineCounter>>8), byte(offlineCounter)
	in[6], in[7] = byte(terminalSeq>>8), byte(terminalSeq)
	return in
}

// LoadSessionInput is the 8-byte input of the load session key:
// random(4) || online counter(2) || 80 00.
func LoadSessionInput(random [4]byte, onlineCounter uint16) [8]byte {
	var in [8]byte
	copy(in[:4], random[:])
	in[4], in[5] = byte(onlineCounter>>8), byte(onlineCounter)
	in[6] = 0x80
	return in
}

// SessionKey derives a session key from a card key (DPK or DLK) and the
// 8-byte session input. 3DES: 3DES_K(input), 8 bytes, used as a single-DES
// key. SM4: SM4_K(input || 80 00 00 00 00 00 00 00), 16 bytes.
func SessionKey(alg Alg, cardKey []byte, input [8]byte) ([]byte, error) {
	if len(cardKey) != KeyLen {
		return nil, citycard.E("keys.SessionKey", citycard.Invalid, "card key of %d bytes, want %d", len(cardKey), KeyLen)
	}
	b, err := NewBlock(alg, cardKey)
	if err != nil {
		return nil, err
	}
	if alg == AlgSM4 {
		var blk [16]byte
		copy(blk[:8], input[:])
		blk[8] = 0x80
		b.Encrypt(blk[:], blk[:])
		return blk[:], nil
	}
	var out [8]byte
	b.Encrypt(out[:], input[:])
	return out[:], nil
}

// TACKey returns the key the TAC is computed with from the card's DTK:
// for 3DES the two halves XORed into a single-DES key (PBOC); for SM4 the
// DTK itself (our choice, see package doc).
func TACKey(alg Alg, dtk []byte) []byte {
	if alg == AlgSM4 || len(dtk) != KeyLen {
		return append([]byte(nil), dtk...)
	}
	k := make([]byte, 8)
	subtle.XORBytes(k, dtk[:8], dtk[8:])
	return k
}

// maxMACData bounds the data a MAC covers; every e-purse message is under
// 32 bytes and a sealed record under 160.
const maxMACData = 256

// MAC computes the 4-byte MAC of data under key: CBC-MAC with IV zero over
// data padded by ISO 9797-1 method 2 (80 then zeros to a whole block; a
// whole block of data gets a whole padding block), left 4 bytes of the last
// block. For 3DES an 8-byte key is plain DES CBC-MAC (session and TAC
// keys); a 16-byte key is ISO 9797-1 MAC algorithm 3, the retail MAC (single
// DES chain, last block through 3DES), used for the record MAC. SM4 uses
// 16-byte blocks throughout.
func MAC(alg Alg, key []byte, data ...[]byte) ([4]byte, error) {
	k, err := NewMACKey(alg, key)
	if err != nil {
		return [4]byte{}, err
	}
	return k.Sum(data...), nil
}

// MACKey is a MAC key with its key schedules prepared, for MACs computed
// again and again under one key (a PSAM's record key): Sum is MAC without
// the key setup.
type MACKey struct {
	k1   cipher.Block // the retail MAC's single-DES chain; nil for plain CBC-MAC
	last cipher.Block // the cipher of the last block (and of every block when k1 is nil)
}

// NewMACKey prepares key for MAC under alg. Kind Invalid as NewBlock.
func NewMACKey(alg Alg, key []byte) (*MACKey, error) {
	k := &MACKey{}
	var err error
	if alg == Alg3DES && len(key) == KeyLen {
		if k.k1, err = des.NewCipher(key[:8]); err != nil {
			return nil, err
		}
	}
	if k.last, err = NewBlock(alg, key); err != nil {
		return nil, err
	}
	return k, nil
}

// Sum returns the MAC of data (at most 256 bytes in all).
func (k *MACKey) Sum(data ...[]byte) [4]byte {
	var buf [maxMACData + 16]byte
	bs := k.last.BlockSize()
	n := pad(buf[:], bs, data...)
	var chain [16]byte
	for i := 0; i < n; i += bs {
		subtle.XORBytes(chain[:bs], chain[:bs], buf[i:i+bs])
		if k.k1 != nil && i+bs < n {
			k.k1.Encrypt(chain[:bs], chain[:bs])
		} else {
			k.last.Encrypt(chain[:bs], chain[:bs])
		}
	}
	return [4]byte(chain[:4])
}

// BlockMAC is MAC with a prepared block cipher (whose block size, 8 or 16,
// sets the padding).
func BlockMAC(b cipher.Block, data ...[]byte) [4]byte {
	return (&MACKey{last: b}).Sum(data...)
}

// pad copies data into buf and appends ISO 9797-1 method 2 padding to a
// multiple of bs; it returns the padded length. Data longer than maxMACData
// is a programmer error.
func pad(buf []byte, bs int, data ...[]byte) int {
	n := 0
	for _, d := range data {
		if n+len(d) > maxMACData {
			panic("keys: MAC data longer than maxMACData")
		}
		n += copy(buf[n:], d)
	}
	buf[n] = 0x80
	n++
	for n%bs != 0 {
		buf[n] = 0
		n++
	}
	return n
}

// Equal4 compares two MACs in constant time.
func Equal4(a, b [4]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// KCV returns the key check value of key under alg: the first 3 bytes of
// the encryption of a zero block. It identifies a key without revealing it.
func KCV(alg Alg, key []byte) ([3]byte, error) {
	var kcv [3]byte
	b, err := NewBlock(alg, key)
	if err != nil {
		return kcv, err
	}
	var blk [16]byte
	b.Encrypt(blk[:b.BlockSize()], blk[:b.BlockSize()])
	copy(kcv[:], blk[:3])
	return kcv, nil
}
