package apps

import (
	"context"

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

// Rewrite is a service point's or kiosk's part of an online contact with
// card c: the card's entitlement file as the back office has it now
// (File) under application key version keyVersion, the application
// counter and each slot's use (uses within the limit, the last stamp,
// inside, sites) carried from onCard, the file the card holds (nil for a
// card without one: a new card, a replacement), signed (SignGrants). A
// slot onCard does not hold starts with the use its grant carries: 0,
// but for a replacement's library loans out (Follow), so the new card
// is not given a whole new allowance with the old card's books out.
// What it returns is what the counter writes (card.SetEntitlements),
// and the key a new card is personalized with; gates told the card's
// version accept the file from then on. Kinds as File's and SignGrants'.
func (o *Office) Rewrite(ctx context.Context, store keys.Store, c CardRef, onCard *card.Entitlements, keyVersion uint8) (card.Entitlements, card.AppKey, error) {
	const op = "apps.Office.Rewrite"
	f, err := o.File(ctx, c, keyVersion)
	if err != nil {
		return card.Entitlements{}, card.AppKey{}, citycard.Wrap(op, citycard.Other, err)
	}
	if onCard != nil {
		f.Counter = onCard.Counter
	}
	for i := range f.Slots {
		s := &f.Slots[i]
		// The card's own use, or, for a slot the card does not hold yet,
		// what the grant carries (a replacement's loans out, Follow).
		if onCard != nil {
			if j := onCard.Find(s.App, s.Scope); j >= 0 {
				u := onCard.Slots[j]
				s.Uses, s.LastDate, s.LastTime, s.Inside, s.Sites = u.Uses, u.LastDate, u.LastTime, u.Inside, u.Sites
			}
		}
		s.Uses = min(s.Uses, s.Limit)
	}
	k, err := SignGrants(store, c.Issuer, c.ASN, &f)
	if err != nil {
		return card.Entitlements{}, card.AppKey{}, citycard.Wrap(op, citycard.Other, err)
	}
	return f, k, nil
}
