package cms

import (
	"context"
	"time"

	"github.com/citycard/citycard"
)

// Bounds of the dormancy report.
const (
	// DormantPageMax bounds the dormant cards of one page.
	DormantPageMax = 1000
	// DormantScanMax bounds the cards one page reads to find them: a
	// page stops there and says where to go on (DormantPage.More).
	DormantScanMax = 100 * CardsPageMax
)

// DormantCard is a registered card reported dormant (Product.Dormant):
// unused for its product's DormantYears and still holding its balance.
type DormantCard struct {
	Card    Card
	LastUse time.Time // the newest record's time; zero: none since its issue
	Since   time.Time // when it became dormant: DormantYears after its last use (or issue)
	BookFen int64     // what card management owes on it (BookBalance): left there, never drained
}

// LastUses returns the last use of each of cards that was used (a card
// absent was never used): acquisition's newest record of it
// (acquire.Acquirer.LastUse, adapted by the caller). It is asked at most
// CardsPageMax cards at a time.
type LastUses func(ctx context.Context, cards []Card) (map[citycard.ASN]time.Time, error)

// DormantPage is a page of the dormancy report: its cards, by issuer
// and ASN, and, while More, the card after which the next page starts.
type DormantPage struct {
	Cards      []DormantCard
	More       bool
	NextIssuer citycard.IssuerCode
	NextASN    citycard.ASN
}

// Dormant reports the registered cards unused for their product's
// DormantYears as of now, after the card issuer/asn (both zero: from the
// first), at most limit (1 to DormantPageMax) of them, reading at most
// DormantScanMax cards. Only a card issued that long ago is asked about
// (a card cannot be dormant since a use after its issue if it is not
// since its issue), a page of CardsPageMax at a time, and lastUse tells
// its last use. The report moves nothing: a dormant card keeps its
// balance, to be claimed whenever its holder comes. Kinds Invalid (the
// limit), IO.
func (m *Manager) Dormant(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int, lastUse LastUses) (DormantPage, error) {
	const op = "cms.Manager.Dormant"
	if limit < 1 || limit > DormantPageMax {
		return DormantPage{}, citycard.E(op, citycard.Invalid, "a page of %d dormant cards: want 1 to %d", limit, DormantPageMax)
	}
	now := m.now()
	var out DormantPage
	for scanned := 0; ; {
		cards, err := m.store.CardsPage(ctx, issuer, asn, CardsPageMax)
		if err != nil {
			return DormantPage{}, citycard.Wrap(op, citycard.Other, err)
		}
		var asked []Card
		for i := range cards {
			if p, err := m.products.Product(cards[i].Product); err == nil && p.Dormant(&cards[i], time.Time{}, now) {
				asked = append(asked, cards[i])
			}
		}
		var last map[citycard.ASN]time.Time
		if len(asked) > 0 {
			if last, err = lastUse(ctx, asked); err != nil {
				return DormantPage{}, citycard.Wrap(op, citycard.Other, err)
			}
		}
		for i := range asked {
			c := &asked[i]
			p, _ := m.products.Product(c.Product)
			lu := last[c.ASN]
			if !p.Dormant(c, lu, now) {
				continue
			}
			since := lu
			if since.IsZero() {
				since = c.IssuedAt
			}
			d := DormantCard{Card: *c, LastUse: lu, Since: since.AddDate(p.DormantYears, 0, 0)}
			if d.BookFen, err = m.BookBalance(ctx, c.Issuer, c.ASN); err != nil {
				return DormantPage{}, citycard.Wrap(op, citycard.Other, err)
			}
			out.Cards = append(out.Cards, d)
			if len(out.Cards) == limit {
				out.More, out.NextIssuer, out.NextASN = true, c.Issuer, c.ASN
				return out, nil
			}
		}
		scanned += len(cards)
		if len(cards) < CardsPageMax {
			return out, nil
		}
		issuer, asn = cards[len(cards)-1].Issuer, cards[len(cards)-1].ASN
		if scanned >= DormantScanMax {
			out.More, out.NextIssuer, out.NextASN = true, issuer, asn
			return out, nil
		}
	}
}
