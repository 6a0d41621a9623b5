package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// scanPage is how many entries Scan reads per query.
const scanPage = 512

// ledgerStore implements ledger.Store.
type ledgerStore struct{ db *DB }

func (s *ledgerStore) Append(ctx context.Context, at time.Time, entries []ledger.Entry) ([]ledger.Result, error) {
	const op = "postgres.Ledger.Append"
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	var results []ledger.Result
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		var err error
		results, err = s.append(ctx, tx, at, entries)
		return err
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	return results, nil
}

// append books entries in tx; see ledger.Store.Append. It is the whole
// write path, so that a caller holding a transaction (the acquisition
// journal committing a batch with its postings) can book entries
// atomically with its own rows: two round trips, the lookups
// (ledgerTx.lookup) and the writes (ledgerTx.queue).
func (s *ledgerStore) append(ctx context.Context, tx pgx.Tx, at time.Time, entries []ledger.Entry) ([]ledger.Result, error) {
	var lt ledgerTx
	keys := make([]string, len(entries))
	for i := range entries {
		keys[i] = entries[i].Key
	}
	var lookup pgx.Batch
	lt.lookup(&lookup, keys)
	if err := tx.SendBatch(ctx, &lookup).Close(); err != nil {
		return nil, err
	}
	results, err := lt.link(at, entries, 0)
	if err != nil {
		return nil, err
	}
	if len(lt.Fresh) == 0 {
		return results, nil
	}
	var batch pgx.Batch
	owner := lt.queue(&batch, false)
	br := tx.SendBatch(ctx, &batch)
	for _, o := range owner {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, lt.statementErr(o, err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	return results, nil
}

// ledgerTx is the ledger's part of a transaction that appends to it, in
// two round trips whatever the entries (each shared with the caller's
// own statements): lookup queues the chain's lock and the reads of its
// head and of the keys booked before; link chains entries in memory
// after the head (ledger.Linker: any number of calls, each with its own
// time); queue queues the balance upserts, postings and entries of
// every entry linked fresh.
type ledgerTx struct {
	ledger.Linker
	prior map[string]ledgerBooked // keys booked before the transaction
}

type ledgerBooked struct {
	seq            int64
	inHex, hashHex string
}

// lookup queues on b the chain's lock (appends wait for each other
// there, until commit: one chain, one head), its head and the keys of
// keys booked before.
func (l *ledgerTx) lookup(b *pgx.Batch, keys []string) {
	l.prior = make(map[string]ledgerBooked, len(keys))
	b.Queue(`SELECT pg_advisory_xact_lock(hashtext('citycard.ledger.' || current_schema()))`)
	b.Queue(`SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`).Query(func(rows pgx.Rows) error {
		var hashHex string
		_, err := pgx.ForEachRow(rows, []any{&l.Head.Seq, &hashHex}, func() error {
			if err := ledger.DecodeHash(&l.Head.Hash, hashHex); err != nil {
				return corrupt(err)
			}
			return nil
		})
		return err
	})
	b.Queue(`SELECT key, seq, input_hash, hash FROM entries WHERE key = ANY($1)`, keys).Query(func(rows pgx.Rows) error {
		var key string
		var p ledgerBooked
		_, err := pgx.ForEachRow(rows, []any{&key, &p.seq, &p.inHex, &p.hashHex}, func() error {
			l.prior[key] = p
			return nil
		})
		return err
	})
}

// link chains entries at at (ledger.Linker.Link), the keys booked
// before as lookup read them.
func (l *ledgerTx) link(at time.Time, entries []ledger.Entry, tag int) ([]ledger.Result, error) {
	return l.Link(at, entries, tag, func(key string) (r ledger.Result, in [32]byte, ok bool, err error) {
		p, ok := l.prior[key]
		if !ok {
			return r, in, false, nil
		}
		r = ledger.Result{Seq: p.seq, Replayed: true}
		if err := ledger.DecodeHash(&r.Hash, p.hashHex); err != nil {
			return r, in, false, corrupt(err)
		}
		if err := ledger.DecodeHash(&in, p.inHex); err != nil {
			return r, in, false, corrupt(err)
		}
		return r, in, true, nil
	})
}

// ledgerStatement is a statement queue queued: the operation whose
// entries it writes (the Tag they were linked with; -1 for the
// balances, mixedOwner for rows of several), and the fresh entry whose
// row it writes alone (-1 if none: a reversal's row always goes alone,
// so that its refusal names it).
type ledgerStatement struct {
	owner, fresh int
}

// The ledger's multi-row statements: the balances (added to the stored
// ones), the postings and the entries.
var (
	accountsUpsert = func() rowInsert {
		r := newRowInsert("accounts", "name, debits_fen, credits_fen, postings, last_seq", "text", "bigint", "bigint", "bigint", "bigint")
		r.suffix = ` ON CONFLICT (name) DO UPDATE SET debits_fen = accounts.debits_fen + excluded.debits_fen,
			credits_fen = accounts.credits_fen + excluded.credits_fen, postings = accounts.postings + excluded.postings,
			last_seq = excluded.last_seq`
		return r
	}()
	postingsInsert = newRowInsert("postings", "entry_seq, idx, account, amount_fen", "bigint", "integer", "text", "bigint")
	entriesInsert  = newRowInsert("entries", "seq, key, kind, source, product, count, memo, reversal_of, at_ns, input_hash, hash",
		"bigint", "text", "text", "text", "integer", "bigint", "text", "bigint", "bigint", "text", "text")
)

// queue queues on b the writes of the entries linked fresh: the
// accounts' balances, then the postings, then the entries' rows (after
// their postings, which the rows' trigger checks), each in multi-row
// statements (rowBuf), but for a reversal's row, alone and in its
// place. each writes every entry's postings and row in statements of
// their own instead, entry after entry, so that a statement's error is
// one entry's (commitBatch's exact mode). It returns what each
// statement writes, in order.
func (l *ledgerTx) queue(b *pgx.Batch, each bool) []ledgerStatement {
	var owner []ledgerStatement
	q := func(fresh int) func(o int, sql string, args ...any) {
		return func(o int, sql string, args ...any) {
			b.Queue(sql, args...)
			owner = append(owner, ledgerStatement{owner: o, fresh: fresh})
		}
	}
	accounts := newRowBuf(&accountsUpsert)
	for _, t := range l.Totals.List() {
		accounts.add(-1, t.Account.String(), t.DebitsFen, t.CreditsFen, t.Postings, t.LastSeq)
	}
	accounts.queue(q(-1))
	postings, entries := newRowBuf(&postingsInsert), newRowBuf(&entriesInsert)
	for i := range l.Fresh {
		f := &l.Fresh[i]
		e := f.Entry
		var reversalOf *int64
		if e.ReversalOf != 0 {
			reversalOf = &e.ReversalOf
		}
		alone := each || reversalOf != nil
		if alone { // what came before, in order
			postings.queue(q(-1))
			entries.queue(q(-1))
		}
		for k, p := range e.Postings {
			postings.add(f.Tag, f.Seq, int32(k), p.Account.String(), p.AmountFen)
		}
		entries.add(f.Tag, f.Seq, e.Key, string(e.Type), e.Source, int32(e.Product), e.Count, e.Memo, reversalOf, f.At.UnixNano(),
			hex.EncodeToString(f.Input[:]), hex.EncodeToString(f.Hash[:]))
		if alone {
			postings.queue(q(-1))
			entries.queue(q(i))
		}
	}
	postings.queue(q(-1))
	entries.queue(q(-1))
	return owner
}

// statementErr is the error of a statement queue queued: a reversal's
// row refused says which rule (reversed already, or nothing to reverse).
func (l *ledgerTx) statementErr(s ledgerStatement, err error) error {
	const op = "postgres.Ledger.Append"
	if s.fresh < 0 || l.Fresh[s.fresh].Entry.ReversalOf == 0 {
		return err
	}
	e := l.Fresh[s.fresh].Entry
	switch err = mapErr(op, err); {
	case citycard.IsKind(err, citycard.Exists):
		return citycard.E(op, citycard.Conflict, "entry %q: entry %d is reversed already", e.Key, e.ReversalOf)
	case citycard.IsKind(err, citycard.NotFound):
		return citycard.E(op, citycard.NotFound, "entry %q: reverses entry %d, which does not exist", e.Key, e.ReversalOf)
	}
	return err
}

// querier is a *pgxpool.Pool or a pgx.Tx.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readEntries returns the entries a query on ledger.EntryColumns selects,
// with their postings.
func readEntries(ctx context.Context, q querier, query string, args ...any) ([]ledger.Posted, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := ledger.ScanEntries(rows)
	rows.Close()
	if err != nil || len(out) == 0 {
		return out, err
	}
	seqs := make([]int64, len(out))
	for i := range out {
		seqs[i] = out[i].Seq
	}
	rows, err = q.Query(ctx, `SELECT `+ledger.PostingColumns+` FROM postings WHERE entry_seq = ANY($1) ORDER BY entry_seq, idx`, seqs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return out, ledger.AddPostings(rows, out)
}

func (s *ledgerStore) Entry(ctx context.Context, seq int64) (ledger.Posted, error) {
	return s.one(ctx, "postgres.Ledger.Entry", fmt.Sprintf("entry %d", seq), `SELECT `+ledger.EntryColumns+` FROM entries WHERE seq = $1`, seq)
}

func (s *ledgerStore) EntryByKey(ctx context.Context, key string) (ledger.Posted, error) {
	return s.one(ctx, "postgres.Ledger.EntryByKey", fmt.Sprintf("entry of key %q", key), `SELECT `+ledger.EntryColumns+` FROM entries WHERE key = $1`, key)
}

func (s *ledgerStore) one(ctx context.Context, op, what, query string, arg any) (ledger.Posted, error) {
	ps, err := readEntries(ctx, s.db.pool, query, arg)
	if err != nil {
		return ledger.Posted{}, mapErr(op, err)
	}
	if len(ps) == 0 {
		return ledger.Posted{}, citycard.E(op, citycard.NotFound, "%s: not found", what)
	}
	return ps[0], nil
}

func (s *ledgerStore) EntriesBySource(ctx context.Context, source string, limit int) ([]ledger.Posted, error) {
	ps, err := readEntries(ctx, s.db.pool, `SELECT `+ledger.EntryColumns+` FROM entries WHERE source = $1 ORDER BY seq LIMIT $2`, source, limit)
	return ps, mapErr("postgres.Ledger.EntriesBySource", err)
}

func (s *ledgerStore) Scan(ctx context.Context, after int64, fn func(p *ledger.Posted) error) error {
	return mapErr("postgres.Ledger.Scan", scan(ctx, s.db.pool, after, fn))
}

func scan(ctx context.Context, q querier, after int64, fn func(p *ledger.Posted) error) error {
	for {
		ps, err := readEntries(ctx, q, `SELECT `+ledger.EntryColumns+` FROM entries WHERE seq > $1 ORDER BY seq LIMIT $2`, after, scanPage)
		if err != nil {
			return err
		}
		for i := range ps {
			if err := fn(&ps[i]); err != nil {
				return err
			}
		}
		if len(ps) < scanPage {
			return nil
		}
		after = ps[len(ps)-1].Seq
	}
}

func (s *ledgerStore) Audit(ctx context.Context, fn func(p *ledger.Posted) error) ([]ledger.Balance, error) {
	const op = "postgres.Ledger.Audit"
	var bs []ledger.Balance
	// One snapshot for the scan and the balances.
	err := pgx.BeginTxFunc(ctx, s.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := scan(ctx, tx, 0, fn); err != nil {
			return err
		}
		var err error
		bs, err = balances(ctx, tx, `SELECT `+ledger.BalanceColumns+` FROM accounts ORDER BY name`)
		return err
	})
	return bs, mapErr(op, err)
}

func (s *ledgerStore) Head(ctx context.Context) (ledger.Link, error) {
	const op = "postgres.Ledger.Head"
	var (
		l ledger.Link
		h string
	)
	switch err := s.db.pool.QueryRow(ctx, `SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`).Scan(&l.Seq, &h); {
	case errors.Is(err, pgx.ErrNoRows):
		return ledger.Link{}, nil
	case err != nil:
		return ledger.Link{}, mapErr(op, err)
	}
	if err := ledger.DecodeHash(&l.Hash, h); err != nil {
		return ledger.Link{}, mapErr(op, corrupt(err))
	}
	return l, nil
}

func (s *ledgerStore) Balance(ctx context.Context, a ledger.Account) (ledger.Balance, error) {
	bs, err := balances(ctx, s.db.pool, `SELECT `+ledger.BalanceColumns+` FROM accounts WHERE name = $1`, a.String())
	if err != nil {
		return ledger.Balance{}, mapErr("postgres.Ledger.Balance", err)
	}
	if len(bs) == 0 {
		return ledger.Balance{Account: a}, nil
	}
	return bs[0], nil
}

func (s *ledgerStore) Balances(ctx context.Context) ([]ledger.Balance, error) {
	bs, err := balances(ctx, s.db.pool, `SELECT `+ledger.BalanceColumns+` FROM accounts ORDER BY name`)
	return bs, mapErr("postgres.Ledger.Balances", err)
}

// balances reads account rows; accounts.name is COLLATE "C", so ORDER BY
// name is byte order, the order of Go strings and of SQLite.
func balances(ctx context.Context, q querier, query string, args ...any) ([]ledger.Balance, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return ledger.ScanBalances(rows)
}
