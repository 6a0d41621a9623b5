package apps

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// CanteenLimitMaxFen is the highest daily canteen limit: the campus
// slot's limit field holds 16 bits of fen (655.35 yuan a day).
const CanteenLimitMaxFen = 1<<16 - 1

// Flags of an application record the back office saw on filing it
// (AppRecord.Flag): the record is kept and listed, flagged for review.
const (
	// FlagCanteenLimit: a canteen record whose day's spend passes the
	// limit of the pupil's grant when the record was filed (a stale
	// card's older, higher limit, or a POS that did not count).
	FlagCanteenLimit = "canteen_limit"
)

// SetCanteenLimit sets the daily canteen limit of the pupil's card c at
// the school application app, in fen (0: no limit), as the parents ask
// through the school's own app: the school is the one party that knows
// which parent goes with which pupil, and the limit is a term of its
// grant, so it travels with the application's credentials, never the
// pupil's self-service. The card's file version moves, but app's gate
// version does not: a card that still holds its older limit is not
// refused stale at the school gate (a pupil kept out of school because
// the parents changed the canteen limit) nor at the canteen; its canteen
// POS counts the older limit until the card's next online contact
// rewrites the file (Rewrite, which caps the day's spend at the new
// limit), and the back office flags a record past the new limit
// (FlagCanteenLimit). Kinds: Invalid (a limit out of range, an
// application not a campus), NotFound (no grant of app on c), Conflict
// (the grant is not active), IO.
func (o *Office) SetCanteenLimit(ctx context.Context, app string, c CardRef, limitFen int64) (Grant, uint32, error) {
	const op = "apps.Office.SetCanteenLimit"
	if limitFen < 0 || limitFen > CanteenLimitMaxFen {
		return Grant{}, 0, citycard.E(op, citycard.Invalid, "canteen limit %d fen: want 0 (none) to %d", limitFen, CanteenLimitMaxFen)
	}
	a, err := o.store.App(ctx, app)
	if err != nil {
		return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
	}
	if a.Kind != card.AppCampus {
		return Grant{}, 0, citycard.E(op, citycard.Invalid, "application %s is a %v: a canteen limit is a school's (campus)", app, a.Kind)
	}
	g, err := o.store.Grant(ctx, app, c)
	if err != nil {
		return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
	}
	v, err := o.store.PutTerms(ctx, &g, func(current []Grant) error {
		x, err := activeAsItStands(op, app, c, current)
		if err != nil {
			return err
		}
		if x.App == app {
			g = x // its terms as they stand
		}
		g.Slot.Limit, g.ChangedAt = uint16(limitFen), o.now().UTC()
		return nil
	})
	if err != nil {
		return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
	}
	return g, v, nil
}

// canteenFlag is the back office's check of a canteen record on filing:
// FlagCanteenLimit if the day's spend it left passes the limit of its
// card's grant g as the grant stands, "" otherwise (no limit, a record
// of another action).
func canteenFlag(r *AppRecord, g *Grant) string {
	if r.Action == Canteen && g.Slot.Limit > 0 && r.Uses > uint32(g.Slot.Limit) {
		return FlagCanteenLimit
	}
	return ""
}
