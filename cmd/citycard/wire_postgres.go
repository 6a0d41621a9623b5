package main

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/dburl"
)

// openPostgres opens the PostgreSQL stores.
func openPostgres(ctx context.Context, u dburl.URL) (*stores, error) {
	return nil, citycard.E("citycard.openStores", citycard.Invalid, "%v: the PostgreSQL store is not wired yet", u.Engine)
}
