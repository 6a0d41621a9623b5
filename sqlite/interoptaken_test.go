package sqlite

import (
	"context"
	"testing"

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
	b.Insert(t, rawExec(raw), func(int) string { return "?" })
	db := upgraded(t, path, raw)
	var taps int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM interop_taps`).Scan(&taps); err != nil {
		t.Fatal(err)
	}
	b.Check(t, db.Interop(), taps)
}
