package keys

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
)

// KeyType names the role of a master key.
type KeyType uint8

// The key types. The first four are the card's e-purse application keys,
// diversified by card ASN; KeyRecord is the back office's PSAM record MAC
// master key, diversified by PSAM ID.
const (
	KeyPurchase    KeyType = 1 // DPK: purchase MAC1/MAC2 (消费密钥)
	KeyLoad        KeyType = 2 // DLK: load MAC1/MAC2 (圈存密钥)
	KeyTAC         KeyType = 3 // DTK: TAC (TAC密钥)
	KeyMaintenance KeyType = 4 // DAMK: application maintenance, APPLICATION BLOCK (应用维护密钥)
	KeyRecord      KeyType = 5 // PSAM record MAC master (记录MAC主密钥)
)

// CardKeyTypes are the types of key a card of ours is personalized with.
var CardKeyTypes = []KeyType{KeyPurchase, KeyLoad, KeyTAC, KeyMaintenance}

var keyTypeNames = map[KeyType]string{
	KeyPurchase:    "purchase",
	KeyLoad:        "load",
	KeyTAC:         "tac",
	KeyMaintenance: "maintenance",
	KeyRecord:      "record",
}

// String gives the type's name: purchase, load, tac, maintenance, record.
func (t KeyType) String() string {
	if s, ok := keyTypeNames[t]; ok {
		return s
	}
	return "type" + strconv.Itoa(int(t))
}

// ParseKeyType parses a key type name (or DPK, DLK, DTK, DAMK).
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "dpk":
		return KeyPurchase, nil
	case "dlk":
		return KeyLoad, nil
	case "dtk":
		return KeyTAC, nil
	case "damk":
		return KeyMaintenance, nil
	}
	for t, n := range keyTypeNames {
		if n == strings.ToLower(s) {
			return t, nil
		}
	}
	return 0, citycard.E("keys.ParseKeyType", citycard.Invalid, "key type %q: want purchase, load, tac, maintenance or record", s)
}

// Ref names one master key: its issuer, its type and its version. Cards and
// records carry the key version, so an old version keeps verifying the
// records made under it after a rotation.
type Ref struct {
	Issuer  citycard.IssuerCode
	Type    KeyType
	Version uint8
}

// String gives the key id as list prints it: ISSUER/type/vN.
func (r Ref) String() string { return fmt.Sprintf("%v/%v/v%d", r.Issuer, r.Type, r.Version) }

// Info describes a master key without its material.
type Info struct {
	Ref
	Alg     Alg
	KCV     [3]byte
	Created time.Time
	Origin  string // how the key came to be: "components 2 of 2", "generated"
	Active  bool   // the version new cards are personalized with
}

// Store is the key store: it holds master keys and never hands one out in
// clear. Callers get child keys (card keys, PSAM keys), which the
// personalization of cards and PSAMs needs, and master keys only wrapped
// under a transport key for loading into a PSAM. A PKCS#11 HSM store
// implements the same interface.
//
// Every method returns kind KeyMissing when ref names no key.
type Store interface {
	// List returns every key's metadata, ordered by issuer, type, version.
	List() ([]Info, error)
	// Info returns one key's metadata.
	Info(ref Ref) (Info, error)
	// DeriveInto writes into dst the child key of ref's master key along
	// the diversification path (one id: a card ASN or PSAM ID; two ids: an
	// issuer code, then the card ASN) and returns the key's algorithm.
	// It is on the verification hot path: implementations cache key
	// schedules and do not allocate.
	DeriveInto(dst *[KeyLen]byte, ref Ref, path ...[]byte) (Alg, error)
	// Wrap returns ref's master key encrypted under transport, a 32-byte
	// key that the receiving PSAM holds; the PSAM opens it with Open, the
	// key's Ref string as additional data.
	Wrap(ref Ref, transport []byte) ([]byte, error)
}
