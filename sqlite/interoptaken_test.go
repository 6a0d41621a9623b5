package sqlite

import (
	"context"
	"testing"

	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/storetest"
)

// TestInteropTapsMigration upgrades a store migrated before 0039 that
// holds INC and OUT records: the INC records' taps are read from their
// file's lines (storetest.Before0039 says what is stored and what reads
// after).
func TestInteropTapsMigration(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBefore(t, 39)
	b := storetest.Before0039(t)
	for i := range b.Files {
		if _, err := raw.ExecContext(ctx, `INSERT INTO interop_files (`+interop.FileColumns+`) VALUES (`+placeholders(13)+`)`, b.Files[i].Args()...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range b.Records {
		if _, err := raw.ExecContext(ctx, `INSERT INTO interop_records (`+interop.RecColumns+`) VALUES (`+placeholders(14)+`)`, b.Records[i].Args()...); err != nil {
			t.Fatal(err)
		}
	}
	db := upgraded(t, path, raw)
	var taps int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM interop_taps`).Scan(&taps); err != nil {
		t.Fatal(err)
	}
	b.Check(t, db.Interop(), taps)
}
