package acquire

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/citycard/citycard"
)

// MemJournal is a Journal in memory: the fake of whole-system tests and
// the reference the stores' suite compares against. FailNext makes the
// next Commit fail, for testing the sequencer's recovery.
type MemJournal struct {
	mu          sync.Mutex
	batches     map[string]StoredBatch
	entries     []Journaled
	at          []time.Time // each entry's commit time
	greys       []GreyDecision
	rejections  []Rejection
	movements   [][]Movement
	checkpoints map[int]Checkpoint
	FailNext    error
	// FailBatch makes every Commit holding a batch of this ID fail.
	FailBatch string
}

// NewMemJournal returns an empty MemJournal.
func NewMemJournal() *MemJournal { return &MemJournal{batches: map[string]StoredBatch{}} }

// Batch implements Journal.
func (m *MemJournal) Batch(_ context.Context, t citycard.TerminalID, id string) (StoredBatch, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.batches[batchKey(t, id)]
	return b, ok, nil
}

// Commit implements Journal.
func (m *MemJournal) Commit(_ context.Context, c *Commit) error {
	const op = "acquire.MemJournal.Commit"
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.FailNext; err != nil {
		m.FailNext = nil
		return err
	}
	for _, b := range c.Batches {
		if m.FailBatch != "" && b.ID == m.FailBatch {
			return citycard.E(op, citycard.IO, "batch %q: refused by the test", b.ID)
		}
	}
	for _, b := range c.Batches {
		if _, ok := m.batches[batchKey(b.Terminal, b.ID)]; ok {
			return citycard.E(op, citycard.Exists, "batch %q of terminal %v committed before", b.ID, b.Terminal)
		}
	}
	for i, e := range c.Entries {
		if e.Pos != int64(len(m.entries)+i+1) {
			return citycard.E(op, citycard.Invalid, "entry position %d, want %d", e.Pos, len(m.entries)+i+1)
		}
	}
	for _, b := range c.Batches {
		m.batches[batchKey(b.Terminal, b.ID)] = b
	}
	m.entries = append(m.entries, c.Entries...)
	for range c.Entries {
		m.at = append(m.at, c.At)
	}
	m.greys = append(m.greys, c.Greys...)
	m.rejections = append(m.rejections, c.Rejections...)
	m.movements = append(m.movements, c.Movements...)
	return nil
}

// Replay implements Journal.
func (m *MemJournal) Replay(_ context.Context, from int64, fn func(e *Journaled) error) error {
	m.mu.Lock()
	entries := m.entries[min(int(from), len(m.entries)):]
	m.mu.Unlock()
	for i := range entries {
		e := entries[i]
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

// LastPos implements Journal.
func (m *MemJournal) LastPos(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.entries)), nil
}

// SaveCheckpoint implements Journal.
func (m *MemJournal) SaveCheckpoint(_ context.Context, cp Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp.Data = append([]byte(nil), cp.Data...)
	if m.checkpoints == nil {
		m.checkpoints = map[int]Checkpoint{}
	}
	m.checkpoints[cp.Part] = cp
	return nil
}

// LoadCheckpoints implements Journal.
func (m *MemJournal) LoadCheckpoints(context.Context) ([]Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Checkpoint, 0, len(m.checkpoints))
	for _, cp := range m.checkpoints {
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b Checkpoint) int { return a.Part - b.Part })
	return out, nil
}

// BatchRecords implements Journal.
func (m *MemJournal) BatchRecords(_ context.Context, t citycard.TerminalID, id string, fn func(e *Journaled) error) error {
	m.mu.Lock()
	var out []Journaled
	for _, e := range m.entries {
		if e.Terminal == t && e.BatchID == id {
			out = append(out, e)
		}
	}
	m.mu.Unlock()
	for i := range out {
		if err := fn(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

// Entries returns a copy of the journal.
func (m *MemJournal) Records() []Journaled {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Journaled(nil), m.entries...)
}

// CommittedAt returns each entry's commit time, in position order.
func (m *MemJournal) CommittedAt() []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.at...)
}

// Greys returns a copy of the grey decisions, in position order.
func (m *MemJournal) Greys() []GreyDecision {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]GreyDecision(nil), m.greys...)
}

// Rejections returns a copy of the rejection journal.
func (m *MemJournal) Rejections() []Rejection {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Rejection(nil), m.rejections...)
}

// Movements returns every committed batch's movements, in commit order.
func (m *MemJournal) Movements() [][]Movement {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]Movement(nil), m.movements...)
}

// MaxRejectionsPage bounds the rejections one query returns.
const MaxRejectionsPage = 1000

// RejectionFilter selects rejections: of one terminal (zero: any), of one
// reason (empty: any), after a position in the rejection journal, at most
// Limit of them (1 to MaxRejectionsPage).
type RejectionFilter struct {
	Terminal citycard.TerminalID
	Reason   string
	After    int64
	Limit    int
}

// Check refuses a filter out of bounds (kind Invalid): the stores call it
// so that no query reads an unbounded page.
func (f *RejectionFilter) Check() error {
	const op = "acquire.RejectionFilter"
	if f.Limit < 1 || f.Limit > MaxRejectionsPage {
		return citycard.E(op, citycard.Invalid, "page of %d rejections: want 1 to %d", f.Limit, MaxRejectionsPage)
	}
	if f.After < 0 {
		return citycard.E(op, citycard.Invalid, "after position %d: want 0 or more", f.After)
	}
	if len(f.Reason) > 64 {
		return citycard.E(op, citycard.Invalid, "reason of %d bytes: at most 64", len(f.Reason))
	}
	return nil
}

// QueryRejections implements the rejection query of the stores: the
// rejections after f.After (a 1-based position in the rejection journal)
// matching f, oldest first, each with its position.
func (m *MemJournal) QueryRejections(_ context.Context, f RejectionFilter) ([]PositionedRejection, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PositionedRejection
	for i := int(min(f.After, int64(len(m.rejections)))); i < len(m.rejections) && len(out) < f.Limit; i++ {
		r := m.rejections[i]
		if f.Terminal != (citycard.TerminalID{}) && r.Terminal != f.Terminal || f.Reason != "" && r.Reason != f.Reason {
			continue
		}
		out = append(out, PositionedRejection{Pos: int64(i + 1), Rejection: r})
	}
	return out, nil
}

// PositionedRejection is a rejection with its position in the rejection
// journal, for paging.
type PositionedRejection struct {
	Pos int64
	Rejection
}
