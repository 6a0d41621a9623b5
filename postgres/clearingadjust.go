package postgres

import (
	"context"
	"database/sql"

	"errors"
	"github.com/jackc/pgx/v5"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

var _ clearing.AdjustmentStore = (*Clearing)(nil)

const adjustmentColumns = `ref, of_day, payer, payee, amount_fen, reason, entered_by, entered_ns, approved_by, approved_ns, taken_day`

func scanAdjustment(row interface{ Scan(...any) error }) (clearing.Entered, error) {
	var e clearing.Entered
	var of int64
	var enteredNs, approvedNs int64
	var taken sql.NullInt64
	if err := row.Scan(&e.Ref, &of, &e.Payer, &e.Payee, &e.AmountFen, &e.Reason, &e.EnteredBy, &enteredNs, &e.ApprovedBy, &approvedNs, &taken); err != nil {
		return e, err
	}
	e.Of, e.EnteredAt = clearing.Day(of), time.Unix(0, enteredNs)
	if approvedNs != 0 {
		e.ApprovedAt = time.Unix(0, approvedNs)
	}
	if taken.Valid {
		e.TakenBy = clearing.Day(taken.Int64)
	}
	return e, nil
}

// AddAdjustment implements clearing.AdjustmentStore.
func (c *Clearing) AddAdjustment(ctx context.Context, e *clearing.Entered) (clearing.Entered, error) {
	const op = "postgres.Clearing.AddAdjustment"
	var got clearing.Entered
	err := pgx.BeginFunc(ctx, c.db.pool, func(tx pgx.Tx) error {
		var err error
		got, err = scanAdjustment(tx.QueryRow(ctx, `SELECT `+adjustmentColumns+` FROM clearing_adjustments WHERE ref = $1`, e.Ref))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		got = *e
		_, err = tx.Exec(ctx, `INSERT INTO clearing_adjustments (ref, of_day, payer, payee, amount_fen, reason, entered_by, entered_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.Ref, int64(e.Of), e.Payer, e.Payee, e.AmountFen, e.Reason, e.EnteredBy, e.EnteredAt.UnixNano())
		return err
	})
	return got, mapErr(op, err)
}

// Adjustment implements clearing.AdjustmentStore.
func (c *Clearing) Adjustment(ctx context.Context, ref string) (clearing.Entered, error) {
	const op = "postgres.Clearing.Adjustment"
	e, err := scanAdjustment(c.db.pool.QueryRow(ctx, `SELECT `+adjustmentColumns+` FROM clearing_adjustments WHERE ref = $1`, ref))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, citycard.E(op, citycard.NotFound, "no adjustment %q", ref)
	}
	return e, mapErr(op, err)
}

// ApproveAdjustment implements clearing.AdjustmentStore.
func (c *Clearing) ApproveAdjustment(ctx context.Context, ref, by string, at time.Time) error {
	const op = "postgres.Clearing.ApproveAdjustment"
	err := pgx.BeginFunc(ctx, c.db.pool, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE clearing_adjustments SET approved_by = $1, approved_ns = $2 WHERE ref = $3 AND approved_by = ''`, by, at.UnixNano(), ref)
		if err != nil {
			return err
		}
		if res.RowsAffected() == 1 {
			return nil
		}
		return citycard.E(op, citycard.Conflict, "adjustment %q: not there, or approved meanwhile", ref)
	})
	return mapErr(op, err)
}

// OpenAdjustments implements clearing.AdjustmentStore.
func (c *Clearing) OpenAdjustments(ctx context.Context) ([]clearing.Entered, error) {
	const op = "postgres.Clearing.OpenAdjustments"
	rows, err := c.db.pool.Query(ctx, `SELECT `+adjustmentColumns+` FROM clearing_adjustments WHERE taken_day IS NULL ORDER BY ref LIMIT $1`, clearing.AdjustmentsMax)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []clearing.Entered
	for rows.Next() {
		e, err := scanAdjustment(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, e)
	}
	return out, mapErr(op, rows.Err())
}

// takeAdjustments marks the adjustments of closing cycle s taken by it,
// in the transaction that closes it. Kind Conflict if one is not open
// and approved (someone changed it behind the cycle).
func takeAdjustments(ctx context.Context, tx pgx.Tx, s *clearing.Stored) error {
	if s.Cycle.State != clearing.Closed || s.Result == nil {
		return nil
	}
	for _, a := range s.Result.Adjustments {
		res, err := tx.Exec(ctx, `UPDATE clearing_adjustments SET taken_day = $1 WHERE ref = $2 AND taken_day IS NULL AND approved_by <> ''`, int64(s.Cycle.Day), a.Ref)
		if err != nil {
			return err
		}
		if res.RowsAffected() != 1 {
			return citycard.E("postgres.takeAdjustments", citycard.Conflict, "cycle %v: adjustment %q is not open and approved", s.Cycle.Day, a.Ref)
		}
	}
	return nil
}
