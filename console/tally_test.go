package console

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// listJournal is a TallyJournal over a slice of journaled records.
type listJournal struct {
	es      []acquire.Journaled
	replays int
}

func (j *listJournal) Replay(_ context.Context, from int64, fn func(e *acquire.Journaled) error) error {
	j.replays++
	for i := range j.es {
		if j.es[i].Pos > from {
			if err := fn(&j.es[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (j *listJournal) LastPos(context.Context) (int64, error) { return int64(len(j.es)), nil }

func (j *listJournal) Batch(_ context.Context, id citycard.TerminalID, batch string) (acquire.StoredBatch, bool, error) {
	return acquire.StoredBatch{Terminal: id, ID: batch, At: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}, true, nil
}

func (j *listJournal) QueryRejections(context.Context, acquire.RejectionFilter) ([]acquire.PositionedRejection, error) {
	return nil, nil
}

// add journals a purchase of card n on day (of November 2026) at hour.
func (j *listJournal) add(t testing.TB, day, hour int, n uint32, class acquire.Class, flags acquire.Flags) {
	t.Helper()
	j.addLeg(t, day, hour, n, class, flags, 0)
}

// addLeg journals a purchase as add does; with entry not 0, a tap-off
// (a composite purchase) of a leg from station entry.
func (j *listJournal) addLeg(t testing.TB, day, hour int, n uint32, class acquire.Class, flags acquire.Flags, entry uint32) {
	t.Helper()
	d, tm := citycard.DateTime(time.Date(2026, 11, day, hour, 0, 0, 0, citycard.ChinaTime))
	r := record.Record{Type: citycard.TxPurchase, Issuer: citycard.IssuerCode{0x31, 0x50, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}, TerminalID: citycard.TerminalID{0x31, 0x50, 1, 0, 0, 1}, PSAMID: citycard.PSAMID{0x31, 0x50, 9: 1}, ASN: citycard.ASN{2: 0x31, 3: 0x50, 6: byte(n >> 24), 7: byte(n >> 16), 8: byte(n >> 8), 9: byte(n)},
		Amount: 200, Date: d, Time: tm, Network: 1, Line: 3, Station: 9}
	if entry != 0 {
		r.Type, r.EntryStation, r.EntryLine, r.EntryDate, r.EntryTime = citycard.TxCompositePurchase, entry, 3, d, tm
	}
	e := acquire.Journaled{Pos: int64(len(j.es) + 1), BatchID: "b", Class: class, Flags: flags}
	copy(e.Raw[:], r.AppendBinary(nil))
	j.es = append(j.es, e)
}

// TestTallyFigures: what counts as a tap, what as booked and as revenue
// (console package doc, "Figures: the tally").
func TestTallyFigures(t *testing.T) {
	j := &listJournal{}
	j.add(t, 24, 7, 1, acquire.ClassBooked, 0)
	j.add(t, 24, 7, 1, acquire.ClassDuplicate, 0)                    // not a tap
	j.add(t, 24, 8, 2, acquire.ClassSuspense, acquire.FlagGrey)      // a tap, in suspense
	j.add(t, 24, 9, 2, acquire.ClassRecovered, 0)                    // booked, not a second tap
	j.add(t, 24, 9, 3, acquire.ClassLoad, 0)                         // a load
	j.add(t, 24, 23, 4, acquire.ClassBooked, acquire.FlagCounterGap) // flagged
	j.addLeg(t, 24, 23, 5, acquire.ClassBooked, 0, 7)                // a leg from station 7 to 9
	j.addLeg(t, 24, 23, 6, acquire.ClassDuplicate, 0, 7)             // its copy: not a leg
	j.add(t, 24, 12, 7, acquire.ClassApplication, 0)                 // a campus check-in: not a tap
	tl := NewTally(j, time.Now)
	if err := tl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := tl.Snapshot()
	d, ok := s.Day("2026-11-24")
	if !ok {
		t.Fatal("no day 2026-11-24")
	}
	if d.Taps != 4 || d.Booked != 4 || d.RevenueFen != 800 || d.SuspenseFen != 200 || d.Duplicates != 2 || d.Loads != 1 || d.Stamps != 1 || d.Flagged != 2 || d.Cards != 4 {
		t.Errorf("day %+v: want 4 taps, 4 booked, 800 fen revenue, 200 in suspense, 2 duplicates, 1 load, 1 stamp, 2 flagged, 4 cards", d)
	}
	if d.Hours[7] != 1 || d.Hours[8] != 1 || d.Hours[23] != 2 || d.Hours[9] != 0 || d.Hours[12] != 0 {
		t.Errorf("hours %v: a tap at 7 and 8, two at 23", d.Hours)
	}
	if d.Lines[LineKey{1, 3}] != 4 || d.Stations[StationKey{1, 9}] != 4 {
		t.Errorf("lines %v, stations %v: 4 taps on line 3 at station 9", d.Lines, d.Stations)
	}
	if len(d.Pairs) != 1 || d.Pairs[PairKey{1, 7, 9}] != 1 {
		t.Errorf("pairs %v: one leg from 7 to 9", d.Pairs)
	}
	// A second refresh folds only what is new.
	j.add(t, 24, 10, 5, acquire.ClassBooked, 0)
	if err := tl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, _ := tl.Snapshot().Day(""); d.Taps != 5 {
		t.Errorf("after one more record: %d taps, want 5", d.Taps)
	}
}

// TestTallyBounds: every limit of the tally at its boundary.
func TestTallyBounds(t *testing.T) {
	t.Run("MaxDays", func(t *testing.T) {
		j := &listJournal{}
		for day := 1; day <= MaxDays; day++ {
			j.add(t, day, 8, 1, acquire.ClassBooked, 0)
		}
		tl := NewTally(j, time.Now)
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s := tl.Snapshot(); len(s.Days) != MaxDays || s.Older != 0 {
			t.Fatalf("%d days kept, %d older; want %d, 0", len(s.Days), s.Older, MaxDays)
		}
		j.add(t, MaxDays+1, 8, 1, acquire.ClassBooked, 0) // a new day evicts the oldest
		j.add(t, 1, 9, 2, acquire.ClassBooked, 0)         // the evicted day's record: older than every day kept
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := tl.Snapshot()
		if len(s.Days) != MaxDays || s.Days[0].Date != "2026-11-02" || s.Older != 2 {
			t.Fatalf("%d days from %s, %d older; want %d from 2026-11-02, 2 older", len(s.Days), s.Days[0].Date, s.Older, MaxDays)
		}
	})
	t.Run("MaxFlagged", func(t *testing.T) {
		j := &listJournal{}
		for i := range MaxFlagged + 1 {
			j.add(t, 24, 8, uint32(i), acquire.ClassBooked, acquire.FlagBalance)
		}
		tl := NewTally(j, time.Now)
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := tl.Snapshot()
		if len(s.Flagged) != MaxFlagged || s.Flagged[0].Pos != MaxFlagged+1 || s.Flagged[MaxFlagged-1].Pos != 2 || s.Flags["balance_discontinuity"] != MaxFlagged+1 {
			t.Fatalf("%d flagged kept, newest %d, oldest %d, counted %d; want %d, %d, 2, %d",
				len(s.Flagged), s.Flagged[0].Pos, s.Flagged[len(s.Flagged)-1].Pos, s.Flags["balance_discontinuity"], MaxFlagged, MaxFlagged+1, MaxFlagged+1)
		}
	})
	t.Run("MaxCardsCounted", func(t *testing.T) {
		j := &listJournal{}
		for i := range MaxCardsCounted {
			j.add(t, 24, 8, uint32(i), acquire.ClassBooked, 0)
		}
		tl := NewTally(j, time.Now)
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d, _ := tl.Snapshot().Day(""); d.Cards != MaxCardsCounted || d.CardsCapped {
			t.Fatalf("%d cards, capped %v; want %d exactly", d.Cards, d.CardsCapped, MaxCardsCounted)
		}
		j.add(t, 24, 8, 0, acquire.ClassBooked, 0) // a card counted already
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d, _ := tl.Snapshot().Day(""); d.CardsCapped {
			t.Fatal("a card seen before capped the count")
		}
		j.add(t, 24, 8, MaxCardsCounted, acquire.ClassBooked, 0) // one card more
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d, _ := tl.Snapshot().Day(""); d.Cards != MaxCardsCounted || !d.CardsCapped || d.Taps != MaxCardsCounted+2 {
			t.Fatalf("%d cards, capped %v, %d taps; want %d, capped, %d", d.Cards, d.CardsCapped, d.Taps, MaxCardsCounted, MaxCardsCounted+2)
		}
	})
	t.Run("MaxPairs", func(t *testing.T) {
		j := &listJournal{}
		for i := range MaxPairs {
			j.addLeg(t, 24, 8, 1, acquire.ClassBooked, 0, uint32(100+i))
		}
		j.addLeg(t, 24, 8, 1, acquire.ClassBooked, 0, 100) // a pair counted already
		tl := NewTally(j, time.Now)
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d, _ := tl.Snapshot().Day(""); len(d.Pairs) != MaxPairs || d.PairsOther != 0 || d.Pairs[PairKey{1, 100, 9}] != 2 {
			t.Fatalf("%d pairs, %d legs past the bound; want %d, 0", len(d.Pairs), d.PairsOther, MaxPairs)
		}
		j.addLeg(t, 24, 8, 1, acquire.ClassBooked, 0, 100+MaxPairs) // one pair more
		if err := tl.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d, _ := tl.Snapshot().Day(""); len(d.Pairs) != MaxPairs || d.PairsOther != 1 {
			t.Fatalf("%d pairs, %d legs past the bound; want %d, 1", len(d.Pairs), d.PairsOther, MaxPairs)
		}
	})
	t.Run("fold bound", func(t *testing.T) {
		j := &listJournal{}
		for range 5 {
			j.add(t, 24, 8, 1, acquire.ClassBooked, 0)
		}
		tl := NewTally(j, time.Now)
		tl.foldMax = 2
		for i, want := range []int64{2, 4, 5, 5} {
			if err := tl.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s := tl.Snapshot(); s.Pos != want || s.Last != 5 {
				t.Fatalf("refresh %d: at %d of %d, want %d of 5", i+1, s.Pos, s.Last, want)
			}
		}
	})
}

// TestFormat: money as yuan in integer arithmetic, counts grouped, and
// the day-on-day change rounded half away from zero.
func TestFormat(t *testing.T) {
	for fen, want := range map[int64]string{0: "¥0.00", 5: "¥0.05", 100: "¥1.00", 123405: "¥1,234.05", -50: "-¥0.50", 100000000: "¥1,000,000.00"} {
		if got := yuan(fen); got != want {
			t.Errorf("yuan(%d) = %q, want %q", fen, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
	for _, tc := range []struct {
		now, was int64
		want     string
	}{
		{0, 0, ""}, {5, 0, "new"}, {600, 400, "+50.0%"}, {400, 600, "-33.3%"}, {1, 3, "-66.7%"}, {2, 3, "-33.3%"},
		{2001, 2000, "+0.1%"}, {20001, 20000, "0.0%"}, {2001, 4000, "-50.0%"}, {0, 7, "-100.0%"},
		{10001, 20000, "-50.0%"}, {19999, 20000, "0.0%"}, {5, 5, "0.0%"},
	} {
		if got := delta(tc.now, tc.was); got != tc.want {
			t.Errorf("delta(%d, %d) = %q, want %q", tc.now, tc.was, got, tc.want)
		}
	}
}

// BenchmarkTallyFold measures folding journaled records into the tally,
// in records per second, over a day of 100,000 records of 20,000 cards.
func BenchmarkTallyFold(b *testing.B) {
	j := &listJournal{}
	for i := range 100000 {
		j.add(b, 24, 6+i%16, uint32(i%20000), acquire.ClassBooked, 0)
	}
	b.ResetTimer()
	for range b.N {
		tl := NewTally(j, time.Now)
		if err := tl.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(j.es)*b.N)/b.Elapsed().Seconds(), "records/s")
}
