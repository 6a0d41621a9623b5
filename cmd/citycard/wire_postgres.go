package main

import (
	"context"

	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/postgres"
)

// openPostgres opens the PostgreSQL stores.
func openPostgres(ctx context.Context, u dburl.URL) (*stores, error) {
	d, err := postgres.Open(ctx, u.Conn)
	if err != nil {
		return nil, err
	}
	lock := func(ctx context.Context) (writerLock, error) {
		l, err := d.LockWriter(ctx)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	return &stores{url: u, registry: d.Registry(), ledger: d.Ledger(), journal: d.Journal(), blacklist: d.Blacklist(), clearing: d.Clearing(),
		cms: d.CMS(), topups: d.TopUps(), staff: d.Staff(), holders: d.HolderAccounts(), apps: d.Apps(), recon: d.Recon(), interop: d.Interop(), close: d.Close, lockWriter: lock}, nil
}
