package record

import (
	"github.com/citycard/citycard"
)

// VerifyTAC checks r's TAC alone, under the card's TAC key (the issuer's
// TAC master key of r.KeyVersion diversified by the ASN): the check an
// issuer makes of its card's record taken in another city
// (interconnection), whose record MAC is the other city's PSAM's, under
// keys only that city holds. Kinds: Crypto (ErrTAC, or the key's
// algorithm is not r.Alg), KeyMissing (no TAC key of that version; of an
// issuer whose TAC keys the store holds none of, with ErrPendingIssuer),
// Invalid (a grey record, an application record, or a status, type or
// algorithm outside the layout's).
func (v *Verifier) VerifyTAC(r *Record) error {
	const op = "record.Verifier.VerifyTAC"
	if v.store == nil {
		return citycard.E(op, citycard.KeyMissing, "no key store: the Verifier was made with a nil store (NewVerifier) or is the zero Verifier")
	}
	if !r.Status.Valid() || r.Status == StatusGrey || !validType(r.Type) || r.Type == citycard.TxApplication || !r.Alg.Valid() {
		return citycard.E(op, citycard.Invalid, "status %d, type %02X, algorithm id %02X: not a record whose TAC to verify", r.Status, r.Type, byte(r.Alg))
	}
	s := v.scratch.Get().(*scratch)
	defer v.putScratch(s)
	return v.verifyTAC(op, r, s)
}
