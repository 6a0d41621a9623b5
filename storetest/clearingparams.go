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

// testParamVersions: concession shares, commission schedules and net
// debit caps are stored all or none, read back by kind as they were set
// (by party, then effective day); the same version again changes
// nothing, another text for it is Exists; the table refuses any change
// or removal (clearing/params.go, migration 0016).
func testParamVersions(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := clearing.DayOf(2026, 12, 1)
	first := []clearing.ParamVersion{
		{Kind: clearing.ParamConcession, Party: "bureau", Effective: d + 1, Text: "b2"},
		{Kind: clearing.ParamConcession, Party: "bureau", Effective: d, Text: "b1"},
		{Kind: clearing.ParamCommission, Party: "agent", Effective: d, Text: "a1"},
		{Kind: clearing.ParamDebitCap, Party: "agent", Effective: d, Text: "c1"},
	}
	if err := s.Clearing.AddParams(ctx, first, "ann", at); err != nil {
		t.Fatal(err)
	}
	if err := s.Clearing.AddParams(ctx, first[:2], "bob", at); err != nil {
		t.Fatalf("the same versions again: %v", err)
	}
	got, err := s.Clearing.ParamVersions(ctx, clearing.ParamConcession)
	if err != nil {
		t.Fatal(err)
	}
	if want := []clearing.ParamVersion{first[1], first[0]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("concessions %+v, want %+v", got, want)
	}
	if got, err := s.Clearing.ParamVersions(ctx, clearing.ParamDebitCap); err != nil || !reflect.DeepEqual(got, first[3:]) {
		t.Fatalf("caps %+v (%v), want %+v", got, err, first[3:])
	}
	changed := []clearing.ParamVersion{{Kind: clearing.ParamDebitCap, Party: "bank", Effective: d, Text: "new"}, {Kind: clearing.ParamConcession, Party: "bureau", Effective: d, Text: "other"}}
	if err := s.Clearing.AddParams(ctx, changed, "ann", at); !citycard.IsKind(err, citycard.Exists) {
		t.Fatalf("a version changed: %v, want Exists", err)
	}
	if got, err := s.Clearing.ParamVersions(ctx, clearing.ParamDebitCap); err != nil || len(got) != 1 {
		t.Fatalf("after a refused set: %+v (%v): the new cap was stored", got, err)
	}
	if err := s.Clearing.AddParams(ctx, []clearing.ParamVersion{{Kind: "fare", Party: "x", Effective: d, Text: "t"}}, "ann", at); err == nil {
		t.Errorf("a kind the table does not know: stored")
	}
	for _, stmt := range []string{"UPDATE clearing_param_versions SET body = ''", "DELETE FROM clearing_param_versions"} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
}

// testCycleUnderStoredParams: a cycle run clears under the concession
// shares, commission schedules and caps in force on its day, read from
// the store: the bureau compensates the discount of a record's full fare,
// and a party past its stored cap is a breach.
func testCycleUnderStoredParams(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	cal := clearing.DefaultCalendar()
	end := cal.End(clearDay)
	commitFull(t, s.Journal, end.Add(-time.Hour), "a", 1, 4, 1000, 1200)
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: "us", Rounding: clearing.RoundDown})
	if err != nil {
		t.Fatal(err)
	}
	now := end.Add(time.Hour)
	cs := &clearing.Cycles{Clearer: clr, Store: s.Clearing, Journal: s.Clearing, Params: s.Clearing, Now: func() time.Time { return now },
		Terminals: clearTerminals{clearTerm: {Operator: "bus", Type: registry.TerminalBusValidator}}}
	// The registry's parties: the bureau is a funder (registry.PartyFunder).
	types := map[string]registry.PartyType{"bureau": registry.PartyFunder, "bus": registry.PartyOperator, clearIssuer.String(): registry.PartyIssuer}
	cs.PartyType = func(_ context.Context, id string) (registry.PartyType, error) {
		t, ok := types[id]
		if !ok {
			return 0, citycard.E("test.PartyType", citycard.NotFound, "no party %s", id)
		}
		return t, nil
	}
	for _, c := range []struct {
		name, csv string
		kind      citycard.Kind
	}{
		{"a funder not registered", "nobody,2026-11-30,transfer,*,*,500000\n", citycard.NotFound},
		{"an operator as funder", "bus,2026-11-30,transfer,*,*,500000\n", citycard.Invalid},
		{"an issuer as operator", "bureau,2026-11-30,transfer,*," + clearIssuer.String() + ",500000\n", citycard.Invalid},
		{"an operator not registered", "bureau,2026-11-30,transfer,*,tram,500000\n", citycard.NotFound},
	} {
		vs, err := clearing.DecodeConcessions("bad.csv", strings.NewReader(clearing.ConcessionHeader+"\n"+c.csv))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := cs.SetConcessions(ctx, vs, "ann"); !citycard.IsKind(err, c.kind) {
			t.Errorf("concessions of %s: %v, want kind %v", c.name, err, c.kind)
		}
	}
	if got, err := cs.Concessions(ctx); err != nil || len(got) != 0 {
		t.Fatalf("after the refused concessions: %+v %v, want none stored", got, err)
	}
	conc, err := clearing.DecodeConcessions("c.csv", strings.NewReader(clearing.ConcessionHeader+"\n"+
		"bureau,2026-11-30,transfer,*,*,500000\nbureau,2026-12-02,transfer,*,bus,1000000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SetConcessions(ctx, conc, "ann"); err != nil {
		t.Fatal(err)
	}
	caps, err := clearing.DecodeCaps("caps.csv", strings.NewReader(clearing.CapHeader+"\n"+clearIssuer.String()+",2026-12-01,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SetCaps(ctx, caps, "ann"); err != nil {
		t.Fatal(err)
	}
	st, err := cs.Run(ctx, clearDay, "carl")
	if err != nil {
		t.Fatal(err)
	}
	// Four records of 10.00 stating a full fare of 12.00: 2.00 off each,
	// half of it the bureau's (its version of 11-30): 4.00 to the bus.
	// The issuer pays the fares, past its cap of one fen.
	want := clearing.ConcessionLine{Funder: "bureau", Operator: "bus", Kind: "transfer", Records: 4, DiscountFen: 800, ClaimFen: 400}
	if len(st.Result.Concessions) != 1 || st.Result.Concessions[0] != want || len(st.Result.Breaches) != 1 || st.Result.Breaches[0].Party != clearIssuer.String() {
		t.Errorf("concessions %+v, breaches %+v", st.Result.Concessions, st.Result.Breaches)
	}
	// The funder has its position: it pays the 400 it owes; the
	// positions still sum to zero.
	var sum int64
	net := map[string]int64{}
	for _, p := range st.Result.Positions {
		net[p.Party], sum = p.NetFen, sum+p.NetFen
	}
	if net["bureau"] != -400 || sum != 0 {
		t.Errorf("positions %v: want the bureau's -400, summing to 0", net)
	}
	got, err := cs.Concessions(ctx)
	if err != nil || !reflect.DeepEqual(got, conc) {
		t.Errorf("stored concessions %+v (%v), want %+v", got, err, conc)
	}
	if _, err := cs.Approve(ctx, clearDay, "ann"); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("review past the cap: %v, want Conflict", err)
	}
}
