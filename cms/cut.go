package cms

import (
	"context"
	"fmt"

	"github.com/citycard/citycard"
)

// PurchasesFen sums purchases.
func PurchasesFen(purchases []Purchase) int64 {
	var fen int64
	for _, p := range purchases {
		fen += p.AmountFen
	}
	return fen
}

// BookPurse returns what is left on a card by card management's book
// less its purchases booked: BookBalance (loads - loads reversed -
// refunds - moved out + moved in + loss borne) less purchases, the
// balance a lost or damaged card's cut is reckoned from (SplitAtCut),
// as the card itself is not there to be read. A purchase whose record has
// not arrived yet is not in purchases: the cooling period is there for
// them to arrive, and one that comes after the balance moved is borne
// by the issuer (SettleLateLoss). Kind IO.
func (m *Manager) BookPurse(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, purchases []Purchase) (int64, error) {
	book, err := m.BookBalance(ctx, issuer, asn)
	if err != nil {
		return 0, citycard.Wrap("cms.Manager.BookPurse", citycard.Other, err)
	}
	return book - PurchasesFen(purchases), nil
}

// LateLossDue returns what the issuer has yet to bear of card c given
// all its purchases booked so far: on a card with a cut (lost or
// damaged) whose balance has moved or been refunded (closed), the
// purchases beyond what its book covers (loads - loads reversed - moved
// out - refunds + loss borne); 0 on any other card. Those are the old
// card's records that came after the balance was reckoned: its use after
// the cut, offline before the terminals had the blacklist, and, should
// one come after the cooling period, a purchase before the cut that the
// moved balance had counted as the cardholder's (the issuer bears it
// too: the balance cannot be taken back). Kinds IO, Invalid (the book
// covers more than the purchases: a purchase booked before has gone,
// which no journal does).
func (m *Manager) LateLossDue(ctx context.Context, c *Card, purchases []Purchase) (int64, error) {
	const op = "cms.Manager.LateLossDue"
	if c.LostAt.IsZero() || c.State != Closed {
		return 0, nil
	}
	left, err := m.BookPurse(ctx, c.Issuer, c.ASN, purchases)
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	if left > 0 {
		return 0, citycard.E(op, citycard.Invalid, "card %v: its book covers %d fen more than its %d purchases booked", c, left, len(purchases))
	}
	return -left, nil
}

// SettleLateLoss books LateLossDue as a LateLoss, keyed by the card and
// the purchases it covers (their number and sum), so that a sweep run
// again over the same purchases books nothing twice, and one after more
// records came books only the new part. It returns the fen booked (0:
// nothing due). Kinds of LateLossDue and LateLoss.
func (m *Manager) SettleLateLoss(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN, purchases []Purchase) (int64, error) {
	const op = "cms.Manager.SettleLateLoss"
	c, err := m.Card(ctx, issuer, asn)
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	due, err := m.LateLossDue(ctx, &c, purchases)
	if err != nil || due == 0 {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	key := fmt.Sprintf("late-loss:%v:%d:%d", &c, len(purchases), PurchasesFen(purchases))
	if _, err := m.LateLoss(ctx, by, key, issuer, asn, due); err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	return due, nil
}

// Booked reports whether an operation was booked under key: what a
// service point asks before it reckons a retry again from a card the
// first try has moved (a balance moved or refunded is reckoned from a
// book the move changed, so the retry's input would not be the first's).
// Kind IO.
func (m *Manager) Booked(ctx context.Context, key string) (bool, error) {
	_, err := m.store.OperationHash(ctx, key)
	if citycard.IsKind(err, citycard.NotFound) {
		return false, nil
	}
	return err == nil, citycard.Wrap("cms.Manager.Booked", citycard.Other, err)
}

// ClosedCut calls fn with each page (at most CardsPageMax) of the cards
// closed with a cut (lost or damaged, their balance moved or refunded):
// the cards whose late records the issuer bears (SettleLateLoss). It
// reads every card (Store.CardsPage), by issuer and ASN: a sweep's cost
// is the number of cards. Kinds IO, and fn's errors.
func (m *Manager) ClosedCut(ctx context.Context, fn func(cards []Card) error) error {
	const op = "cms.Manager.ClosedCut"
	var issuer citycard.IssuerCode
	var asn citycard.ASN
	for {
		cards, err := m.store.CardsPage(ctx, issuer, asn, CardsPageMax)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		var cut []Card
		for _, c := range cards {
			if c.State == Closed && !c.LostAt.IsZero() {
				cut = append(cut, c)
			}
		}
		if len(cut) > 0 {
			if err := fn(cut); err != nil {
				return err
			}
		}
		if len(cards) < CardsPageMax {
			return nil
		}
		issuer, asn = cards[len(cards)-1].Issuer, cards[len(cards)-1].ASN
	}
}
