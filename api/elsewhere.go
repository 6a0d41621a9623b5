package api

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/interop"
)

// Elsewhere gives our cards' purchases in other cities: their records
// accepted from the interconnection centre's INC files, each with the
// time of its tap (InteropElsewhere). ShadowBalances counts them beside
// the purchases of its journal: a card's float went to the other city
// for them (interop.EntryIncoming), and its chip holds that much less.
type Elsewhere interface {
	// Purchases returns the purchases of card (issuer, asn) accepted
	// in other cities, by the card's offline counter. Kinds Invalid,
	// IO.
	Purchases(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]cms.Purchase, error)
}

// InteropElsewhere is Elsewhere over the interconnection's store: the
// card's INC records accepted (interop.CardTaken, read
// interop.CardRecordsPageMax at a time).
type InteropElsewhere struct{ Store interop.CardStore }

// Purchases implements Elsewhere. Kinds of interop.CardTaken.
func (e InteropElsewhere) Purchases(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]cms.Purchase, error) {
	ks, err := interop.CardTaken(ctx, e.Store, issuer, asn)
	if err != nil {
		return nil, citycard.Wrap("api.InteropElsewhere.Purchases", citycard.Other, err)
	}
	ps := make([]cms.Purchase, len(ks))
	for i, k := range ks {
		ps[i] = cms.Purchase{At: k.At, AmountFen: k.AmountFen}
	}
	return ps, nil
}

// ShadowBalances returns the server's ShadowBalances: over its
// acquirer, card management and purchases elsewhere.
func (s *Server) ShadowBalances() ShadowBalances {
	return ShadowBalances{Acquirer: s.Acquirer, Cards: s.Cards, Elsewhere: s.Elsewhere}
}
