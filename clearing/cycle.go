package clearing

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/citycard/citycard"
)

// StaffLenMax bounds the name of the member of staff who reviews, approves
// or rejects a cycle.
const StaffLenMax = 64

// State is where a cycle stands: opened, computed, reviewed, approved,
// closed. The list only grows at the end; the names are stored.
type State uint8

// The states of a cycle.
const (
	Opened   State = 1 // takes records; nothing computed
	Computed State = 2 // its journal range claimed and cleared; may be recomputed
	Reviewed State = 3 // a member of staff checked the result
	Approved State = 4 // a second, different member of staff approved it: it takes no more records
	Closed   State = 5 // final: immutable; its files are written with its close time
)

var stateNames = [...]string{Opened: "opened", Computed: "computed", Reviewed: "reviewed", Approved: "approved", Closed: "closed"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return "state?"
}

// Move is what staff or the service do to a cycle.
type Move uint8

// The moves.
const (
	MoveCompute Move = 1 // claim the journal range and clear it (again)
	MoveReview  Move = 2 // the first person's check
	MoveApprove Move = 3 // the second person's approval
	MoveReject  Move = 4 // send the cycle back to opened: its claim, review and approval dropped
	MoveClose   Move = 5 // make it final
)

var moveNames = [...]string{MoveCompute: "compute", MoveReview: "review", MoveApprove: "approve", MoveReject: "reject", MoveClose: "close"}

// String returns the move's name.
func (m Move) String() string {
	if int(m) < len(moveNames) && moveNames[m] != "" {
		return moveNames[m]
	}
	return "move?"
}

// transitions lists every allowed move: from a state, to a state. Any move
// not listed is refused. A recompute sends a reviewed cycle back to
// computed, since the review was of another result; an approved cycle is
// not recomputed (its claim is fixed: late records go to the next cycle),
// only rejected; nothing leaves closed.
var transitions = map[Move]map[State]State{
	MoveCompute: {Opened: Computed, Computed: Computed, Reviewed: Computed},
	MoveReview:  {Computed: Reviewed},
	MoveApprove: {Reviewed: Approved},
	MoveReject:  {Computed: Opened, Reviewed: Opened, Approved: Opened},
	MoveClose:   {Approved: Closed},
}

// Range is a contiguous range of journal positions, (From, To]: the
// records after From up to and including To. A cycle claims the range
// that follows its previous cycle's.
type Range struct {
	From int64
	To   int64
}

// Len returns how many positions r holds.
func (r Range) Len() int64 { return r.To - r.From }

func (r Range) String() string { return "(" + itoa(r.From) + ", " + itoa(r.To) + "]" }

// SettlementVersion is the version of the settlement rules a cycle's
// files are written under (package exchange: Settle and Files): which
// pay-ins it expects, and which files it writes. A cycle takes
// SettlementCurrent when it is computed (Cycle.Compute, each recompute
// again) and keeps it, stored with it: a cycle computed under an older
// version is settled under that version for good, so that its files,
// written again by any later binary, are the bytes it closed with. The
// list only grows at the end; the numbers are stored.
type SettlementVersion uint8

// The settlement versions.
const (
	// SettlementPayers is the version of every cycle computed before
	// versions were kept (stored as 0): pay-ins are expected only of
	// the payers of remote top-ups in net debit, ranked among them, in
	// an incoming CSV written only for a cycle with remote top-ups.
	SettlementPayers SettlementVersion = 0
	// SettlementDebtors: a pay-in is expected of every party in net
	// debit but the collector (an issuer of this city or another, an
	// operator, a funder, a payer), ranked among them by party ID, and
	// every cycle writes its incoming CSV, even when empty.
	SettlementDebtors SettlementVersion = 1
	// SettlementCurrent is the version a cycle computed now takes.
	SettlementCurrent = SettlementDebtors
)

// Cycle is one clearing cycle: a business day, its state, the journal
// range it claimed and who did what when. Its methods return the cycle
// moved and leave the receiver as it was: a refused move changes nothing.
type Cycle struct {
	Day Day
	// Cutoff is the instant the day ends (Calendar.End): the cycle is
	// computed only after it.
	Cutoff     time.Time
	State      State
	Range      Range // claimed by the last compute; zero while opened
	OpenedAt   time.Time
	ComputedAt time.Time
	ComputedBy string // who ran the last compute (Cycles.Run)
	ReviewedAt time.Time
	ReviewedBy string
	ApprovedAt time.Time
	ApprovedBy string
	// ClosedAt is the close time: the creation time of the cycle's
	// settlement files.
	ClosedAt time.Time
	ClosedBy string // who closed it (Cycles.Close)
	// SettlementVersion is the settlement rules the last compute took
	// (SettlementCurrent then): those its files are written under.
	SettlementVersion SettlementVersion
}

// Open returns the opened cycle of day d under calendar cal.
func Open(cal Calendar, d Day, at time.Time) Cycle {
	return Cycle{Day: d, Cutoff: cal.End(d), State: Opened, OpenedAt: at}
}

// move checks that m is allowed from c's state and returns the state it
// leads to. Kind Conflict, naming the cycle, its state and the move.
func (c *Cycle) move(op string, m Move) (State, error) {
	to, ok := transitions[m][c.State]
	if !ok {
		var from []string
		for s := Opened; s <= Closed; s++ {
			if _, ok := transitions[m][s]; ok {
				from = append(from, s.String())
			}
		}
		return 0, citycard.E(op, citycard.Conflict, "cycle %v is %v: cannot %v (allowed from %s)", c.Day, c.State, m, strings.Join(from, ", "))
	}
	return to, nil
}

// Compute records that the cycle claimed journal range r and was cleared
// at at, to be settled under the settlement rules of now
// (SettlementCurrent). r must follow the previous cycle's range (prevTo,
// the To of the previous day's closed cycle; 0 for the first cycle).
// Kind Conflict for a move not allowed now or a compute before the
// cut-off, Invalid for a range that does not start at prevTo or runs
// backwards.
func (c Cycle) Compute(r Range, prevTo int64, at time.Time) (Cycle, error) {
	const op = "clearing.Cycle.Compute"
	to, err := c.move(op, MoveCompute)
	if err != nil {
		return c, err
	}
	if at.Before(c.Cutoff) {
		return c, citycard.E(op, citycard.Conflict, "cycle %v takes records until its cut-off %v: cannot compute at %v", c.Day, c.Cutoff.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	if r.From != prevTo || r.To < r.From {
		return c, citycard.E(op, citycard.Invalid, "cycle %v: journal range %v: want one from position %d on", c.Day, r, prevTo)
	}
	c.State, c.Range, c.ComputedAt, c.SettlementVersion = to, r, at, SettlementCurrent
	c.ReviewedBy, c.ReviewedAt = "", time.Time{}
	return c, nil
}

// Review records that by checked the computed result. Kind Conflict,
// Invalid for a bad name.
func (c Cycle) Review(by string, at time.Time) (Cycle, error) {
	const op = "clearing.Cycle.Review"
	to, err := c.move(op, MoveReview)
	if err != nil {
		return c, err
	}
	if err := checkStaff(op, by); err != nil {
		return c, err
	}
	c.State, c.ReviewedBy, c.ReviewedAt = to, by, at
	return c, nil
}

// Approve records that by approved the reviewed result; by must not be
// who reviewed it (two people). Kind Conflict, Permission for the
// reviewer approving, Invalid for a bad name.
func (c Cycle) Approve(by string, at time.Time) (Cycle, error) {
	const op = "clearing.Cycle.Approve"
	to, err := c.move(op, MoveApprove)
	if err != nil {
		return c, err
	}
	if err := checkStaff(op, by); err != nil {
		return c, err
	}
	if by == c.ReviewedBy {
		return c, citycard.E(op, citycard.Permission, "cycle %v: %q reviewed it and cannot approve it too: a second person approves", c.Day, by)
	}
	c.State, c.ApprovedBy, c.ApprovedAt = to, by, at
	return c, nil
}

// Reject sends the cycle back to opened, dropping its claim, review and
// approval: the next compute claims its range again. Kind Conflict,
// Invalid for a bad name.
func (c Cycle) Reject(by string, at time.Time) (Cycle, error) {
	const op = "clearing.Cycle.Reject"
	to, err := c.move(op, MoveReject)
	if err != nil {
		return c, err
	}
	if err := checkStaff(op, by); err != nil {
		return c, err
	}
	return Cycle{Day: c.Day, Cutoff: c.Cutoff, State: to, OpenedAt: c.OpenedAt}, nil
}

// Close makes the approved cycle final at at, its files' creation time.
// Kind Conflict.
func (c Cycle) Close(at time.Time) (Cycle, error) {
	const op = "clearing.Cycle.Close"
	to, err := c.move(op, MoveClose)
	if err != nil {
		return c, err
	}
	c.State, c.ClosedAt = to, at
	return c, nil
}

func checkStaff(op, by string) error {
	if by == "" || len(by) > StaffLenMax || !utf8.ValidString(by) {
		return citycard.E(op, citycard.Invalid, "staff name %q: want 1 to %d bytes of UTF-8", by, StaffLenMax)
	}
	return nil
}
