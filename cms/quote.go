package cms

import (
	"context"

	"github.com/citycard/citycard"
)

// Product returns a product of the Manager's catalogue. Kind NotFound.
func (m *Manager) Product(id string) (*Product, error) { return m.products.Product(id) }

// Concessions returns the concession categories of the products and the
// category each lapses to (Catalog.Concessions).
func (m *Manager) Concessions() map[uint8]uint8 { return m.products.Concessions() }

// BookBalance returns what card management owes on a card by its flows
// (BookBalances): the balance it should report once all its records are
// in. Kind IO.
func (m *Manager) BookBalance(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (int64, error) {
	flows, err := m.store.Flows(ctx, issuer, asn)
	if err != nil {
		return 0, citycard.Wrap("cms.Manager.BookBalance", citycard.Other, err)
	}
	return BookBalances(flows)[asn], nil
}

// Flows returns a card's flows in the order they were booked: its
// transactions as card management booked them. Kind IO.
func (m *Manager) Flows(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]Flow, error) {
	f, err := m.store.Flows(ctx, issuer, asn)
	return f, citycard.Wrap("cms.Manager.Flows", citycard.Other, err)
}

// QuoteRefund quotes what Refund would pay now on card c whose shadow
// holds balanceFen after purchases (a lost or damaged card's balance cut
// at its report, as Refund cuts it), so that a service point can tell
// whether it needs a supervisor's approval before it asks. Kinds of
// QuoteRefund, NotFound (the product).
func (m *Manager) QuoteRefund(c *Card, balanceFen int64, purchases []Purchase) (RefundQuote, error) {
	const op = "cms.Manager.QuoteRefund"
	p, err := m.products.Product(c.Product)
	if err != nil {
		return RefundQuote{}, citycard.Wrap(op, citycard.Other, err)
	}
	q, err := QuoteRefund(p, c.IssuedAt, m.now(), len(purchases), c.OwedFen(balanceFen, purchases), c.State != Lost)
	return q, citycard.Wrap(op, citycard.Other, err)
}
