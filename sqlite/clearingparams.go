package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/citycard/citycard/clearing"
)

var _ clearing.ParamStore = (*Clearing)(nil)

// AddParams implements clearing.ParamStore, in one write transaction.
func (c *Clearing) AddParams(ctx context.Context, vs []clearing.ParamVersion, by string, at time.Time) error {
	return c.addTexts(ctx, "sqlite.Clearing.AddParams", clearing.ParamTable, clearing.ParamRows(vs), by, at)
}

// addTexts stores rows into t, all or none, in one transaction, as
// clearing.TextRow.Keep says.
func (c *Clearing) addTexts(ctx context.Context, op string, t clearing.TextTable, rows []clearing.TextRow, by string, at time.Time) error {
	sel, ins := t.Queries(func(int) string { return "?" })
	err := c.db.write(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			var stored string
			err := tx.QueryRowContext(ctx, sel, r.Keys...).Scan(&stored)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			insert, err := r.Keep(op, stored, err == nil)
			if err != nil {
				return err
			}
			if !insert {
				continue
			}
			if _, err := tx.ExecContext(ctx, ins, r.Args(by, at)...); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(op, err)
}

// ParamVersions implements clearing.ParamStore.
func (c *Clearing) ParamVersions(ctx context.Context, kind string) ([]clearing.ParamVersion, error) {
	const op = "sqlite.Clearing.ParamVersions"
	rows, err := c.db.r.QueryContext(ctx, `SELECT party, effective_day, body FROM clearing_param_versions WHERE kind = ? ORDER BY party, effective_day`, kind)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := clearing.ScanParamVersions(rows, kind)
	return out, mapErr(op, err)
}
