package cms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/citycard/citycard"
)

// DataKeyLen is the length of the data key a Protector takes: 32 bytes.
const DataKeyLen = 32

// protectedVersion is the first byte of every ciphertext: its layout
// (nonce, AES-256-GCM, the holder's ID in the additional data).
const protectedVersion = 1

// Protector encrypts cardholders' personal data at rest and computes the
// keyed hash a store looks a document number up by. It holds two keys
// derived from the data key it is given (HMAC-SHA256 of the data key over
// a label each), one for AES-256-GCM, one for the look-up HMAC, so that
// neither use weakens the other. It never shows a key: its Format and
// LogValue print only its name.
type Protector struct {
	aead   cipher.AEAD
	lookup []byte
	rand   io.Reader
}

// Protected is a cardholder as a store keeps it: the look-up hash of the
// document and the ciphertext of everything personal.
type Protected struct {
	HolderID   int64
	Lookup     [32]byte // LookupHash of the document type and number
	Ciphertext []byte
}

// NewProtector returns a Protector under dataKey (DataKeyLen bytes, from
// the key store; the caller keeps it secret). random gives the GCM nonces;
// nil means crypto/rand. Kind Invalid for a key of another length.
func NewProtector(dataKey []byte, random io.Reader) (*Protector, error) {
	const op = "cms.NewProtector"
	if len(dataKey) != DataKeyLen {
		return nil, citycard.E(op, citycard.Invalid, "data key of %d bytes, want %d", len(dataKey), DataKeyLen)
	}
	block, err := aes.NewCipher(derive(dataKey, "citycard.cms.holder.encryption.v1"))
	if err != nil {
		return nil, citycard.E(op, citycard.Crypto, "%v", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, citycard.E(op, citycard.Crypto, "%v", err)
	}
	if random == nil {
		random = rand.Reader
	}
	return &Protector{aead: aead, lookup: derive(dataKey, "citycard.cms.holder.lookup.v1"), rand: random}, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Format prints "cms.Protector", never a key, for a Protector and a
// pointer to one alike.
func (Protector) Format(f fmt.State, _ rune) { fmt.Fprint(f, "cms.Protector") }

// LogValue is "cms.Protector", never a key.
func (Protector) LogValue() slog.Value { return slog.StringValue("cms.Protector") }

// LookupHash returns the keyed hash (HMAC-SHA256) of a document type and
// a normalized number: equal documents have equal hashes, and without the
// data key a hash says nothing of the number (the 10^17 resident ID
// numbers could be tried one by one against a plain hash, not against
// this one).
func (p *Protector) LookupHash(t DocType, d DocNumber) [32]byte {
	m := hmac.New(sha256.New, p.lookup)
	m.Write([]byte{byte(t)})
	m.Write([]byte(d))
	var h [32]byte
	m.Sum(h[:0])
	return h
}

// plainHolder is the encrypted form's plaintext; its fields are plain
// strings, so that the masking of the types never reaches it.
type plainHolder struct {
	Name        string `json:"name"`
	DocType     uint8  `json:"doc_type"`
	DocNumber   string `json:"doc_number"`
	DateOfBirth string `json:"date_of_birth"`
	Phone       string `json:"phone,omitempty"`
	School      string `json:"school,omitempty"`
	StudiesEnd  string `json:"studies_end,omitempty"`
}

// additional binds a ciphertext to its holder: one holder's ciphertext
// does not decrypt as another's.
func additional(id int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("citycard.cms.holder.v1"), uint64(id))
}

// Protect validates h and returns its stored form: version byte, 12-byte
// nonce, AES-256-GCM ciphertext of the personal fields, with h.ID in the
// additional data (so h must have its ID). Kinds Invalid (h's fields, an
// ID not above 0) and IO (no randomness).
func (p *Protector) Protect(h *Cardholder) (Protected, error) {
	const op = "cms.Protector.Protect"
	if h.ID <= 0 {
		return Protected{}, citycard.E(op, citycard.Invalid, "cardholder ID %d: the store assigns one above 0 first", h.ID)
	}
	if err := h.Validate(); err != nil {
		return Protected{}, citycard.Wrap(op, citycard.Other, err)
	}
	plain, err := json.Marshal(plainHolder{
		Name: h.Name.Plain(), DocType: uint8(h.DocType), DocNumber: h.DocNumber.Plain(),
		DateOfBirth: h.DateOfBirth.String(), Phone: h.Phone.Plain(), School: h.School, StudiesEnd: h.StudiesEnd.String(),
	})
	if err != nil {
		return Protected{}, citycard.E(op, citycard.Other, "encoding: %v", err)
	}
	out := make([]byte, 1+p.aead.NonceSize(), 1+p.aead.NonceSize()+len(plain)+p.aead.Overhead())
	out[0] = protectedVersion
	if _, err := io.ReadFull(p.rand, out[1:]); err != nil {
		return Protected{}, citycard.E(op, citycard.IO, "nonce: %v", err)
	}
	out = p.aead.Seal(out, out[1:], plain, additional(h.ID))
	return Protected{HolderID: h.ID, Lookup: p.LookupHash(h.DocType, h.DocNumber), Ciphertext: out}, nil
}

// Reveal decrypts a stored cardholder and checks it: its look-up hash
// must be its document's. Kind Crypto for a ciphertext that does not
// open under this key and holder ID (altered, swapped or another key's),
// Invalid for one that opens to something malformed.
func (p *Protector) Reveal(pr Protected) (Cardholder, error) {
	const op = "cms.Protector.Reveal"
	n := p.aead.NonceSize()
	if len(pr.Ciphertext) < 1+n+p.aead.Overhead() || pr.Ciphertext[0] != protectedVersion {
		return Cardholder{}, citycard.E(op, citycard.Crypto, "cardholder %d: not a version %d ciphertext", pr.HolderID, protectedVersion)
	}
	plain, err := p.aead.Open(nil, pr.Ciphertext[1:1+n], pr.Ciphertext[1+n:], additional(pr.HolderID))
	if err != nil {
		return Cardholder{}, citycard.E(op, citycard.Crypto, "cardholder %d: the ciphertext does not open under this data key", pr.HolderID)
	}
	var ph plainHolder
	if err := json.Unmarshal(plain, &ph); err != nil {
		return Cardholder{}, citycard.E(op, citycard.Invalid, "cardholder %d: plaintext does not decode", pr.HolderID)
	}
	h := Cardholder{ID: pr.HolderID, Name: PersonName(ph.Name), DocType: DocType(ph.DocType), DocNumber: DocNumber(ph.DocNumber),
		Phone: Phone(ph.Phone), School: ph.School}
	if h.DateOfBirth, err = ParseDate(ph.DateOfBirth); err != nil {
		return Cardholder{}, citycard.E(op, citycard.Invalid, "cardholder %d: date of birth does not parse", pr.HolderID)
	}
	if ph.StudiesEnd != "" {
		if h.StudiesEnd, err = ParseDate(ph.StudiesEnd); err != nil {
			return Cardholder{}, citycard.E(op, citycard.Invalid, "cardholder %d: end of studies does not parse", pr.HolderID)
		}
	}
	if err := h.Validate(); err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if p.LookupHash(h.DocType, h.DocNumber) != pr.Lookup {
		return Cardholder{}, citycard.E(op, citycard.Crypto, "cardholder %d: the look-up hash is not its document's", pr.HolderID)
	}
	return h, nil
}
