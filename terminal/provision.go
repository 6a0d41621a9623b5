package terminal

import (
	"crypto/rand"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// PSAMKeys says which keys a PSAM is personalized with.
type PSAMKeys struct {
	Operator         citycard.IssuerCode // whose record master key seals records
	RecordKeyVersion uint8
	// Issuers are the purchase and maintenance master keys of the issuers
	// the PSAM serves, used one level deep (by card ASN).
	Issuers []keys.Ref
	// National are interconnection purchase master keys, used two levels
	// deep (by issuer code, then by card ASN).
	National []keys.Ref
}

// ProvisionPSAM personalizes a virtual PSAM from the key store, as a key
// injection station does: the record key is derived for the PSAM's ID, and
// the master keys travel wrapped under a transport key made for this PSAM
// alone, never in clear. Errors of the store (KeyMissing) pass through.
func ProvisionPSAM(store keys.Store, id citycard.PSAMID, tid citycard.TerminalID, k PSAMKeys, seq uint32) (*PSAM, error) {
	const op = "terminal.ProvisionPSAM"
	transport := make([]byte, 32)
	if _, err := rand.Read(transport); err != nil {
		return nil, citycard.E(op, citycard.IO, "transport key: %w", err)
	}
	var rk [keys.KeyLen]byte
	alg, err := store.DeriveInto(&rk, keys.Ref{Issuer: k.Operator, Type: keys.KeyRecord, Version: k.RecordKeyVersion}, id.Div())
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	p, err := NewPSAM(PSAMConfig{
		ID: id, TerminalID: tid, Transport: transport, Operator: k.Operator,
		RecordKey: rk, RecordAlg: alg, RecordKeyVersion: k.RecordKeyVersion, Seq: seq,
	})
	clear(rk[:])
	if err != nil {
		return nil, err
	}
	inject := func(ref keys.Ref, national bool) error {
		info, err := store.Info(ref)
		if err != nil {
			return err
		}
		w, err := store.Wrap(ref, transport)
		if err != nil {
			return err
		}
		return p.InjectKey(ref, info.Alg, w, national)
	}
	for _, ref := range k.Issuers {
		if err := inject(ref, false); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	for _, ref := range k.National {
		if err := inject(ref, true); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	clear(transport)
	return p, nil
}
