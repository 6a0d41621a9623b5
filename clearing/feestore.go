package clearing

import (
	"context"
	"math"
	"time"

	"github.com/citycard/citycard"
)

// FeeStore keeps the versions of the fee schedules. A stored version is
// never changed or removed.
type FeeStore interface {
	// AddFees stores versions, all or none, set by by at at. A version
	// (party, effective day) stored already with the same rules is left
	// as it is (setting a file again changes nothing); with other rules
	// it is kind Exists, and nothing of vs is stored.
	AddFees(ctx context.Context, vs []FeeVersion, by string, at time.Time) error
	// FeeVersions returns every stored version, by party, then
	// effective day.
	FeeVersions(ctx context.Context) ([]FeeVersion, error)
}

// SetFees has by store fee schedule versions (from DecodeFees). A version
// effective on or before the latest closed cycle's day would change what
// a closed cycle cleared (were it run again): it is refused, kind
// Conflict, and nothing is stored. Kind Invalid (a bad name, a bad
// schedule), Exists (a version stored with other rules), Other (no fee
// store).
func (cs *Cycles) SetFees(ctx context.Context, vs []FeeVersion, by string) error {
	const op = "clearing.Cycles.SetFees"
	if err := checkStaff(op, by); err != nil {
		return err
	}
	if cs.Fees == nil {
		return citycard.E(op, citycard.Other, "no fee store")
	}
	for i := range vs {
		if err := vs[i].Schedule.validate(op); err != nil {
			return err
		}
	}
	closed, err := cs.lastClosed(ctx)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	for _, v := range vs {
		if closed != noDay && v.Effective <= closed {
			return citycard.E(op, citycard.Conflict, "fee schedule of %s from %v: cycle %v is closed: a schedule takes effect after the latest closed cycle", v.Schedule.Party, v.Effective, closed)
		}
	}
	if err := cs.Fees.AddFees(ctx, vs, by, cs.Now()); err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	return nil
}

const noDay = Day(math.MinInt32)

// lastClosed returns the day of the latest closed cycle, or noDay.
func (cs *Cycles) lastClosed(ctx context.Context) (Day, error) {
	d := Day(math.MaxInt32)
	for {
		s, ok, err := cs.Store.Before(ctx, d)
		if err != nil || !ok {
			return noDay, err
		}
		if s.Cycle.State == Closed {
			return s.Cycle.Day, nil
		}
		d = s.Cycle.Day
	}
}

// ClearerFor returns the Clearer of day d: cs.Clearer under the fee
// schedules in force on d, when cs has a fee store, and the concessions,
// commissions and debit caps in force on d, when it has a parameter
// store: the Clearer that Run used for d's cycle, so that clearing a
// cycle again from its inputs with it gives the same result. Kinds of
// the stores, and Invalid from NewClearer.
func (cs *Cycles) ClearerFor(ctx context.Context, d Day) (*Clearer, error) {
	cfg := cs.Clearer.cfg
	if cs.Fees != nil {
		vs, err := cs.Fees.FeeVersions(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Fees = InForce(vs, d)
	}
	if cs.Params != nil {
		conc, err := cs.Concessions(ctx)
		if err != nil {
			return nil, err
		}
		comm, err := cs.Commissions(ctx)
		if err != nil {
			return nil, err
		}
		caps, err := cs.Caps(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Concessions, cfg.Commissions, cfg.DebitCapsFen = ConcessionsInForce(conc, d), InForce(comm, d), CapsInForce(caps, d)
	}
	if cs.Fees == nil && cs.Params == nil {
		return cs.Clearer, nil
	}
	return NewClearer(cfg)
}

// FeeSchedules returns every stored fee schedule version, by party then
// effective day (FeeStore.FeeVersions); none without a fee store.
func (cs *Cycles) FeeSchedules(ctx context.Context) ([]FeeVersion, error) {
	if cs.Fees == nil {
		return nil, nil
	}
	vs, err := cs.Fees.FeeVersions(ctx)
	if err != nil {
		return nil, citycard.Wrap("clearing.Cycles.FeeSchedules", citycard.Other, err)
	}
	return vs, nil
}
