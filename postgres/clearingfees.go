package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

var _ clearing.FeeStore = (*Clearing)(nil)

// AddFees implements clearing.FeeStore, in one transaction.
func (c *Clearing) AddFees(ctx context.Context, vs []clearing.FeeVersion, by string, at time.Time) error {
	rows := make([]textVersion, len(vs))
	for i, v := range vs {
		rows[i] = textVersion{what: "fee schedule of " + v.Schedule.Party + " from " + v.Effective.String(), keys: []any{v.Schedule.Party, int64(v.Effective)}, text: clearing.EncodeFeeVersion(v)}
	}
	return c.addTexts(ctx, "postgres.Clearing.AddFees", "clearing_fee_versions", "schedule", []string{"party", "effective_day"}, rows, by, at)
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
