package postgres

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard/migration"
	"github.com/citycard/citycard/storetest"
)

// migratedBefore returns the URL of a fresh schema migrated to the
// version before version (a store a binary of that time left) and a
// plain connection to it, closed when the test ends.
func migratedBefore(t *testing.T, version int) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	u := tempSchemaURL(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migration.List(migrationFS, "migrations") {
		if m.Version >= version {
			break
		}
		if _, err := conn.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	return u, conn
}

// TestInteropTapsMigration upgrades a store migrated before 0039 that
// holds INC and OUT records: the INC records' taps are read from their
// file's lines, as on SQLite (storetest.Before0039).
func TestInteropTapsMigration(t *testing.T) {
	ctx := context.Background()
	u, conn := migratedBefore(t, 39)
	b := storetest.Before0039(t)
	b.Insert(t, func(q string, args ...any) error { _, err := conn.Exec(ctx, q, args...); return err }, func(n int) string { return "$" + strconv.Itoa(n) })
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var taps int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM interop_taps`).Scan(&taps); err != nil {
		t.Fatal(err)
	}
	b.Check(t, db.Interop(), taps)
}
