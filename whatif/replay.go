package whatif

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// Journal is what a replay reads: the reading side of acquire.Journal,
// which every store implements.
type Journal interface {
	// Replay calls fn for every journaled record after position from,
	// in order.
	Replay(ctx context.Context, from int64, fn func(e *acquire.Journaled) error) error
	// LastPos returns the position of the last journaled record, 0 if
	// none.
	LastPos(ctx context.Context) (int64, error)
	// Batch returns a committed batch: when it was committed.
	Batch(ctx context.Context, terminal citycard.TerminalID, id string) (b acquire.StoredBatch, ok bool, err error)
}

// Limits and defaults of a replay.
const (
	// MaxDays bounds the days one replay covers: a month. The memory a
	// replay takes grows with the cards it meets, not the days, but its
	// time grows with the days.
	MaxDays = 31
	// DefaultLagDays is how long after the last day replayed the journal
	// is read, for the records uploaded late.
	DefaultLagDays = 7
	// DefaultReorderWindow is how many journaled records a record waits for
	// an earlier record of its card (uploaded later by another terminal)
	// before it is priced without it. A waiting record takes about 150
	// bytes (and as much again for the collector): 2,000,000 records, up
	// to 600 MB; at 20M records a day, 2.4 hours of uploads. A city whose
	// buses upload once a night sets it to a day of records.
	DefaultReorderWindow = 2_000_000
	// DefaultMaxCards bounds the cards a replay keeps: about 300 bytes
	// each (its transit file rebuilt, its sums; 160 more with an old
	// table), 3 GB, and as much again for the collector (a day of 5M
	// cards took 4.1 GB resident).
	DefaultMaxCards = 10_000_000
	// progressEvery is how many journaled records pass between progress
	// reports and checks of the context.
	progressEvery = 1 << 16
)

// Config is what to replay and how.
type Config struct {
	// From and To are the first and last days replayed, China time (the
	// time of day is ignored): operating days of the table in service (Old
	// if given, else New). At most MaxDays days.
	From, To time.Time
	New      *fare.Table // the table to re-price under; required
	// Old, if not nil, is re-priced the same way, so that what the replay
	// cannot know shows: its revenue against what the records charged.
	Old *fare.Table
	// Workers is how many goroutines price (cards are split among them by
	// shard); 0 or 1: the reading goroutine prices, on one core.
	Workers int
	// LagDays: 0 means DefaultLagDays; negative, none.
	LagDays int
	// WholeJournal reads the journal from its first position to its
	// last, rather than the batches committed from the day before From to
	// LagDays after the day after To: for a journal whose records are not
	// dated when they were committed (a simulated day, terminals whose
	// clocks are wrong).
	WholeJournal bool
	// ReorderWindow: 0 means DefaultReorderWindow.
	ReorderWindow int64
	// MaxCards: 0 means DefaultMaxCards.
	MaxCards int64
	// Progress, if not nil, is called from the reading goroutine every
	// few tens of thousands of journaled records, and once at the end.
	Progress func(Progress)
}

// Progress is how far a replay is.
type Progress struct {
	Read  int64 // journaled records read
	Total int64 // journaled records to read
}

// errStop stops a journal's Replay early; it never leaves Run.
var errStop = errors.New("whatif: stop")

// ParseDay parses a day "YYYY-MM-DD" as its midnight, China time. Kind
// Invalid for anything else.
func ParseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, citycard.ChinaTime)
	if err != nil {
		return time.Time{}, citycard.E("whatif.ParseDay", citycard.Invalid, "%q is not a day YYYY-MM-DD", s)
	}
	return t, nil
}

// Run replays the journal's booked purchases dated From to To under
// cfg.New and reports the revenue change (see the package doc). It reads
// the journal and writes nothing. Kind Invalid for a config out of its
// bounds (no table, To before From, more than MaxDays days, more cards
// than MaxCards), IO for a journal that does not decode, the journal's
// own kinds for its faults, and Unavailable, wrapping the context's
// error, when ctx ends first.
func Run(ctx context.Context, j Journal, cfg Config) (*Report, error) {
	const op = "whatif.Run"
	if cfg.New == nil {
		return nil, citycard.E(op, citycard.Invalid, "no fare table to replay under")
	}
	from := midnight(cfg.From)
	to := midnight(cfg.To)
	if to.Before(from) {
		return nil, citycard.E(op, citycard.Invalid, "to %s is before from %s", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	if n := int(to.Sub(from)/(24*time.Hour)) + 1; n > MaxDays {
		return nil, citycard.E(op, citycard.Invalid, "%d days from %s to %s: a replay covers at most %d", n, from.Format(time.DateOnly), to.Format(time.DateOnly), MaxDays)
	}
	lag := cfg.LagDays
	switch {
	case lag == 0:
		lag = DefaultLagDays
	case lag < 0:
		lag = 0
	}
	window := cfg.ReorderWindow
	if window <= 0 {
		window = DefaultReorderWindow
	}
	maxCards := cfg.MaxCards
	if maxCards <= 0 {
		maxCards = DefaultMaxCards
	}
	workers := max(cfg.Workers, 1)

	// The days are the operating days of the table in service: the old
	// one when there is one.
	inService := cfg.New
	if cfg.Old != nil {
		inService = cfg.Old
	}
	d := days{table: inService, first: dateOf(from), last: dateOf(to)}
	d.ctxFirst, d.ctxLast = d.first-1, d.last+1
	rep := &Report{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), DayCut: dayCut(inService, d.first),
		NewFareVersion: cfg.New.Version(), Currency: cfg.New.Currency()}
	if cfg.Old != nil {
		rep.OldFareVersion = cfg.Old.Version()
	}

	// The journaled records to read: from the first batch committed on the
	// day before From (the journeys the first day continues), to the last
	// committed lag days after the day after To.
	last, err := j.LastPos(ctx)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	first, end := int64(1), last
	if !cfg.WholeJournal {
		if first, err = firstCommitted(ctx, j, last, from.AddDate(0, 0, -1)); err != nil {
			return nil, err
		}
		if end, err = firstCommitted(ctx, j, last, to.AddDate(0, 0, 2+lag)); err != nil {
			return nil, err
		}
		end--
	}

	eng := terminal.NewFareEngine(cfg.New)
	var old *terminal.FareEngine
	if cfg.Old != nil {
		old = terminal.NewFareEngine(cfg.Old)
	}
	var nCards atomic.Int64
	ws := make([]*worker, workers)
	for i := range ws {
		ws[i] = newWorker(d, window, eng, old, &nCards, maxCards)
	}
	feed, stop := pipeline(ws)

	var read int64
	total := max(end-first+1, 0)
	progress := func() {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Read: read, Total: total})
		}
	}
	if first <= end {
		rep.JournalFirstPos, rep.JournalLastPos = first, end
		err = j.Replay(ctx, first-1, func(e *acquire.Journaled) error {
			if e.Pos > end {
				return errStop
			}
			read++
			if read%progressEvery == 0 {
				progress()
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if e.Class != acquire.ClassBooked && e.Class != acquire.ClassRecovered && e.Class != acquire.ClassSuspense {
				return nil
			}
			r, err := record.DecodeBinary(e.Raw[:])
			if err != nil {
				return citycard.E(op, citycard.IO, "journal position %d does not decode: %v", e.Pos, err)
			}
			if o := d.of(&r); o < d.ctxFirst || o > d.ctxLast {
				return nil
			}
			return feed(&r, e.Pos, e.Class == acquire.ClassSuspense)
		})
	}
	werr := stop()
	switch {
	case errors.Is(err, errStop):
		err = nil
	case err != nil && ctx.Err() != nil:
		err = citycard.E(op, citycard.Unavailable, "stopped after %d of %d journaled records: %w", read, total, ctx.Err())
	}
	if err = errors.Join(err, werr); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	rep.RecordsRead = read
	progress()
	all := newSums()
	for _, w := range ws {
		all.merge(w.sums)
	}
	all.fill(rep, cfg.New, cfg.Old != nil)
	return rep, nil
}

// pipeline returns how records reach the workers and how to stop them.
// With one worker the reading goroutine prices; with more, records go
// to their card's worker in batches, each worker on its goroutine. A
// grey record (in suspense) is only counted, by the worker of its card.
func pipeline(ws []*worker) (feed func(r *record.Record, pos int64, grey bool) error, stop func() error) {
	add := func(w *worker, r *record.Record, pos int64, grey bool) error {
		if grey {
			if w.days.in(r) {
				w.sums.skipped.GreyRecords++
				w.sums.skipped.GreyFen += int64(r.Amount)
			}
			return nil
		}
		return w.add(r, pos)
	}
	if len(ws) == 1 {
		w := ws[0]
		return func(r *record.Record, pos int64, grey bool) error { return add(w, r, pos, grey) },
			func() error { w.finish(); return nil }
	}
	type item struct {
		r    record.Record
		pos  int64
		grey bool
	}
	const batch = 1024
	chans := make([]chan []item, len(ws))
	bufs := make([][]item, len(ws))
	errs := make([]error, len(ws))
	var failed atomic.Bool
	var wg sync.WaitGroup
	for i, w := range ws {
		chans[i] = make(chan []item, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range chans[i] {
				for k := range b {
					if errs[i] != nil {
						break
					}
					if errs[i] = add(w, &b[k].r, b[k].pos, b[k].grey); errs[i] != nil {
						failed.Store(true)
					}
				}
			}
			if errs[i] == nil {
				w.finish()
			}
		}()
	}
	feed = func(r *record.Record, pos int64, grey bool) error {
		if failed.Load() {
			return errStop
		}
		i := acquire.Shard(r.Issuer, r.ASN, len(ws))
		bufs[i] = append(bufs[i], item{*r, pos, grey})
		if len(bufs[i]) == batch {
			chans[i] <- bufs[i]
			bufs[i] = make([]item, 0, batch)
		}
		return nil
	}
	stop = func() error {
		for i := range chans {
			if len(bufs[i]) > 0 {
				chans[i] <- bufs[i]
			}
			close(chans[i])
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return feed, stop
}

// firstCommitted returns the position of the first journaled record whose
// batch was committed at or after t, last+1 if none: a binary search
// over positions, as commits are in time order.
func firstCommitted(ctx context.Context, j Journal, last int64, t time.Time) (int64, error) {
	lo, hi := int64(1), last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		at, err := committedAt(ctx, j, mid)
		if err != nil {
			return 0, err
		}
		if at.Before(t) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// committedAt returns when the batch of the entry at pos was committed.
func committedAt(ctx context.Context, j Journal, pos int64) (time.Time, error) {
	const op = "whatif.committedAt"
	var term citycard.TerminalID
	var id string
	found := false
	err := j.Replay(ctx, pos-1, func(e *acquire.Journaled) error {
		term, id, found = e.Terminal, e.BatchID, true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return time.Time{}, citycard.Wrap(op, citycard.Other, err)
	}
	if !found {
		return time.Time{}, citycard.E(op, citycard.IO, "journal position %d is missing", pos)
	}
	b, ok, err := j.Batch(ctx, term, id)
	if err != nil {
		return time.Time{}, citycard.Wrap(op, citycard.Other, err)
	}
	if !ok {
		return time.Time{}, citycard.E(op, citycard.IO, "journal position %d: its batch %q of %v is not in the journal", pos, id, term)
	}
	return b.At, nil
}

func midnight(t time.Time) time.Time {
	t = t.In(citycard.ChinaTime)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, citycard.ChinaTime)
}

func dateOf(t time.Time) fare.Date {
	t = t.In(citycard.ChinaTime)
	return fare.DateOf(t.Year(), int(t.Month()), t.Day())
}

// dayCut says when t's operating day ends, China time: the first minute
// of the morning that OperatingDay puts in day d (at most noon).
func dayCut(t *fare.Table, d fare.Date) string {
	for m := 0; m <= 12*60; m++ {
		if t.OperatingDay(d, fare.Clock(m*60)) == d {
			return fmt.Sprintf("%02d:%02d China time (UTC+8), the operating day of fare table %s", m/60, m%60, t.Version())
		}
	}
	return "the operating day of fare table " + t.Version()
}
