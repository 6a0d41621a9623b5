package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/registry"
)

// closeDay runs, approves (two people) and closes day d's cycle.
func closeDay(t *testing.T, cs *clearing.Cycles, d clearing.Day) *clearing.Stored {
	t.Helper()
	ctx := context.Background()
	st, err := cs.Run(ctx, d, "carl")
	if err != nil {
		t.Fatal(err)
	}
	for _, by := range []string{"ann", "bob"} {
		if _, err := cs.Approve(ctx, d, by); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.Close(ctx, d, "dora", func(*clearing.Cycle, *clearing.Result) ([]clearing.File, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	return st
}

// netOf returns party's net position in res.
func netOf(res *clearing.Result, party string) int64 {
	for _, p := range res.Positions {
		if p.Party == party {
			return p.NetFen
		}
	}
	return 0
}

// testAdjustments: an adjustment corrects a closed cycle in a later one
// (clearing/adjust.go): it counts only once a second person approved it,
// its reference is its idempotency key, the cycle that closes with it
// takes it (no later cycle takes it again), and the table refuses any
// other change.
func testAdjustments(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	cal := clearing.DefaultCalendar()
	commitAt(t, s.Journal, cal.End(clearDay).Add(-time.Hour), "a", 1, 2, 1000)
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: "us", Rounding: clearing.RoundDown})
	if err != nil {
		t.Fatal(err)
	}
	now := cal.End(clearDay + 3).Add(time.Hour)
	cs := &clearing.Cycles{Clearer: clr, Store: s.Clearing, Journal: s.Clearing, Adjustments: s.Clearing, Now: func() time.Time { return now },
		Terminals: clearTerminals{clearTerm: {Operator: "bus", Type: registry.TerminalBusValidator}}}
	if _, err := cs.Adjust(ctx, clearDay, "bus", 500, "short paid", "fix-1", "ann"); !citycard.IsKind(err, citycard.NotFound) {
		t.Fatalf("an adjustment of a cycle never opened: %v, want NotFound", err)
	}
	closeDay(t, cs, clearDay)
	e, err := cs.Adjust(ctx, clearDay, "bus", 500, "short paid", "fix-1", "ann")
	if err != nil || e.Payer != "us" || e.Payee != "bus" || e.AmountFen != 500 {
		t.Fatalf("adjust: %+v %v", e, err)
	}
	if again, err := cs.Adjust(ctx, clearDay, "bus", 500, "short paid", "fix-1", "ann"); err != nil || again.Adjustment != e.Adjustment {
		t.Fatalf("the same adjustment again: %+v %v", again, err)
	}
	if _, err := cs.Adjust(ctx, clearDay, "bus", 501, "short paid", "fix-1", "ann"); !citycard.IsKind(err, citycard.Exists) {
		t.Fatalf("the key with another amount: %v, want Exists", err)
	}
	if neg, err := cs.Adjust(ctx, clearDay, "bus", -200, "overpaid", "fix-2", "ann"); err != nil || neg.Payer != "bus" || neg.AmountFen != 200 {
		t.Fatalf("a negative adjustment: %+v %v", neg, err)
	}
	// Not approved: day 2 clears without it.
	if st, err := cs.Run(ctx, clearDay+1, "carl"); err != nil || len(st.Result.Adjustments) != 0 {
		t.Fatalf("before approval: %v %+v", err, st)
	}
	if _, err := cs.ApproveAdjustment(ctx, "fix-1", "ann"); !citycard.IsKind(err, citycard.Permission) {
		t.Fatalf("approved by who entered it: %v, want Permission", err)
	}
	if _, err := cs.ApproveAdjustment(ctx, "fix-1", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ApproveAdjustment(ctx, "fix-1", "cleo"); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("approved again by another: %v, want Conflict", err)
	}
	st := closeDay(t, cs, clearDay+1)
	if len(st.Result.Adjustments) != 1 || netOf(st.Result, "bus") != 500 || netOf(st.Result, "us") != -500 {
		t.Fatalf("day 2 under fix-1: adjustments %+v, positions %+v", st.Result.Adjustments, st.Result.Positions)
	}
	if got, err := s.Clearing.Adjustment(ctx, "fix-1"); err != nil || got.TakenBy != clearDay+1 || got.ApprovedBy != "bob" {
		t.Fatalf("fix-1 after day 2 closed: %+v %v", got, err)
	}
	// fix-2 approved now: day 3 takes it, not fix-1 again.
	if _, err := cs.ApproveAdjustment(ctx, "fix-2", "bob"); err != nil {
		t.Fatal(err)
	}
	st, err = cs.Run(ctx, clearDay+2, "carl")
	if err != nil || len(st.Result.Adjustments) != 1 || st.Result.Adjustments[0].Ref != "fix-2" || netOf(st.Result, "bus") != -200 {
		t.Fatalf("day 3: %v %+v", err, st.Result)
	}
	for _, stmt := range []string{"UPDATE clearing_adjustments SET amount_fen = 1", "UPDATE clearing_adjustments SET taken_day = NULL WHERE ref = 'fix-1'", "DELETE FROM clearing_adjustments"} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
}
