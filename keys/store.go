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
// master key, diversified by PSAM ID; KeyTransport is the PSAM transport
// master key, diversified by PSAM ID into the key each PSAM is delivered
// with, under which master keys travel to it (see the package doc). The
// values are stored in key store files: new types go at the end.
const (
	KeyPurchase    KeyType = 1 // DPK: purchase MAC1/MAC2 (消费密钥)
	KeyLoad        KeyType = 2 // DLK: load MAC1/MAC2 (圈存密钥)
	KeyTAC         KeyType = 3 // DTK: TAC (TAC密钥)
	KeyMaintenance KeyType = 4 // DAMK: application maintenance, APPLICATION BLOCK (应用维护密钥)
	KeyRecord      KeyType = 5 // PSAM record MAC master (记录MAC主密钥)
	KeyTransport   KeyType = 6 // PSAM transport master (传输主密钥): wraps keys, never derived out
	// KeyApplication is the application master key (应用主密钥) of the
	// card's entitlement file (see package card): diversified by the card
	// ASN into the card's application key, which MACs the file's grants
	// and MACs every stamp a gate writes; an application gate's SAM
	// derives it too, to check what it reads and authorize what it writes.
	KeyApplication KeyType = 7
)

// PSAMKeyTypes are the types of master key a PSAM holds, and so the only
// types Store.Wrap exports: a PSAM computes MAC1 (purchase), the
// maintenance MAC of APPLICATION BLOCK and, in an application gate, the
// MACs of the entitlement file (application). Load and TAC master keys
// never leave the store: whoever holds them can credit cards and forge
// TACs.
var PSAMKeyTypes = []KeyType{KeyPurchase, KeyMaintenance, KeyApplication}

// CardKeyTypes are the types of key a card of ours is personalized with.
var CardKeyTypes = []KeyType{KeyPurchase, KeyLoad, KeyTAC, KeyMaintenance}

var keyTypeNames = map[KeyType]string{
	KeyPurchase:    "purchase",
	KeyLoad:        "load",
	KeyTAC:         "tac",
	KeyMaintenance: "maintenance",
	KeyRecord:      "record",
	KeyTransport:   "transport",
	KeyApplication: "application",
}

// String gives the type's name: purchase, load, tac, maintenance, record,
// transport, application.
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
	return 0, citycard.E("keys.ParseKeyType", citycard.Invalid, "key type %q: want purchase, load, tac, maintenance, record, transport or application", s)
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
// clear, nor a key that would decrypt one. Callers get child keys (card
// keys, a PSAM's record key), which the personalization of cards and PSAMs
// needs, and the master keys a PSAM holds only wrapped under that PSAM's
// transport key, which the store derives inside and the caller never sees.
// A PKCS#11 HSM store implements the same interface (see the package doc).
//
// Every method returns kind KeyMissing when a ref names no key.
type Store interface {
	// List returns every key's metadata, ordered by issuer, type, version.
	List() ([]Info, error)
	// Info returns one key's metadata.
	Info(ref Ref) (Info, error)
	// DeriveInto writes into dst the child key of ref's master key along
	// the diversification path (one id: a card ASN or PSAM ID; two ids: an
	// issuer code, then the card ASN) and returns the key's algorithm.
	// It is on the verification hot path: implementations cache key
	// schedules and do not allocate. Kind Permission for a transport key
	// (KeyTransport): its children decrypt master keys, so they stay in
	// the store; Invalid for a path of other than one or two ids.
	DeriveInto(dst *[KeyLen]byte, ref Ref, path ...[]byte) (Alg, error)
	// Wrap returns ref's master key wrapped (see UnwrapKey) under the
	// child of the transport master key transport along path (the PSAM's
	// ID; one or two ids of 1 to 16 bytes): the transport key the PSAM was
	// delivered with, which opens it with UnwrapKey. Only the types of
	// PSAMKeyTypes are wrapped. Kind Permission when ref is not of those
	// types (a transport key above all) or transport is not a transport
	// key; Invalid for a bad path; KeyMissing when either key is missing.
	// A store that keeps an event log records the export there first, and
	// fails (and exports nothing) when it cannot.
	Wrap(ref Ref, transport Ref, path ...[]byte) ([]byte, error)
}
