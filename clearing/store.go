package clearing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// FilesMax bounds the settlement files a cycle keeps the hashes of.
const FilesMax = 16

// File is one settlement file of a closed cycle, by name, with the
// SHA-256 of its bytes (lower-case hex) and its size: what a re-run of
// the cycle's files is checked against.
type File struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Stored is a cycle as its store keeps it: the cycle, its result once
// computed, the hashes of its files once closed.
type Stored struct {
	Cycle  Cycle
	Result *Result // nil while opened
	Files  []File  // set at close, by name
}

// Store keeps the cycles. A closed cycle is immutable: the stores'
// triggers refuse any change to it, as they do to the journal.
type Store interface {
	// Cycle returns day d's cycle. Kind NotFound if it was never opened.
	Cycle(ctx context.Context, d Day) (Stored, error)
	// Before returns the latest cycle of a day before d; ok is false if
	// there is none.
	Before(ctx context.Context, d Day) (s Stored, ok bool, err error)
	// Save writes s. was is the state the caller read it in, 0 for a
	// cycle it opens: kind Exists if day s.Cycle.Day was opened already,
	// Conflict if its stored state is not was (someone moved it since),
	// Invalid if it is closed (the store refuses to change it).
	Save(ctx context.Context, s *Stored, was State) error
}

// Cycles runs the cycles of a city over their store and the journal:
// what the CLI's clear run, approve and close do. Its moves follow the
// Cycle methods; each one reads the cycle, moves it and saves it in the
// state it read (Store.Save's was), so that two members of staff racing
// on one cycle cannot both move it.
type Cycles struct {
	Clearer   *Clearer
	Store     Store
	Journal   Journal
	Terminals Terminals
	// Fees keeps the fee schedules: Run clears a day under the versions
	// in force on it. Nil clears under the Clearer's own.
	Fees FeeStore
	// Adjustments keeps the adjustments: Run takes the approved ones no
	// closed cycle took. Nil takes none.
	Adjustments AdjustmentStore
	// Interconnect is the interconnection (package interop): Run takes
	// the files no closed cycle took. Nil takes none.
	Interconnect Interconnect
	// Params keeps the concession shares, commission schedules and net
	// debit caps: Run clears a day under the versions in force on it.
	// Nil clears under the Clearer's own.
	Params ParamStore
	// Ledger is where Run reads the cycle's loads (GatherLoads); nil
	// takes none.
	Ledger LedgerScanner
	// Fares prices the category discounts of concessions (GatherPriced);
	// nil claims none.
	Fares Fares
	Now   func() time.Time
	// PartyType, if set, tells what a registered party is (kind NotFound
	// for one not registered): SetConcessions takes a funder's shares
	// only of a registered funder to registered operators, so that every
	// compensation claim names a real party, with its position; Run
	// clears remote top-ups only through registered payers.
	PartyType func(ctx context.Context, id string) (registry.PartyType, error)
}

// Cycle returns day d's cycle from the store, its times in the
// calendar's zone (a store keeps instants, not zones): the zone its files
// are written in. Kind NotFound.
func (cs *Cycles) Cycle(ctx context.Context, d Day) (Stored, error) {
	s, err := cs.Store.Cycle(ctx, d)
	if err != nil {
		return s, err
	}
	s.Cycle.inZone(cs.Clearer.cfg.Calendar.Zone)
	return s, nil
}

// inZone puts c's times in zone z.
func (c *Cycle) inZone(z *time.Location) {
	for _, t := range []*time.Time{&c.Cutoff, &c.OpenedAt, &c.ComputedAt, &c.ReviewedAt, &c.ApprovedAt, &c.ClosedAt} {
		if !t.IsZero() {
			*t = t.In(z)
		}
	}
}

// Run opens day d's cycle if it was not, and by computes it (again): it
// claims the journal range after the previous cycle's, gathers it,
// proves it complete and clears it, carrying the previous cycle's
// rounding. The previous cycle (the latest before d) must be closed, so
// that ranges are contiguous and each is fixed before the next is
// claimed; and a day before the latest cycle is never opened. Kind
// Conflict for a previous cycle not closed, a day before the latest
// cycle, a cycle that cannot be computed now (approved, closed, before
// its cut-off), an incomplete range or remote top-ups through a party
// not registered as a payer (with PartyType set: its pay-in could not be
// asked for); Invalid for a bad name; the kinds of Gather and Clear.
func (cs *Cycles) Run(ctx context.Context, d Day, by string) (*Stored, error) {
	const op = "clearing.Cycles.Run"
	if err := checkStaff(op, by); err != nil {
		return nil, err
	}
	now := cs.Now()
	cur, err := cs.Cycle(ctx, d)
	var was State
	switch {
	case citycard.IsKind(err, citycard.NotFound):
		// A day before the latest cycle is never opened: the range it
		// would claim was taken by the cycles after it.
		last, ok, err := cs.Store.Before(ctx, math.MaxInt32)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		if ok && last.Cycle.Day > d {
			return nil, citycard.E(op, citycard.Conflict, "cycle %v: a later cycle, %v, was opened: a day before it is never opened (its records went into the cycles after it)", d, last.Cycle.Day)
		}
		cur = Stored{Cycle: Open(cs.Clearer.cfg.Calendar, d, now)}
	case err != nil:
		return nil, citycard.Wrap(op, citycard.Other, err)
	default:
		was = cur.Cycle.State
	}
	prev, ok, err := cs.Store.Before(ctx, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	var from int64
	var carry []Carry
	if ok {
		if prev.Cycle.State != Closed {
			return nil, citycard.E(op, citycard.Conflict, "cycle %v: the cycle before it, %v, is %v: close it first", d, prev.Cycle.Day, prev.Cycle.State)
		}
		from = prev.Cycle.Range.To
		for _, r := range prev.Result.Rounding {
			if r.CarryOutMicro != 0 {
				carry = append(carry, Carry{Party: r.Party, Micro: r.CarryOutMicro})
			}
		}
	}
	// Check the move before reading the journal.
	if _, err := cur.Cycle.move(op, MoveCompute); err != nil {
		return nil, err
	}
	g, err := GatherPriced(ctx, cs.Journal, cs.Terminals, &cur.Cycle, from, cs.Fares)
	if err != nil {
		return nil, err
	}
	in := &Input{Day: d, Claim: g.Claim, Items: g.Items, Greys: g.Greys, Carry: carry, FareVersion: g.FareVersion}
	var pp *Stored
	if ok {
		pp = &prev
	}
	if in.LoadClaim, in.Loads, in.TopUps, err = cs.GatherLoads(ctx, pp, &cur.Cycle); err != nil {
		return nil, err
	}
	clr, err := cs.ClearerFor(ctx, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	adj, err := cs.adjustmentsFor(ctx, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	var settling []Settling
	if cs.Interconnect != nil {
		if settling, err = cs.Interconnect.Settling(ctx); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	in.Adjustments, in.Interop = adj, settling
	res, err := clr.Clear(in)
	if err != nil {
		return nil, err
	}
	if err := cs.checkPayers(ctx, op, res); err != nil {
		return nil, err
	}
	c, err := cur.Cycle.Compute(g.Claim.Range, from, now)
	if err != nil {
		return nil, err
	}
	c.ComputedBy = by
	s := &Stored{Cycle: c, Result: res}
	if err := cs.Store.Save(ctx, s, was); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return s, nil
}

// Approve is the two people's sign-off of day d's cycle: by reviews a
// computed cycle, and approves a reviewed one (a second person: the
// reviewer cannot). Kind NotFound, Conflict (a cycle neither computed nor
// reviewed, or moved meanwhile), Permission (the reviewer approving),
// Invalid (a bad name).
func (cs *Cycles) Approve(ctx context.Context, d Day, by string) (*Stored, error) {
	return cs.sign(ctx, "clearing.Cycles.Approve", d, by, 0)
}

// Review is Approve of a computed cycle only: kind Conflict for a cycle
// in another state. The API's review, so that a click meant as a review
// never approves.
func (cs *Cycles) Review(ctx context.Context, d Day, by string) (*Stored, error) {
	return cs.sign(ctx, "clearing.Cycles.Review", d, by, Computed)
}

// ApproveReviewed is Approve of a reviewed cycle only: kind Conflict for
// a cycle in another state.
func (cs *Cycles) ApproveReviewed(ctx context.Context, d Day, by string) (*Stored, error) {
	return cs.sign(ctx, "clearing.Cycles.ApproveReviewed", d, by, Reviewed)
}

// sign reviews or approves d's cycle as Approve does; only, if not 0, is
// the state the cycle must be in.
func (cs *Cycles) sign(ctx context.Context, op string, d Day, by string, only State) (*Stored, error) {
	cur, err := cs.Cycle(ctx, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	was := cur.Cycle.State
	if only != 0 && was != only {
		return nil, citycard.E(op, citycard.Conflict, "cycle %v is %v, not %v", d, was, only)
	}
	if err := breachesBlock(op, cur.Result); err != nil {
		return nil, err
	}
	var c Cycle
	if was == Computed {
		c, err = cur.Cycle.Review(by, cs.Now())
	} else {
		c, err = cur.Cycle.Approve(by, cs.Now())
	}
	if err != nil {
		return nil, err
	}
	cur.Cycle = c
	if err := cs.Store.Save(ctx, &cur, was); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return &cur, nil
}

// Close has by make day d's approved cycle final now and keeps the hashes of
// its settlement files, which files makes from the closed cycle and its
// result (their creation time is the close time). Kind NotFound,
// Conflict, Invalid (more than FilesMax files, a bad name), and files'
// kinds.
func (cs *Cycles) Close(ctx context.Context, d Day, by string, files func(c *Cycle, res *Result) ([]File, error)) (*Stored, error) {
	const op = "clearing.Cycles.Close"
	if err := checkStaff(op, by); err != nil {
		return nil, err
	}
	cur, err := cs.Cycle(ctx, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	was := cur.Cycle.State
	c, err := cur.Cycle.Close(cs.Now())
	if err != nil {
		return nil, err
	}
	c.ClosedBy = by
	fs, err := files(&c, cur.Result)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if len(fs) > FilesMax {
		return nil, citycard.E(op, citycard.Invalid, "cycle %v: %d files, at most %d", d, len(fs), FilesMax)
	}
	fs = slices.Clone(fs)
	slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	cur.Cycle, cur.Files = c, fs
	if err := cs.Store.Save(ctx, &cur, was); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return &cur, nil
}

// FileOf returns the hash of a file of name holding data.
func FileOf(name string, data []byte) File {
	sum := sha256.Sum256(data)
	return File{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
}

// breachesBlock refuses the review and approval of a result with a
// party past its net debit cap: kind Conflict naming each, so that the
// breach is dealt with (the party prefunds, an adjustment, a cap set
// anew and the cycle run again) before settlement.
func breachesBlock(op string, res *Result) error {
	if res == nil || len(res.Breaches) == 0 {
		return nil
	}
	var b strings.Builder
	for i, x := range res.Breaches {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s nets %s CNY, past its net debit cap of %s CNY by %s CNY", x.Party, citycard.Yuan(x.NetFen), citycard.Yuan(x.CapFen), citycard.Yuan(-x.NetFen-x.CapFen))
	}
	return citycard.E(op, citycard.Conflict, "cycle %v is not signed off with a party past its net debit cap: %s: settle it first (the party prefunds, or an adjustment), then run the cycle again", res.Day, b.String())
}

// GatherLoads returns the loads and remote top-ups cycle c takes from cs.Ledger
// (clearing.GatherLoads): the ledger range after prev's (nil for no
// cycle before c); after a prev that claimed no ledger range (computed
// before loads were cleared), only the loads booked after its cut-off.
// None, and an empty range at prev's end, without a ledger. Kinds of
// clearing.GatherLoads.
func (cs *Cycles) GatherLoads(ctx context.Context, prev *Stored, c *Cycle) (LoadClaim, []Load, []TopUpMove, error) {
	var from int64
	var notBefore time.Time
	if prev != nil && prev.Result != nil {
		from = prev.Result.LoadClaim.To
		if from == 0 {
			notBefore = prev.Cycle.Cutoff
		}
	}
	if cs.Ledger == nil {
		return LoadClaim{Range: Range{From: from, To: from}}, nil, nil, nil
	}
	return GatherLoads(ctx, cs.Ledger, from, notBefore, c.Cutoff)
}

// checkPayers checks that every payer of res's remote top-ups is a
// registered party of type payer (Cycles.PartyType; nil checks
// nothing): one that is not could not be asked for its pay-in when the
// cycle closes. Kind Conflict naming the payer and what to do.
func (cs *Cycles) checkPayers(ctx context.Context, op string, res *Result) error {
	if cs.PartyType == nil {
		return nil
	}
	for i := range res.TopUps {
		p := res.TopUps[i].Payer
		if i > 0 && res.TopUps[i-1].Payer == p {
			continue // by payer
		}
		t, err := cs.PartyType(ctx, p)
		switch {
		case citycard.IsKind(err, citycard.NotFound):
			return citycard.E(op, citycard.Conflict, "cycle %v: remote top-ups through %s, which is not registered: register it as a payer (citycard registry add-payer) and run the cycle again", res.Day, p)
		case err != nil:
			return citycard.Wrap(op, citycard.Other, err)
		case t != registry.PartyPayer:
			return citycard.E(op, citycard.Conflict, "cycle %v: remote top-ups through %s, a registered %v, not a payer: a payment company or top-up agent is a party of type payer", res.Day, p, t)
		}
	}
	return nil
}
