package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
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
	db, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // runs before the schema is dropped
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db := openTemp(t)
		return storetest.Stores{
			Registry: db.Registry(),
			Ledger:   db.Ledger(),
			Exec: func(ctx context.Context, stmts ...string) error {
				return mapErr("test.Exec", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
					for _, s := range stmts {
						if _, err := tx.Exec(ctx, s); err != nil {
							return err
						}
					}
					return nil
				}))
			},
			Unguard: func(ctx context.Context) error {
				for _, tr := range []string{"entries_append_only ON entries", "postings_append_only ON postings"} {
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
