package terminal

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// How a PSAM gets its keys.
//
// A PSAM is a secure element, and keys reach it as they reach a real one.
// Its chip vendor (or the card bureau that pre-personalizes PSAMs for the
// operator) delivers it holding its serial number and its transport key:
// the transport master key diversified by the PSAM's ID, written into the
// chip at the vendor's site. The vendor and the operator hold that
// transport master key both, each in its own key store, from one key
// ceremony: its components travel under dual control from the party that
// made it to the other's custodians (citycard keys ceremony --type
// transport). At the operator's key injection station, the host asks the
// key store to wrap each master key the PSAM needs under the PSAM's
// transport key (keys.Store.Wrap, naming the transport master and the
// PSAM's ID); the store derives the transport key inside, and the host
// only relays ciphertext into the PSAM, which opens it with the key it
// was born with. So no host, and no Store method, ever holds a master key
// or a transport key in clear.
//
// PSAMVendor plays the vendor: the simulator, the trace and the tests
// hold the vendor's copy of the transport master key, apart from the
// operator's store, as the vendor's own HSM would. Trust stays where it is
// in the field: the vendor, who holds the transport master, could open
// keys wrapped for its PSAMs; an operator who wants to trust no one else
// replaces the transport key at first personalization, under a key it
// alone holds, which this model leaves out.
//
// The record key is a child key (the record master key diversified by the
// PSAM's ID), which the store hands out like card keys (DeriveInto); the
// injection station writes it into the PSAM and clears its copy.

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

// PSAMVendor is the PSAM's chip vendor, a party apart from the operator:
// it holds its own copy of a transport master key and delivers each PSAM
// holding that key diversified by the PSAM's ID (see above).
type PSAMVendor struct {
	transport keys.Ref
	div       *keys.Diversifier
}

// NewPSAMVendor returns the vendor holding master, its copy of the
// transport master key the operator's store holds as transport (the same
// key, from one key ceremony). The caller clears master after the call:
// the vendor keeps only its key schedule. Kind Invalid when transport is
// not a transport key or master is not a key for alg.
func NewPSAMVendor(transport keys.Ref, alg keys.Alg, master []byte) (*PSAMVendor, error) {
	const op = "terminal.NewPSAMVendor"
	if transport.Type != keys.KeyTransport {
		return nil, citycard.E(op, citycard.Invalid, "%v is a %v key, not a transport key", transport, transport.Type)
	}
	div, err := keys.NewDiversifier(alg, master)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	return &PSAMVendor{transport: transport, div: div}, nil
}

// NewPSAM returns a blank PSAM with serial number id, holding its
// transport key, as the vendor ships it: the operator personalizes it
// with ProvisionPSAM.
func (v *PSAMVendor) NewPSAM(id citycard.PSAMID) *PSAM {
	p := &PSAM{
		id:           id,
		transportRef: v.transport,
		slots:        map[slotKey]purchaseSlot{},
		national:     map[uint8]purchaseSlot{},
	}
	// Derived straight into the PSAM: no copy of it is left to clear.
	v.div.DeriveInto(&p.transport, id.Div())
	return p
}

// ProvisionPSAM personalizes a blank PSAM from the key store, as a key
// injection station does: the terminal number tid, the terminal sequence
// to start from, the record key (derived for the PSAM's ID), and the
// master keys of k, each wrapped by the store under the PSAM's transport
// key (the child of p.Transport() by the PSAM's ID), relayed and opened in
// the PSAM. Every key is fetched before the PSAM is written, and the PSAM
// takes all or none, so a failed provisioning leaves it blank and it can
// be provisioned again.
//
// Kind Conflict if p is personalized already; Crypto if a wrapped key does
// not open in the PSAM (its vendor's transport master is not the store's);
// the store's kinds (KeyMissing, Permission for a key a PSAM may not hold)
// pass through.
func ProvisionPSAM(store keys.Store, p *PSAM, tid citycard.TerminalID, k PSAMKeys, seq uint32) error {
	const op = "terminal.ProvisionPSAM"
	id := p.ID()
	if !p.blank() {
		// Before any key leaves the store for nothing.
		return citycard.E(op, citycard.Conflict, "PSAM %v is personalized already", id)
	}
	ks := make([]wrappedKey, 0, len(k.Issuers)+len(k.National))
	for _, l := range []struct {
		refs     []keys.Ref
		national bool
	}{{k.Issuers, false}, {k.National, true}} {
		for _, ref := range l.refs {
			w, err := store.Wrap(ref, p.Transport(), id.Div())
			if err != nil {
				return citycard.E(op, citycard.KindOf(err), "PSAM %v: %w", id, err)
			}
			ks = append(ks, wrappedKey{ref: ref, wrapped: w, national: l.national})
		}
	}
	var rk [keys.KeyLen]byte
	defer clear(rk[:])
	alg, err := store.DeriveInto(&rk, keys.Ref{Issuer: k.Operator, Type: keys.KeyRecord, Version: k.RecordKeyVersion}, id.Div())
	if err != nil {
		return citycard.E(op, citycard.KindOf(err), "PSAM %v: record key: %w", id, err)
	}
	if err := p.personalize(tid, alg, &rk, k.RecordKeyVersion, seq, ks); err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	return nil
}
