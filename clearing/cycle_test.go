package clearing

import (
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// cycleIn returns day 2026-12-01's cycle moved into state s.
func cycleIn(t *testing.T, s State) Cycle {
	t.Helper()
	cal := DefaultCalendar()
	d := DayOf(2026, 12, 1)
	after := cal.End(d).Add(time.Hour)
	c := Open(cal, d, cal.Start(d))
	var err error
	steps := []func(Cycle) (Cycle, error){
		func(c Cycle) (Cycle, error) { return c.Compute(Range{From: 0, To: 10}, 0, after) },
		func(c Cycle) (Cycle, error) { return c.Review("ann", after) },
		func(c Cycle) (Cycle, error) { return c.Approve("bob", after) },
		func(c Cycle) (Cycle, error) { return c.Close(after.Add(time.Minute)) },
	}
	for i := 0; c.State != s; i++ {
		if c, err = steps[i](c); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestCycleMoves tries every move from every state against the
// transitions the issue names: "opened, computed, reviewed, approved (two
// people) and closed; a closed cycle is immutable".
func TestCycleMoves(t *testing.T) {
	want := map[State]map[Move]State{
		Opened:   {MoveCompute: Computed},
		Computed: {MoveCompute: Computed, MoveReview: Reviewed, MoveReject: Opened},
		Reviewed: {MoveCompute: Computed, MoveApprove: Approved, MoveReject: Opened},
		Approved: {MoveReject: Opened, MoveClose: Closed},
		Closed:   {},
	}
	for from := Opened; from <= Closed; from++ {
		for m := MoveCompute; m <= MoveClose; m++ {
			c := cycleIn(t, from)
			before := c
			at := c.Cutoff.Add(2 * time.Hour)
			var got Cycle
			var err error
			switch m {
			case MoveCompute:
				got, err = c.Compute(Range{From: 0, To: 12}, 0, at)
			case MoveReview:
				got, err = c.Review("carl", at)
			case MoveApprove:
				got, err = c.Approve("dora", at)
			case MoveReject:
				got, err = c.Reject("dora", at)
			case MoveClose:
				got, err = c.Close(at)
			}
			to, ok := want[from][m]
			if !ok {
				if !citycard.IsKind(err, citycard.Conflict) {
					t.Errorf("%v from %v: %v, want Conflict", m, from, err)
					continue
				}
				msg := err.Error()
				if !strings.Contains(msg, "cycle 2026-12-01 is "+from.String()) || !strings.Contains(msg, "cannot "+m.String()) {
					t.Errorf("%v from %v: %q names not the state and the move", m, from, msg)
				}
				if got != before {
					t.Errorf("%v from %v: refused, yet the cycle changed: %+v", m, from, got)
				}
				continue
			}
			if err != nil {
				t.Errorf("%v from %v: %v", m, from, err)
				continue
			}
			if got.State != to {
				t.Errorf("%v from %v: %v, want %v", m, from, got.State, to)
			}
			if c != before {
				t.Errorf("%v from %v: the receiver changed", m, from)
			}
		}
	}
}

func TestCycleTwoPeople(t *testing.T) {
	c := cycleIn(t, Reviewed)
	if _, err := c.Approve("ann", c.Cutoff.Add(2*time.Hour)); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("the reviewer approving: %v, want Permission", err)
	}
	for _, by := range []string{"", strings.Repeat("x", StaffLenMax+1), "\xff"} {
		if _, err := c.Approve(by, c.Cutoff); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("approve by %q: %v, want Invalid", by, err)
		}
	}
	if _, err := c.Approve(strings.Repeat("x", StaffLenMax), c.Cutoff); err != nil {
		t.Errorf("a name of %d bytes: %v", StaffLenMax, err)
	}
}

func TestCycleRecomputeDropsReview(t *testing.T) {
	c := cycleIn(t, Reviewed)
	c, err := c.Compute(Range{From: 0, To: 11}, 0, c.Cutoff.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReviewedBy != "" || c.Range.To != 11 {
		t.Errorf("recomputed: reviewer %q, range %v", c.ReviewedBy, c.Range)
	}
	// Now ann may approve, once someone else reviewed the new result.
	if c, err = c.Review("bob", c.ComputedAt); err != nil {
		t.Fatal(err)
	}
	if _, err = c.Approve("ann", c.ComputedAt); err != nil {
		t.Errorf("ann approving bob's review: %v", err)
	}
}

func TestCycleRejectDropsClaim(t *testing.T) {
	c := cycleIn(t, Approved)
	r, err := c.Reject("carl", c.ApprovedAt)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != Opened || r.Range != (Range{}) || r.ReviewedBy != "" || r.ApprovedBy != "" || r.Day != c.Day || r.Cutoff != c.Cutoff {
		t.Errorf("rejected: %+v", r)
	}
}

// A cycle is computed only after its cut-off, and on the range after its
// previous cycle's: the ranges of consecutive cycles are contiguous.
func TestCycleComputeBounds(t *testing.T) {
	c := cycleIn(t, Opened)
	if _, err := c.Compute(Range{From: 5, To: 9}, 5, c.Cutoff.Add(-time.Nanosecond)); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a nanosecond before the cut-off: %v, want Conflict", err)
	}
	if _, err := c.Compute(Range{From: 5, To: 9}, 5, c.Cutoff); err != nil {
		t.Errorf("at the cut-off: %v", err)
	}
	for _, r := range []Range{{From: 4, To: 9}, {From: 6, To: 9}, {From: 5, To: 4}} {
		if _, err := c.Compute(r, 5, c.Cutoff); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("range %v after position 5: %v, want Invalid", r, err)
		}
	}
	if got, err := c.Compute(Range{From: 5, To: 5}, 5, c.Cutoff); err != nil || got.Range.Len() != 0 {
		t.Errorf("an empty range: %v %v", got.Range, err)
	}
}
