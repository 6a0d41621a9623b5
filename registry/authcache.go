package registry

import (
	"sync"
	"time"

	"github.com/citycard/citycard"
)

// DefaultAuthTTL is how long NewAuthCaching's Registry trusts a terminal it
// authenticated without reading the store again: the longest a revoke
// made by another process (the registry command beside a running server)
// takes to reach it. A revoke made through the same Registry takes effect
// at once.
const DefaultAuthTTL = time.Second

// authCache keeps the terminals a Registry authenticated, so that a
// terminal's requests (two an online load) do not each cost a registry
// read. It keeps only successes: a wrong token, an unknown or inactive
// terminal always reads the store. An entry answers only the token whose
// hash the terminal holds, only while the terminal is active, and only
// for ttl; Registry.IssueCredential and Registry.SetStatus forget their
// terminal, and an authentication whose read began before a forget does
// not store what it read (gen), so a revoke is never undone by a read in
// flight. Bounded by CacheEntriesMax, dropped whole when full.
type authCache struct {
	ttl time.Duration

	mu      sync.Mutex
	gen     uint64 // forgets so far
	entries map[citycard.TerminalID]authEntry
}

type authEntry struct {
	t  Terminal
	at time.Time
}

func newAuthCache(ttl time.Duration) *authCache {
	if ttl <= 0 {
		ttl = DefaultAuthTTL
	}
	return &authCache{ttl: ttl, entries: map[citycard.TerminalID]authEntry{}}
}

// get returns terminal id if the cache holds it, fresh at now, active, and
// token is its credential; else ok false and the generation to give put.
func (c *authCache) get(id citycard.TerminalID, token string, now time.Time) (t Terminal, gen uint64, ok bool) {
	c.mu.Lock()
	e, hit := c.entries[id]
	gen = c.gen
	c.mu.Unlock()
	if !hit || now.Before(e.at) || now.Sub(e.at) >= c.ttl || !e.t.Active() || !e.t.CheckCredential(token) {
		return Terminal{}, gen, false
	}
	return e.t, gen, true
}

// put keeps t, authenticated at now, unless a forget came after get
// answered gen.
func (c *authCache) put(t Terminal, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= CacheEntriesMax {
		clear(c.entries)
	}
	c.entries[t.ID] = authEntry{t: t, at: now}
}

// forget drops terminal id: its next request reads the store.
func (c *authCache) forget(id citycard.TerminalID) {
	c.mu.Lock()
	c.gen++
	delete(c.entries, id)
	c.mu.Unlock()
}
