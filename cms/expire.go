package cms

import (
	"context"
	"time"

	"github.com/citycard/citycard"
)

// ExpireDueMax bounds the cards one run of Manager.ExpireDue expires: a
// run stops there and says there are more (the next run goes on).
const ExpireDueMax = 500

// ExpireDue expires the cards past their validity as of the clock's
// today (China time): the cards issued or active whose expiry is before
// today (Store.CardsExpired, oldest expiry first), at most limit (1 to
// ExpireDueMax) of them, each with the Expire move and its audit record
// (Card.Move, as a clerk's expire). It returns how many it expired and
// whether more are due. A run again expires nothing twice: an expired
// card is no longer issued or active. A card moved meanwhile by another
// (a Conflict on its version) is passed over: the next run finds it if
// it is still due. Kinds Invalid (the limit, the actor), IO.
func (m *Manager) ExpireDue(ctx context.Context, by Actor, limit int) (expired int, more bool, err error) {
	const op = "cms.Manager.ExpireDue"
	if err := by.check(op); err != nil {
		return 0, false, err
	}
	if limit < 1 || limit > ExpireDueMax {
		return 0, false, citycard.E(op, citycard.Invalid, "a run of %d cards: want 1 to %d", limit, ExpireDueMax)
	}
	at := m.now()
	cards, err := m.store.CardsExpired(ctx, Today(at), limit+1)
	if err != nil {
		return 0, false, citycard.Wrap(op, citycard.Other, err)
	}
	if len(cards) > limit {
		cards, more = cards[:limit], true
	}
	for i := range cards {
		moved, err := m.expire(ctx, by, &cards[i], at)
		if err != nil {
			return expired, true, citycard.Wrap(op, citycard.Other, err)
		}
		if moved {
			expired++
		}
	}
	return expired, more, nil
}

// expire makes the Expire move on c at at and stores it with its audit
// record; a card another move came first to (Conflict) is not moved.
func (m *Manager) expire(ctx context.Context, by Actor, c *Card, at time.Time) (bool, error) {
	p, err := m.products.Product(c.Product)
	if err != nil {
		return false, err
	}
	next, err := c.Move(p, Expire, at)
	if err != nil {
		return false, err
	}
	err = m.store.UpdateCard(ctx, &next, m.audit(by, at, "card:"+c.String(), Expire.String(), c.Snapshot(), next.Snapshot()))
	if citycard.IsKind(err, citycard.Conflict) {
		return false, nil
	}
	return err == nil, err
}
