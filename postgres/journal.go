package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
)

// Journal returns the acquisition journal (acquire.Journal), committed in
// the same transaction as the batches' ledger entries.
func (db *DB) Journal() *Journal { return &Journal{db: db} }

// Journal is the PostgreSQL acquire.Journal: the SQLite store's tables,
// one chunk row per committed batch.
type Journal struct{ db *DB }

var _ acquire.Journal = (*Journal)(nil)

const lastPosQuery = `SELECT coalesce((SELECT first_pos + n - 1 FROM acquire_journal ORDER BY first_pos DESC LIMIT 1), 0)`

// Batch implements acquire.Journal.
func (j *Journal) Batch(ctx context.Context, t citycard.TerminalID, id string) (acquire.StoredBatch, bool, error) {
	const op = "postgres.Journal.Batch"
	b := acquire.StoredBatch{Terminal: t, ID: id}
	var hash []byte
	var atNs int64
	err := j.db.pool.QueryRow(ctx, `SELECT hash, answer, at_ns FROM acquire_batches WHERE terminal = $1 AND batch_id = $2`,
		t.String(), id).Scan(&hash, &b.Answer, &atNs)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return b, false, nil
	case err != nil:
		return b, false, mapErr(op, err)
	}
	if len(hash) != len(b.Hash) {
		return b, false, citycard.E(op, citycard.IO, "batch %q of %v: stored hash of %d bytes", id, t, len(hash))
	}
	copy(b.Hash[:], hash)
	b.At = time.Unix(0, atNs).UTC()
	return b, true, nil
}

// The journal's multi-row statements (rowBuf).
var (
	journalInsert     = newRowInsert("acquire_journal", "first_pos, n, terminal, batch_id, data", "bigint", "integer", "text", "text", "bytea")
	chunkTotalsInsert = newRowInsert("acquire_chunk_totals", "first_pos, n, amount_fen, at_ns", "bigint", "integer", "bigint", "bigint")
	greysInsert       = newRowInsert("acquire_greys", "pos, idx, move, terminal, seq, issuer, asn, counter, card_type, product, amount_fen, grey_pos",
		"bigint", "integer", "text", "text", "bigint", "text", "text", "integer", "integer", "integer", "bigint", "bigint")
	batchesInsert = newRowInsert("acquire_batches", "terminal, batch_id, hash, answer, first_pos, n, ledger_key, at_ns",
		"text", "text", "bytea", "bytea", "bigint", "integer", "text", "bigint")
	rejectionsInsert = newRowInsert("acquire_rejections", "terminal, batch_id, idx, reason, detail, raw, at_ns",
		"text", "text", "integer", "text", "text", "bytea", "bigint")
)

// Commit implements acquire.Journal: one transaction, the rows sent in one
// batch of multi-row statements (a table's rows in one, rowBuf; the
// rejections' positions in their order), then the ledger entries.
func (j *Journal) Commit(ctx context.Context, c *acquire.Commit) error {
	const op = "postgres.Journal.Commit"
	plan, err := c.Plan()
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	err = pgx.BeginFunc(ctx, j.db.pool, func(tx pgx.Tx) error {
		// One writer at a time: the positions are dense.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('citycard.acquire.' || current_schema()))`); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRow(ctx, lastPosQuery).Scan(&last); err != nil {
			return err
		}
		if len(c.Entries) > 0 && c.Entries[0].Pos != last+1 {
			return citycard.E(op, citycard.Conflict, "journal ends at %d, commit starts at %d: another writer?", last, c.Entries[0].Pos)
		}
		chunks, totals := newRowBuf(&journalInsert), newRowBuf(&chunkTotalsInsert)
		for _, r := range plan.Chunks {
			chunks.add(-1, r.FirstPos, int32(r.N), r.Terminal, r.BatchID, r.Data)
			totals.add(-1, r.FirstPos, int32(r.N), r.AmountFen, r.AtNs)
		}
		greys := newRowBuf(&greysInsert)
		for i := range c.Greys {
			g := clearing.GreyRowOf(&c.Greys[i])
			greys.add(-1, g.Pos, int32(g.Index), g.Move, g.Terminal, g.Seq, g.Issuer, g.ASN, int32(g.Counter), int32(g.CardType), int32(g.Product), g.AmountFen, g.GreyPos)
		}
		batches := newRowBuf(&batchesInsert)
		for _, r := range plan.Batches {
			batches.add(-1, r.Terminal, r.BatchID, r.Hash, r.Answer, r.FirstPos, int32(r.N), r.LedgerKey, r.AtNs)
		}
		rejections := newRowBuf(&rejectionsInsert)
		for _, r := range c.Rejections {
			rejections.add(-1, r.Terminal.String(), r.BatchID, int32(r.Index), r.Reason, r.Detail, r.Raw, r.At.UnixNano())
		}
		var b pgx.Batch
		for _, rows := range []*rowBuf{&chunks, &totals, &greys, &batches, &rejections} {
			rows.queue(func(_ int, sql string, args ...any) { b.Queue(sql, args...) })
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
		if len(plan.Ledger) > 0 {
			if _, err := j.db.ledger.append(ctx, tx, c.At.UTC(), plan.Ledger); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(op, err)
}

// Replay implements acquire.Journal.
func (j *Journal) Replay(ctx context.Context, from int64, fn func(e *acquire.Journaled) error) error {
	const op = "postgres.Journal.Replay"
	rows, err := j.db.pool.Query(ctx, `SELECT first_pos, terminal, batch_id, data FROM acquire_journal
		WHERE first_pos >= coalesce((SELECT first_pos FROM acquire_journal WHERE first_pos <= $1 ORDER BY first_pos DESC LIMIT 1), 0)
		ORDER BY first_pos`, from+1)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, acquire.ReplayRows(rows, from, fn))
}

// BatchRecords implements acquire.Journal: the batch row names its
// chunk's first position, the chunk's primary key.
func (j *Journal) BatchRecords(ctx context.Context, t citycard.TerminalID, id string, fn func(e *acquire.Journaled) error) error {
	const op = "postgres.Journal.BatchRecords"
	rows, err := j.db.pool.Query(ctx, `SELECT j.first_pos, j.terminal, j.batch_id, j.data FROM acquire_batches b JOIN acquire_journal j ON j.first_pos = b.first_pos WHERE b.terminal = $1 AND b.batch_id = $2 AND b.n > 0`, t.String(), id)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, acquire.ReplayRows(rows, 0, fn))
}

// LastPos implements acquire.Journal.
func (j *Journal) LastPos(ctx context.Context) (int64, error) {
	var last int64
	err := j.db.pool.QueryRow(ctx, lastPosQuery).Scan(&last)
	return last, mapErr("postgres.Journal.LastPos", err)
}

// SaveCheckpoint implements acquire.Journal.
func (j *Journal) SaveCheckpoint(ctx context.Context, cp acquire.Checkpoint) error {
	_, err := j.db.pool.Exec(ctx, `INSERT INTO acquire_checkpoints (part, pos, data) VALUES ($1, $2, $3)
		ON CONFLICT (part) DO UPDATE SET pos = excluded.pos, data = excluded.data`, cp.Part, cp.Pos, cp.Data)
	return mapErr("postgres.Journal.SaveCheckpoint", err)
}

// LoadCheckpoints implements acquire.Journal.
func (j *Journal) LoadCheckpoints(ctx context.Context) ([]acquire.Checkpoint, error) {
	const op = "postgres.Journal.LoadCheckpoints"
	rows, err := j.db.pool.Query(ctx, `SELECT part, pos, data FROM acquire_checkpoints ORDER BY part`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []acquire.Checkpoint
	for rows.Next() {
		var cp acquire.Checkpoint
		if err := rows.Scan(&cp.Part, &cp.Pos, &cp.Data); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, cp)
	}
	return out, mapErr(op, rows.Err())
}

// QueryRejections returns rejections after position f.After, oldest
// first (the api's Rejections).
func (j *Journal) QueryRejections(ctx context.Context, f acquire.RejectionFilter) ([]acquire.PositionedRejection, error) {
	const op = "postgres.Journal.QueryRejections"
	if err := f.Check(); err != nil {
		return nil, err
	}
	q := `SELECT pos, terminal, batch_id, idx, reason, detail, raw, at_ns FROM acquire_rejections WHERE pos > $1`
	args := []any{f.After}
	if f.Terminal != (citycard.TerminalID{}) {
		args = append(args, f.Terminal.String())
		q += ` AND terminal = $` + strconv.Itoa(len(args))
	}
	if f.Reason != "" {
		args = append(args, f.Reason)
		q += ` AND reason = $` + strconv.Itoa(len(args))
	}
	q += ` ORDER BY pos LIMIT ` + strconv.Itoa(f.Limit)
	rows, err := j.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := acquire.ScanRejections(rows)
	return out, mapErr(op, err)
}
