package registry

import (
	"context"
	"sync"
	"time"

	"github.com/citycard/citycard"
)

// Limits of a Cache. A city has tens of thousands of terminals: the whole
// registry fits; when the cache is full it is dropped whole and refills,
// which keeps the code simple and the memory bounded.
const (
	CacheEntriesMax   = 1 << 17
	DefaultCacheTTL   = 30 * time.Second
	DefaultMissingTTL = 5 * time.Second
)

// Resolved is a terminal with its operator, as acquisition needs them.
type Resolved struct {
	Terminal Terminal
	Operator Party
}

// Cache answers terminal look-ups from memory, so that every batch does
// not cost a registry read, and says what each answer means:
//   - a terminal found (with its operator) is kept for TTL, so a change of
//     status or PSAM reaches acquisition within TTL;
//   - a terminal the store does not know (kind NotFound) is a decision,
//     kept for MissingTTL only, so a terminal registered late is known
//     within seconds;
//   - any other error of the store (busy, connection lost, timeout) is a
//     fault: it is returned, never kept, and never turned into "unknown".
//
// It is safe for concurrent use.
type Cache struct {
	store      Store
	ttl        time.Duration
	missingTTL time.Duration
	now        func() time.Time

	mu      sync.Mutex
	entries map[citycard.TerminalID]cacheEntry
}

type cacheEntry struct {
	r   Resolved
	ok  bool // false: the store said NotFound
	at  time.Time
	err error // the NotFound error, to return again
}

// NewCache returns a cache over store. ttl and missingTTL of 0 take
// DefaultCacheTTL and DefaultMissingTTL; now nil takes time.Now.
func NewCache(store Store, ttl, missingTTL time.Duration, now func() time.Time) *Cache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if missingTTL <= 0 {
		missingTTL = DefaultMissingTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{store: store, ttl: ttl, missingTTL: missingTTL, now: now, entries: map[citycard.TerminalID]cacheEntry{}}
}

// Terminal returns terminal id and its operator. Kind NotFound when the
// registry knows no such terminal, or its operator is not a party; the
// store's other errors pass through (kind IO for a fault).
func (c *Cache) Terminal(ctx context.Context, id citycard.TerminalID) (Resolved, error) {
	const op = "registry.Cache.Terminal"
	now := c.now()
	c.mu.Lock()
	e, hit := c.entries[id]
	c.mu.Unlock()
	if hit {
		ttl := c.ttl
		if !e.ok {
			ttl = c.missingTTL
		}
		if now.Sub(e.at) < ttl {
			if !e.ok {
				return Resolved{}, e.err
			}
			return e.r, nil
		}
	}
	e = cacheEntry{at: now}
	t, err := c.store.Terminal(ctx, id)
	if err == nil {
		var p Party
		if p, err = c.store.Party(ctx, t.Operator); err == nil {
			e.r, e.ok = Resolved{Terminal: t, Operator: p}, true
		}
	}
	switch {
	case err == nil:
	case citycard.IsKind(err, citycard.NotFound):
		e.err = citycard.Wrap(op, citycard.NotFound, err)
	default:
		return Resolved{}, citycard.Wrap(op, faultKind(err), err)
	}
	c.mu.Lock()
	if len(c.entries) >= CacheEntriesMax {
		clear(c.entries)
	}
	c.entries[id] = e
	c.mu.Unlock()
	if !e.ok {
		return Resolved{}, e.err
	}
	return e.r, nil
}

// Forget drops what the cache holds of terminal id: the next look-up reads
// the store. Staff changes of a terminal call it.
func (c *Cache) Forget(id citycard.TerminalID) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// faultKind is the kind a store's error takes when it is not an answer:
// a store that returned one of the domain's kinds keeps it; an error with
// no kind (a driver's) is a fault of the store, IO.
func faultKind(err error) citycard.Kind {
	if k := citycard.KindOf(err); k != citycard.Other {
		return k
	}
	return citycard.IO
}
