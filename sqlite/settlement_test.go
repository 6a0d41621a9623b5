package sqlite

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/registry"
)

// TestSettlementVersionMigration upgrades a store migrated before 0038
// that holds a cycle closed by a binary of that time, with an operator
// in net debit (the shop, for an adjustment against it): after it the
// cycle reads as of settlement version 0, so its files are written again
// as it closed with them (no pay-in of the shop's, no incoming CSV), and
// it is still immutable, its version included. (A cycle computed now
// keeps the version of now: storetest's Cycles.)
func TestSettlementVersionMigration(t *testing.T) {
	ctx := context.Background()
	const our = "31500001FFFFFFFF"
	cal := clearing.DefaultCalendar()
	d := clearing.DayOf(2026, 12, 1)
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: our, Rounding: clearing.RoundHalfEven})
	if err != nil {
		t.Fatal(err)
	}
	in := &clearing.Input{Day: d, Claim: clearing.Claim{Range: clearing.Range{To: 2}, Totals: clearing.Totals{Count: 2, AmountFen: 700}},
		Adjustments: []clearing.Adjustment{{Ref: "ADJ-1", Of: d - 1, Payer: "shop", Payee: "bus", AmountFen: 500, Reason: "double charge"}}}
	for i, it := range []struct {
		op  string
		fen int64
	}{{"bus", 400}, {"shop", 300}} {
		in.Items = append(in.Items, clearing.Item{Pos: int64(i + 1), AcceptedAt: cal.Start(d).Add(time.Hour), Class: acquire.ClassBooked, Outcome: acquire.OutcomeVerified,
			Issuer: our, Operator: it.op, TerminalType: registry.TerminalPOS, CardType: 1, AmountFen: it.fen})
	}
	res, err := clr.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	end := cal.End(d)
	c := clearing.Cycle{Day: d, Cutoff: end, State: clearing.Closed, Range: res.Claim.Range, OpenedAt: cal.Start(d), ComputedAt: end.Add(time.Hour), ComputedBy: "carl",
		ReviewedAt: end.Add(2 * time.Hour), ReviewedBy: "ann", ApprovedAt: end.Add(3 * time.Hour), ApprovedBy: "bob", ClosedAt: end.Add(9 * time.Hour), ClosedBy: "dora"}
	parties := map[string]exchange.Party{our: {Name: "Ningbo Citizen Card", Account: "ICBC 1"}, "bus": {Name: "Bus", Account: "ABC 2"}, "shop": {Name: "Shop", Account: "BOC 3"}}
	fs, err := exchange.Files(&c, res, parties)
	if err != nil || len(fs) != 3 {
		t.Fatalf("the files closed with: %d, %v", len(fs), err)
	}
	s := &clearing.Stored{Cycle: c, Result: res, Files: exchange.Kept(fs)}
	r, err := s.Row()
	if err != nil {
		t.Fatal(err)
	}

	path, raw := migratedBefore(t, 38)
	if _, err := raw.ExecContext(ctx, `INSERT INTO clearing_cycles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Day, r.State, r.CutoffNs, r.From, r.To, r.OpenedNs, r.ComputedNs, r.ComputedBy, r.ReviewedNs, r.ReviewedBy, r.ApprovedNs, r.ApprovedBy, r.ClosedNs, r.ClosedBy, r.Result, r.Files); err != nil {
		t.Fatal(err)
	}
	db := upgraded(t, path, raw)
	got, err := db.Clearing().Cycle(ctx, d)
	if err != nil || got.Cycle.State != clearing.Closed || got.Cycle.SettlementVersion != clearing.SettlementPayers {
		t.Fatalf("the closed cycle after the upgrade: %+v, %v", got.Cycle, err)
	}
	got.Cycle.Cutoff, got.Cycle.ClosedAt = got.Cycle.Cutoff.In(cal.Zone), got.Cycle.ClosedAt.In(cal.Zone)
	again, err := exchange.Files(&got.Cycle, got.Result, parties)
	if err != nil {
		t.Fatal(err)
	}
	if err := exchange.CheckKept(&got, again); err != nil || len(again) != 3 {
		t.Errorf("its files written again: %d, %v", len(again), err)
	}
	set, err := exchange.Settle(&got.Cycle, got.Result, parties)
	if err != nil || len(set.Incoming) != 0 {
		t.Errorf("its pay-ins expected: %+v, %v", set, err)
	}
	for _, q := range []string{
		`UPDATE clearing_cycles SET settlement_version = 1 WHERE day = ` + strconv.FormatInt(r.Day, 10),
		`UPDATE clearing_cycles SET settlement_version = settlement_version`,
	} {
		if err := db.Exec(ctx, q); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
}
