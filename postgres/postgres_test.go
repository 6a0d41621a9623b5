package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/migration"
	"github.com/citycard/citycard/storetest"
)

// envTestURL names the variable holding the test server's URL; the tests
// skip without it.
const envTestURL = "CITYCARD_TEST_POSTGRES"

// openTemp opens a database in a fresh schema of the test server, dropped
// when the test ends, so that tests run in parallel and again and again.
func openTemp(t testing.TB) *DB {
	t.Helper()
	db, _ := openTempURL(t)
	return db
}

// openTempURL is openTemp, with the URL that opens the database again.
func openTempURL(t testing.TB) (*DB, string) {
	t.Helper()
	u := tempSchemaURL(t)
	db, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // runs before the schema is dropped
	return db, u
}

// tempSchemaURL creates a fresh schema of the test server, dropped when
// the test ends, and returns the URL that opens a database in it.
func tempSchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(envTestURL)
	if base == "" {
		t.Skip(envTestURL + " is not set")
	}
	ctx := context.Background()
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "citycard_test_" + hex.EncodeToString(rnd[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Error(err)
		}
		admin.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
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
				for _, tr := range []string{"entries_append_only ON entries", "postings_append_only ON postings", "cms_audit_append_only ON cms_audit"} {
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
	db := openTemp(t)
	var n, v int32
	ms := migration.List(migrationFS, "migrations")
	if err := db.pool.QueryRow(ctx, "SELECT count(*)::int, max(version) FROM schema_migrations").Scan(&n, &v); err != nil || int(n) != len(ms) || int(v) != ms[len(ms)-1].Version {
		t.Errorf("schema_migrations: %d rows, version %d, %v", n, v, err)
	}
	// Migrating again applies nothing.
	if err := db.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// A database from a newer binary is refused.
	if err := db.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')"); err != nil {
		t.Fatal(err)
	}
	if err := db.migrate(ctx); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("migrate(newer schema) = %v, want kind Conflict", err)
	}
	for _, bad := range []string{"sqlite:c.db", "c.db"} {
		if _, err := Open(ctx, bad); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("Open(%q) = %v, want kind Invalid", bad, err)
		}
	}
}

// TestWriterLock: one writer per store. A second lock of the same schema
// is refused at once, naming the holder; another schema is another store;
// a released lock, or one whose session ended, is free at once, and the
// holder of a lock whose session ended learns it.
func TestWriterLock(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	l, err := db.LockWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.LockWriter(ctx)
	if !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a second lock: %v, want kind Conflict", err)
	}
	t.Logf("refused: %v", err)
	pid := "citycard writer pid " + strconv.Itoa(os.Getpid())
	backend := "backend pid " + strconv.Itoa(int(l.conn.PgConn().PID()))
	for _, want := range []string{"another session holds the writer lock", backend, pid, "one writer per store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	other := openTemp(t)
	lo, err := other.LockWriter(ctx)
	if err != nil {
		t.Fatalf("another schema's lock: %v", err)
	}
	if err := lo.Release(); err != nil {
		t.Fatal(err)
	}

	// Released, it is free at once; releasing again does nothing.
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("a second Release: %v", err)
	}
	select {
	case <-l.Lost():
		t.Fatal("a released lock says it was lost")
	default:
	}
	l, err = db.LockWriter(ctx)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}

	// Its session ended (as by a server restart, or kill -9 of its
	// process): the holder is told, and the lock is free.
	var ended bool
	if err := db.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1, 10000)`, l.conn.PgConn().PID()).Scan(&ended); err != nil || !ended {
		t.Fatalf("terminate the lock's session: %v %v", ended, err)
	}
	select {
	case <-l.Lost():
	case <-time.After(30 * time.Second): // a bound on a failure, not a wait for time
		t.Fatal("the lock's session ended, and Lost did not say so")
	}
	if err := l.Err(); !citycard.IsKind(err, citycard.Unavailable) {
		t.Errorf("Err after the session ended: %v, want kind Unavailable", err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("Release of a lost lock: %v", err)
	}
	l, err = db.LockWriter(ctx)
	if err != nil {
		t.Fatalf("lock after the holder's session ended: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.LockWriter(cancelled); !citycard.IsKind(err, citycard.IO) {
		t.Errorf("LockWriter(cancelled) = %v, want kind IO", err)
	}
}

func TestClearingStore(t *testing.T) {
	storetest.RunClearing(t, func(t *testing.T) storetest.ClearingStores {
		db, url := openTempURL(t)
		return storetest.ClearingStores{
			Journal:  db.Journal(),
			Clearing: db.Clearing(),
			Exec:     execIn(db),
			Forget: func(ctx context.Context) error {
				return execIn(db)(ctx, "DROP TRIGGER acquire_chunk_totals_append_only ON acquire_chunk_totals", "DELETE FROM acquire_chunk_totals")
			},
			Reopen: func(t *testing.T) storetest.ClearingStore {
				again, err := Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { again.Close() })
				return again.Clearing()
			},
		}
	})
}

// execIn runs statements in one transaction of db, bypassing the stores:
// the suite's Exec.
func execIn(db *DB) func(ctx context.Context, stmts ...string) error {
	return func(ctx context.Context, stmts ...string) error {
		return mapErr("test.Exec", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return err
				}
			}
			return nil
		}))
	}
}

func TestInteropStore(t *testing.T) {
	storetest.RunInterop(t, func(t *testing.T) storetest.InteropStores {
		db, _ := openTempURL(t)
		return storetest.InteropStores{Journal: db.Journal(), Clearing: db.Clearing(), Interop: db.Interop(), Ledger: db.Ledger(), Exec: execIn(db)}
	})
}

// TestFreshSchemaPoolParams: a URL with the pool's own parameters
// (pool_max_conns) makes a fresh schema too, and the database opens on
// it with them; the schema goes with drop. It used to hand the URL to a
// plain connection, which refused pool_max_conns as a server setting.
func TestFreshSchemaPoolParams(t *testing.T) {
	base := os.Getenv(envTestURL)
	if base == "" {
		t.Skip(envTestURL + " is not set")
	}
	ctx := context.Background()
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	u, drop, err := FreshSchema(ctx, base+sep+"pool_max_conns=5", "citycard_test_")
	if err != nil {
		t.Fatalf("FreshSchema with pool_max_conns: %v", err)
	}
	db, err := Open(ctx, u)
	if err != nil {
		drop(ctx)
		t.Fatalf("Open(%q): %v", u, err)
	}
	if got := db.pool.Config().MaxConns; got != 5 {
		t.Errorf("pool of %d connections, want the URL's 5", got)
	}
	db.Close()
	if err := drop(ctx); err != nil {
		t.Fatalf("drop: %v", err)
	}
}
