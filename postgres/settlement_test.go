package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard/clearing"
)

// TestSettlementVersionMigration upgrades a store migrated before 0038
// that holds a cycle closed by a binary of that time: after it the cycle
// reads as of settlement version 0 (so exchange writes its files as it
// closed with them, as the SQLite store's test shows), its row as it
// was, and it is still immutable, its version included. (A cycle
// computed now keeps the version of now: storetest's Cycles.)
func TestSettlementVersionMigration(t *testing.T) {
	ctx := context.Background()
	u, raw := migratedBefore(t, 38)
	cal := clearing.DefaultCalendar()
	d := clearing.DayOf(2026, 12, 1)
	end := cal.End(d)
	closed := clearing.Stored{Cycle: clearing.Cycle{Day: d, Cutoff: end, State: clearing.Closed, Range: clearing.Range{To: 3}, OpenedAt: cal.Start(d),
		ComputedAt: end.Add(time.Hour), ComputedBy: "carl", ReviewedAt: end.Add(2 * time.Hour), ReviewedBy: "ann", ApprovedAt: end.Add(3 * time.Hour), ApprovedBy: "bob",
		ClosedAt: end.Add(9 * time.Hour), ClosedBy: "dora"},
		Result: &clearing.Result{Day: d, Positions: []clearing.Position{{Party: "31500001FFFFFFFF", ReceivableFen: 150, NetFen: 150}, {Party: "shop", PayableFen: 150, NetFen: -150}}},
		Files:  []clearing.File{{Name: "CCLR-20261201-positions.csv", SHA256: "ab", Size: 10}}}
	r, err := closed.Row()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(ctx, `INSERT INTO clearing_cycles VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		r.Day, r.State, r.CutoffNs, r.From, r.To, r.OpenedNs, r.ComputedNs, r.ComputedBy, r.ReviewedNs, r.ReviewedBy, r.ApprovedNs, r.ApprovedBy, r.ClosedNs, r.ClosedBy, r.Result, r.Files); err != nil {
		t.Fatal(err)
	}
	db := openURL(t, u)
	got, err := db.Clearing().Cycle(ctx, d)
	if err != nil || got.Cycle.SettlementVersion != clearing.SettlementPayers || got.Cycle.ClosedBy != "dora" || len(got.Result.Positions) != 2 || len(got.Files) != 1 {
		t.Fatalf("the closed cycle after the upgrade: %+v, %v", got, err)
	}
	for _, q := range []string{
		`UPDATE clearing_cycles SET settlement_version = 1`,
		`UPDATE clearing_cycles SET settlement_version = settlement_version`,
	} {
		if err := db.Exec(ctx, q); err == nil {
			t.Errorf("%s: allowed on a closed cycle", q)
		}
	}
}
