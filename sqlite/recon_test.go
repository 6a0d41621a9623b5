package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/citycard/citycard/recon"
	"github.com/citycard/citycard/storetest"
)

func TestReconStore(t *testing.T) {
	storetest.RunRecon(t, func(t *testing.T) storetest.ReconStores {
		db := openTemp(t)
		return storetest.ReconStores{Recon: db.Recon(), CMS: db.CMS(), Exec: execIn(db)}
	})
}

// BenchmarkReconImport is storetest.BenchReconImport.
func BenchmarkReconImport(b *testing.B) {
	storetest.BenchReconImport(b, func(b *testing.B) recon.Store { return openTemp(b).Recon() })
}

// TestReconPayInsMigration upgrades a store migrated before 0034,
// holding an instruction, one matched: after it both read as payments
// (DBIT), the match as it was, and neither's direction can be changed.
func TestReconPayInsMigration(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBefore(t, 34)
	for _, q := range []string{
		`INSERT INTO recon_statements VALUES ('S1', '` + strings.Repeat("a", 64) + `', 'csv', '', 'A', 1, 'ann', 1)`,
		`INSERT INTO recon_matches VALUES (1, 'matched', 'end_to_end_id', 9909, 9909, 'S1', 1)`,
		`INSERT INTO recon_instructions VALUES ('CCLR-20261201-00001', 20423, 'CCLR-20261201', 'nb-bus', 'Bus', 'A1', 9909, 20424, 'r', 1)`,
		`INSERT INTO recon_instructions VALUES ('CCLR-20261201-00002', 20423, 'CCLR-20261201', 'nb-metro', 'Metro', 'A2', 18031, 20424, 'r', NULL)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db := upgraded(t, path, raw)
	snap, err := db.Recon().Snapshot(ctx, recon.SnapshotMax)
	if err != nil || len(snap.Instructions) != 2 || len(snap.Matches) != 1 {
		t.Fatalf("after the upgrade: %+v, %v", snap, err)
	}
	for _, in := range snap.Instructions {
		if in.Direction != recon.Debit {
			t.Errorf("%s: direction %v, want DBIT", in.EndToEndID, in.Direction)
		}
	}
	if m := snap.Matches[0]; !slices.Equal(m.Instructions, []string{"CCLR-20261201-00001"}) {
		t.Errorf("the match after the upgrade: %+v", m)
	}
	for _, q := range []string{
		`UPDATE recon_instructions SET direction = 'CRDT' WHERE end_to_end_id = 'CCLR-20261201-00002'`,
		`UPDATE recon_instructions SET direction = 'CRDT' WHERE end_to_end_id = 'CCLR-20261201-00001'`,
	} {
		if err := db.Exec(ctx, q); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
}
