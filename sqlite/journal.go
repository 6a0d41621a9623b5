package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
)

// Journal returns the acquisition journal (acquire.Journal): committed
// batches, the journal of records in chunks, the rejection journal and
// the checkpoint, committed in the same transaction as the batches'
// ledger entries.
func (db *DB) Journal() *Journal { return &Journal{db: db} }

// lastPosQuery finds the journal's last position through the primary key,
// without a scan.
const lastPosQuery = `SELECT coalesce((SELECT first_pos + n - 1 FROM acquire_journal ORDER BY first_pos DESC LIMIT 1), 0)`

// The statements of a commit and of a batch's look-up, prepared once
// (DB.prepareWriter, DB.readRow): they run for every batch uploaded, and
// parsing each again cost more than its insert (measured: a fiftieth of
// bench ingest's CPU).
const (
	qBatchLookup     = `SELECT hash, answer, at_ns FROM acquire_batches WHERE terminal = ? AND batch_id = ?`
	qChunkInsert     = `INSERT INTO acquire_journal (first_pos, n, terminal, batch_id, data) VALUES (?, ?, ?, ?, ?)`
	qTotalsInsert    = `INSERT INTO acquire_chunk_totals (first_pos, n, amount_fen, at_ns) VALUES (?, ?, ?, ?)`
	qGreyInsert      = `INSERT INTO acquire_greys (pos, idx, move, terminal, seq, issuer, asn, counter, card_type, product, amount_fen, grey_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qBatchInsert     = `INSERT INTO acquire_batches (terminal, batch_id, hash, answer, first_pos, n, ledger_key, at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qRejectionInsert = `INSERT INTO acquire_rejections (terminal, batch_id, idx, reason, detail, raw, at_ns) VALUES (?, ?, ?, ?, ?, ?, ?)`
)

var journalWriterQueries = []string{lastPosQuery, qChunkInsert, qTotalsInsert, qGreyInsert, qBatchInsert, qRejectionInsert}

// Journal is the SQLite acquire.Journal.
type Journal struct{ db *DB }

var _ acquire.Journal = (*Journal)(nil)

// Batch implements acquire.Journal.
func (j *Journal) Batch(ctx context.Context, t citycard.TerminalID, id string) (acquire.StoredBatch, bool, error) {
	const op = "sqlite.Journal.Batch"
	b := acquire.StoredBatch{Terminal: t, ID: id}
	var hash []byte
	var atNs int64
	err := j.db.readRow(ctx, qBatchLookup, func(r *sql.Row) error { return r.Scan(&hash, &b.Answer, &atNs) }, t.String(), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
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

// Commit implements acquire.Journal: one write transaction for the
// batches, their journal chunks, the rejections and the ledger entries.
func (j *Journal) Commit(ctx context.Context, c *acquire.Commit) error {
	const op = "sqlite.Journal.Commit"
	plan, err := c.Plan()
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	err = j.db.write(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := j.db.txRow(ctx, tx, lastPosQuery, func(r *sql.Row) error { return r.Scan(&last) }); err != nil {
			return err
		}
		if len(c.Entries) > 0 && c.Entries[0].Pos != last+1 {
			return citycard.E(op, citycard.Conflict, "journal ends at %d, commit starts at %d: another writer?", last, c.Entries[0].Pos)
		}
		for _, r := range plan.Chunks {
			if _, err := j.db.txExec(ctx, tx, qChunkInsert, r.FirstPos, r.N, r.Terminal, r.BatchID, r.Data); err != nil {
				return err
			}
			if _, err := j.db.txExec(ctx, tx, qTotalsInsert, r.FirstPos, r.N, r.AmountFen, r.AtNs); err != nil {
				return err
			}
		}
		for i := range c.Greys {
			g := clearing.GreyRowOf(&c.Greys[i])
			if _, err := j.db.txExec(ctx, tx, qGreyInsert, g.Pos, g.Index, g.Move, g.Terminal, g.Seq, g.Issuer, g.ASN, g.Counter, g.CardType, g.Product, g.AmountFen, g.GreyPos); err != nil {
				return err
			}
		}
		for _, r := range plan.Batches {
			if _, err := j.db.txExec(ctx, tx, qBatchInsert, r.Terminal, r.BatchID, r.Hash, r.Answer, r.FirstPos, r.N, r.LedgerKey, r.AtNs); err != nil {
				return err
			}
		}
		for _, r := range c.Rejections {
			if _, err := j.db.txExec(ctx, tx, qRejectionInsert, r.Terminal.String(), r.BatchID, r.Index, r.Reason, r.Detail, r.Raw, r.At.UnixNano()); err != nil {
				return err
			}
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
	const op = "sqlite.Journal.Replay"
	// From the chunk holding position from+1 on; positions are dense.
	rows, err := j.db.r.QueryContext(ctx, `SELECT first_pos, terminal, batch_id, data FROM acquire_journal
		WHERE first_pos >= coalesce((SELECT first_pos FROM acquire_journal WHERE first_pos <= ? ORDER BY first_pos DESC LIMIT 1), 0)
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
	const op = "sqlite.Journal.BatchRecords"
	rows, err := j.db.r.QueryContext(ctx, `SELECT j.first_pos, j.terminal, j.batch_id, j.data FROM acquire_batches b JOIN acquire_journal j ON j.first_pos = b.first_pos WHERE b.terminal = ? AND b.batch_id = ? AND b.n > 0`, t.String(), id)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, acquire.ReplayRows(rows, 0, fn))
}

// LastPos implements acquire.Journal.
func (j *Journal) LastPos(ctx context.Context) (int64, error) {
	var last int64
	err := j.db.r.QueryRowContext(ctx, lastPosQuery).Scan(&last)
	return last, mapErr("sqlite.Journal.LastPos", err)
}

// SaveCheckpoint implements acquire.Journal.
func (j *Journal) SaveCheckpoint(ctx context.Context, cp acquire.Checkpoint) error {
	err := j.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO acquire_checkpoints (part, pos, data) VALUES (?, ?, ?)
			ON CONFLICT (part) DO UPDATE SET pos = excluded.pos, data = excluded.data`, cp.Part, cp.Pos, cp.Data)
		return err
	})
	return mapErr("sqlite.Journal.SaveCheckpoint", err)
}

// LoadCheckpoints implements acquire.Journal.
func (j *Journal) LoadCheckpoints(ctx context.Context) ([]acquire.Checkpoint, error) {
	const op = "sqlite.Journal.LoadCheckpoints"
	rows, err := j.db.r.QueryContext(ctx, `SELECT part, pos, data FROM acquire_checkpoints ORDER BY part`)
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
	const op = "sqlite.Journal.QueryRejections"
	if err := f.Check(); err != nil {
		return nil, err
	}
	q := `SELECT pos, terminal, batch_id, idx, reason, detail, raw, at_ns FROM acquire_rejections WHERE pos > ?`
	args := []any{f.After}
	if f.Terminal != (citycard.TerminalID{}) {
		q += ` AND terminal = ?`
		args = append(args, f.Terminal.String())
	}
	if f.Reason != "" {
		q += ` AND reason = ?`
		args = append(args, f.Reason)
	}
	q += ` ORDER BY pos LIMIT ?`
	args = append(args, f.Limit)
	rows, err := j.db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := acquire.ScanRejections(rows)
	return out, mapErr(op, err)
}
