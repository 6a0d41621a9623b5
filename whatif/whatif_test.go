package whatif

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
)

// fakeJournal is a journal of hand-made records, each its own batch,
// committed at its own time.
type fakeJournal struct {
	entries []acquire.Journaled
	at      []time.Time
	replays int // calls of Replay
}

func (j *fakeJournal) add(t testing.TB, class acquire.Class, committed time.Time, r record.Record) {
	t.Helper()
	raw, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	e := acquire.Journaled{Pos: int64(len(j.entries) + 1), Terminal: r.TerminalID, BatchID: fmt.Sprintf("e%d", len(j.entries)+1), Outcome: acquire.OutcomeVerified, Class: class}
	copy(e.Raw[:], raw)
	j.entries = append(j.entries, e)
	j.at = append(j.at, committed)
}

func (j *fakeJournal) Replay(ctx context.Context, from int64, fn func(e *acquire.Journaled) error) error {
	j.replays++
	for i := int(from); i < len(j.entries); i++ {
		e := j.entries[i]
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

func (j *fakeJournal) LastPos(context.Context) (int64, error) { return int64(len(j.entries)), nil }

func (j *fakeJournal) Batch(_ context.Context, t citycard.TerminalID, id string) (acquire.StoredBatch, bool, error) {
	var n int
	if _, err := fmt.Sscanf(id, "e%d", &n); err != nil || n < 1 || n > len(j.entries) || j.entries[n-1].Terminal != t {
		return acquire.StoredBatch{}, false, nil
	}
	return acquire.StoredBatch{Terminal: t, ID: id, At: j.at[n-1]}, true, nil
}

// mk is a record of card asn's purchase number counter at h:m of day,
// on network, line, station, charging fen (full fare the same).
func mk(asn byte, counter uint16, typ byte, network uint16, line, station uint32, when time.Time, fen uint32) record.Record {
	d, tm := citycard.DateTime(when)
	return record.Record{Status: record.StatusComplete, Type: typ, Issuer: sim.Issuer, ASN: citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0, 0, 0, asn},
		CardType: 1, Counter: counter, BalanceBefore: 10000, Amount: fen, TerminalID: citycard.TerminalID{0x31, 0x50, 0, 0, 0, byte(station)},
		PSAMID: citycard.PSAMID{9: 1}, TerminalSeq: uint32(counter), Date: d, Time: tm, Network: network, Line: line, Station: station,
		FareFull: fen, TAC: [4]byte{1}, RecordKeyVersion: 1}
}

func cat(r record.Record, c uint8) record.Record { r.RiderCategory = c; return r }

// entry gives tap-off r the entry of tap-on on.
func entry(r, on record.Record) record.Record {
	r.EntryLine, r.EntryStation, r.EntryDate, r.EntryTime = on.Line, on.Station, on.Date, on.Time
	return r
}

const (
	flat = citycard.TxCompositePurchase
	pos  = citycard.TxPurchase
)

func run(t *testing.T, j Journal, cfg Config) *Report {
	t.Helper()
	if cfg.From.IsZero() {
		cfg.From, cfg.To = day, day
	}
	rep, err := Run(context.Background(), j, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func p(v int64) *int64 { return &v }

func tot(records, legs, journeys, changed, old, new int64, re *int64, unrep *int64) Totals {
	return Totals{Records: records, Legs: legs, Journeys: journeys, RecordsChanged: changed, OldFen: old, NewFen: new, ChangeFen: new - old,
		RepricedOldFen: re, RecordsUnreproduced: unrep}
}

// TestReportByHand: a handful of records, each figure worked out from
// the sample feed and the new table (bus 2.00 -> 2.50):
//   - card 1, adult: bus b1 at 08:00, charged 2.00: now 2.50; bus b2 at
//     08:30, charged the bus-bus transfer 1.00 (fare_transfer_rules.txt
//     bus,bus: type 0, the transfer product alone on the later leg):
//     still 1.00, and no new journey;
//   - card 2, student: bus b1 at 09:10, charged 1.00 (50% of 2.00): now
//     1.25;
//   - card 3: a shop's POS (network 99), 5.00: not in the table;
//   - card 4: a grey record of 2.00: in suspense, not revenue;
//   - card 5: a boarding the next day (read for its journeys, not
//     reported) and one two days later (not read at all).
func TestReportByHand(t *testing.T) {
	j := &fakeJournal{}
	c := at(23, 0)
	j.add(t, acquire.ClassBooked, c, mk(1, 1, flat, netBus, 1, stBusGulou, at(8, 0), 200))
	j.add(t, acquire.ClassBooked, c, mk(1, 2, flat, netBus, 2, stBusTrain, at(8, 30), 100))
	j.add(t, acquire.ClassBooked, c, cat(mk(2, 7, flat, netBus, 1, stBusGulou, at(9, 10), 100), catStudent))
	j.add(t, acquire.ClassBooked, c, mk(3, 1, pos, netShop, 1, 1, at(9, 0), 500))
	j.add(t, acquire.ClassSuspense, c, mk(4, 1, flat, netBus, 1, stBusGulou, at(10, 0), 200))
	j.add(t, acquire.ClassBooked, c, mk(5, 1, flat, netBus, 1, stBusGulou, at(10, 0).AddDate(0, 0, 1), 200))
	j.add(t, acquire.ClassBooked, c, mk(5, 2, flat, netBus, 1, stBusGulou, at(10, 0).AddDate(0, 0, 2), 200))
	j.add(t, acquire.ClassDuplicate, c, mk(1, 1, flat, netBus, 1, stBusGulou, at(8, 0), 200))
	rep := run(t, j, Config{New: ningbo(t, busFare), Old: ningbo(t)})

	zero, none := p(0), p(0)
	want := tot(3, 3, 2, 2, 400, 475, p(400), zero)
	if !reflect.DeepEqual(rep.Totals, want) {
		t.Errorf("totals %+v, want %+v", rep.Totals, want)
	}
	if w := []NetworkRow{{Network: netBus, NetworkID: "bus", Totals: want}}; !reflect.DeepEqual(rep.ByNetwork, w) {
		t.Errorf("by network %+v, want %+v", rep.ByNetwork, w)
	}
	wantLines := []LineRow{
		{Network: netBus, Line: 1, RouteID: "b1", Totals: tot(2, 2, 2, 2, 300, 375, p(300), none)},
		{Network: netBus, Line: 2, RouteID: "b2", Totals: tot(1, 1, 0, 0, 100, 100, p(100), none)},
	}
	if !reflect.DeepEqual(rep.ByLine, wantLines) {
		t.Errorf("by line %+v, want %+v", rep.ByLine, wantLines)
	}
	wantCats := []CategoryRow{
		{RiderCategory: catAdult, RiderCategoryID: "adult", Totals: tot(2, 2, 1, 1, 300, 350, p(300), none)},
		{RiderCategory: catStudent, RiderCategoryID: "student", Totals: tot(1, 1, 1, 1, 100, 125, p(100), none)},
	}
	if !reflect.DeepEqual(rep.ByRiderCategory, wantCats) {
		t.Errorf("by rider category %+v, want %+v", rep.ByRiderCategory, wantCats)
	}
	for _, h := range rep.ByHour {
		w := tot(0, 0, 0, 0, 0, 0, p(0), none)
		switch h.Hour {
		case 8:
			w = tot(2, 2, 1, 1, 300, 350, p(300), none)
		case 9:
			w = tot(1, 1, 1, 1, 100, 125, p(100), none)
		}
		if !reflect.DeepEqual(h.Totals, w) {
			t.Errorf("hour %d: %+v, want %+v", h.Hour, h.Totals, w)
		}
	}
	if rep.Cards != 2 || rep.CardsAffected != 2 || rep.CardsPayMore != 2 || rep.CardsPayLess != 0 || rep.CardsPaySame != 0 {
		t.Errorf("cards %d, affected %d, more %d, less %d, same %d; want 2, 2, 2, 0, 0", rep.Cards, rep.CardsAffected, rep.CardsPayMore, rep.CardsPayLess, rep.CardsPaySame)
	}
	for i, b := range rep.ChangePerCard {
		var w Band
		if i == 4 { // 0.01 to 1.00: card 1 +0.50, card 2 +0.25
			w = Band{Cards: 2, ChangeFen: 75}
		}
		if b.Cards != w.Cards || b.ChangeFen != w.ChangeFen {
			t.Errorf("band %d: %d cards, %d fen; want %d, %d", i, b.Cards, b.ChangeFen, w.Cards, w.ChangeFen)
		}
	}
	if w := (Skipped{GreyRecords: 1, GreyFen: 200, NotInTableRecords: 1, NotInTableFen: 500}); rep.Skipped != w {
		t.Errorf("skipped %+v, want %+v", rep.Skipped, w)
	}
	if rep.RecordsRead != 8 {
		t.Errorf("%d records read, want 8", rep.RecordsRead)
	}
}

// TestBands: the band of each change at and beside each edge.
func TestBands(t *testing.T) {
	for _, tc := range []struct {
		fen  int64
		band int
	}{
		{-100000, 0}, {-1000, 0}, {-999, 1}, {-100, 1}, {-99, 2}, {-1, 2}, {0, 3}, {1, 4}, {100, 4}, {101, 5}, {500, 5}, {501, 6}, {1 << 40, 6},
	} {
		if got := bandOf(tc.fen); got != tc.band {
			t.Errorf("change %d: band %d, want %d", tc.fen, got, tc.band)
		}
	}
	rep := run(t, &fakeJournal{}, Config{New: ningbo(t)})
	for i, b := range rep.ChangePerCard {
		if (i == 0) != (b.MinFen == nil) || (i == len(BandEdges)) != (b.MaxFen == nil) {
			t.Errorf("band %d: open bounds %v %v", i, b.MinFen, b.MaxFen)
		}
		if b.MinFen != nil && bandOf(*b.MinFen) != i || b.MaxFen != nil && bandOf(*b.MaxFen) != i ||
			b.MinFen != nil && bandOf(*b.MinFen-1) != i-1 {
			t.Errorf("band %d [%v, %v] does not hold its bounds", i, deref(b.MinFen), deref(b.MaxFen))
		}
	}
}

// TestMetroOutOfOrder: a metro leg whose tap-off reaches the journal
// before its tap-on, after a bus the card boarded 20 minutes before,
// uploaded last. In counter order the replay sees bus, tap-on, tap-off:
// gq -> gulou_1 is 9000 m (route_stop_posts.txt), metro_3 3.00 (new
// table 3.50), less the bus-metro transfer discount 1.00 (type 1: the
// metro leg pays xfer_discount -1.00 plus its own fare): charged 2.00,
// now 2.50; the bus 2.00, now 2.50.
func TestMetroOutOfOrder(t *testing.T) {
	bus := mk(1, 1, flat, netBus, 1, stBusGulou, at(8, 0), 200)
	on := mk(1, 2, flat, netMetro, 1, stGQ, at(8, 20), 0)
	off := entry(mk(1, 3, flat, netMetro, 1, stGulou1, at(8, 40), 200), on)
	off.FareFull = 300
	j := &fakeJournal{}
	for _, r := range []record.Record{off, on, bus} {
		j.add(t, acquire.ClassBooked, at(23, 0), r)
	}
	rep := run(t, j, Config{New: ningbo(t, busFare, metroFare), Old: ningbo(t)})
	if want := tot(3, 2, 1, 2, 400, 500, p(400), p(0)); !reflect.DeepEqual(rep.Totals, want) {
		t.Errorf("totals %+v, want %+v", rep.Totals, want)
	}
	if rep.Assumed != (Assumed{}) {
		t.Errorf("assumed %+v, want nothing: every record came", rep.Assumed)
	}
	// With a window of one journal position, the tap-off cannot wait for the rest:
	// it is priced first, from the entry it carries, without the
	// transfer (metro_3, 3.50); the tap-on and the bus, older, come late
	// and are priced on their own, their kinds told without a next
	// record (a gate's tap-on charging nothing, a bus boarding).
	rep = run(t, j, Config{New: ningbo(t, busFare, metroFare), Old: ningbo(t), ReorderWindow: 1})
	if want := (Assumed{LateRecords: 2, EntryFromRecord: 1, TapKindGuessed: 2}); rep.NewFen != 250+350 || rep.Assumed != want {
		t.Errorf("window 1: new %d fen, assumed %+v; want 600 fen, %+v", rep.NewFen, rep.Assumed, want)
	}
}

// TestMissingTapOff: a tap-on at dmk never tapped off; the card's next
// tap-on, at gq, paid the metro's maximum fare 8.00 for it; the leg from
// gq tapped off at gulou_1, charged its own 3.00 (the 8.00 paid the
// leg from dmk: terminal.FareEngine counts it towards no later leg, and
// the replay follows); then a tap-off at fm with no tap-on: the maximum
// fare. The replay
// tells each tap from its successor: no record carries dmk's entry, so
// the dmk record, charging nothing at a gate, was a tap-on; the gq
// record, with a leg open, another; the fm record, no leg open, a
// tap-off without a tap-on.
func TestMissingTapOff(t *testing.T) {
	dmk := mk(1, 1, flat, netMetro, 1, stDMK, at(10, 0), 0)
	gq := mk(1, 2, flat, netMetro, 1, stGQ, at(11, 0), 800)
	off := entry(mk(1, 3, flat, netMetro, 1, stGulou1, at(11, 20), 0), gq)
	off.Amount, off.FareFull = 300, 300
	fm := mk(1, 4, flat, netMetro, 1, stFM, at(15, 0), 800)
	j := &fakeJournal{}
	for _, r := range []record.Record{dmk, gq, off, fm} {
		j.add(t, acquire.ClassBooked, at(23, 0), r)
	}
	// The adult day cap raised to 100.00, so that it lowers nothing.
	old := ningbo(t, [3]string{"fare_caps.txt", "adult,day,10.00", "adult,day,100.00"})
	rep := run(t, j, Config{New: old, Old: old})
	if want := tot(4, 2, 2, 0, 1900, 1900, p(1900), p(0)); !reflect.DeepEqual(rep.Totals, want) {
		t.Errorf("totals %+v, want %+v", rep.Totals, want)
	}
	if rep.Assumed.TapKindGuessed != 1 {
		t.Errorf("assumed %+v, want the last record's kind guessed (no record after it)", rep.Assumed)
	}
}

// TestCounterGap: card 1's purchase 2 never reached the journal (a grey
// record, another city's terminal): 3 waits for it, then is priced at
// the end, the gap bridged.
func TestCounterGap(t *testing.T) {
	j := &fakeJournal{}
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 3, flat, netBus, 1, stBusGulou, at(12, 0), 200))
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 1, flat, netBus, 1, stBusGulou, at(8, 0), 200))
	rep := run(t, j, Config{New: ningbo(t)})
	if rep.Records != 2 || rep.Assumed.AfterGapRecords != 1 || rep.Assumed.LateRecords != 0 {
		t.Errorf("%d records, assumed %+v; want 2, 1 after a gap", rep.Records, rep.Assumed)
	}
}

// TestWaitingBound: a card's records wait for an earlier one 64 at most;
// the 65th prices the earliest, bridging the gap, and the rest follow in
// order. The missing purchase 1, when it comes, is late.
func TestWaitingBound(t *testing.T) {
	for _, n := range []int{maxWaitingPerCard, maxWaitingPerCard + 1} {
		j := &fakeJournal{}
		for i := range n {
			j.add(t, acquire.ClassBooked, at(23, 0), mk(1, uint16(2+i), pos, netBus, 1, stBusGulou, at(6, 0).Add(time.Duration(i)*time.Minute), 200))
		}
		j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 1, pos, netBus, 1, stBusGulou, at(5, 0), 200))
		rep := run(t, j, Config{New: ningbo(t)})
		late := int64(0)
		if n > maxWaitingPerCard {
			late = 1
		}
		if rep.Records != int64(n+1) || rep.Assumed.LateRecords != late || rep.Assumed.AfterGapRecords != 0 {
			t.Errorf("%d waiting: %d records, assumed %+v; want %d records, %d late", n, rep.Records, rep.Assumed, n+1, late)
		}
	}
}

// TestMaxCards: a replay keeps at most MaxCards cards; one more is an
// error of kind Invalid that says so.
func TestMaxCards(t *testing.T) {
	j := &fakeJournal{}
	for i := range 3 {
		j.add(t, acquire.ClassBooked, at(23, 0), mk(byte(1+i), 1, pos, netBus, 1, stBusGulou, at(8, 0), 200))
	}
	for _, workers := range []int{1, 2} {
		if rep, err := Run(context.Background(), j, Config{From: day, To: day, New: ningbo(t), MaxCards: 3, Workers: workers}); err != nil || rep.Cards != 3 {
			t.Errorf("3 cards, at most 3: %v, %v", rep, err)
		}
		_, err := Run(context.Background(), j, Config{From: day, To: day, New: ningbo(t), MaxCards: 2, Workers: workers})
		if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "more than 2 cards") {
			t.Errorf("3 cards, at most 2, %d workers: %v, want kind Invalid naming the bound", workers, err)
		}
	}
}

// TestMaxLines: lines past MaxLines are summed in one row.
func TestMaxLines(t *testing.T) {
	for _, n := range []int{MaxLines, MaxLines + 2} {
		s := newSums()
		for i := range n {
			s.count(netBus, uint32(i), 0, 8, &priced{leg: true, oldFen: 200, newFen: 250, reproduced: true})
		}
		var r Report
		s.fill(&r, ningbo(t), false)
		rows := MaxLines
		if n > MaxLines {
			rows++
		}
		last := r.ByLine[len(r.ByLine)-1]
		if len(r.ByLine) != rows || (n > MaxLines) != last.Other || n > MaxLines && last.Records != int64(n-MaxLines) {
			t.Errorf("%d lines: %d rows, the last %+v", n, len(r.ByLine), last)
		}
	}
}

// TestDays: a replay covers 1 to MaxDays days.
func TestDays(t *testing.T) {
	for _, tc := range []struct {
		days int
		ok   bool
	}{{1, true}, {MaxDays, true}, {MaxDays + 1, false}, {0, false}} {
		_, err := Run(context.Background(), &fakeJournal{}, Config{From: day, To: day.AddDate(0, 0, tc.days-1), New: ningbo(t)})
		if tc.ok != (err == nil) || !tc.ok && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%d days: %v", tc.days, err)
		}
	}
	if _, err := Run(context.Background(), &fakeJournal{}, Config{From: day, To: day}); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("no table: %v, want kind Invalid", err)
	}
}

// TestJournalWindow: the replay reads the batches committed from the day
// before the first day to LagDays after the day after the last, found by
// a binary search, and everything with WholeJournal.
func TestJournalWindow(t *testing.T) {
	j := &fakeJournal{}
	r := mk(1, 1, pos, netBus, 1, stBusGulou, at(8, 0), 200)
	var commits []time.Time
	for d := -3; d <= 12; d++ {
		commits = append(commits, day.AddDate(0, 0, d).Add(12*time.Hour))
	}
	for i, c := range commits {
		rr := r
		rr.Counter = uint16(1 + i)
		rr.ASN[9] = byte(1 + i) // one card each: no chain between them
		j.add(t, acquire.ClassBooked, c, rr)
	}
	rep := run(t, j, Config{New: ningbo(t), LagDays: 2})
	// Committed from day-1 (position 3) to day+1+2 (position 7, the last
	// before day+4 00:00).
	if rep.JournalFirstPos != 3 || rep.JournalLastPos != 7 || rep.RecordsRead != 5 || rep.Records != 5 {
		t.Errorf("read %d to %d (%d read, %d re-priced), want 3 to 7", rep.JournalFirstPos, rep.JournalLastPos, rep.RecordsRead, rep.Records)
	}
	rep = run(t, j, Config{New: ningbo(t), WholeJournal: true})
	if rep.JournalFirstPos != 1 || rep.JournalLastPos != int64(len(commits)) || rep.Records != int64(len(commits)) {
		t.Errorf("whole journal: read %d to %d, %d records", rep.JournalFirstPos, rep.JournalLastPos, rep.Records)
	}
	// Nothing committed in the window: nothing read.
	rep = run(t, j, Config{From: day.AddDate(0, 0, 20), To: day.AddDate(0, 0, 20), New: ningbo(t)})
	if rep.RecordsRead != 0 || rep.JournalFirstPos != 0 {
		t.Errorf("window past the journal: %d records read from %d", rep.RecordsRead, rep.JournalFirstPos)
	}
}

// TestJournalFaults: an entry that does not decode is kind IO; a
// journal's own error keeps its kind; a context that ends stops the
// replay, kind Unavailable.
func TestJournalFaults(t *testing.T) {
	j := &fakeJournal{}
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 1, pos, netBus, 1, stBusGulou, at(8, 0), 200))
	j.entries[0].Raw[0] = 'X'
	_, err := Run(context.Background(), j, Config{From: day, To: day, New: ningbo(t), WholeJournal: true})
	if !citycard.IsKind(err, citycard.IO) || !strings.Contains(err.Error(), "journal position 1") {
		t.Errorf("undecodable entry: %v, want kind IO naming the entry", err)
	}
	_, err = Run(context.Background(), failing{}, Config{From: day, To: day, New: ningbo(t), WholeJournal: true})
	if !citycard.IsKind(err, citycard.Unavailable) {
		t.Errorf("failing journal: %v, want its kind Unavailable", err)
	}
	big := &fakeJournal{}
	for i := range progressEvery + 1 {
		big.add(t, acquire.ClassLoad, at(23, 0), mk(byte(i%200), uint16(i), pos, netBus, 1, stBusGulou, at(8, 0), 200))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	_, err = Run(ctx, big, Config{From: day, To: day, New: ningbo(t), WholeJournal: true, Progress: func(Progress) {
		if calls.Add(1) == 1 {
			cancel()
		}
	}})
	if !citycard.IsKind(err, citycard.Unavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v, want kind Unavailable wrapping context.Canceled", err)
	}
}

type failing struct{}

func (failing) Replay(context.Context, int64, func(*acquire.Journaled) error) error {
	return citycard.E("test", citycard.Unavailable, "down")
}
func (failing) LastPos(context.Context) (int64, error) { return 1, nil }
func (failing) Batch(context.Context, citycard.TerminalID, string) (acquire.StoredBatch, bool, error) {
	return acquire.StoredBatch{}, false, nil
}

// TestTables: every table's rows have its header's columns; the CSV
// reads back; the text shows amounts in yuan.
func TestTables(t *testing.T) {
	j := &fakeJournal{}
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 1, flat, netBus, 1, stBusGulou, at(8, 0), 200))
	for _, old := range []bool{false, true} {
		cfg := Config{New: ningbo(t, busFare)}
		if old {
			cfg.Old = ningbo(t)
		}
		rep := run(t, j, cfg)
		names := map[string]bool{}
		for _, tb := range rep.Tables() {
			names[tb.Name] = true
			var buf bytes.Buffer
			if err := tb.WriteCSV(&buf); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil || len(rows) != len(tb.Rows)+1 {
				t.Fatalf("%s: %d rows read back, %v", tb.Name, len(rows), err)
			}
			if hasRe := slicesContains(tb.Header, "repriced_old_fen"); tb.Name != "summary.csv" && tb.Name != "change_per_card.csv" && hasRe != old {
				t.Errorf("%s with old table %v: header %v", tb.Name, old, tb.Header)
			}
		}
		if len(names) != 6 {
			t.Errorf("tables %v", names)
		}
		var buf bytes.Buffer
		if err := rep.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		if s := buf.String(); !strings.Contains(s, "2.50") || !strings.Contains(s, "0.50 yuan") || strings.Contains(s, "old_fen") {
			t.Errorf("text:\n%s", s)
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestPlainPurchase: a plain purchase on a network the table knows is a
// boarding on its own: no transfer from the boarding before it, no
// journey written for the boarding after it.
func TestPlainPurchase(t *testing.T) {
	j := &fakeJournal{}
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 1, flat, netBus, 1, stBusGulou, at(8, 0), 200))
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 2, pos, netBus, 1, stBusGulou, at(8, 10), 200))
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 3, flat, netBus, 2, stBusTrain, at(8, 20), 100))
	rep := run(t, j, Config{New: ningbo(t, busFare)})
	// 2.50, 2.50 (no transfer from a POS), 1.00 (the transfer from the
	// first boarding, through the card's transit file).
	if rep.NewFen != 250+250+100 || rep.Journeys != 2 {
		t.Errorf("new %d fen, %d journeys; want 600, 2", rep.NewFen, rep.Journeys)
	}
}

// TestOperatingDay: the days replayed are the operating days of the table
// in service. With its day ending at 04:00, a boarding at 02:00 on the
// next calendar day is of the day replayed, and one at 02:00 on the day
// itself of the day before.
func TestOperatingDay(t *testing.T) {
	fourAM := [3]string{"feed_info.txt", "feed_lang,feed_version\nNingbo-like sample city (citycard),https://example.org/citycard,zh-CN,2025.06-1",
		"feed_lang,feed_version,operating_day_end_time\nNingbo-like sample city (citycard),https://example.org/citycard,zh-CN,2025.06-1,04:00:00"}
	j := &fakeJournal{}
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 1, pos, netBus, 1, stBusGulou, at(2, 0), 300))
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 2, pos, netBus, 1, stBusGulou, at(8, 0), 200))
	j.add(t, acquire.ClassBooked, at(23, 0), mk(1, 3, pos, netBus, 1, stBusGulou, at(2, 0).AddDate(0, 0, 1), 400))
	for _, tc := range []struct {
		table  *fare.Table
		old    int64
		dayCut string
	}{
		{ningbo(t), 300 + 200, "00:00 China time"},
		{ningbo(t, fourAM), 200 + 400, "04:00 China time"},
	} {
		rep := run(t, j, Config{New: ningbo(t), Old: tc.table})
		if rep.Records != 2 || rep.OldFen != tc.old || !strings.HasPrefix(rep.DayCut, tc.dayCut) {
			t.Errorf("cut %s: %d records, %d fen; want 2, %d (%s)", rep.DayCut, rep.Records, rep.OldFen, tc.old, tc.dayCut)
		}
	}
}
