package cms

import (
	"context"
	"strconv"
	"time"

	"github.com/citycard/citycard"
)

// ActorLenMax bounds an actor's name and service point.
const ActorLenMax = 64

// Actor is who asks for a change and where: the member of staff (or
// terminal, or cardholder) and the service point. Every audit record
// names both.
type Actor struct {
	Who          string
	ServicePoint string
}

func (a Actor) check(op string) error {
	if a.Who == "" || len(a.Who) > ActorLenMax || a.ServicePoint == "" || len(a.ServicePoint) > ActorLenMax {
		return citycard.E(op, citycard.Invalid, "actor %q at %q: want both, 1 to %d bytes each", a.Who, a.ServicePoint, ActorLenMax)
	}
	return nil
}

// Manager applies card management's rules over a Store: it validates,
// encrypts personal data before the store sees it, checks eligibility and
// the state machine, and writes every change with its audit record in the
// same transaction. Time comes from the injected clock, one reading per
// change.
type Manager struct {
	store     Store
	products  *Catalog
	protector *Protector
	now       func() time.Time
}

// NewManager returns a Manager over store, selling products, protecting
// personal data with protector, reading time from now.
func NewManager(store Store, products *Catalog, protector *Protector, now func() time.Time) *Manager {
	return &Manager{store: store, products: products, protector: protector, now: now}
}

func (m *Manager) audit(by Actor, at time.Time, subject, action, before, after string) *Audit {
	return &Audit{At: at, Actor: by.Who, ServicePoint: by.ServicePoint, Subject: subject, Action: action, Before: before, After: after}
}

func holderSubject(id int64) string { return "holder:" + strconv.FormatInt(id, 10) }

// Register stores a new cardholder and returns it with its ID. The
// document number is normalized first. Kinds Invalid (Cardholder.Validate,
// the actor), Exists (the document is registered already), IO.
func (m *Manager) Register(ctx context.Context, by Actor, h Cardholder) (Cardholder, error) {
	const op = "cms.Manager.Register"
	if err := by.check(op); err != nil {
		return Cardholder{}, err
	}
	h.DocNumber = NormalizeDocNumber(string(h.DocNumber))
	if err := h.Validate(); err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	at := m.now()
	id, err := m.store.CreateHolder(ctx, func(id int64) (Protected, *Audit, error) {
		h.ID = id
		p, err := m.protector.Protect(&h)
		if err != nil {
			return Protected{}, nil, err
		}
		return p, m.audit(by, at, holderSubject(id), "register", "", p.Snapshot()), nil
	})
	if err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	h.ID = id
	return h, nil
}

// UpdateHolder replaces cardholder h.ID's personal data with h's (a new
// phone, a school), encrypted afresh, the audit record showing the
// protected form before and after. Kinds Invalid, NotFound, Exists
// (another holder's document), Crypto, IO.
func (m *Manager) UpdateHolder(ctx context.Context, by Actor, h Cardholder) error {
	const op = "cms.Manager.UpdateHolder"
	if err := by.check(op); err != nil {
		return err
	}
	h.DocNumber = NormalizeDocNumber(string(h.DocNumber))
	old, err := m.store.Holder(ctx, h.ID)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	p, err := m.protector.Protect(&h)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	a := m.audit(by, m.now(), holderSubject(h.ID), "update", old.Snapshot(), p.Snapshot())
	return citycard.Wrap(op, citycard.Other, m.store.UpdateHolder(ctx, p, a))
}

// Holder returns cardholder id, decrypted. Kinds NotFound, Crypto (the
// stored form does not open under this data key), IO.
func (m *Manager) Holder(ctx context.Context, id int64) (Cardholder, error) {
	const op = "cms.Manager.Holder"
	p, err := m.store.Holder(ctx, id)
	if err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	h, err := m.protector.Reveal(p)
	return h, citycard.Wrap(op, citycard.Other, err)
}

// FindHolder returns the cardholder of a document, looked up by its keyed
// hash. Kinds NotFound (the message names the document type only), Crypto,
// IO.
func (m *Manager) FindHolder(ctx context.Context, t DocType, number string) (Cardholder, error) {
	const op = "cms.Manager.FindHolder"
	p, err := m.store.HolderByLookup(ctx, m.protector.LookupHash(t, NormalizeDocNumber(number)))
	if citycard.IsKind(err, citycard.NotFound) {
		return Cardholder{}, citycard.E(op, citycard.NotFound, "no cardholder with that %v", t)
	}
	if err != nil {
		return Cardholder{}, citycard.Wrap(op, citycard.Other, err)
	}
	h, err := m.protector.Reveal(p)
	return h, citycard.Wrap(op, citycard.Other, err)
}

// Apply records an application for a card of product (state applied),
// for cardholder holder (0 for an anonymous card). Kinds NotFound (no
// such product or cardholder), Invalid (a holder missing where the
// product is registered, or given where it is anonymous), Permission (the
// holder is not eligible today, Product.CheckEligible), Exists (the ASN
// is taken), IO.
func (m *Manager) Apply(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN, product string, holder int64) (Card, error) {
	const op = "cms.Manager.Apply"
	if err := by.check(op); err != nil {
		return Card{}, err
	}
	p, err := m.products.Product(product)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	switch {
	case p.Registration == Registered && holder == 0:
		return Card{}, citycard.E(op, citycard.Invalid, "product %s: a card is issued to a cardholder", p.ID)
	case p.Registration == Anonymous && holder != 0:
		return Card{}, citycard.E(op, citycard.Invalid, "product %s: cards are anonymous", p.ID)
	}
	at := m.now()
	if holder != 0 {
		h, err := m.Holder(ctx, holder)
		if err != nil {
			return Card{}, citycard.Wrap(op, citycard.Other, err)
		}
		if err := p.CheckEligible(h.Facts(), Today(at)); err != nil {
			return Card{}, citycard.Wrap(op, citycard.Other, err)
		}
	}
	c := Card{Issuer: issuer, ASN: asn, Product: p.ID, Holder: holder, State: Applied, Version: 1, AppliedAt: at}
	if err := m.store.CreateCard(ctx, &c, m.audit(by, at, "card:"+c.String(), "apply", "", c.Snapshot())); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	return c, nil
}

// Card returns a card. Kinds NotFound, IO.
func (m *Manager) Card(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (Card, error) {
	c, err := m.store.Card(ctx, issuer, asn)
	return c, citycard.Wrap("cms.Manager.Card", citycard.Other, err)
}

// Move makes move mv on a card (Card.Apply at the clock's time) and
// stores it with its audit record, before and after. Kinds NotFound,
// Conflict (the state machine, or another move stored first: read again
// and retry), Invalid, IO.
func (m *Manager) Move(ctx context.Context, by Actor, issuer citycard.IssuerCode, asn citycard.ASN, mv Move) (Card, error) {
	const op = "cms.Manager.Move"
	if err := by.check(op); err != nil {
		return Card{}, err
	}
	c, err := m.store.Card(ctx, issuer, asn)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	p, err := m.products.Product(c.Product)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	at := m.now()
	next, err := c.Apply(p, mv, at)
	if err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	if err := m.store.UpdateCard(ctx, &next, m.audit(by, at, "card:"+c.String(), mv.String(), c.Snapshot(), next.Snapshot())); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Other, err)
	}
	return next, nil
}
