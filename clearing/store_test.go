package clearing

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
)

// memStore keeps cycles in a map, as the stores do (the suite in
// storetest tests those).
type memStore map[Day]Stored

func (m memStore) Cycle(_ context.Context, d Day) (Stored, error) {
	s, ok := m[d]
	if !ok {
		return s, citycard.E("memStore", citycard.NotFound, "no cycle of %v", d)
	}
	return s, nil
}

func (m memStore) Before(_ context.Context, d Day) (Stored, bool, error) {
	var best Stored
	ok := false
	for k, s := range m {
		if k < d && (!ok || k > best.Cycle.Day) {
			best, ok = s, true
		}
	}
	return best, ok, nil
}

func (m memStore) Save(_ context.Context, s *Stored, was State) error {
	cur, ok := m[s.Cycle.Day]
	switch {
	case was == 0 && ok:
		return citycard.E("memStore", citycard.Exists, "cycle %v", s.Cycle.Day)
	case was != 0 && (!ok || cur.Cycle.State != was):
		return citycard.E("memStore", citycard.Conflict, "cycle %v", s.Cycle.Day)
	}
	m[s.Cycle.Day] = *s
	return nil
}

// TestCyclesCarryTheRounding: a cycle run after the previous one closed
// takes the range after it and the rounding it carried (clearing/doc.go:
// "the fraction of a fen left is carried into the next cycle"); a day
// whose previous cycle is not closed is refused, and the moves keep two
// people.
func TestCyclesCarryTheRounding(t *testing.T) {
	ctx := context.Background()
	cfg := exampleConfig()
	cal := cfg.Calendar
	j := &memJournal{}
	// 300 fen on the bus: 1.5 fen of fee, 1 charged (rounded down), half a
	// fen carried.
	r := purchase(ourIssuer, 1, termBus, 300, 0)
	j.add(cst(2026, 12, 1, 9, 0, 0), acquire.ClassBooked, acquire.OutcomeVerified, &r)
	r = purchase(ourIssuer, 2, termBus, 300, 0)
	j.add(cst(2026, 12, 2, 9, 0, 0), acquire.ClassBooked, acquire.OutcomeVerified, &r)
	now := cal.End(day1).Add(time.Hour)
	cs := &Cycles{Clearer: mustClearer(t, cfg), Store: memStore{}, Journal: j, Terminals: twoTerminal, Now: func() time.Time { return now }}
	if _, err := cs.Run(ctx, day1, ""); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("run by nobody: %v, want Invalid", err)
	}
	s1, err := cs.Run(ctx, day1, "carl")
	if err != nil {
		t.Fatal(err)
	}
	if s1.Cycle.Range != (Range{0, 1}) || s1.Result.Rounding[0].CarryOutMicro != MicroPerFen/2 {
		t.Fatalf("day 1: range %v, rounding %+v", s1.Cycle.Range, s1.Result.Rounding)
	}
	now = cal.End(day1 + 1).Add(time.Hour)
	if _, err := cs.Run(ctx, day1+1, "carl"); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("day 2 before day 1 closed: %v, want Conflict", err)
	}
	if _, err := cs.Close(ctx, day1, "dora", nil); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("closing a computed cycle: %v, want Conflict", err)
	}
	for _, by := range []string{"ann", "bob"} {
		if _, err := cs.Approve(ctx, day1, by); err != nil {
			t.Fatal(err)
		}
	}
	files := func(c *Cycle, res *Result) ([]File, error) {
		return []File{FileOf("b", []byte("2")), FileOf("a", []byte("1"))}, nil
	}
	c1, err := cs.Close(ctx, day1, "dora", files)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Cycle.ClosedBy != "dora" || len(c1.Files) != 2 || c1.Files[0].Name != "a" || c1.Files[0].Size != 1 {
		t.Errorf("closed: %+v, files %+v (want them by name)", c1.Cycle, c1.Files)
	}
	s2, err := cs.Run(ctx, day1+1, "carl")
	if err != nil {
		t.Fatal(err)
	}
	// A day before day 1 would claim day 1's range again: refused.
	if _, err := cs.Run(ctx, day1-1, "carl"); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a day before the latest cycle: %v, want Conflict", err)
	}
	// Day 2: half a fen carried in, half a fen of remainder: one whole fen
	// booked, nothing carried on.
	rl := s2.Result.Rounding[0]
	if s2.Cycle.Range != (Range{1, 2}) || rl.CarryInMicro != MicroPerFen/2 || rl.BookedFen != 1 || rl.CarryOutMicro != 0 {
		t.Errorf("day 2: range %v, rounding %+v", s2.Cycle.Range, rl)
	}
}
