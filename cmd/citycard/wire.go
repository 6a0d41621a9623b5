package main

import (
	"context"
	"sync"
	"time"

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

// registryTerminals serves acquisition's terminal lookups from the
// registry, through a cache refreshed every ttl: a batch needs its
// terminal once, and a change of status reaches acquisition within ttl.
type registryTerminals struct {
	store registry.Store
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[citycard.TerminalID]cachedTerminal
}

type cachedTerminal struct {
	info acquire.TerminalInfo
	ok   bool
	at   time.Time
}

func newRegistryTerminals(store registry.Store, ttl time.Duration) *registryTerminals {
	return &registryTerminals{store: store, ttl: ttl, now: time.Now, cache: map[citycard.TerminalID]cachedTerminal{}}
}

// Terminal implements acquire.Terminals. A registry that cannot be read
// answers "unknown": the batch's records are then rejected and kept, and
// an engineer re-submits them; nothing is booked on a guess.
func (r *registryTerminals) Terminal(id citycard.TerminalID) (acquire.TerminalInfo, bool) {
	now := r.now()
	r.mu.Lock()
	c, hit := r.cache[id]
	r.mu.Unlock()
	if hit && now.Sub(c.at) < r.ttl {
		return c.info, c.ok
	}
	t, err := r.store.Terminal(context.Background(), id)
	c = cachedTerminal{at: now, ok: err == nil}
	if err == nil {
		c.info = acquire.TerminalInfo{ID: t.ID, PSAM: t.PSAM, Operator: t.Operator, Active: t.Active()}
	}
	r.mu.Lock()
	r.cache[id] = c
	r.mu.Unlock()
	return c.info, c.ok
}

// terminalAuth adapts the registry to api.TerminalAuth.
type terminalAuth struct{ reg *registry.Registry }

func (a terminalAuth) AuthenticateTerminal(ctx context.Context, id citycard.TerminalID, token string) error {
	_, err := a.reg.Authenticate(ctx, id, token)
	return err
}
