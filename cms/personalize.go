package cms

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// KeyVersionsMax bounds the key versions a card is personalized with: a
// chip keeps one key set per version, and a rotation needs two.
const KeyVersionsMax = 4

// CheckChip checks that a chip of profile chip, numbered asn, can carry a
// card of product p: the chip's profile is the product's (its e-purse
// application, CJ/T 166 or JT/T 978, and the files it holds), and the
// ASN has the form that profile gives it (8 bytes, right-aligned, for
// citizen and mohurd; 10 for mot), which is the input the card's keys
// are diversified by. Kind Invalid, naming the product, its profile and
// what does not fit.
func (p *Product) CheckChip(asn citycard.ASN, chip card.Profile) error {
	const op = "cms.Product.CheckChip"
	want := p.Profile
	switch {
	case !chip.Valid():
		return citycard.E(op, citycard.Invalid, "card %v: chip profile %d: want citizen, mohurd or mot", asn, chip)
	case chip != want:
		return citycard.E(op, citycard.Invalid, "card %v: product %s is personalized as a %v card (AID %X); the chip is a %v one (AID %X)", asn, p.ID, want, want.AID(), chip, chip.AID())
	case (want.ASNLen() == 8) != asn.Short():
		n := 10
		if asn.Short() {
			n = 8
		}
		return citycard.E(op, citycard.Invalid, "card %v: product %s is a %v card, whose ASN is %d bytes; this one is %d", asn, p.ID, want, want.ASNLen(), n)
	}
	return nil
}

// Personalization returns what personalizing card issuer/asn writes on
// its chip, of profile chip, as the card's product says: the product's
// profile (CheckChip: the chip and the ASN must fit it), card type, rider
// category and balance cap; the chip's validity from today (China time)
// for the product's ValidityYears (the card's own expiry is set at issue,
// and the terminals check the chip's); one key set per version of
// versions (1 to KeyVersionsMax, distinct), each the issuer's master keys
// of that version diversified by the card's ASN (card.DeriveKeySet), as
// the PSAMs and the load host derive them. Nothing is written, so it may
// be asked again for a card personalized already (a chip whose writing
// failed, written again). Kinds NotFound (no such card), Conflict (a
// card neither applied for nor personalized), Invalid (CheckChip, the
// versions), KeyMissing (a master key of a version), Crypto, IO.
func (m *Manager) Personalization(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, chip card.Profile, ks card.Deriver, versions []uint8) (card.Config, error) {
	const op = "cms.Manager.Personalization"
	c, err := m.store.Card(ctx, issuer, asn)
	if err != nil {
		return card.Config{}, citycard.Wrap(op, citycard.Other, err)
	}
	if c.State != Applied && c.State != Personalized {
		return card.Config{}, citycard.E(op, citycard.Conflict, "card %v is %v: a chip is personalized for a card applied for (or personalized, written again)", &c, c.State)
	}
	p, err := m.products.Product(c.Product)
	if err != nil {
		return card.Config{}, citycard.Wrap(op, citycard.Other, err)
	}
	if err := p.CheckChip(asn, chip); err != nil {
		return card.Config{}, citycard.Wrap(op, citycard.Other, err)
	}
	if len(versions) == 0 || len(versions) > KeyVersionsMax {
		return card.Config{}, citycard.E(op, citycard.Invalid, "card %v: %d key versions, want 1 to %d", &c, len(versions), KeyVersionsMax)
	}
	sets := make([]card.KeySet, 0, len(versions))
	for i, v := range versions {
		for _, w := range versions[:i] {
			if w == v {
				return card.Config{}, citycard.E(op, citycard.Invalid, "card %v: key version %d given twice", &c, v)
			}
		}
		s, err := card.DeriveKeySet(ks, issuer, asn, v)
		if err != nil {
			return card.Config{}, citycard.Wrap(op, citycard.Other, err)
		}
		sets = append(sets, s)
	}
	now := m.now().In(citycard.ChinaTime)
	start, _ := citycard.DateTime(now)
	expiry, _ := citycard.DateTime(now.AddDate(p.ValidityYears, 0, 0))
	return card.Config{Profile: p.Profile, Issuer: issuer, ASN: asn, CardType: p.CardType, RiderCategory: p.Category.Code,
		Start: start, Expiry: expiry, KeySets: sets, BalanceMaxFen: uint32(p.BalanceMaxFen)}, nil
}

// PersonalizeCard personalizes a card applied for: its Personalization
// (the chip's data and keys as its product's profile says), then the
// move Personalize recorded with its audit record, so that a chip that
// does not fit or a key missing leaves the card applied for. It returns
// what to write on the chip and the card after the move. Kinds of
// Personalization and Manager.Move (Conflict for a card personalized
// already: ask its Personalization to write a chip again).
func (m *Manager) PersonalizeCard(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN, chip card.Profile, ks card.Deriver, versions []uint8) (card.Config, Card, error) {
	const op = "cms.Manager.PersonalizeCard"
	if err := by.check(op); err != nil {
		return card.Config{}, Card{}, err
	}
	cfg, err := m.Personalization(ctx, issuer, asn, chip, ks, versions)
	if err != nil {
		return card.Config{}, Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	c, err := m.Move(ctx, by, issuer, asn, Personalize)
	if err != nil {
		return card.Config{}, Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	return cfg, c, nil
}
