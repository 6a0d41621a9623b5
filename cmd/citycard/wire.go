package main

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sqlite"
)

// journal is what the back office needs of a store's acquisition side.
type journal interface {
	acquire.Journal
	api.Rejections
}

// stores are the back office's storage, whichever engine holds it.
type stores struct {
	url       dburl.URL
	registry  registry.Store
	ledger    ledger.Store
	journal   journal
	blacklist blacklist.Store
	close     func() error
}

// openStores opens the database of the --db flag and applies its
// migrations.
func openStores(ctx context.Context, db string) (*stores, error) {
	u, err := dburl.Parse(db)
	if err != nil {
		return nil, err
	}
	switch u.Engine {
	case dburl.SQLite:
		d, err := sqlite.Open(ctx, db)
		if err != nil {
			return nil, err
		}
		return &stores{url: u, registry: d.Registry(), ledger: d.Ledger(), journal: d.Journal(), blacklist: d.Blacklist(), close: d.Close}, nil
	}
	return openPostgres(ctx, u)
}

// terminalsOf serves acquisition's terminal look-ups from the registry's
// cache (its policy: registry.Cache).
func terminalsOf(store registry.Store) acquire.Terminals {
	return acquire.RegistryTerminals{Cache: registry.NewCache(store, 0, 0, nil)}
}

// terminalAuth adapts the registry to api.TerminalAuth.
type terminalAuth struct{ reg *registry.Registry }

func (a terminalAuth) AuthenticateTerminal(ctx context.Context, id citycard.TerminalID, token string) error {
	_, err := a.reg.Authenticate(ctx, id, token)
	return err
}
