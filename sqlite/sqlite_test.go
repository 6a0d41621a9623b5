package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/migration"
	"github.com/citycard/citycard/storetest"
)

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "citycard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db := openTemp(t)
		return storetest.Stores{
			Registry: db.Registry(),
			Ledger:   db.Ledger(),
			CMS:      db.CMS(),
			Staff:    db.Staff(),
			Exec:     execIn(db),
			Unguard: func(ctx context.Context) error {
				for _, tr := range []string{"entries_no_update", "entries_no_delete", "postings_no_update", "postings_no_delete", "cms_audit_no_update", "cms_audit_no_delete"} {
					if err := db.Exec(ctx, "DROP TRIGGER "+tr); err != nil {
						return err
					}
				}
				return nil
			},
			Close: db.Close,
		}
	})
}

func TestAppsStore(t *testing.T) {
	storetest.RunApps(t, func(t *testing.T) apps.Store { return openTemp(t).Apps() })
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var sync, fk int
	if err := db.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
	if err := db.r.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("readers' foreign_keys = %d, %v; want 1", fk, err)
	}
	if _, err := db.r.ExecContext(ctx, "DELETE FROM parties"); err == nil {
		t.Error("a reader connection wrote")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening applies nothing twice.
	db, err = Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var n, v int
	ms := migration.List(migrationFS, "migrations")
	if err := db.r.QueryRowContext(ctx, "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &v); err != nil || n != len(ms) || v != ms[len(ms)-1].Version {
		t.Errorf("schema_migrations: %d rows, version %d, %v", n, v, err)
	}
	// A database from a newer binary is refused.
	if err := db.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, "sqlite:"+path); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("Open(newer schema) = %v, want kind Conflict", err)
	}

	for _, bad := range []string{"postgres://h/d", "sqlite:", "c.db"} {
		if _, err := Open(ctx, bad); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("Open(%q) = %v, want kind Invalid", bad, err)
		}
	}
}

// TestWriterLock: one writer per store. A second lock of the same file
// (by another open of it, as another process would) is refused at once,
// naming the holder's process; another file is another store; a released
// lock is free at once.
func TestWriterLock(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no flock(2): the lock is taken in name only")
	}
	ctx := context.Background()
	db := openTemp(t)
	l, err := db.LockWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, "sqlite:"+db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	_, err = again.LockWriter(ctx)
	if !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a second lock: %v, want kind Conflict", err)
	}
	t.Logf("refused: %v", err)
	for _, want := range []string{db.Path(), "another process holds the writer lock", "pid " + strconv.Itoa(os.Getpid()), "since ", "one writer per store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	other := openTemp(t)
	lo, err := other.LockWriter(ctx)
	if err != nil {
		t.Fatalf("another file's lock: %v", err)
	}
	if err := lo.Release(); err != nil {
		t.Fatal(err)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("a second Release: %v", err)
	}
	l, err = again.LockWriter(ctx)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	select {
	case <-l.Lost():
		t.Fatal("an OS file lock says it was lost")
	default:
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestClearingStore(t *testing.T) {
	storetest.RunClearing(t, func(t *testing.T) storetest.ClearingStores {
		db := openTemp(t)
		return storetest.ClearingStores{
			Journal:  db.Journal(),
			Clearing: db.Clearing(),
			Exec:     execIn(db),
			Forget: func(ctx context.Context) error {
				return execIn(db)(ctx, "DROP TRIGGER acquire_chunk_totals_no_delete", "DELETE FROM acquire_chunk_totals")
			},
			Reopen: func(t *testing.T) storetest.ClearingStore {
				again, err := Open(context.Background(), "sqlite:"+db.path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { again.Close() })
				return again.Clearing()
			},
		}
	})
}

// execIn runs statements in one write transaction of db, bypassing the
// stores: the suite's Exec.
func execIn(db *DB) func(ctx context.Context, stmts ...string) error {
	return func(ctx context.Context, stmts ...string) error {
		return mapErr("test.Exec", db.write(ctx, func(tx *sql.Tx) error {
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			return nil
		}))
	}
}

func TestInteropStore(t *testing.T) {
	storetest.RunInterop(t, func(t *testing.T) storetest.InteropStores {
		db := openTemp(t)
		return storetest.InteropStores{Journal: db.Journal(), Clearing: db.Clearing(), Interop: db.Interop(), Ledger: db.Ledger(), Exec: execIn(db)}
	})
}
