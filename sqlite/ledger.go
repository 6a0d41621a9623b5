package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// scanPage is how many entries Scan reads per query.
const scanPage = 512

// ledgerStore implements ledger.Store.
type ledgerStore struct {
	db *DB
	// Statements prepared once on the writer's single connection.
	head, byKey, insertPosting, insertEntry, upsertAccount *sql.Stmt
}

func newLedgerStore(ctx context.Context, db *DB) (*ledgerStore, error) {
	s := &ledgerStore{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.head, `SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`},
		{&s.byKey, `SELECT seq, input_hash, hash FROM entries WHERE key = ?`},
		{&s.insertPosting, `INSERT INTO postings (entry_seq, idx, account, amount_fen) VALUES (?, ?, ?, ?)`},
		{&s.insertEntry, `INSERT INTO entries (seq, key, kind, source, product, count, memo, reversal_of, at_ns, input_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.upsertAccount, `INSERT INTO accounts (name, debits_fen, credits_fen, postings, last_seq) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET debits_fen = debits_fen + excluded.debits_fen,
			credits_fen = credits_fen + excluded.credits_fen, postings = postings + excluded.postings,
			last_seq = excluded.last_seq`},
	} {
		st, err := db.w.PrepareContext(ctx, p.sql)
		if err != nil {
			s.close()
			return nil, mapErr("sqlite.newLedgerStore", err)
		}
		*p.stmt = st
	}
	return s, nil
}

func (s *ledgerStore) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.head, s.byKey, s.insertPosting, s.insertEntry, s.upsertAccount} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

func (s *ledgerStore) Append(ctx context.Context, at time.Time, entries []ledger.Entry) ([]ledger.Result, error) {
	const op = "sqlite.Ledger.Append"
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	var results []ledger.Result
	err := s.db.write(ctx, func(tx *sql.Tx) error {
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
// write path, so that a caller holding the writer's transaction (the
// acquisition journal committing a batch with its postings) can book
// entries atomically with its own rows.
func (s *ledgerStore) append(ctx context.Context, tx *sql.Tx, at time.Time, entries []ledger.Entry) ([]ledger.Result, error) {
	lt := s.begin(ctx, tx)
	results, err := lt.link(at, entries, 0)
	if err != nil {
		return nil, err
	}
	_, err = lt.write()
	return results, err
}

// ledgerTx is the ledger's part of a writer's transaction: link chains
// entries after the head (read once, at the first link; ledger.Linker)
// as many times as the caller has entries to book, each with its own
// time; write books the accounts' balances once each, then every entry
// linked fresh. A group commit of card management books its operations'
// entries so: one head and one balance update per account a batch, not
// per operation.
type ledgerTx struct {
	ledger.Linker
	s    *ledgerStore
	ctx  context.Context
	tx   *sql.Tx
	read bool // the head
}

func (s *ledgerStore) begin(ctx context.Context, tx *sql.Tx) *ledgerTx {
	return &ledgerTx{s: s, ctx: ctx, tx: tx}
}

// link chains entries at at (ledger.Linker.Link), asking the store for
// each key not linked before.
func (l *ledgerTx) link(at time.Time, entries []ledger.Entry, tag int) ([]ledger.Result, error) {
	if !l.read {
		var hashHex string
		switch err := l.tx.StmtContext(l.ctx, l.s.head).QueryRowContext(l.ctx).Scan(&l.Head.Seq, &hashHex); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			if err := ledger.DecodeHash(&l.Head.Hash, hashHex); err != nil {
				return nil, corrupt(err)
			}
		}
		l.read = true
	}
	byKey := l.tx.StmtContext(l.ctx, l.s.byKey)
	return l.Link(at, entries, tag, func(key string) (r ledger.Result, in [32]byte, ok bool, err error) {
		var inHex, hashHex string
		switch err := byKey.QueryRowContext(l.ctx, key).Scan(&r.Seq, &inHex, &hashHex); {
		case errors.Is(err, sql.ErrNoRows):
			return r, in, false, nil
		case err != nil:
			return r, in, false, err
		}
		r.Replayed = true
		if err := ledger.DecodeHash(&r.Hash, hashHex); err != nil {
			return r, in, false, corrupt(err)
		}
		if err := ledger.DecodeHash(&in, inHex); err != nil {
			return r, in, false, corrupt(err)
		}
		return r, in, true, nil
	})
}

// write books the entries linked fresh: the accounts' balances, then
// each entry's postings and its row. On an error it returns the tag of
// the entry refused (-1 if none: a balance's).
func (l *ledgerTx) write() (tag int, err error) {
	const op = "sqlite.Ledger.Append"
	if len(l.Fresh) == 0 {
		return -1, nil
	}
	ctx := l.ctx
	upsert := l.tx.StmtContext(ctx, l.s.upsertAccount)
	for _, b := range l.Totals.List() {
		if _, err := upsert.ExecContext(ctx, b.Account.String(), b.DebitsFen, b.CreditsFen, b.Postings, b.LastSeq); err != nil {
			return -1, err
		}
	}
	insPosting := l.tx.StmtContext(ctx, l.s.insertPosting)
	insEntry := l.tx.StmtContext(ctx, l.s.insertEntry)
	for _, f := range l.Fresh {
		e := f.Entry
		for k, p := range e.Postings {
			if _, err := insPosting.ExecContext(ctx, f.Seq, k, p.Account.String(), p.AmountFen); err != nil {
				return f.Tag, err
			}
		}
		var reversalOf any
		if e.ReversalOf != 0 {
			reversalOf = e.ReversalOf
		}
		_, err := insEntry.ExecContext(ctx, f.Seq, e.Key, string(e.Type), e.Source, e.Product, e.Count, e.Memo,
			reversalOf, f.At.UnixNano(), hex.EncodeToString(f.Input[:]), hex.EncodeToString(f.Hash[:]))
		if err != nil {
			err = mapErr(op, err)
			switch {
			case e.ReversalOf != 0 && citycard.IsKind(err, citycard.Exists):
				return f.Tag, citycard.E(op, citycard.Conflict, "entry %q: entry %d is reversed already", e.Key, e.ReversalOf)
			case e.ReversalOf != 0 && citycard.IsKind(err, citycard.NotFound):
				return f.Tag, citycard.E(op, citycard.NotFound, "entry %q: reverses entry %d, which does not exist", e.Key, e.ReversalOf)
			}
			return f.Tag, err
		}
	}
	return -1, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readEntries returns the entries a query on ledger.EntryColumns selects,
// with their postings.
func readEntries(ctx context.Context, q querier, query string, args ...any) ([]ledger.Posted, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := ledger.ScanEntries(rows)
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(out) == 0 {
		return out, err
	}
	// The postings of the seq range, matched to the entries in order.
	first, last := out[0].Seq, out[len(out)-1].Seq
	if len(out) == 1 || last-first+1 == int64(len(out)) {
		return out, readPostings(ctx, q, out, `SELECT `+ledger.PostingColumns+` FROM postings WHERE entry_seq BETWEEN ? AND ? ORDER BY entry_seq, idx`, first, last)
	}
	for i := range out {
		if err := readPostings(ctx, q, out[i:i+1], `SELECT `+ledger.PostingColumns+` FROM postings WHERE entry_seq = ? ORDER BY idx`, out[i].Seq); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readPostings fills the postings of entries from a query on
// ledger.PostingColumns.
func readPostings(ctx context.Context, q querier, entries []ledger.Posted, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return ledger.AddPostings(rows, entries)
}

func (s *ledgerStore) Entry(ctx context.Context, seq int64) (ledger.Posted, error) {
	return s.one(ctx, "sqlite.Ledger.Entry", fmt.Sprintf("entry %d", seq), `SELECT `+ledger.EntryColumns+` FROM entries WHERE seq = ?`, seq)
}

func (s *ledgerStore) EntryByKey(ctx context.Context, key string) (ledger.Posted, error) {
	return s.one(ctx, "sqlite.Ledger.EntryByKey", fmt.Sprintf("entry of key %q", key), `SELECT `+ledger.EntryColumns+` FROM entries WHERE key = ?`, key)
}

func (s *ledgerStore) one(ctx context.Context, op, what, query string, arg any) (ledger.Posted, error) {
	ps, err := readEntries(ctx, s.db.r, query, arg)
	if err != nil {
		return ledger.Posted{}, mapErr(op, err)
	}
	if len(ps) == 0 {
		return ledger.Posted{}, citycard.E(op, citycard.NotFound, "%s: not found", what)
	}
	return ps[0], nil
}

func (s *ledgerStore) EntriesBySource(ctx context.Context, source string, limit int) ([]ledger.Posted, error) {
	ps, err := readEntries(ctx, s.db.r, `SELECT `+ledger.EntryColumns+` FROM entries WHERE source = ? ORDER BY seq LIMIT ?`, source, limit)
	return ps, mapErr("sqlite.Ledger.EntriesBySource", err)
}

func (s *ledgerStore) Scan(ctx context.Context, after int64, fn func(p *ledger.Posted) error) error {
	return mapErr("sqlite.Ledger.Scan", scan(ctx, s.db.r, after, fn))
}

func scan(ctx context.Context, q querier, after int64, fn func(p *ledger.Posted) error) error {
	for {
		ps, err := readEntries(ctx, q, `SELECT `+ledger.EntryColumns+` FROM entries WHERE seq > ? ORDER BY seq LIMIT ?`, after, scanPage)
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
	const op = "sqlite.Ledger.Audit"
	// One read transaction: the scan and the balances see one snapshot.
	tx, err := s.db.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer tx.Rollback()
	if err := scan(ctx, tx, 0, fn); err != nil {
		return nil, mapErr(op, err)
	}
	bs, err := balances(ctx, tx, `SELECT `+ledger.BalanceColumns+` FROM accounts ORDER BY name`)
	return bs, mapErr(op, err)
}

func (s *ledgerStore) Head(ctx context.Context) (ledger.Link, error) {
	const op = "sqlite.Ledger.Head"
	var (
		l ledger.Link
		h string
	)
	switch err := s.db.r.QueryRowContext(ctx, `SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`).Scan(&l.Seq, &h); {
	case errors.Is(err, sql.ErrNoRows):
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
	bs, err := balances(ctx, s.db.r, `SELECT `+ledger.BalanceColumns+` FROM accounts WHERE name = ?`, a.String())
	if err != nil {
		return ledger.Balance{}, mapErr("sqlite.Ledger.Balance", err)
	}
	if len(bs) == 0 {
		return ledger.Balance{Account: a}, nil
	}
	return bs[0], nil
}

func (s *ledgerStore) Balances(ctx context.Context) ([]ledger.Balance, error) {
	bs, err := balances(ctx, s.db.r, `SELECT `+ledger.BalanceColumns+` FROM accounts ORDER BY name`)
	return bs, mapErr("sqlite.Ledger.Balances", err)
}

func balances(ctx context.Context, q querier, query string, args ...any) ([]ledger.Balance, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return ledger.ScanBalances(rows)
}
