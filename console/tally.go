package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// Limits of the tally: what it keeps is bounded whatever the journal holds.
const (
	// MaxDays is how many operating days the tally keeps figures of; a
	// record of a day older than every day kept, once MaxDays are kept,
	// is counted in Tally.older only.
	MaxDays = 14
	// MaxCardsCounted bounds the distinct cards counted per day (16 bytes
	// each and the map's overhead: about 10 MiB a day at the bound); past
	// it, a day's cards figure is a lower bound, and says so.
	MaxCardsCounted = 1 << 18
	// MaxFlagged is how many flagged records the tally keeps, the newest.
	MaxFlagged = 500
	// maxFoldPerRefresh bounds the journaled records one refresh folds in,
	// so that a page never waits for a whole 20M-record journal: about a
	// second of work; the next page goes on from there.
	maxFoldPerRefresh = 1 << 20
	// maxRejectionPages bounds the pages of rejections one refresh reads.
	maxRejectionPages = 64
	// MaxPairs bounds the stop pairs counted per day; the taps of pairs
	// past it are counted in Day.PairsOther.
	MaxPairs = 1 << 14
)

// TallyJournal is what the tally reads of the journal: the journaled
// records in order, a committed batch (for its upload time), and the
// rejection journal. acquire.Journal has it.
type TallyJournal interface {
	Replay(ctx context.Context, from int64, fn func(e *acquire.Journaled) error) error
	LastPos(ctx context.Context) (int64, error)
	Batch(ctx context.Context, terminal citycard.TerminalID, id string) (b acquire.StoredBatch, ok bool, err error)
	QueryRejections(ctx context.Context, f acquire.RejectionFilter) ([]acquire.PositionedRejection, error)
}

// Tally is the console's aggregate of the journal: figures per operating
// day (taps, records booked, revenue, cards, by hour, line, station and
// terminal), per terminal (its last upload), the newest flagged records
// and the rejections by reason. It tails the journal: Refresh folds in
// what was journaled since the last call, so that a page costs the
// records since the last page, not the journal's length. It decides
// nothing and books nothing: every figure is a sum of journaled records.
type Tally struct {
	j       TallyJournal
	now     func() time.Time
	foldMax int // maxFoldPerRefresh; tests lower it

	mu        sync.Mutex
	pos       int64 // the last journal position folded in
	last      int64 // the journal's last position, as last read
	rejPos    int64 // the last rejection position folded in
	days      map[citycard.BCDDate]*Day
	older     int64 // records of days evicted, or older than every day kept
	undated   int64 // records whose date does not parse
	terminals map[citycard.TerminalID]*TerminalUse
	flagged   []Flagged // ring of the newest MaxFlagged
	flagNext  int
	flags     map[string]int64
	rejected  map[string]int64 // rejections by reason, all days
	rejDays   map[string]int64 // rejections by upload day (YYYY-MM-DD), all reasons
}

// Day is the figures of one operating day (the date the record carries,
// local time).
type Day struct {
	Date        string // YYYY-MM-DD
	Taps        int64  // purchase records journaled: booked, or held in suspense (grey)
	Booked      int64  // records booked to an operator: booked, and grey records recovered
	RevenueFen  int64  // the amounts of the records booked
	SuspenseFen int64  // the amounts held in suspense (grey records)
	Loads       int64
	LoadFen     int64
	Duplicates  int64
	Stamps      int64            // application records (check-ins, admissions, loans): no money, not taps
	Apps        map[AppKey]int64 // the stamps by application and action (at most 255 x 255)
	Flagged     int64
	Cards       int64 // distinct cards with a tap, at most MaxCardsCounted
	CardsCapped bool  // more cards than MaxCardsCounted tapped: Cards is a lower bound
	Hours       [24]int64
	Lines       map[LineKey]int64
	Stations    map[StationKey]int64
	// Pairs counts the legs from entry to exit (tap-off records, which
	// carry both), at most MaxPairs pairs; PairsOther the legs of the
	// pairs past the bound.
	Pairs      map[PairKey]int64
	PairsOther int64
	Terminals  map[citycard.TerminalID]*TerminalDay

	cards map[cardKey]struct{}
}

// LineKey names a line: the record's network and line.
type LineKey struct {
	Network uint16
	Line    uint32
}

// StationKey names a station: the record's network and station.
type StationKey struct {
	Network uint16
	Station uint32
}

// AppKey names what an application record counts under: the
// application (the record's network field) and the action (its product
// field), as record/application.go lays them out.
type AppKey struct {
	App, Action uint8
}

// PairKey names a stop pair: a leg's network, entry and exit stations.
type PairKey struct {
	Network     uint16
	Entry, Exit uint32
}

type cardKey struct {
	issuer citycard.IssuerCode
	asn    citycard.ASN
}

// TerminalDay is one terminal's figures of one day.
type TerminalDay struct {
	Taps       int64
	RevenueFen int64
	LastBatch  string // the last batch journaled with a record of the day
	Line       uint32
	Station    uint32
}

// TerminalUse is what the journal says of a terminal: its last upload.
type TerminalUse struct {
	LastBatch string
	LastAt    time.Time // when the last batch was committed; zero until looked up
	Records   int64     // journaled records, all days
}

// Flagged is a flagged journaled record.
type Flagged struct {
	Pos       int64
	Terminal  citycard.TerminalID
	BatchID   string
	Class     string
	Flags     []string
	Issuer    citycard.IssuerCode
	ASN       citycard.ASN
	AmountFen int64
	At        string // the record's date and time
}

// NewTally returns a tally of j, empty until Refresh.
func NewTally(j TallyJournal, now func() time.Time) *Tally {
	return &Tally{
		j: j, now: now, foldMax: maxFoldPerRefresh, days: map[citycard.BCDDate]*Day{}, terminals: map[citycard.TerminalID]*TerminalUse{},
		flags: map[string]int64{}, rejected: map[string]int64{}, rejDays: map[string]int64{},
	}
}

// errFoldBound stops a replay at maxFoldPerRefresh records.
var errFoldBound = errors.New("console: fold bound reached")

// Refresh folds in the records journaled since the last call (at most
// maxFoldPerRefresh of them) and the rejections since. What was folded
// stays folded when ctx ends or the journal fails: the error names the
// position reached, and the next call goes on from it.
func (t *Tally) Refresh(ctx context.Context) error {
	const op = "console.Tally.Refresh"
	t.mu.Lock()
	defer t.mu.Unlock()
	last, err := t.j.LastPos(ctx)
	if err != nil {
		return citycard.Wrap(op, citycard.KindOf(err), err)
	}
	t.last = last
	// Batches seen are looked up after the replay, not inside it: a store
	// may hold one connection for the replay's rows.
	seen := map[citycard.TerminalID]string{}
	n := 0
	err = t.j.Replay(ctx, t.pos, func(e *acquire.Journaled) error {
		if n >= t.foldMax {
			return errFoldBound
		}
		n++
		t.fold(e)
		seen[e.Terminal] = e.BatchID
		return nil
	})
	if err != nil && !errors.Is(err, errFoldBound) {
		return citycard.E(op, citycard.KindOf(err), "replaying the journal after position %d: %w", t.pos, err)
	}
	for id, batch := range seen {
		b, ok, err := t.j.Batch(ctx, id, batch)
		if err != nil {
			return citycard.E(op, citycard.KindOf(err), "batch %s of terminal %v: %w", batch, id, err)
		}
		if ok {
			t.terminals[id].LastAt = b.At
		}
	}
	return t.refreshRejections(ctx)
}

// refreshRejections counts the rejections kept since the last call, by
// reason and by upload day.
func (t *Tally) refreshRejections(ctx context.Context) error {
	const op = "console.Tally.refreshRejections"
	for range maxRejectionPages {
		rs, err := t.j.QueryRejections(ctx, acquire.RejectionFilter{After: t.rejPos, Limit: acquire.MaxRejectionsPage})
		if err != nil {
			return citycard.E(op, citycard.KindOf(err), "rejections after position %d: %w", t.rejPos, err)
		}
		for i := range rs {
			t.rejected[rs[i].Reason]++
			t.rejDays[rs[i].At.In(citycard.ChinaTime).Format(time.DateOnly)]++
			t.rejPos = rs[i].Pos
		}
		if len(rs) < acquire.MaxRejectionsPage {
			return nil
		}
	}
	return nil
}

// fold adds one journaled record to the figures. The caller holds t.mu.
func (t *Tally) fold(e *acquire.Journaled) {
	t.pos = e.Pos
	tu := t.terminals[e.Terminal]
	if tu == nil {
		tu = &TerminalUse{}
		t.terminals[e.Terminal] = tu
	}
	tu.Records++
	tu.LastBatch = e.BatchID
	r, err := record.DecodeBinary(e.Raw[:])
	if err != nil {
		t.undated++ // the journal holds only records that decoded: not reached
		return
	}
	if e.Flags != 0 {
		t.addFlagged(e, &r)
	}
	d := t.day(r.Date)
	if d == nil {
		return
	}
	if e.Flags != 0 {
		d.Flagged++
	}
	switch e.Class {
	case acquire.ClassDuplicate:
		d.Duplicates++
		return
	case acquire.ClassLoad:
		d.Loads++
		d.LoadFen += int64(r.Amount)
		return
	case acquire.ClassApplication:
		d.Stamps++                                           // its line and station fields carry the application's scope, not a route
		d.Apps[AppKey{uint8(r.Network), uint8(r.Product)}]++ // record validates both to 1-255
		return
	case acquire.ClassBooked, acquire.ClassRecovered:
		d.Booked++
		d.RevenueFen += int64(r.Amount)
	case acquire.ClassSuspense:
		d.SuspenseFen += int64(r.Amount)
	}
	if e.Class == acquire.ClassRecovered {
		return // its grey record was counted as the tap
	}
	d.Taps++
	if h, ok := hourOf(r.Time); ok {
		d.Hours[h]++
	}
	if r.Line != 0 {
		d.Lines[LineKey{r.Network, r.Line}]++
	}
	if r.Station != 0 {
		d.Stations[StationKey{r.Network, r.Station}]++
	}
	if r.Type == citycard.TxCompositePurchase && r.EntryStation != 0 && r.Station != 0 {
		k := PairKey{r.Network, r.EntryStation, r.Station}
		if _, ok := d.Pairs[k]; ok || len(d.Pairs) < MaxPairs {
			d.Pairs[k]++
		} else {
			d.PairsOther++
		}
	}
	td := d.Terminals[e.Terminal]
	if td == nil {
		td = &TerminalDay{Line: r.Line, Station: r.Station}
		d.Terminals[e.Terminal] = td
	}
	td.Taps++
	td.RevenueFen += int64(r.Amount)
	td.LastBatch = e.BatchID
	ck := cardKey{r.Issuer, r.ASN}
	if _, ok := d.cards[ck]; !ok {
		if len(d.cards) < MaxCardsCounted {
			d.cards[ck] = struct{}{}
			d.Cards++
		} else {
			d.CardsCapped = true
		}
	}
}

// day returns the figures of date, made if new; nil for a date that does
// not parse, or one older than every day kept when MaxDays are kept. A
// new day past MaxDays evicts the oldest.
func (t *Tally) day(date citycard.BCDDate) *Day {
	if d := t.days[date]; d != nil {
		return d
	}
	at, err := citycard.TimeOf(date, citycard.BCDTime{}, citycard.ChinaTime)
	if err != nil {
		t.undated++
		return nil
	}
	if len(t.days) >= MaxDays {
		oldest := t.oldest()
		if dateLess(date, oldest) {
			t.older++
			return nil
		}
		t.older += t.days[oldest].Taps + t.days[oldest].Duplicates + t.days[oldest].Loads + t.days[oldest].Stamps
		delete(t.days, oldest)
	}
	d := &Day{
		Date: at.Format(time.DateOnly), Lines: map[LineKey]int64{}, Stations: map[StationKey]int64{}, Pairs: map[PairKey]int64{}, Apps: map[AppKey]int64{},
		Terminals: map[citycard.TerminalID]*TerminalDay{}, cards: map[cardKey]struct{}{},
	}
	t.days[date] = d
	return d
}

func (t *Tally) oldest() citycard.BCDDate {
	var o citycard.BCDDate
	first := true
	for k := range t.days {
		if first || dateLess(k, o) {
			o, first = k, false
		}
	}
	return o
}

// dateLess orders BCD dates: their bytes, big-endian digits, order as the
// dates do.
func dateLess(a, b citycard.BCDDate) bool { return string(a[:]) < string(b[:]) }

func hourOf(tm citycard.BCDTime) (int, bool) {
	hi, lo := int(tm[0]>>4), int(tm[0]&0x0F)
	h := hi*10 + lo
	return h, hi < 10 && lo < 10 && h < 24
}

func (t *Tally) addFlagged(e *acquire.Journaled, r *record.Record) {
	for _, n := range e.Flags.Names() {
		t.flags[n]++
	}
	f := Flagged{
		Pos: e.Pos, Terminal: e.Terminal, BatchID: e.BatchID, Class: e.Class.String(), Flags: e.Flags.Names(),
		Issuer: r.Issuer, ASN: r.ASN, AmountFen: int64(r.Amount), At: recordTime(r.Date, r.Time),
	}
	if len(t.flagged) < MaxFlagged {
		t.flagged = append(t.flagged, f)
		return
	}
	t.flagged[t.flagNext] = f
	t.flagNext = (t.flagNext + 1) % MaxFlagged
}

// Snapshot is a copy of the tally's figures, safe to read while the tally
// goes on.
type Snapshot struct {
	Pos, Last      int64 // the position folded in, and the journal's last
	Days           []Day // oldest first, each a deep copy
	Older, Undated int64
	Terminals      map[citycard.TerminalID]TerminalUse
	Flagged        []Flagged // newest first
	Flags          map[string]int64
	Rejected       map[string]int64
	RejectedByDay  map[string]int64
}

// Snapshot copies the figures.
func (t *Tally) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Snapshot{
		Pos: t.pos, Last: t.last, Older: t.older, Undated: t.undated,
		Terminals: make(map[citycard.TerminalID]TerminalUse, len(t.terminals)),
		Flags:     cloneMap(t.flags), Rejected: cloneMap(t.rejected), RejectedByDay: cloneMap(t.rejDays),
	}
	for _, d := range t.days {
		c := *d
		c.cards = nil
		c.Lines, c.Stations, c.Pairs = cloneMap(d.Lines), cloneMap(d.Stations), cloneMap(d.Pairs)
		c.Apps = cloneMap(d.Apps)
		c.Terminals = make(map[citycard.TerminalID]*TerminalDay, len(d.Terminals))
		for k, v := range d.Terminals {
			cv := *v
			c.Terminals[k] = &cv
		}
		s.Days = append(s.Days, c)
	}
	slices.SortFunc(s.Days, func(a, b Day) int { return cmp.Compare(a.Date, b.Date) })
	for k, v := range t.terminals {
		s.Terminals[k] = *v
	}
	// The ring's newest is just before flagNext.
	n := len(t.flagged)
	for i := range n {
		s.Flagged = append(s.Flagged, t.flagged[(t.flagNext-1-i+2*n)%n])
	}
	return s
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Day returns the figures of date (YYYY-MM-DD), or of the newest day when
// date is empty; ok is false when the tally holds no such day.
func (s Snapshot) Day(date string) (Day, bool) {
	if len(s.Days) == 0 {
		return Day{}, false
	}
	if date == "" {
		return s.Days[len(s.Days)-1], true
	}
	for _, d := range s.Days {
		if d.Date == date {
			return d, true
		}
	}
	return Day{}, false
}

// recordTime writes a record's BCD date and time as 2006-01-02 15:04:05,
// or as their hex digits when they are not a time.
func recordTime(d citycard.BCDDate, tm citycard.BCDTime) string {
	t, err := citycard.TimeOf(d, tm, citycard.ChinaTime)
	if err != nil {
		return fmt.Sprintf("%s %s", d, tm)
	}
	return t.Format(time.DateTime)
}
