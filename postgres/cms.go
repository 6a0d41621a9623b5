package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// CMS returns card management's store (cms.Store).
func (db *DB) CMS() cms.Store { return cmsStore{db} }

type cmsStore struct{ db *DB }

// cardInsert and cardUpdate write every column of a card; the update
// over the version the card was read at.
var cardInsert, cardUpdate = func() (string, string) {
	cols := strings.Split(cms.CardColumns, ", ")
	var vals, sets []string
	for i, c := range cols {
		vals = append(vals, fmt.Sprintf("$%d", i+1))
		if i >= 2 {
			sets = append(sets, fmt.Sprintf("%s = $%d", c, i+1))
		}
	}
	n := len(cols)
	return "INSERT INTO cms_cards (" + cms.CardColumns + ") VALUES (" + strings.Join(vals, ", ") + ")",
		"UPDATE cms_cards SET " + strings.Join(sets, ", ") + fmt.Sprintf(" WHERE issuer = $1 AND asn = $2 AND version = $%d", n+1)
}()

// write runs fn in a transaction that holds the audit log's lock: card
// management's writes are serialized, so that each chains its audit
// record after the one before, and a new cardholder takes the ID after
// the last (as on SQLite: a sequence would lose the numbers of refused
// registrations).
func (s cmsStore) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE cms_audit IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// appendAudit chains a after the log's last record and inserts it, in the
// caller's transaction.
func appendAudit(ctx context.Context, tx pgx.Tx, a *cms.AuditRecord) error {
	var prev cms.AuditRecord
	var hash string
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM cms_audit ORDER BY seq DESC LIMIT 1`).Scan(&prev.Seq, &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return err
	default:
		if prev.Hash, err = cms.ParseHash(hash); err != nil {
			return err
		}
	}
	a.Chain(&prev)
	_, err = tx.Exec(ctx, `INSERT INTO cms_audit (`+cms.AuditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, cms.AuditArgs(a)...)
	return err
}

func (s cmsStore) CreateHolder(ctx context.Context, build func(id int64) (cms.Protected, *cms.AuditRecord, error)) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM cms_holders`).Scan(&id); err != nil {
			return err
		}
		p, a, err := build(id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cms_holders (id, lookup, ciphertext) VALUES ($1, $2, $3)`, id, cms.LookupHex(p.Lookup), p.Ciphertext); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	})
	if err != nil {
		return 0, mapErr("postgres.CMS.CreateHolder", err)
	}
	return id, nil
}

func (s cmsStore) UpdateHolder(ctx context.Context, p cms.Protected, a *cms.AuditRecord) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE cms_holders SET lookup = $1, ciphertext = $2 WHERE id = $3`, cms.LookupHex(p.Lookup), p.Ciphertext, p.HolderID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return citycard.E("postgres.CMS.UpdateHolder", citycard.NotFound, "no cardholder %d", p.HolderID)
		}
		return appendAudit(ctx, tx, a)
	})
	return mapErr("postgres.CMS.UpdateHolder", err)
}

func (s cmsStore) Holder(ctx context.Context, id int64) (cms.Protected, error) {
	p, err := cms.ScanProtected(s.db.pool.QueryRow(ctx, `SELECT id, lookup, ciphertext FROM cms_holders WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, citycard.E("postgres.CMS.Holder", citycard.NotFound, "no cardholder %d", id)
	}
	return p, mapErr("postgres.CMS.Holder", err)
}

func (s cmsStore) HolderByLookup(ctx context.Context, lookup [32]byte) (cms.Protected, error) {
	p, err := cms.ScanProtected(s.db.pool.QueryRow(ctx, `SELECT id, lookup, ciphertext FROM cms_holders WHERE lookup = $1`, cms.LookupHex(lookup)))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, citycard.E("postgres.CMS.HolderByLookup", citycard.NotFound, "no cardholder of that document")
	}
	return p, mapErr("postgres.CMS.HolderByLookup", err)
}

func (s cmsStore) CreateCard(ctx context.Context, c *cms.Card, a *cms.AuditRecord) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, cardInsert, cms.CardArgs(c)...); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	})
	return mapErr("postgres.CMS.CreateCard", err)
}

func (s cmsStore) UpdateCard(ctx context.Context, c *cms.Card, a *cms.AuditRecord) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := updateCard(ctx, tx, c); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	})
	return mapErr("postgres.CMS.UpdateCard", err)
}

// updateCard writes c over the stored card at version c.Version-1.
func updateCard(ctx context.Context, tx pgx.Tx, c *cms.Card) error {
	const op = "postgres.CMS.UpdateCard"
	args := cms.CardArgs(c)
	tag, err := tx.Exec(ctx, cardUpdate, append(args, c.Version-1)...)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	var version int64
	err = tx.QueryRow(ctx, `SELECT version FROM cms_cards WHERE issuer = $1 AND asn = $2`, args[0], args[1]).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return citycard.E(op, citycard.NotFound, "no card %v", c)
	}
	if err != nil {
		return err
	}
	return citycard.E(op, citycard.Conflict, "card %v is at version %d, not %d: another move came first", c, version, c.Version-1)
}

func (s cmsStore) Commit(ctx context.Context, op *cms.Operation) (bool, error) {
	results, err := s.CommitBatch(ctx, []*cms.Operation{op})
	if err != nil {
		return false, mapErr("postgres.CMS.Commit", err)
	}
	return results[0].Replayed, mapErr("postgres.CMS.Commit", results[0].Err)
}

// CommitBatch commits ops in one transaction (cms.RetryBatch: an op
// refused for its own reason is left out and the rest tried again) of
// three round trips whatever the number of operations (commitBatch).
func (s cmsStore) CommitBatch(ctx context.Context, ops []*cms.Operation) ([]cms.CommitResult, error) {
	const op = "postgres.CMS.CommitBatch"
	return cms.RetryBatch(len(ops), func(live []int, replayed []bool) (int, error) {
		refused, err := commitBatch(ctx, s.db, ops, live, replayed, nil)
		return refused, mapErr(op, err)
	})
}

// commitBatch commits the operations of ops at the positions live in one
// transaction (Store.Commit's contract for each, as if committed one
// after the other), setting replayed for each, in three round trips:
//
//  1. the transaction begun, the audit log's lock (card management's
//     writes are serialized, so that each chains its audit record after
//     the one before), the ledger's (ledgerTx.lookup), the audit chain's
//     head and the operation keys committed before;
//  2. every operation's writes in one pipelined batch, decided in memory
//     from what the first read: a key committed before, or earlier in
//     the batch, is a replay (the same input hash) or a Conflict; the
//     ledger entries and the audit records chained in order; a card
//     written over the version it was read at and a load settled once,
//     each statement saying whether it did; the rows only inserted, a
//     table's in one multi-row statement (commitBatchAs), so that the
//     server runs a few statements a group commit, not ten an operation;
//  3. the commit.
//
// The first operation refused for its own reason (cms.IsRefusal) rolls
// the transaction back and is returned with its position: a refusal in
// the grouped statements is decided again, in a transaction that writes
// operation after operation (rare: a move racing another), so that the
// answer is the one of the operations committed one after the other.
//
// tail, if not nil, queues writes of its own after the operations' (a
// remote top-up's row with the operation that books it), unless every
// operation was a replay.
func commitBatch(ctx context.Context, db *DB, ops []*cms.Operation, live []int, replayed []bool, tail func(queue queueFunc)) (refused int, err error) {
	refused, err = commitBatchAs(ctx, db, ops, live, replayed, tail, false)
	if err != nil && cms.IsRefusal(mapErr("", err)) {
		clear(replayed)
		refused, err = commitBatchAs(ctx, db, ops, live, replayed, tail, true)
	}
	return refused, err
}

// commitBatchAs is commitBatch in one of two modes. Grouped (exact
// false), the rows of every operation go into one multi-row statement a
// table (rowBuf), in the operations' order, a table's rows after those
// of the tables they need (a load's after its operation's, a settled
// load's after its insert), and a statement's error may be no one
// operation's. Exact, each operation's rows go in statements of their
// own, one operation after the other, as if committed one after the
// other, so that the first refused is the one returned. commitBatch
// commits grouped and, if anything is refused, decides again exactly.
func commitBatchAs(ctx context.Context, db *DB, ops []*cms.Operation, live []int, replayed []bool, tail func(queue queueFunc), exact bool) (refused int, err error) {
	refused = -1
	var keys []string
	var entries int
	for _, i := range live {
		if b := ops[i].Booking; b != nil {
			keys = append(keys, b.Key)
			entries += len(b.Entries)
		}
	}
	entryKeys := make([]string, 0, entries)
	for _, i := range live {
		if b := ops[i].Booking; b != nil {
			for k := range b.Entries {
				entryKeys = append(entryKeys, b.Entries[k].Key)
			}
		}
	}

	var first pgx.Batch
	first.BeginTx(pgx.TxOptions{})
	first.Queue(`LOCK TABLE cms_audit IN SHARE ROW EXCLUSIVE MODE`)
	var lt ledgerTx
	if entries > 0 {
		lt.lookup(&first, entryKeys)
	}
	var head cms.AuditRecord
	first.Queue(`SELECT seq, hash FROM cms_audit ORDER BY seq DESC LIMIT 1`).Query(func(rows pgx.Rows) error {
		var hash string
		_, err := pgx.ForEachRow(rows, []any{&head.Seq, &hash}, func() error {
			var err error
			head.Hash, err = cms.ParseHash(hash)
			return err
		})
		return err
	})
	committed := make(map[string]string, len(keys)) // key: input hash
	first.Queue(`SELECT key, input_hash FROM cms_operations WHERE key = ANY($1)`, keys).Query(func(rows pgx.Rows) error {
		var key, hash string
		_, err := pgx.ForEachRow(rows, []any{&key, &hash}, func() error {
			committed[key] = hash
			return nil
		})
		return err
	})
	br := db.pool.SendBatch(ctx, &first)
	tx := br.Tx()
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := br.Close(); err != nil {
		return -1, err
	}

	var b pgx.Batch
	var owner []statement
	queue := func(op int, read func(pgx.BatchResults) error, sql string, args ...any) {
		b.Queue(sql, args...)
		owner = append(owner, statement{op: op, read: read})
	}
	rows := newCMSRows()
	flush := func() { rows.queue(func(op int, sql string, args ...any) { queue(op, nil, sql, args...) }) }
	fresh := 0
	for _, i := range live {
		o := ops[i]
		if bk := o.Booking; bk != nil {
			in := cms.LookupHex(bk.InputHash)
			if hash, ok := committed[bk.Key]; ok {
				if hash != in {
					return i, citycard.E("postgres.CMS.Commit", citycard.Conflict, "idempotency key %q was used for another operation", bk.Key)
				}
				replayed[i] = true
				continue
			}
			committed[bk.Key] = in
			fresh++
			rows.operations.add(i, bk.Key, in, o.At.UnixNano(), bk.Answer)
			for k := range bk.Flows {
				rows.flows.add(i, cms.FlowArgs(bk, k)...)
			}
			if len(bk.Entries) > 0 {
				if _, err := lt.link(o.At.UTC(), bk.Entries, i); err != nil {
					return i, err
				}
			}
			if args := cms.ChannelMoveArgs(o); args != nil {
				rows.moves.add(i, args...)
			}
		} else {
			fresh++
		}
		// Cards and settled loads, a statement each, in their place: in
		// exact mode after the operation's rows before them.
		if exact && (len(o.NewCards) > 0 || len(o.Cards) > 0) {
			flush()
		}
		for _, c := range o.NewCards {
			queue(i, nil, cardInsert, cms.CardArgs(c)...)
		}
		for _, c := range o.Cards {
			queue(i, readCardUpdate(c), cardUpdateChecked, append(cms.CardArgs(c), c.Version-1)...)
		}
		for _, l := range o.Loads {
			if l.Status == cms.LoadUnconfirmed {
				rows.loads.add(i, cms.LoadArgs(l)...)
				rows.inserted[l.Key] = true
				continue
			}
			if exact || rows.inserted[l.Key] {
				flush()
			}
			queue(i, readLoadSettle(l), loadSettle, l.Status.String(), l.SettledAt.UnixNano(), l.Settlement, l.Key)
		}
		o.Audit.Chain(&head)
		head = *o.Audit
		rows.audit.add(i, cms.AuditArgs(o.Audit)...)
		if exact {
			flush()
		}
	}
	flush()
	if tail != nil && fresh > 0 {
		tail(queue)
	}
	for _, w := range lt.queue(&b, exact) {
		owner = append(owner, statement{op: w.owner, ledger: &w})
	}
	if len(owner) > 0 {
		res := tx.SendBatch(ctx, &b)
		for _, s := range owner {
			var err error
			switch {
			case s.read != nil:
				err = s.read(res)
			default:
				if _, err = res.Exec(); err != nil && s.ledger != nil {
					err = lt.statementErr(*s.ledger, err)
				}
			}
			if err != nil {
				res.Close()
				if s.op >= 0 && cms.IsRefusal(mapErr("", err)) {
					return s.op, err
				}
				return -1, err
			}
		}
		if err := res.Close(); err != nil {
			return -1, err
		}
	}
	return -1, tx.Commit(ctx)
}

// queueFunc queues a write of commitBatch's second round trip: the
// position of the operation it writes, how its answer is read (nil: an
// Exec), the statement and its arguments.
type queueFunc func(op int, read func(pgx.BatchResults) error, sql string, args ...any)

// statement is one of commitBatch's writes: the position of the
// operation it writes (-1: the batch's, a ledger balance), how its
// answer is read (nil: an Exec, its error the statement's), and the
// ledger's statement it is, if one.
type statement struct {
	op     int
	read   func(pgx.BatchResults) error
	ledger *ledgerStatement
}

// cardUpdateChecked writes a card over the version it was read at and
// answers, in the same statement, whether it did and the version the
// stored card was at before (NULL: no such card).
var cardUpdateChecked = func() string {
	n := len(strings.Split(cms.CardColumns, ", "))
	set := cardUpdate[len("UPDATE cms_cards SET "):strings.Index(cardUpdate, " WHERE ")]
	return fmt.Sprintf(`WITH u AS (UPDATE cms_cards SET %s WHERE issuer = $1 AND asn = $2 AND version = $%d RETURNING 1)
		SELECT (SELECT count(*) FROM u), (SELECT version FROM cms_cards WHERE issuer = $1 AND asn = $2)`, set, n+1)
}()

// readCardUpdate reads the answer of c's cardUpdateChecked: kinds
// NotFound (no such card), Conflict (another move came first).
func readCardUpdate(c *cms.Card) func(pgx.BatchResults) error {
	return func(br pgx.BatchResults) error {
		const op = "postgres.CMS.UpdateCard"
		var n int64
		var version *int64
		if err := br.QueryRow().Scan(&n, &version); err != nil {
			return err
		}
		switch {
		case n == 1:
			return nil
		case version == nil:
			return citycard.E(op, citycard.NotFound, "no card %v", c)
		}
		return citycard.E(op, citycard.Conflict, "card %v is at version %d, not %d: another move came first", c, *version, c.Version-1)
	}
}

// loadSettle settles a load over its unconfirmed row (a reversed one
// is confirmed by a late TAC).
const loadSettle = `UPDATE cms_loads SET status = $1, settled_ns = $2, settlement = $3 WHERE key = $4 AND (status = 'unconfirmed' OR (status = 'reversed' AND $1 = 'confirmed'))`

// readLoadSettle reads the answer of l's loadSettle: kind Conflict if it
// settled nothing.
func readLoadSettle(l *cms.OnlineLoad) func(pgx.BatchResults) error {
	return func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		return citycard.E("postgres.CMS.Commit", citycard.Conflict, "load %s is settled already (only a reversed one is confirmed by a late TAC), or was never authorized", l.Key)
	}
}

// commitBatch's multi-row statements, a table's columns as cms spells
// them (cms.LoadColumns, ...).
var (
	operationsInsert = newRowInsert("cms_operations", "key, input_hash, at_ns, answer", "text", "text", "bigint", "text")
	flowsInsert      = newRowInsert("cms_flows", cms.FlowColumns, "text", "integer", "text", "text", "text", "bigint")
	movesInsert      = newRowInsert("cms_channel_moves", cms.ChannelMoveColumns,
		"text", "bigint", "bigint", "text", "text", "text", "text", "bigint", "bigint")
	loadsInsert = newRowInsert("cms_loads", cms.LoadColumns, "text", "text", "text", "bigint", "bigint", "bigint", "text",
		"bigint", "bigint", "bigint", "text", "text", "bigint", "text", "bigint", "text")
	auditInsert = newRowInsert("cms_audit", cms.AuditColumns, "bigint", "bigint", "text", "text", "text", "text", "text", "text", "text")
)

// cmsRows are the rows commitBatch gathers, a table's in the order
// queue sends them (the tables a row refers to first), and the keys of
// the loads among them.
type cmsRows struct {
	operations, flows, moves, loads, audit rowBuf
	inserted                               map[string]bool
}

func newCMSRows() *cmsRows {
	return &cmsRows{operations: newRowBuf(&operationsInsert), flows: newRowBuf(&flowsInsert), moves: newRowBuf(&movesInsert),
		loads: newRowBuf(&loadsInsert), audit: newRowBuf(&auditInsert), inserted: map[string]bool{}}
}

// queue passes the rows gathered to q (rowBuf.queue) and empties them.
func (r *cmsRows) queue(q func(op int, sql string, args ...any)) {
	for _, b := range []*rowBuf{&r.operations, &r.flows, &r.moves, &r.loads, &r.audit} {
		b.queue(q)
	}
	clear(r.inserted)
}

func (s cmsStore) OnlineLoad(ctx context.Context, key string) (cms.OnlineLoad, error) {
	l, err := cms.ScanLoad(s.db.pool.QueryRow(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, citycard.E("postgres.CMS.OnlineLoad", citycard.NotFound, "no online load %q", key)
	}
	return l, mapErr("postgres.CMS.OnlineLoad", err)
}

// openLoadQuery and loadedFenQuery are OpenLoad's and LoadedFen's, for
// CardLoads to send with the card's in one batch.
const (
	openLoadQuery  = `SELECT ` + cms.LoadColumns + ` FROM cms_loads WHERE issuer = $1 AND asn = $2 AND status = 'unconfirmed' ORDER BY authorized_ns DESC LIMIT 1`
	loadedFenQuery = `SELECT coalesce(sum(amount_fen), 0)::BIGINT FROM cms_loads WHERE issuer = $1 AND asn = $2 AND authorized_ns >= $3 AND authorized_ns < $4 AND status <> 'reversed'`
	creditedQuery  = `SELECT counter FROM cms_loads WHERE issuer = $1 AND asn = $2 AND status = 'confirmed' ORDER BY authorized_ns DESC LIMIT 1`
)

func (s cmsStore) OpenLoad(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (cms.OnlineLoad, error) {
	l, err := cms.ScanLoad(s.db.pool.QueryRow(ctx, openLoadQuery, issuer.String(), cms.ASNHex(asn)))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, citycard.E("postgres.CMS.OpenLoad", citycard.NotFound, "card %v/%v has no unconfirmed load", issuer, asn)
	}
	return l, mapErr("postgres.CMS.OpenLoad", err)
}

func (s cmsStore) LoadedFen(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, from, to time.Time) (int64, error) {
	var fen int64
	err := s.db.pool.QueryRow(ctx, loadedFenQuery, issuer.String(), cms.ASNHex(asn), from.UnixNano(), to.UnixNano()).Scan(&fen)
	return fen, mapErr("postgres.CMS.LoadedFen", err)
}

// CardLoads sends the card's, OpenLoad's and LoadedFen's queries in one
// batch: one round trip.
func (s cmsStore) CardLoads(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, from, to time.Time) (cms.CardLoads, error) {
	const op = "postgres.CMS.CardLoads"
	var cl cms.CardLoads
	i, a := issuer.String(), cms.ASNHex(asn)
	var b pgx.Batch
	b.Queue(cardQuery, i, a).QueryRow(func(row pgx.Row) (err error) {
		cl.Card, err = cms.ScanCard(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return citycard.E(op, citycard.NotFound, "no card %v/%v", issuer, asn)
		}
		return err
	})
	b.Queue(openLoadQuery, i, a).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			l, err := cms.ScanLoad(rows)
			if err != nil {
				return err
			}
			cl.Open = &l
		}
		return rows.Err()
	})
	b.Queue(loadedFenQuery, i, a, from.UnixNano(), to.UnixNano()).QueryRow(func(row pgx.Row) error { return row.Scan(&cl.LoadedFen) })
	b.Queue(creditedQuery, i, a).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var counter int64
			if err := rows.Scan(&counter); err != nil {
				return err
			}
			cl.Credited, cl.CreditedCounter = true, uint16(counter)
		}
		return rows.Err()
	})
	return cl, mapErr(op, s.db.pool.SendBatch(ctx, &b).Close())
}

func (s cmsStore) UnconfirmedLoads(ctx context.Context, after string, limit int) ([]cms.OnlineLoad, error) {
	const op = "postgres.CMS.UnconfirmedLoads"
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE status = 'unconfirmed' AND key > $1 ORDER BY key COLLATE "C" LIMIT $2`, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanLoads(rows)
	return l, mapErr(op, err)
}

// LedgerEntry reads the ledger entry of key (cms.Store.LedgerEntry).
func (s cmsStore) LedgerEntry(ctx context.Context, key string) (ledger.Posted, error) {
	return s.db.ledger.EntryByKey(ctx, key)
}

func (s cmsStore) OperationHash(ctx context.Context, key string) ([32]byte, error) {
	const op = "postgres.CMS.OperationHash"
	var hash string
	err := s.db.pool.QueryRow(ctx, `SELECT input_hash FROM cms_operations WHERE key = $1`, key).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return [32]byte{}, citycard.E(op, citycard.NotFound, "no operation %q", key)
	}
	if err != nil {
		return [32]byte{}, mapErr(op, err)
	}
	h, err := cms.ParseHash(hash)
	return h, mapErr(op, err)
}

func (s cmsStore) OperationAnswer(ctx context.Context, key string) (string, error) {
	const op = "postgres.CMS.OperationAnswer"
	var answer string
	err := s.db.pool.QueryRow(ctx, `SELECT answer FROM cms_operations WHERE key = $1`, key).Scan(&answer)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", citycard.E(op, citycard.NotFound, "no operation %q", key)
	}
	return answer, mapErr(op, err)
}

func (s cmsStore) Flows(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]cms.Flow, error) {
	const op = "postgres.CMS.Flows"
	rows, err := s.db.pool.Query(ctx, `SELECT issuer, asn, flow_type, fen FROM cms_flows WHERE issuer = $1 AND asn = $2 ORDER BY seq`, issuer.String(), cms.ASNHex(asn))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	flows, err := cms.ScanFlows(rows)
	return flows, mapErr(op, err)
}

func (s cmsStore) FlowTotals(ctx context.Context) (map[cms.FlowType]int64, error) {
	const op = "postgres.CMS.FlowTotals"
	rows, err := s.db.pool.Query(ctx, strings.Replace(cms.FlowTotalsQuery, "SUM(fen)", "SUM(fen)::bigint", 1))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	m, err := cms.ScanFlowTotals(rows)
	return m, mapErr(op, err)
}

// ProductFlowTotals implements cms.Store.
func (s cmsStore) ProductFlowTotals(ctx context.Context) (map[string]map[cms.FlowType]int64, error) {
	const op = "postgres.CMS.ProductFlowTotals"
	rows, err := s.db.pool.Query(ctx, strings.Replace(cms.ProductFlowTotalsQuery, "SUM(f.fen)", "SUM(f.fen)::bigint", 1))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	m, err := cms.ScanProductFlowTotals(rows)
	return m, mapErr(op, err)
}

// CardProducts implements cms.Store.
func (s cmsStore) CardProducts(ctx context.Context, fn func(asn citycard.ASN, product string) error) error {
	const op = "postgres.CMS.CardProducts"
	rows, err := s.db.pool.Query(ctx, `SELECT asn, product FROM cms_cards`)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, cms.ScanCardProducts(rows, fn))
}

// cardQuery reads a card.
const cardQuery = `SELECT ` + cms.CardColumns + ` FROM cms_cards WHERE issuer = $1 AND asn = $2`

func (s cmsStore) Card(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (cms.Card, error) {
	c, err := cms.ScanCard(s.db.pool.QueryRow(ctx, cardQuery, issuer.String(), cms.ASNHex(asn)))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, citycard.E("postgres.CMS.Card", citycard.NotFound, "no card %v/%v", issuer, asn)
	}
	return c, mapErr("postgres.CMS.Card", err)
}

func (s cmsStore) CardsOf(ctx context.Context, holder int64) ([]cms.Card, error) {
	const op = "postgres.CMS.CardsOf"
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards WHERE holder = $1 ORDER BY issuer, asn`, holder)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	cards, err := cms.ScanCards(rows)
	return cards, mapErr(op, err)
}

func (s cmsStore) CardsPage(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]cms.Card, error) {
	const op = "postgres.CMS.CardsPage"
	if err := cms.CheckCardsPage(op, limit); err != nil {
		return nil, err
	}
	afterIssuer, afterASN := cms.CardsAfter(issuer, asn)
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards WHERE (issuer, asn) > ($1, $2) ORDER BY issuer, asn LIMIT $3`,
		afterIssuer, afterASN, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	cards, err := cms.ScanCards(rows)
	return cards, mapErr(op, err)
}

func (s cmsStore) CardsExpired(ctx context.Context, before cms.Date, limit int) ([]cms.Card, error) {
	const op = "postgres.CMS.CardsExpired"
	if err := cms.CheckCardsPage(op, limit); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards
		WHERE state IN ('issued', 'active') AND expiry <> '' AND expiry < $1 ORDER BY expiry, issuer, asn LIMIT $2`, before.String(), limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	cards, err := cms.ScanCards(rows)
	return cards, mapErr(op, err)
}

func (s cmsStore) AuditLog(ctx context.Context, after int64, fn func(a *cms.AuditRecord) error) error {
	const op = "postgres.CMS.AuditLog"
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.AuditColumns+` FROM cms_audit WHERE seq > $1 ORDER BY seq`, after)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, cms.ScanAuditLog(rows, fn))
}
