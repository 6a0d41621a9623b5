package registry

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// authStore is a countingStore whose terminal can be written, and whose
// read can run a hook (a revoke landing while it is in flight).
type authStore struct {
	countingStore
	duringRead func()
}

func (s *authStore) Terminal(ctx context.Context, id citycard.TerminalID) (Terminal, error) {
	t, err := s.countingStore.Terminal(ctx, id)
	if s.duringRead != nil {
		s.duringRead()
	}
	return t, err
}

func (s *authStore) UpdateTerminal(_ context.Context, t *Terminal) error {
	s.term = *t
	return nil
}

// TestAuthCacheRevokedAtOnce: a terminal authenticated is answered from
// memory for the TTL and no longer (at exactly the TTL the store is read
// again); a suspension or a new credential through the Registry refuses
// it on its very next request; a wrong token always reads the store; a
// revoke by another process (the store written directly) takes effect at
// the TTL; a read in flight when a revoke lands keeps nothing.
func TestAuthCacheRevokedAtOnce(t *testing.T) {
	tid := citycard.TerminalID{1, 2, 3, 4, 5, 6}
	st := &authStore{countingStore: countingStore{known: true, term: Terminal{ID: tid, Operator: "bus", Status: StatusActive, Type: TerminalKiosk}}}
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	r := NewAuthCaching(st, func() time.Time { return now }, time.Second)
	ctx := context.Background()
	tok, err := r.IssueCredential(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(what, token string, wantOK bool, wantReads int) {
		t.Helper()
		before := st.reads
		_, err := r.Authenticate(ctx, tid, token)
		switch {
		case wantOK && err != nil:
			t.Fatalf("%s: %v, want authenticated", what, err)
		case !wantOK && !citycard.IsKind(err, citycard.Permission):
			t.Fatalf("%s: %v, want kind Permission", what, err)
		case st.reads-before != wantReads:
			t.Fatalf("%s: %d store reads, want %d", what, st.reads-before, wantReads)
		}
	}
	auth("first request", tok, true, 1)
	auth("second request", tok, true, 0)
	auth("wrong token", tok[:63]+"x", false, 1)
	auth("wrong token again", tok[:63]+"x", false, 1)
	now = now.Add(time.Second - time.Nanosecond)
	auth("just under the TTL", tok, true, 0)
	now = now.Add(time.Nanosecond)
	auth("at the TTL", tok, true, 1)

	if _, err := r.SetStatus(ctx, tid, StatusSuspended); err != nil {
		t.Fatal(err)
	}
	auth("suspended", tok, false, 1)
	auth("suspended, again", tok, false, 1)
	if _, err := r.SetStatus(ctx, tid, StatusActive); err != nil {
		t.Fatal(err)
	}
	auth("active again", tok, true, 1)
	tok2, err := r.IssueCredential(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	auth("the old token after a new credential", tok, false, 1)
	auth("the new token", tok2, true, 1)
	auth("the new token, again", tok2, true, 0)

	// Another process suspends it: seen at the TTL.
	st.term.Status = StatusSuspended
	now = now.Add(time.Second - time.Nanosecond)
	auth("suspended elsewhere, within the TTL", tok2, true, 0)
	now = now.Add(time.Nanosecond)
	auth("suspended elsewhere, at the TTL", tok2, false, 1)
	st.term.Status = StatusActive

	// A revoke landing during the read of an authentication: what that
	// read saw is not kept.
	st.duringRead = func() {
		st.duringRead = nil
		r.forget(tid)
	}
	now = now.Add(time.Second)
	auth("read raced by a revoke", tok2, true, 1)
	auth("after the raced read", tok2, true, 1)

	// A clock stepped back does not stretch an entry.
	now = now.Add(-time.Minute)
	auth("clock stepped back", tok2, true, 1)
}

// TestAuthCacheBounded: past CacheEntriesMax terminals the cache starts
// over.
func TestAuthCacheBounded(t *testing.T) {
	c := newAuthCache(time.Hour)
	now := time.Now()
	for i := 0; i < CacheEntriesMax; i++ {
		c.put(Terminal{ID: citycard.TerminalID{0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}}, 0, now)
	}
	if n := len(c.entries); n != CacheEntriesMax {
		t.Fatalf("%d entries, want %d", n, CacheEntriesMax)
	}
	c.put(Terminal{ID: citycard.TerminalID{0xFF}}, 0, now)
	if n := len(c.entries); n != 1 {
		t.Fatalf("%d entries after one past the bound, want 1", n)
	}
}
