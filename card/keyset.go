package card

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// KeySet is one version of a card's e-purse keys, as personalization
// writes them: the card keys diversified from the issuer's master keys of
// that version by the card's ASN. The key version a terminal names in
// INITIALIZE picks the key set; all four keys use Alg.
type KeySet struct {
	Version     uint8
	Alg         keys.Alg
	Purchase    [keys.KeyLen]byte // DPK: purchase MAC1, MAC2
	Load        [keys.KeyLen]byte // DLK: load MAC1, MAC2
	TAC         [keys.KeyLen]byte // DTK: TAC
	Maintenance [keys.KeyLen]byte // DAMK: APPLICATION BLOCK and UNBLOCK
}

// Deriver is what DeriveKeySet needs of a key store (keys.Store has
// it): a master key's child along a diversification path.
type Deriver interface {
	DeriveInto(dst *[keys.KeyLen]byte, ref keys.Ref, path ...[]byte) (keys.Alg, error)
}

// DeriveKeySet derives the card keys of version for the card asn of
// issuer from store: each key is the issuer's master key of that type and
// version diversified one level by the ASN (its rightmost 8 bytes).
// Kind KeyMissing when a master key of that version is missing, Crypto
// when the four master keys do not share one algorithm; other errors keep
// the store's kind.
func DeriveKeySet(store Deriver, issuer citycard.IssuerCode, asn citycard.ASN, version uint8) (KeySet, error) {
	const op = "card.DeriveKeySet"
	ks := KeySet{Version: version}
	dst := map[keys.KeyType]*[keys.KeyLen]byte{
		keys.KeyPurchase:    &ks.Purchase,
		keys.KeyLoad:        &ks.Load,
		keys.KeyTAC:         &ks.TAC,
		keys.KeyMaintenance: &ks.Maintenance,
	}
	for i, t := range keys.CardKeyTypes {
		ref := keys.Ref{Issuer: issuer, Type: t, Version: version}
		alg, err := store.DeriveInto(dst[t], ref, asn.Div())
		if err != nil {
			return KeySet{}, citycard.Wrap(op, citycard.Other, err)
		}
		if i == 0 {
			ks.Alg = alg
		} else if alg != ks.Alg {
			return KeySet{}, citycard.E(op, citycard.Crypto, "card %v key v%d: %v key is %v but %v key is %v", asn, version, t, alg, keys.CardKeyTypes[0], ks.Alg)
		}
	}
	return ks, nil
}
