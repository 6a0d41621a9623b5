package apps

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// SignGrants is a service point's part of writing a card's entitlement
// file: it derives the card's application key of version f.KeyVersion
// from store (the application master key diversified by the ASN) and sets
// f.GrantMAC over f's grants. It returns the key, which personalization
// writes into a new card. Kind Invalid for a file card.Entitlements
// refuses; the store's kinds (KeyMissing) pass through.
func SignGrants(store keys.Store, issuer citycard.IssuerCode, asn citycard.ASN, f *card.Entitlements) (card.AppKey, error) {
	const op = "apps.SignGrants"
	if err := f.Validate(); err != nil {
		return card.AppKey{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	k, err := card.DeriveAppKey(store, issuer, asn, f.KeyVersion)
	if err != nil {
		return card.AppKey{}, citycard.Wrap(op, citycard.Other, err)
	}
	if f.GrantMAC, err = card.GrantMAC(k.Alg, k.Key[:], f); err != nil {
		return card.AppKey{}, citycard.Wrap(op, citycard.Other, err)
	}
	return k, nil
}
