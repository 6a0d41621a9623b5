package acquire

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/terminal"
)

// faultJournal is a MemJournal whose calls fail on demand: the store
// busy, the connection lost, a timeout, a commit that went through but
// reported an error.
type faultJournal struct {
	*MemJournal
	mu            sync.Mutex
	batchErr      error // Batch fails with it
	lastPosErr    error // LastPos fails with it
	commitErr     error // Commit fails with it, committing nothing
	commitAnyway  error // Commit commits, then reports it
	replays       int   // Replay calls
	commitsFailed int
}

func newFaultJournal() *faultJournal { return &faultJournal{MemJournal: NewMemJournal()} }

func (f *faultJournal) set(fn func(f *faultJournal)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultJournal) Batch(ctx context.Context, t citycard.TerminalID, id string) (StoredBatch, bool, error) {
	f.mu.Lock()
	err := f.batchErr
	f.mu.Unlock()
	if err != nil {
		return StoredBatch{}, false, err
	}
	return f.MemJournal.Batch(ctx, t, id)
}

func (f *faultJournal) Commit(ctx context.Context, c *Commit) error {
	f.mu.Lock()
	err, anyway := f.commitErr, f.commitAnyway
	f.commitAnyway = nil
	if err != nil || anyway != nil {
		f.commitsFailed++
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if anyway != nil {
		if err := f.MemJournal.Commit(ctx, c); err != nil {
			return err
		}
		return anyway
	}
	return f.MemJournal.Commit(ctx, c)
}

func (f *faultJournal) LastPos(ctx context.Context) (int64, error) {
	f.mu.Lock()
	err := f.lastPosErr
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.MemJournal.LastPos(ctx)
}

func (f *faultJournal) Replay(ctx context.Context, from int64, fn func(e *Journaled) error) error {
	f.mu.Lock()
	f.replays++
	f.mu.Unlock()
	return f.MemJournal.Replay(ctx, from, fn)
}

// faultTerminals is a registry whose look-ups fail on demand.
type faultTerminals struct {
	Terminals
	mu  sync.Mutex
	err error
}

func (f *faultTerminals) Terminal(ctx context.Context, id citycard.TerminalID) (TerminalInfo, error) {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return TerminalInfo{}, err
	}
	return f.Terminals.Terminal(ctx, id)
}

// The faults a store's driver reports: not the domain's errors, and not
// answers.
var (
	errBusy    = errors.New("database is locked (SQLITE_BUSY)")
	errTimeout = fmt.Errorf("read: %w", context.DeadlineExceeded)
	errConn    = errors.New("conn closed: unexpected EOF")
)

// TestRegistryFaultRefusesBatchWhole: a registry that cannot be read is
// not "unknown terminal": the batch is refused whole (a transient kind,
// which the API answers 503), nothing of it is journaled or rejected, and
// the same batch books once the registry answers again. Only NotFound,
// the registry's answer, rejects records as unknown_terminal.
func TestRegistryFaultRefusesBatchWhole(t *testing.T) {
	c := newCity(t)
	j := NewMemJournal()
	reg := &faultTerminals{Terminals: c.reg}
	a, err := Open(context.Background(), Config{Journal: j, Terminals: reg, Verifier: c.verifier(), Now: c.clock, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bus := c.device(terminal.ModeFlat, "bus")
	for i := 0; i < 3; i++ {
		c.tap(bus, c.card(uint32(90+i)), 0)
	}
	recs := bus.spool.take()
	for _, fault := range []error{errBusy, errTimeout, errConn, citycard.E("sqlite.Registry.Terminal", citycard.IO, "terminal: %w", errBusy)} {
		reg.mu.Lock()
		reg.err = fault
		reg.mu.Unlock()
		_, err := a.Submit(context.Background(), batchOf(bus.id, "b", recs))
		if !citycard.Transient(err) {
			t.Fatalf("registry fault %v: Submit answered %v, want a transient refusal", fault, err)
		}
		if len(j.Records())+len(j.Rejections()) != 0 {
			t.Fatalf("registry fault %v: %d entries and %d rejections journaled", fault, len(j.Records()), len(j.Rejections()))
		}
	}
	reg.mu.Lock()
	reg.err = nil
	reg.mu.Unlock()
	if ans := submit(t, a, batchOf(bus.id, "b", recs)); ans.Accepted != 3 || ans.Repeat {
		t.Fatalf("after the fault: %v", verdicts(ans))
	}
	if st := a.Stats(); st.Refused != 4 {
		t.Fatalf("refused %d batches, want 4", st.Refused)
	}
	// Unknown is an answer: rejected, kept.
	ghost := citycard.TerminalID{0x31, 0x50, 0, 0, 0x99, 0x99}
	if ans := submit(t, a, batchOf(ghost, "g", recs[:1])); ans.Rejected != 1 || ans.Records[0].Reasons[0] != RejectUnknownTerminal {
		t.Fatalf("unknown terminal: %v", verdicts(ans))
	}
}

// TestJournalFaultsRefuseBatchWhole: the journal busy, timing out, or
// losing its connection at each call a batch makes (the look-up of the
// batch ID, the commit, the commit's check of the journal's end): the
// batch is refused whole, nothing is answered, and once the journal
// answers again the same upload books every record once.
func TestJournalFaultsRefuseBatchWhole(t *testing.T) {
	c := newCity(t)
	j := newFaultJournal()
	a, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: c.verifier(), Now: c.clock, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bus := c.device(terminal.ModeFlat, "bus")
	cd := c.card(95)
	for i := 0; i < 4; i++ {
		c.tap(bus, cd, 0)
	}
	recs := bus.spool.take()
	b := batchOf(bus.id, "b", recs)
	replaysAtStart := j.replays

	faults := []struct {
		name string
		set  func(f *faultJournal)
	}{
		{"batch look-up busy", func(f *faultJournal) { f.batchErr = errBusy }},
		{"batch look-up timeout", func(f *faultJournal) { f.batchErr = errTimeout }},
		{"commit busy", func(f *faultJournal) { f.commitErr = errBusy }},
		{"commit connection lost", func(f *faultJournal) { f.commitErr = errConn }},
		{"commit timeout", func(f *faultJournal) { f.commitErr = errTimeout }},
	}
	for _, ft := range faults {
		j.set(func(f *faultJournal) { f.batchErr, f.commitErr, f.lastPosErr = nil, nil, nil; ft.set(f) })
		_, err := a.Submit(context.Background(), b)
		if !citycard.Transient(err) {
			t.Fatalf("%s: Submit answered %v, want a transient refusal", ft.name, err)
		}
		if n := len(j.Records()); n != 0 {
			t.Fatalf("%s: %d entries journaled", ft.name, n)
		}
		if _, ok := a.Shadow(ourIssuer, cd.State().ASN); ok {
			t.Fatalf("%s: the refused batch left its card in the state", ft.name)
		}
		if err := a.Health(); err != nil {
			t.Fatalf("%s: a commit that surely failed makes the acquirer unhealthy: %v", ft.name, err)
		}
	}
	if j.replays != replaysAtStart {
		t.Fatalf("failed commits replayed the journal %d times: the state is taken back, not rebuilt", j.replays-replaysAtStart)
	}

	// The commit fails and the journal's end cannot be read: nobody can
	// tell whether it committed. The acquirer refuses batches until the
	// journal answers, then resyncs.
	j.set(func(f *faultJournal) { f.batchErr, f.commitErr, f.lastPosErr = nil, errConn, errConn })
	if _, err := a.Submit(context.Background(), b); !citycard.Transient(err) {
		t.Fatalf("commit and journal's end failing: %v", err)
	}
	if err := a.Health(); !citycard.IsKind(err, citycard.Unavailable) {
		t.Fatalf("health while the journal cannot be read: %v, want Unavailable", err)
	}
	if _, err := a.Submit(context.Background(), b); !citycard.IsKind(err, citycard.Unavailable) {
		t.Fatalf("submit while stale: %v, want Unavailable", err)
	}
	j.set(func(f *faultJournal) { f.commitErr, f.lastPosErr = nil, nil })
	ans := submit(t, a, b)
	if ans.Accepted != 4 || ans.Repeat {
		t.Fatalf("after the faults: %v", verdicts(ans))
	}
	if got := booked(j.MemJournal); got[busPayable] != 800 {
		t.Fatalf("booked %v, want 8.00 once", got)
	}
	if err := a.Health(); err != nil {
		t.Fatalf("health after recovery: %v", err)
	}
}

// TestCommitReportedFailedThatWentThrough: the connection drops after
// COMMIT, so the commit went through but reported an error. The acquirer
// sees the journal moved, rebuilds, and answers the batch from the
// journal: booked once, and the terminal gets its answer.
func TestCommitReportedFailedThatWentThrough(t *testing.T) {
	c := newCity(t)
	j := newFaultJournal()
	a, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: c.verifier(), Now: c.clock, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bus := c.device(terminal.ModeFlat, "bus")
	cd := c.card(96)
	c.tap(bus, cd, 0)
	c.tap(bus, cd, 0)
	j.set(func(f *faultJournal) { f.commitAnyway = errConn })
	ans := submit(t, a, batchOf(bus.id, "b", bus.spool.take()))
	if !ans.Repeat || ans.Accepted != 2 {
		t.Fatalf("answer %v (repeat %v), want the committed answer", verdicts(ans), ans.Repeat)
	}
	sh, ok := a.Shadow(ourIssuer, cd.State().ASN)
	if !ok || sh.LastCounter != 1 || sh.BookedFen != -400 {
		t.Fatalf("state after the resync: %+v", sh)
	}
	c.tap(bus, cd, 0)
	if ans := submit(t, a, batchOf(bus.id, "b2", bus.spool.take())); ans.Accepted != 1 {
		t.Fatalf("next batch: %v", verdicts(ans))
	}
	if got := booked(j.MemJournal); got[busPayable] != 600 {
		t.Fatalf("booked %v, want 6.00", got)
	}
}

// TestInFlightBound: a batch that would take the records in flight past
// the bound is refused at once (Unavailable), one that reaches it exactly
// is taken.
func TestInFlightBound(t *testing.T) {
	c := newCity(t)
	j := NewMemJournal()
	a, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: c.verifier(), Now: c.clock, Shards: 4, InFlightRecords: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bus := c.device(terminal.ModeFlat, "bus")
	for i := 0; i < 6; i++ {
		c.tap(bus, c.card(uint32(100+i)), 0)
	}
	recs := bus.spool.take()
	// Two records are in flight (held by a test reservation), so a batch
	// of 3 reaches the bound of 5 and a batch of 4 passes it.
	a.inflight.Add(2)
	if _, err := a.Submit(context.Background(), batchOf(bus.id, "four", recs[:4])); !citycard.IsKind(err, citycard.Unavailable) || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("batch past the bound: %v, want Unavailable busy", err)
	}
	if ans := submit(t, a, batchOf(bus.id, "three", recs[:3])); ans.Accepted != 3 {
		t.Fatalf("batch at the bound: %v", verdicts(ans))
	}
	a.inflight.Add(-2)
	if n := a.inflight.Load(); n != 0 {
		t.Fatalf("%d records left in flight", n)
	}
}

// TestTerminalSequenceBound: a terminal's sequence is 32 bits wide, so
// its open gaps are bounded: a batch that could take them past maxSpans
// is refused whole (Conflict: its PSAM needs a person) before anything
// of it is decided; one that cannot is taken.
func TestTerminalSequenceBound(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	for i := 0; i < 3; i++ {
		c.tap(bus, c.card(uint32(110+i)), 0)
	}
	recs := bus.spool.take()
	// The terminal's track as if its PSAM had skipped every other
	// sequence below 2^20: maxSpans-3 gaps open.
	open := func(n int) {
		a.mu.Lock()
		defer a.mu.Unlock()
		tr := newTrack()
		tr.floor, tr.last = 1<<20, 1<<20
		g := make(gaps, 0, n)
		for i := 0; i < n; i++ {
			g = append(g, span{uint32(1<<20 - 2*n + 2*i), uint32(1<<20 - 2*n + 2*i), noBalance})
		}
		tr.floor = int64(g[0].lo) - 1
		tr.setSpans(g)
		a.st.terms[bus.id] = &tr
	}
	open(maxSpans - 2)
	if _, err := a.Submit(context.Background(), batchOf(bus.id, "over", recs)); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a batch of 3 with %d gaps open: %v, want Conflict", maxSpans-2, err)
	}
	if len(j.Records())+len(j.Rejections()) != 0 {
		t.Fatal("the refused batch was journaled")
	}
	open(maxSpans - 3)
	if ans := submit(t, a, batchOf(bus.id, "at", recs)); ans.Accepted+ans.Flagged != 3 {
		t.Fatalf("a batch of 3 with %d gaps open: %v", maxSpans-3, verdicts(ans))
	}
}
