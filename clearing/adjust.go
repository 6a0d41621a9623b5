package clearing

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard"
)

// AdjustmentsShownMax bounds the adjustments a store lists at once.
const AdjustmentsShownMax = 1000

// Entered is an adjustment as staff entered it: the correction, who
// entered it and who approved it (a second person; until then it counts
// in no cycle), and the cycle that took it once that cycle closed.
type Entered struct {
	Adjustment
	EnteredBy  string
	EnteredAt  time.Time
	ApprovedBy string    // "" until approved
	ApprovedAt time.Time // zero until approved
	TakenBy    Day       // the closed cycle that took it; 0 for none yet
}

// same reports whether e and o are the same correction entered by the
// same person: what an idempotency key (Ref) is checked against.
func (e *Entered) same(o *Entered) bool {
	return e.Adjustment == o.Adjustment && e.EnteredBy == o.EnteredBy
}

// AdjustmentStore keeps the adjustments. An adjustment is never removed;
// its approval is set once, and so is the cycle that took it, by the
// cycle store's Save of the closing cycle (in the same transaction: a
// closed cycle's adjustments are taken by no other).
type AdjustmentStore interface {
	// AddAdjustment stores e, unless its Ref is stored: then it returns
	// the stored one (the caller compares). Kind Invalid from the store.
	AddAdjustment(ctx context.Context, e *Entered) (Entered, error)
	// Adjustment returns the adjustment of ref. Kind NotFound.
	Adjustment(ctx context.Context, ref string) (Entered, error)
	// ApproveAdjustment sets ref's approval, if it has none. Kind
	// NotFound, Conflict (approved meanwhile).
	ApproveAdjustment(ctx context.Context, ref, by string, at time.Time) error
	// OpenAdjustments returns the adjustments no closed cycle took, by
	// Ref, at most AdjustmentsMax.
	OpenAdjustments(ctx context.Context) ([]Entered, error)
}

// Adjust has by enter a correction of closed cycle of: amountFen paid to
// party (a negative amount paid by party) by the collector (our issuer,
// which runs the clearing), for reason, under idempotency key ref. It
// counts in no cycle until a second person approves it (ApproveAdjustment);
// then the next cycle run after of takes it. The same ref entered again
// with the same correction by the same person returns the stored one
// (a retry); with anything else it is kind Exists. Kind Invalid (a bad
// field, the collector as party), NotFound (no cycle of), Conflict (of
// not closed: correct an open cycle by running it again).
func (cs *Cycles) Adjust(ctx context.Context, of Day, party string, amountFen int64, reason, ref, by string) (Entered, error) {
	const op = "clearing.Cycles.Adjust"
	if err := checkStaff(op, by); err != nil {
		return Entered{}, err
	}
	if cs.Adjustments == nil {
		return Entered{}, citycard.E(op, citycard.Other, "no adjustment store")
	}
	collector := cs.Clearer.cfg.Collector
	a := Adjustment{Ref: ref, Of: of, Payer: collector, Payee: party, AmountFen: amountFen, Reason: reason}
	if amountFen < 0 {
		a.Payer, a.Payee, a.AmountFen = party, collector, -amountFen
	}
	if party == collector {
		return Entered{}, citycard.E(op, citycard.Invalid, "adjustment %q: party %q is the collector, which pays or receives every adjustment", ref, party)
	}
	if strings.TrimSpace(reason) == "" {
		return Entered{}, citycard.E(op, citycard.Invalid, "adjustment %q: no reason", ref)
	}
	if err := a.check(op, of+1); err != nil {
		return Entered{}, err
	}
	c, err := cs.Store.Cycle(ctx, of)
	if err != nil {
		return Entered{}, err
	}
	if c.Cycle.State != Closed {
		return Entered{}, citycard.E(op, citycard.Conflict, "adjustment %q: cycle %v is %v: an adjustment corrects a closed cycle (run an open one again)", ref, of, c.Cycle.State)
	}
	e := Entered{Adjustment: a, EnteredBy: by, EnteredAt: cs.Now()}
	got, err := cs.Adjustments.AddAdjustment(ctx, &e)
	if err != nil {
		return Entered{}, citycard.Wrap(op, citycard.Other, err)
	}
	if !got.same(&e) {
		return Entered{}, citycard.E(op, citycard.Exists, "adjustment %q was entered with another correction by %s: a new correction takes a new reference", ref, got.EnteredBy)
	}
	return got, nil
}

// ApproveAdjustment is the second person's sign-off of adjustment ref:
// by may not be who entered it. Approving it again by the same person
// changes nothing. Kind NotFound, Permission (the one who entered it),
// Conflict (approved by someone else), Invalid (a bad name).
func (cs *Cycles) ApproveAdjustment(ctx context.Context, ref, by string) (Entered, error) {
	const op = "clearing.Cycles.ApproveAdjustment"
	if err := checkStaff(op, by); err != nil {
		return Entered{}, err
	}
	if cs.Adjustments == nil {
		return Entered{}, citycard.E(op, citycard.Other, "no adjustment store")
	}
	e, err := cs.Adjustments.Adjustment(ctx, ref)
	if err != nil {
		return Entered{}, err
	}
	switch {
	case e.ApprovedBy == by:
		return e, nil
	case e.ApprovedBy != "":
		return Entered{}, citycard.E(op, citycard.Conflict, "adjustment %q was approved by %s", ref, e.ApprovedBy)
	case e.EnteredBy == by:
		return Entered{}, citycard.E(op, citycard.Permission, "adjustment %q: %s entered it: a second person approves it", ref, by)
	}
	if err := cs.Adjustments.ApproveAdjustment(ctx, ref, by, cs.Now()); err != nil {
		return Entered{}, citycard.Wrap(op, citycard.Other, err)
	}
	return cs.Adjustments.Adjustment(ctx, ref)
}

// adjustmentsFor returns the adjustments day d's cycle takes: approved,
// taken by no closed cycle, correcting a cycle before d; by Ref.
func (cs *Cycles) adjustmentsFor(ctx context.Context, d Day) ([]Adjustment, error) {
	if cs.Adjustments == nil {
		return nil, nil
	}
	es, err := cs.Adjustments.OpenAdjustments(ctx)
	if err != nil {
		return nil, err
	}
	var out []Adjustment
	for _, e := range es {
		if e.ApprovedBy != "" && e.TakenBy == 0 && e.Of < d {
			out = append(out, e.Adjustment)
		}
	}
	slices.SortFunc(out, func(a, b Adjustment) int { return strings.Compare(a.Ref, b.Ref) })
	return out, nil
}
