package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// countingStore is a Store of one terminal and its operator whose reads
// are counted and can fail.
type countingStore struct {
	Store // nil: only the reads below are used
	term  Terminal
	party Party
	known bool
	fault error
	reads int
}

func (s *countingStore) Terminal(_ context.Context, id citycard.TerminalID) (Terminal, error) {
	s.reads++
	switch {
	case s.fault != nil:
		return Terminal{}, s.fault
	case !s.known || id != s.term.ID:
		return Terminal{}, citycard.E("test.Terminal", citycard.NotFound, "no terminal %v", id)
	}
	return s.term, nil
}

func (s *countingStore) Party(_ context.Context, id string) (Party, error) {
	if s.fault != nil {
		return Party{}, s.fault
	}
	return s.party, nil
}

// TestCacheKeepsAnswersNotFaults: a terminal found is kept for the TTL,
// one not found for the shorter missing TTL (a terminal registered late is
// known within seconds), and a fault of the store is returned as a fault,
// never kept and never turned into "not found".
func TestCacheKeepsAnswersNotFaults(t *testing.T) {
	tid := citycard.TerminalID{1, 2, 3, 4, 5, 6}
	st := &countingStore{term: Terminal{ID: tid, Operator: "bus", Status: StatusActive}, party: Party{ID: "bus", Code: citycard.IssuerCode{9}}}
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	c := NewCache(st, time.Minute, 5*time.Second, func() time.Time { return now })
	ctx := context.Background()

	// Not found: kept 5 s.
	if _, err := c.Terminal(ctx, tid); !citycard.IsKind(err, citycard.NotFound) {
		t.Fatalf("unknown terminal: %v, want NotFound", err)
	}
	st.known = true
	now = now.Add(4 * time.Second)
	if _, err := c.Terminal(ctx, tid); !citycard.IsKind(err, citycard.NotFound) || st.reads != 1 {
		t.Fatalf("within the missing TTL: %v after %d reads, want the kept NotFound", err, st.reads)
	}
	now = now.Add(time.Second)
	r, err := c.Terminal(ctx, tid)
	if err != nil || r.Operator.Code != st.party.Code || st.reads != 2 {
		t.Fatalf("registered late, after the missing TTL: %+v %v (%d reads)", r, err, st.reads)
	}

	// Found: kept a minute, even through a fault of the store.
	st.fault = errors.New("database is locked")
	now = now.Add(59 * time.Second)
	if _, err := c.Terminal(ctx, tid); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	// Past the TTL the fault shows, as a fault, at every call.
	now = now.Add(time.Second)
	for i := 0; i < 2; i++ {
		_, err := c.Terminal(ctx, tid)
		if !citycard.IsKind(err, citycard.IO) {
			t.Fatalf("store fault past the TTL: %v, want kind IO", err)
		}
	}
	if st.reads != 4 {
		t.Fatalf("%d reads: a fault must not be kept", st.reads)
	}
	st.fault = nil
	if _, err := c.Terminal(ctx, tid); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	// Forget drops the entry.
	c.Forget(tid)
	c.Terminal(ctx, tid)
	if st.reads != 6 {
		t.Fatalf("%d reads after Forget, want 6", st.reads)
	}
}

// TestCacheBounded: past CacheEntriesMax entries the cache starts over.
func TestCacheBounded(t *testing.T) {
	st := &countingStore{}
	c := NewCache(st, time.Hour, time.Hour, nil)
	ctx := context.Background()
	for i := 0; i < CacheEntriesMax; i++ {
		c.Terminal(ctx, citycard.TerminalID{0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	if n := len(c.entries); n != CacheEntriesMax {
		t.Fatalf("%d entries, want %d", n, CacheEntriesMax)
	}
	c.Terminal(ctx, citycard.TerminalID{0xFF})
	if n := len(c.entries); n != 1 {
		t.Fatalf("%d entries after one past the bound, want 1", n)
	}
}
