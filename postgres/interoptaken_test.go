package postgres

import (
	"context"
	"strconv"
	"testing"

	"github.com/citycard/citycard/storetest"
)

// TestInteropTapsMigration upgrades a store migrated before 0039 that
// holds INC and OUT records: the INC records' taps are read from their
// file's lines, as on SQLite (storetest.Before0039).
func TestInteropTapsMigration(t *testing.T) {
	ctx := context.Background()
	u, conn := migratedBefore(t, 39)
	b := storetest.Before0039(t)
	b.Insert(t, connExec(conn), func(n int) string { return "$" + strconv.Itoa(n) })
	db := openURL(t, u)
	var taps int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM interop_taps`).Scan(&taps); err != nil {
		t.Fatal(err)
	}
	b.Check(t, db.Interop(), taps)
}
