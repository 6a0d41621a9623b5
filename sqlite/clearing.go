package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
)

// Clearing returns what clearing reads of the acquisition journal
// (clearing.Journal) and the store of its cycles (clearing.Store).
func (db *DB) Clearing() *Clearing { return &Clearing{db: db} }

// Clearing is the SQLite clearing.Journal and clearing.Store.
type Clearing struct{ db *DB }

var (
	_ clearing.Journal = (*Clearing)(nil)
	_ interop.Journal  = (*Clearing)(nil)
	_ clearing.Store   = (*Clearing)(nil)
)

// Claim implements clearing.Journal. In one read transaction (one
// snapshot): the range ends before the first chunk after from committed
// at or after before; its count is the journal's own (the chunks' n), its
// sum the chunk totals', and the two tables must agree on the chunks and
// their count (kind Conflict: chunks without totals, committed before
// migration 0010, or tampered). from must end a chunk (kind Invalid).
func (c *Clearing) Claim(ctx context.Context, from int64, before time.Time) (clearing.Claim, error) {
	const op = "sqlite.Clearing.Claim"
	var n clearing.ClaimCounts
	err := c.db.r.QueryRowContext(ctx, claimQuery, from, before.UnixNano()).Scan(&n.FromEnds, &n.To, &n.Chunks, &n.Entries,
		&n.TotalChunks, &n.TotalEntries, &n.AmountFen, &n.Greys, &n.GreysFen)
	if err != nil {
		return clearing.Claim{}, mapErr(op, err)
	}
	cl, err := n.Claim(from)
	return cl, mapErr(op, err)
}

// claimQuery counts a claim in one statement, so in one snapshot (?1 is
// from, ?2 the cut-off in Unix nanoseconds). Each look-up goes by a
// primary key: the range's end by the first chunk after from committed at
// or after the cut-off.
const claimQuery = `WITH b AS (SELECT coalesce(
		(SELECT first_pos - 1 FROM acquire_chunk_totals WHERE first_pos > ?1 AND at_ns >= ?2 ORDER BY first_pos LIMIT 1),
		(SELECT first_pos + n - 1 FROM acquire_journal ORDER BY first_pos DESC LIMIT 1), 0) AS to_pos)
	SELECT CASE WHEN ?1 = 0 OR (SELECT first_pos + n - 1 FROM acquire_journal WHERE first_pos <= ?1 ORDER BY first_pos DESC LIMIT 1) = ?1 THEN 1 ELSE 0 END,
		b.to_pos,
		(SELECT count(*) FROM acquire_journal WHERE first_pos > ?1 AND first_pos <= b.to_pos),
		(SELECT coalesce(sum(n), 0) FROM acquire_journal WHERE first_pos > ?1 AND first_pos <= b.to_pos),
		(SELECT count(*) FROM acquire_chunk_totals WHERE first_pos > ?1 AND first_pos <= b.to_pos),
		(SELECT coalesce(sum(n), 0) FROM acquire_chunk_totals WHERE first_pos > ?1 AND first_pos <= b.to_pos),
		(SELECT coalesce(sum(amount_fen), 0) FROM acquire_chunk_totals WHERE first_pos > ?1 AND first_pos <= b.to_pos),
		(SELECT count(*) FROM acquire_greys WHERE pos > ?1 AND pos <= b.to_pos),
		(SELECT coalesce(sum(amount_fen), 0) FROM acquire_greys WHERE pos > ?1 AND pos <= b.to_pos)
	FROM b`

// Entries implements clearing.Journal: the chunks of r with their commit
// times.
func (c *Clearing) Records(ctx context.Context, r clearing.Range, fn func(e *acquire.Journaled, at time.Time) error) error {
	const op = "sqlite.Clearing.Entries"
	rows, err := c.db.r.QueryContext(ctx, `SELECT j.first_pos, j.terminal, j.batch_id, j.data, t.at_ns
		FROM acquire_journal j JOIN acquire_chunk_totals t ON t.first_pos = j.first_pos
		WHERE j.first_pos > ? AND j.first_pos <= ? ORDER BY j.first_pos`, r.From, r.To)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, clearing.EntryRows(rows, r, fn))
}

// Journaled implements interop.Journal: the chunk holding pos, by its
// primary key.
func (c *Clearing) Journaled(ctx context.Context, pos int64) (acquire.Journaled, error) {
	const op = "sqlite.Clearing.Journaled"
	rows, err := c.db.r.QueryContext(ctx, `SELECT first_pos, terminal, batch_id, data FROM acquire_journal WHERE first_pos <= ? ORDER BY first_pos DESC LIMIT 1`, pos)
	if err != nil {
		return acquire.Journaled{}, mapErr(op, err)
	}
	defer rows.Close()
	e, err := acquire.JournaledAt(rows, pos)
	return e, mapErr(op, err)
}

// Greys implements clearing.Journal.
func (c *Clearing) Greys(ctx context.Context, r clearing.Range, fn func(g *acquire.GreyDecision) error) error {
	const op = "sqlite.Clearing.Greys"
	rows, err := c.db.r.QueryContext(ctx, `SELECT pos, idx, move, terminal, seq, issuer, asn, counter, card_type, product, amount_fen, grey_pos
		FROM acquire_greys WHERE pos > ? AND pos <= ? ORDER BY pos, idx`, r.From, r.To)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, clearing.GreyRows(rows, fn))
}

const cycleColumns = `day, state, cutoff_ns, range_from, range_to, opened_ns, computed_ns, computed_by, reviewed_ns, reviewed_by, approved_ns, approved_by, closed_ns, closed_by, result, files, settlement_version`

func scanCycle(row interface{ Scan(...any) error }) (clearing.Stored, error) {
	var r clearing.CycleRow
	if err := row.Scan(&r.Day, &r.State, &r.CutoffNs, &r.From, &r.To, &r.OpenedNs, &r.ComputedNs, &r.ComputedBy, &r.ReviewedNs, &r.ReviewedBy,
		&r.ApprovedNs, &r.ApprovedBy, &r.ClosedNs, &r.ClosedBy, &r.Result, &r.Files, &r.SettlementVersion); err != nil {
		return clearing.Stored{}, err
	}
	return r.Stored()
}

// Cycle implements clearing.Store.
func (c *Clearing) Cycle(ctx context.Context, d clearing.Day) (clearing.Stored, error) {
	const op = "sqlite.Clearing.Cycle"
	s, err := scanCycle(c.db.r.QueryRowContext(ctx, `SELECT `+cycleColumns+` FROM clearing_cycles WHERE day = ?`, int64(d)))
	if errors.Is(err, sql.ErrNoRows) {
		return s, citycard.E(op, citycard.NotFound, "no cycle of %v", d)
	}
	return s, mapErr(op, err)
}

// Before implements clearing.Store.
func (c *Clearing) Before(ctx context.Context, d clearing.Day) (clearing.Stored, bool, error) {
	const op = "sqlite.Clearing.Before"
	s, err := scanCycle(c.db.r.QueryRowContext(ctx, `SELECT `+cycleColumns+` FROM clearing_cycles WHERE day < ? ORDER BY day DESC LIMIT 1`, int64(d)))
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	return s, err == nil, mapErr(op, err)
}

// Save implements clearing.Store.
func (c *Clearing) Save(ctx context.Context, s *clearing.Stored, was clearing.State) error {
	const op = "sqlite.Clearing.Save"
	r, err := s.Row()
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	err = c.db.write(ctx, func(tx *sql.Tx) error {
		if was == 0 {
			_, err := tx.ExecContext(ctx, `INSERT INTO clearing_cycles (`+cycleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.Day, r.State, r.CutoffNs, r.From, r.To, r.OpenedNs, r.ComputedNs, r.ComputedBy, r.ReviewedNs, r.ReviewedBy, r.ApprovedNs, r.ApprovedBy, r.ClosedNs, r.ClosedBy, r.Result, r.Files, r.SettlementVersion)
			if err != nil && citycard.IsKind(mapErr(op, err), citycard.Exists) {
				return citycard.E(op, citycard.Exists, "cycle %v was opened already", s.Cycle.Day)
			}
			return err
		}
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM clearing_cycles WHERE day = ?`, r.Day).Scan(&stored); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return citycard.E(op, citycard.NotFound, "no cycle of %v", s.Cycle.Day)
			}
			return err
		}
		if stored != was.String() {
			return citycard.E(op, citycard.Conflict, "cycle %v is %s, not %v: moved meanwhile", s.Cycle.Day, stored, was)
		}
		_, err := tx.ExecContext(ctx, `UPDATE clearing_cycles SET state = ?, cutoff_ns = ?, range_from = ?, range_to = ?, opened_ns = ?, computed_ns = ?, computed_by = ?,
			reviewed_ns = ?, reviewed_by = ?, approved_ns = ?, approved_by = ?, closed_ns = ?, closed_by = ?, result = ?, files = ?, settlement_version = ? WHERE day = ?`,
			r.State, r.CutoffNs, r.From, r.To, r.OpenedNs, r.ComputedNs, r.ComputedBy, r.ReviewedNs, r.ReviewedBy, r.ApprovedNs, r.ApprovedBy, r.ClosedNs, r.ClosedBy, r.Result, r.Files, r.SettlementVersion, r.Day)
		if err != nil {
			return err
		}
		if err := takeAdjustments(ctx, tx, s); err != nil {
			return err
		}
		return takeInterop(ctx, tx, s)
	})
	return mapErr(op, err)
}

// backfillChunkTotals writes the totals of the chunks committed before
// migration 0010 kept them: the journal's prefix before its first chunk
// with totals (all of it if none has), each chunk's commit time its
// batch's. Where there is nothing to do it costs two look-ups by primary
// key and takes no lock; otherwise it runs in a write transaction, so
// that a writer committing meanwhile (whose chunks have their totals)
// waits for it.
func (db *DB) backfillChunkTotals(ctx context.Context) error {
	if _, need, err := untotalled(ctx, db.w); err != nil || !need {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		before, need, err := untotalled(ctx, tx)
		if err != nil || !need {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT j.first_pos, j.n, j.data, b.at_ns FROM acquire_journal j
			JOIN acquire_batches b ON b.terminal = j.terminal AND b.batch_id = j.batch_id WHERE j.first_pos < ? ORDER BY j.first_pos`, before)
		if err != nil {
			return err
		}
		var out []clearing.ChunkTotalsRow
		for rows.Next() {
			var r clearing.ChunkTotalsRow
			var data []byte
			if err := rows.Scan(&r.FirstPos, &r.N, &data, &r.AtNs); err != nil {
				rows.Close()
				return err
			}
			if r.AmountFen, err = clearing.ChunkAmount(r.FirstPos, data); err != nil {
				rows.Close()
				return err
			}
			out = append(out, r)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range out {
			if _, err := tx.ExecContext(ctx, `INSERT INTO acquire_chunk_totals (first_pos, n, amount_fen, at_ns) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				r.FirstPos, r.N, r.AmountFen, r.AtNs); err != nil {
				return err
			}
		}
		return nil
	})
}

// untotalled tells whether the journal has chunks before its first chunk
// with totals (before: that chunk's position, or the largest if none).
func untotalled(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (before int64, need bool, err error) {
	var first sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT min(first_pos) FROM acquire_chunk_totals`).Scan(&first); err != nil {
		return 0, false, err
	}
	before = math.MaxInt64
	if first.Valid {
		before = first.Int64
	}
	var n int64
	err = q.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM acquire_journal WHERE first_pos < ? LIMIT 1)`, before).Scan(&n)
	return before, n > 0, err
}
