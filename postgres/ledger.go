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
// atomically with its own rows.
func (s *ledgerStore) append(ctx context.Context, tx pgx.Tx, at time.Time, entries []ledger.Entry) ([]ledger.Result, error) {
	const op = "postgres.Ledger.Append"
	// One chain, one head: appends wait for each other here, until commit.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('citycard.ledger.' || current_schema()))`); err != nil {
		return nil, err
	}
	var head ledger.Link
	var hashHex string
	switch err := tx.QueryRow(ctx, `SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`).Scan(&head.Seq, &hashHex); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		if err := ledger.DecodeHash(&head.Hash, hashHex); err != nil {
			return nil, corrupt(err)
		}
	}

	type booked struct {
		seq            int64
		inHex, hashHex string
	}
	keys := make([]string, len(entries))
	for i := range entries {
		keys[i] = entries[i].Key
	}
	prior := make(map[string]booked)
	rows, _ := tx.Query(ctx, `SELECT key, seq, input_hash, hash FROM entries WHERE key = ANY($1)`, keys)
	var b booked
	var key string
	_, err := pgx.ForEachRow(rows, []any{&key, &b.seq, &b.inHex, &b.hashHex}, func() error {
		prior[key] = b
		return nil
	})
	if err != nil {
		return nil, err
	}

	results := make([]ledger.Result, len(entries))
	inputs := make([][32]byte, len(entries))
	fresh := make([]int, 0, len(entries))
	seen := make(map[string]int, len(entries))
	var totals ledger.Totals
	for i := range entries {
		e := &entries[i]
		in := e.InputHash()
		inputs[i] = in
		if j, ok := seen[e.Key]; ok {
			if inputs[j] != in {
				return nil, conflict(e.Key)
			}
			results[i] = ledger.Result{Seq: results[j].Seq, Hash: results[j].Hash, Replayed: true}
			continue
		}
		seen[e.Key] = i
		if p, ok := prior[e.Key]; ok {
			if p.inHex != hex.EncodeToString(in[:]) {
				return nil, conflict(e.Key)
			}
			results[i] = ledger.Result{Seq: p.seq, Replayed: true}
			if err := ledger.DecodeHash(&results[i].Hash, p.hashHex); err != nil {
				return nil, corrupt(err)
			}
			continue
		}
		head = head.Next(at, in)
		results[i] = ledger.Result{Seq: head.Seq, Hash: head.Hash}
		fresh = append(fresh, i)
		totals.Add(head.Seq, e)
	}
	if len(fresh) == 0 {
		return results, nil
	}

	var batch pgx.Batch
	owner := make([]int, 0, totals.Len()+3*len(fresh)) // per statement: the entry it inserts, or -1
	for _, b := range totals.List() {
		batch.Queue(`INSERT INTO accounts (name, debits_fen, credits_fen, postings, last_seq) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO UPDATE SET debits_fen = accounts.debits_fen + excluded.debits_fen,
			credits_fen = accounts.credits_fen + excluded.credits_fen, postings = accounts.postings + excluded.postings,
			last_seq = excluded.last_seq`, b.Account.String(), b.DebitsFen, b.CreditsFen, b.Postings, b.LastSeq)
		owner = append(owner, -1)
	}
	atNs := at.UnixNano()
	for _, i := range fresh {
		e, r := &entries[i], results[i]
		for k, p := range e.Postings {
			batch.Queue(`INSERT INTO postings (entry_seq, idx, account, amount_fen) VALUES ($1, $2, $3, $4)`, r.Seq, k, p.Account.String(), p.AmountFen)
			owner = append(owner, -1)
		}
		var reversalOf *int64
		if e.ReversalOf != 0 {
			reversalOf = &e.ReversalOf
		}
		batch.Queue(`INSERT INTO entries (seq, key, kind, source, product, count, memo, reversal_of, at_ns, input_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			r.Seq, e.Key, string(e.Type), e.Source, int32(e.Product), e.Count, e.Memo, reversalOf, atNs,
			hex.EncodeToString(inputs[i][:]), hex.EncodeToString(r.Hash[:]))
		owner = append(owner, i)
	}
	br := tx.SendBatch(ctx, &batch)
	for _, i := range owner {
		if _, err := br.Exec(); err != nil {
			br.Close()
			if i < 0 || entries[i].ReversalOf == 0 {
				return nil, err
			}
			e := &entries[i]
			switch err = mapErr(op, err); {
			case citycard.IsKind(err, citycard.Exists):
				return nil, citycard.E(op, citycard.Conflict, "entry %q: entry %d is reversed already", e.Key, e.ReversalOf)
			case citycard.IsKind(err, citycard.NotFound):
				return nil, citycard.E(op, citycard.NotFound, "entry %q: reverses entry %d, which does not exist", e.Key, e.ReversalOf)
			}
			return nil, err
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	return results, nil
}

func conflict(key string) error {
	return citycard.E("postgres.Ledger.Append", citycard.Conflict, "idempotency key %q was booked with other content", key)
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
