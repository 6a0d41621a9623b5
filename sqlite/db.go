// Package sqlite implements the storage interfaces of the domain packages
// (registry.Store, ledger.Store, cms.Store, acquire.Journal,
// clearing.Journal, clearing.Store, ...) on SQLite, the embedded default:
// one file, no server, a pure-Go driver (modernc.org/sqlite) so the binary
// needs no cgo.
//
// # Design
//
// Connections: one writer and a pool of readers, two *sql.DB over the same
// file. The writer has exactly one connection, so writes queue in Go
// rather than fail with SQLITE_BUSY, and every write transaction starts
// with BEGIN IMMEDIATE (it takes the write lock first, so it never has to
// upgrade a read lock and deadlock against another process); a busy
// timeout covers other processes. The readers are query_only and never
// wait for the writer: the journal is in WAL mode, so readers see the last
// committed state while a write is in progress. synchronous=FULL: a
// committed transaction is on disk (the WAL is synced at every commit),
// which money needs. Foreign keys are on.
//
// Schema: SQL migrations embedded in the binary (migrations/NNNN_name.sql),
// applied in version order at Open, each in its own transaction and
// recorded in schema_migrations. Versions need not be dense (packages
// reserve ranges: the acquisition journal starts at 0005): any version the
// database lacks is applied, and a database holding a version the binary
// does not know (a newer binary migrated it) is refused. The
// representation is the PostgreSQL store's: times as Unix nanoseconds,
// hashes as hex text, enumerations by name.
//
// Ledger: Append runs in one transaction: it reads the chain head once,
// decides each entry (new, replayed or conflicting) with one indexed lookup
// by key, links the new ones in memory, upserts each touched account's
// running balance once per batch, then writes postings and entries with
// prepared statements. That write path (ledgerStore.append) takes the
// caller's transaction, so the acquisition journal books a batch's records
// and its ledger entries in one commit. The schema guards what the code
// promises: a trigger refuses an entry whose postings do not sum to zero,
// postings cannot be added to a booked entry, and entries and postings
// cannot be updated or deleted.
//
// Writer lock: one process writes a store's journal (the acquirer
// decides every batch from its state in memory; two would decide against
// each other, and the second finds the journal moved under it). LockWriter
// makes that a rule: an exclusive flock(2) on PATH-writer.lock, taken
// without waiting by whatever writes the journal (citycard serve, bench).
// An OS lock dies with its process, kill -9 included, so a crashed server
// restarts at once; the holder writes its PID and host in the file, for
// the message of whoever finds it taken. The file is never removed. One
// lock per store is the right grain while one process writes every shard;
// per-shard writers would each take this lock shared (LOCK_SH) and their
// shard's exclusive (PATH-writer-N.lock), so that a whole-store writer
// still excludes them all.
//
// Errors: sql.ErrNoRows is NotFound, a unique or primary-key violation is
// Exists, a foreign-key violation NotFound (the thing referred to), a
// trigger's refusal Invalid, anything else IO: a busy, locked or closed
// database and a cancelled or timed-out request are IO, never an answer
// of the domain. The registry's NotFound and Exists speak its words
// (registry.NoTerminal, registry.PartyClash): the rule broken is read
// from the column SQLite names ("UNIQUE constraint failed: parties.own").
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/migration"
	"github.com/citycard/citycard/registry"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

const (
	busyTimeoutMs = 10000 // how long a write waits for another process's lock
	readersMax    = 8     // connections in the read pool
)

// DB is an open SQLite database.
type DB struct {
	path string
	w    *sql.DB // the writer: one connection, BEGIN IMMEDIATE
	r    *sql.DB // the readers: query_only

	registry *registryStore
	ledger   *ledgerStore
	stmts    sync.Map // stmtKey to *sql.Stmt (prepared)
}

// Open opens (creating it if need be) the database of url, "sqlite:PATH",
// and applies the migrations it lacks. Kinds: Invalid (not a sqlite: URL),
// Conflict (the database has migrations this binary does not know), IO.
func Open(ctx context.Context, url string) (*DB, error) {
	const op = "sqlite.Open"
	u, err := dburl.Parse(url)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if u.Engine != dburl.SQLite {
		return nil, citycard.E(op, citycard.Invalid, "%q is not a sqlite: URL", url)
	}
	pragmas := "_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMs) + ")&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", u.Path+"?_txlock=immediate&"+pragmas+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "%s: %w", u.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: u.Path, w: w}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := db.backfillChunkTotals(ctx); err != nil {
		w.Close()
		return nil, mapErr(op, err)
	}
	r, err := sql.Open("sqlite", u.Path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, citycard.E(op, citycard.IO, "%s: %w", u.Path, err)
	}
	n := min(runtime.GOMAXPROCS(0)*2, readersMax)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.r = r
	db.registry = &registryStore{db: db}
	db.ledger, err = newLedgerStore(ctx, db)
	if err != nil {
		db.Close()
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := db.prepareWriter(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database. Kind IO.
func (db *DB) Close() error {
	var errs []error
	if db.ledger != nil {
		errs = append(errs, db.ledger.close())
	}
	errs = append(errs, db.closeStmts())
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	errs = append(errs, db.w.Close())
	if err := errors.Join(errs...); err != nil {
		return citycard.E("sqlite.DB.Close", citycard.IO, "%s: %w", db.path, err)
	}
	return nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Registry returns the registry's store.
func (db *DB) Registry() registry.Store { return db.registry }

// Ledger returns the ledger's store.
func (db *DB) Ledger() ledger.Store { return db.ledger }

// Exec runs one SQL statement on the writer, outside the stores'
// rules: for tests that play someone editing the file behind the
// platform's back, and for maintenance. Kinds as the stores map them.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.w.ExecContext(ctx, query, args...)
	return mapErr("sqlite.DB.Exec", err)
}

// migrate applies the migrations the database lacks, each in its own
// transaction; BEGIN IMMEDIATE makes two processes opening one new file
// apply them once.
func (db *DB) migrate(ctx context.Context) error {
	const op = "sqlite.migrate"
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL DEFAULT (unixepoch())
	) STRICT`); err != nil {
		return mapErr(op, fmt.Errorf("%s: %w", db.path, err))
	}
	ms := migration.List(migrationFS, "migrations")
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.Version] = true
	}
	for _, m := range ms {
		err := db.write(ctx, func(tx *sql.Tx) error {
			applied, err := appliedVersions(ctx, tx)
			if err != nil {
				return err
			}
			for _, v := range applied {
				if !known[v] {
					return citycard.E(op, citycard.Conflict, "%s: schema version %d is not one this binary knows: a newer binary migrated it", db.path, v)
				}
			}
			if slices.Contains(applied, m.Version) {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return mapErr(op, err)
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, tx *sql.Tx) ([]int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// write runs fn in a write transaction (BEGIN IMMEDIATE) and commits if
// fn returns nil.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// mapErr maps a driver error to the platform's kinds under op; an error
// that already has a kind keeps it.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if citycard.KindOf(err) != citycard.Other {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return citycard.E(op, citycard.NotFound, "%w", err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return citycard.E(op, citycard.Exists, "%w", err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return citycard.E(op, citycard.NotFound, "%w", err)
		case sqlite3.SQLITE_CONSTRAINT_TRIGGER, sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return citycard.E(op, citycard.Invalid, "%w", err)
		}
	}
	return citycard.E(op, citycard.IO, "%w", err)
}

// prepared returns query prepared on pool (the readers, or the writer
// while no transaction holds it), once: card management's statements run thousands of times a second on
// the load host's path, and parsing each again cost more than running
// it (measured: a fifth of the load host's CPU).
func (db *DB) prepared(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	key := stmtKey{pool, query}
	if st, ok := db.stmts.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

// txExec runs a statement in tx, prepared if Open prepared it: the
// writer's one connection is tx's, so a statement cannot be prepared on
// it now (prepareWriter does it at Open).
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st, ok := db.stmts.Load(stmtKey{db.w, query}); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// txRow runs a query in tx as txExec does; scan reads its row.
func (db *DB) txRow(ctx context.Context, tx *sql.Tx, query string, scan func(*sql.Row) error, args ...any) error {
	if st, ok := db.stmts.Load(stmtKey{db.w, query}); ok {
		return scan(tx.StmtContext(ctx, st.(*sql.Stmt)).QueryRowContext(ctx, args...))
	}
	return scan(tx.QueryRowContext(ctx, query, args...))
}

// prepareWriter prepares the writer's statements of the hot paths
// (cmsWriterQueries, journalWriterQueries), before any transaction holds
// its connection.
func (db *DB) prepareWriter(ctx context.Context) error {
	for _, q := range slices.Concat(cmsWriterQueries, journalWriterQueries) {
		if _, err := db.prepared(ctx, db.w, q); err != nil {
			return mapErr("sqlite.Open", err)
		}
	}
	return nil
}

// readRow runs a prepared query on the readers; scan reads its row.
func (db *DB) readRow(ctx context.Context, query string, scan func(*sql.Row) error, args ...any) error {
	st, err := db.prepared(ctx, db.r, query)
	if err != nil {
		return err
	}
	return scan(st.QueryRowContext(ctx, args...))
}

// closeStmts closes the prepared statements.
func (db *DB) closeStmts() error {
	var errs []error
	db.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(errs...)
}
