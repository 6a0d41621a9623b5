package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

var _ clearing.FeeStore = (*Clearing)(nil)

// AddFees implements clearing.FeeStore, in one transaction.
func (c *Clearing) AddFees(ctx context.Context, vs []clearing.FeeVersion, by string, at time.Time) error {
	const op = "postgres.Clearing.AddFees"
	err := pgx.BeginFunc(ctx, c.db.pool, func(tx pgx.Tx) error {
		for _, v := range vs {
			text := clearing.EncodeFeeVersion(v)
			var stored string
			err := tx.QueryRow(ctx, `SELECT schedule FROM clearing_fee_versions WHERE party = $1 AND effective_day = $2`,
				v.Schedule.Party, int64(v.Effective)).Scan(&stored)
			switch {
			case err == nil && stored == text:
				continue
			case err == nil:
				return citycard.E(op, citycard.Exists, "fee schedule of %s from %v was set with other rules: set a new version", v.Schedule.Party, v.Effective)
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO clearing_fee_versions (party, effective_day, schedule, set_by, set_ns) VALUES ($1, $2, $3, $4, $5)`,
				v.Schedule.Party, int64(v.Effective), text, by, at.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(op, err)
}

// FeeVersions implements clearing.FeeStore.
func (c *Clearing) FeeVersions(ctx context.Context) ([]clearing.FeeVersion, error) {
	const op = "postgres.Clearing.FeeVersions"
	rows, err := c.db.pool.Query(ctx, `SELECT party, effective_day, schedule FROM clearing_fee_versions ORDER BY party, effective_day`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []clearing.FeeVersion
	for rows.Next() {
		var party, text string
		var day int64
		if err := rows.Scan(&party, &day, &text); err != nil {
			return nil, mapErr(op, err)
		}
		v, err := clearing.DecodeFeeVersion(fmt.Sprintf("clearing_fee_versions (%s, %v)", party, clearing.Day(day)), text)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		out = append(out, v)
	}
	return out, mapErr(op, rows.Err())
}
