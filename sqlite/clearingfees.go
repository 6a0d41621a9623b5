package sqlite

import (
	"context"
	"time"

	"github.com/citycard/citycard/clearing"
)

var _ clearing.FeeStore = (*Clearing)(nil)

// AddFees implements clearing.FeeStore, in one write transaction.
func (c *Clearing) AddFees(ctx context.Context, vs []clearing.FeeVersion, by string, at time.Time) error {
	return c.addTexts(ctx, "sqlite.Clearing.AddFees", clearing.FeeTable, clearing.FeeRows(vs), by, at)
}

// FeeVersions implements clearing.FeeStore.
func (c *Clearing) FeeVersions(ctx context.Context) ([]clearing.FeeVersion, error) {
	const op = "sqlite.Clearing.FeeVersions"
	rows, err := c.db.r.QueryContext(ctx, clearing.FeeVersionsQuery)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := clearing.ScanFeeVersions(rows)
	return out, mapErr(op, err)
}
