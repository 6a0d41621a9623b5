package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/migration"
	"github.com/citycard/citycard/storetest"
)

func TestJournal(t *testing.T) {
	storetest.RunJournal(t, func(t *testing.T) storetest.JournalStores {
		db := openTemp(t)
		return storetest.JournalStores{
			Journal:   db.Journal(),
			Ledger:    db.Ledger(),
			Blacklist: db.Blacklist(),
			Exec:      execIn(db),
		}
	})
}

// TestBatchesRowid upgrades a store migrated before 0021, holding a
// committed batch, and finds the batch again in acquire_batches, now a
// rowid table (its key no longer carries the answers), still append-only.
func TestBatchesRowid(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBefore(t, 21)
	var err error
	term := citycard.TerminalID{0x31, 0x50, 0x18, 0, 0, 1}
	hash := bytes.Repeat([]byte{7}, 32)
	answer := []byte(`{"terminal":"315018000001","batch_id":"b1","records":[]}`)
	if _, err := raw.ExecContext(ctx, `INSERT INTO acquire_batches (terminal, batch_id, hash, answer, first_pos, n, ledger_key, at_ns) VALUES (?, 'b1', ?, ?, 0, 0, 'k', 5)`,
		term.String(), hash, answer); err != nil {
		t.Fatal(err)
	}
	db := upgraded(t, path, raw)
	b, ok, err := db.Journal().Batch(ctx, term, "b1")
	if err != nil || !ok || !bytes.Equal(b.Hash[:], hash) || !bytes.Equal(b.Answer, answer) || b.At.UnixNano() != 5 {
		t.Fatalf("Batch(b1) after the upgrade = %+v, %v, %v", b, ok, err)
	}
	var schema string
	if err := db.r.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'acquire_batches'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(schema, "WITHOUT ROWID") {
		t.Errorf("acquire_batches is still WITHOUT ROWID: %s", schema)
	}
	for _, q := range []string{`UPDATE acquire_batches SET n = 1`, `DELETE FROM acquire_batches`} {
		if err := db.Exec(ctx, q); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want kind Invalid (append-only)", q, err)
		}
	}
}

// upgraded closes raw and opens the store at path, migrating it to the
// last version; closed when the test ends.
func upgraded(t *testing.T, path string, raw interface{ Close() error }) *DB {
	t.Helper()
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// migratedBefore returns a new store's path and a plain connection to it
// (no foreign keys), migrated to the version before version: a store a
// binary of that time left.
func migratedBefore(t *testing.T, version int) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "citycard.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL DEFAULT (unixepoch())) STRICT`); err != nil {
		t.Fatal(err)
	}
	storetest.MigrateBefore(t, migration.List(migrationFS, "migrations"), version, rawExec(raw), `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`)
	return path, raw
}

// rawExec runs statements on raw.
func rawExec(raw *sql.DB) storetest.Exec {
	return func(ctx context.Context, q string, args ...any) error {
		_, err := raw.ExecContext(ctx, q, args...)
		return err
	}
}

// TestGreyPositionsMigration is storetest.RunGreyPositionsMigration.
func TestGreyPositionsMigration(t *testing.T) {
	storetest.RunGreyPositionsMigration(t, func(t *testing.T) storetest.GreyUpgrade {
		path, raw := migratedBefore(t, 37)
		return storetest.GreyUpgrade{Exec: rawExec(raw), Upgrade: func(t *testing.T) (clearing.Journal, func(context.Context, ...string) error) {
			db := upgraded(t, path, raw)
			return db.Clearing(), execIn(db)
		}}
	})
}
