package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/registry"
)

// feeVersions decodes a fee schedule file (clearing.DecodeFees).
func feeVersions(t *testing.T, body string) []clearing.FeeVersion {
	t.Helper()
	vs, err := clearing.DecodeFees("fees.csv", strings.NewReader(clearing.FeeHeader+"\n"+body))
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// testFeeVersions: versions are stored all or none, read back as they
// were set, sorted by party then effective day; setting a version again
// with the same rules changes nothing, with other rules is Exists; the
// table refuses any change or removal (clearing/feestore.go).
func testFeeVersions(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	first := feeVersions(t, "metro,2026-12-01,all,,,,1000,0,0,0\nbus,2026-12-02,bus,1|2,3,bus_validator|pos,5000,1,2,300\nbus,2026-12-02,other,,,,0,0,0,0\n")
	if err := s.Clearing.AddFees(ctx, first, "ann", at); err != nil {
		t.Fatal(err)
	}
	if err := s.Clearing.AddFees(ctx, first, "bob", at); err != nil {
		t.Fatalf("the same versions again: %v", err)
	}
	got, err := s.Clearing.FeeVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []clearing.FeeVersion{first[1], first[0]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("versions %+v, want %+v", got, want)
	}
	// A new version with a version changed: Exists, and the new one is
	// not stored either.
	again := feeVersions(t, "bus,2026-12-09,bus,,,,1,0,0,0\nmetro,2026-12-01,all,,,,2000,0,0,0\n")
	if err := s.Clearing.AddFees(ctx, again, "ann", at); !citycard.IsKind(err, citycard.Exists) {
		t.Fatalf("a version changed: %v, want Exists", err)
	}
	if got2, err := s.Clearing.FeeVersions(ctx); err != nil || !reflect.DeepEqual(got2, got) {
		t.Fatalf("after a refused set: %+v (%v), want %+v", got2, err, got)
	}
	for _, stmt := range []string{"UPDATE clearing_fee_versions SET schedule = ''", "DELETE FROM clearing_fee_versions"} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
}

// testCycleUnderStoredFees: a cycle run clears under the versions in
// force on its day (the latest effective on or before it), read from the
// store; a version effective on or before a closed cycle is refused.
func testCycleUnderStoredFees(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	cal := clearing.DefaultCalendar()
	end := cal.End(clearDay)
	commitAt(t, s.Journal, end.Add(-time.Hour), "a", 1, 4, 1000)
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: "us", Rounding: clearing.RoundDown})
	if err != nil {
		t.Fatal(err)
	}
	now := end.Add(time.Hour)
	cs := &clearing.Cycles{Clearer: clr, Store: s.Clearing, Journal: s.Clearing, Fees: s.Clearing, Now: func() time.Time { return now },
		Terminals: clearTerminals{clearTerm: {Operator: "bus", Type: registry.TerminalBusValidator}}}
	// In force on clearDay (2026-12-01): bus's version of 11-30, not the
	// older one nor the one of 12-02.
	vs := feeVersions(t, "bus,2026-11-01,old,,,,500000,0,0,0\nbus,2026-11-30,cur,,,,10000,0,0,0\nbus,2026-12-02,new,,,,900000,0,0,0\n")
	if err := cs.SetFees(ctx, vs, "ann"); err != nil {
		t.Fatal(err)
	}
	st, err := cs.Run(ctx, clearDay, "carl")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Result.Lines) != 1 || st.Result.Lines[0].Rule != "cur" || st.Result.Lines[0].FeeFen != 40 {
		t.Fatalf("lines %+v, want one of rule cur charging 1%% of 4000 fen (40)", st.Result.Lines)
	}
	if _, err := cs.Approve(ctx, clearDay, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Approve(ctx, clearDay, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Close(ctx, clearDay, "dora", func(*clearing.Cycle, *clearing.Result) ([]clearing.File, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	// On the closed day: refused; the day after: taken.
	if err := cs.SetFees(ctx, feeVersions(t, "bus,2026-12-01,late,,,,1,0,0,0\n"), "ann"); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a version effective on a closed cycle: %v, want Conflict", err)
	}
	if err := cs.SetFees(ctx, feeVersions(t, "bus,2026-12-03,next,,,,1,0,0,0\n"), "ann"); err != nil {
		t.Fatalf("a version after the closed cycle: %v", err)
	}
}
