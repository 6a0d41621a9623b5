// Package postgres implements the storage interfaces of the domain
// packages (registry.Store, ledger.Store, cms.Store, acquire.Journal,
// clearing.Journal, clearing.Store, ...) on PostgreSQL through pgx v5:
// what a city runs when it outgrows one machine. It behaves as package
// sqlite does, by the same test suite (storetest).
//
// # Design
//
// A pgxpool.Pool, native pgx (no database/sql) for its error codes,
// batches and lower overhead. The schema is the SQLite store's, with the
// same representation (times as Unix nanoseconds, hashes as hex text,
// enumerations by name): SQL migrations embedded in the binary, applied
// in version order at Open under an advisory lock (several processes may
// start at once), each in its own transaction and recorded in
// schema_migrations. Objects live in the first schema of the connection's
// search_path, so a URL with search_path=NAME gives a test (or a tenant)
// a schema of its own.
//
// Ledger: Append takes a transaction-scoped advisory lock on the ledger
// (the chain has one head, so appends are serialized; nothing else is),
// reads the head, looks every key of the batch up in one query, links the
// new entries in memory, and sends the balance upserts, postings and
// entries in one pgx batch: five round trips per PostBatch whatever its
// size. That write path (ledgerStore.append) takes the caller's
// transaction, so the acquisition journal books a batch's records and its
// ledger entries in one commit. Triggers refuse an entry whose postings do
// not sum to zero, postings added to a booked entry, and any update, delete
// or truncate of entries and postings.
//
// Writer lock: one process writes a store's journal (the acquirer
// decides every batch from its state in memory; two would decide against
// each other). LockWriter makes that a rule: a session advisory lock,
// pg_try_advisory_lock(hash of the schema, scope), on a connection taken
// out of the pool and held for the writer's life. A session lock dies
// with its session, so kill -9 of the server frees it at once (its socket
// closes, its backend ends); the session's TCP keepalives are shortened
// so a server whose machine vanished frees it within about a minute. The
// key is derived from the schema, so two schemas of one database (tests,
// tenants) are two stores. The scope is the whole store today, as one
// process writes every shard; per-shard writers would lock (key, shard)
// exclusive and (key, store) shared, so that a whole-store writer still
// excludes them all. A lock whose session ends while held (the server
// restarted, an administrator ended it) says so (WriterLock.Lost), and
// its holder must stop writing.
//
// Errors: pgx.ErrNoRows is NotFound, unique violation (23505) Exists,
// foreign-key violation (23503) NotFound, check violations and the
// triggers' refusals (23514, P0001) Invalid, anything else IO: a lost
// connection, a closed pool and a cancelled or timed-out request are IO,
// never an answer of the domain. The registry's NotFound and Exists speak
// its words (registry.NoTerminal, registry.PartyClash): the rule broken is
// read from the constraint's name (parties_own, terminals_psam_key).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/migration"
	"github.com/citycard/citycard/registry"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// poolConnsMin is the pool's size unless the URL says (pool_max_conns):
// pgxpool's default, the CPUs and at least 4, is too few for the load
// host, whose group commit holds a connection for its three round trips
// while every load in flight reads its card on another.
const poolConnsMin = 16

// sslModeGiven reports whether the connection string conn, or the
// environment pgx reads (PGSSLMODE), says an sslmode.
func sslModeGiven(conn string) bool {
	return strings.Contains(conn, "sslmode") || os.Getenv("PGSSLMODE") != ""
}

// plainOnLoopback drops TLS from cfg when the URL says no sslmode (given
// false) and every host it connects to is this machine (localhost, a
// loopback address, a Unix socket). pgx's default, sslmode=prefer,
// encrypts without checking the server's certificate: on loopback it
// protects nothing from anyone who could not read the process's memory
// anyway, and it costs about a seventh of the load host's CPU. A URL that
// says an sslmode keeps it, whatever the host; a remote host without one
// keeps pgx's default.
func plainOnLoopback(cfg *pgconn.Config, given bool) {
	if given || !loopback(cfg.Host) {
		return
	}
	for _, f := range cfg.Fallbacks {
		if !loopback(f.Host) {
			return
		}
	}
	cfg.TLSConfig = nil
	fallbacks := cfg.Fallbacks[:0]
	for _, f := range cfg.Fallbacks {
		if f.TLSConfig == nil && (f.Host != cfg.Host || f.Port != cfg.Port) {
			fallbacks = append(fallbacks, f)
		}
	}
	cfg.Fallbacks = fallbacks
}

// loopback reports whether host is this machine: localhost, a loopback
// address or a Unix socket's directory.
func loopback(host string) bool {
	if host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DB is an open PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool

	registry *registryStore
	ledger   *ledgerStore
}

// Open connects to the database of url, "postgres://..." (pgx's URL
// options apply; search_path=NAME selects the schema), and applies the
// migrations it lacks. Kinds: Invalid (not a postgres URL), Conflict (the
// database has migrations this binary does not know), IO.
func Open(ctx context.Context, url string) (*DB, error) {
	const op = "postgres.Open"
	u, err := dburl.Parse(url)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if u.Engine != dburl.Postgres {
		return nil, citycard.E(op, citycard.Invalid, "%q is not a postgres:// URL", url)
	}
	cfg, err := pgxpool.ParseConfig(u.Conn)
	if err != nil {
		return nil, citycard.E(op, citycard.Invalid, "%w", err)
	}
	if !strings.Contains(u.Conn, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, poolConnsMin)
	}
	plainOnLoopback(&cfg.ConnConfig.Config, sslModeGiven(u.Conn))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "%w", err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := db.backfillChunkTotals(ctx); err != nil {
		pool.Close()
		return nil, mapErr(op, err)
	}
	db.registry = &registryStore{db: db}
	db.ledger = &ledgerStore{db: db}
	return db, nil
}

// Close closes the pool's connections. It returns no error today; the
// signature matches sqlite.DB's.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Registry returns the registry's store.
func (db *DB) Registry() registry.Store { return db.registry }

// Ledger returns the ledger's store.
func (db *DB) Ledger() ledger.Store { return db.ledger }

// Exec runs one SQL statement outside the stores' rules: for tests that
// play someone editing the database behind the platform's back, and for
// maintenance. Kinds as the stores map them.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.pool.Exec(ctx, query, args...)
	return mapErr("postgres.DB.Exec", err)
}

// migrate applies the migrations the database lacks, each in its own
// transaction under an advisory lock of the schema.
func (db *DB) migrate(ctx context.Context) error {
	const op = "postgres.migrate"
	ms := migration.List(migrationFS, "migrations")
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.Version] = true
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('citycard.migrate.' || current_schema()))`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    INTEGER PRIMARY KEY,
				name       TEXT NOT NULL,
				applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
			)`); err != nil {
				return err
			}
			rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
			applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil {
				return err
			}
			for _, v := range applied {
				if !known[int(v)] {
					return citycard.E(op, citycard.Conflict, "schema version %d is not one this binary knows: a newer binary migrated it", v)
				}
			}
			if slices.Contains(applied, int32(m.Version)) {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return mapErr(op, err)
		}
	}
	return nil
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
	if errors.Is(err, pgx.ErrNoRows) {
		return citycard.E(op, citycard.NotFound, "%w", err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return citycard.E(op, citycard.Exists, "%w", err)
		case "23503":
			return citycard.E(op, citycard.NotFound, "%w", err)
		case "23514", "23502", "P0001":
			return citycard.E(op, citycard.Invalid, "%w", err)
		}
	}
	return citycard.E(op, citycard.IO, "%w", err)
}
