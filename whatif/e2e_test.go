package whatif

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
)

// expected is what a report must say, computed from two worlds that rode
// the same script: the records as charged (old) and the records the
// terminals of the new table made for the same taps (new).
type expected struct {
	all           Totals
	byNet         map[uint16]*Totals
	byHour        [24]Totals
	byCat         map[uint8]*Totals
	perCard       map[citycard.ASN]int64 // new - old
	notInTable    int64
	notInTableFen int64
}

func expect(t *testing.T, old, new *world) expected {
	t.Helper()
	e := expected{byNet: map[uint16]*Totals{}, byCat: map[uint8]*Totals{}, perCard: map[citycard.ASN]int64{}}
	add := func(x *Totals, o, n int64) {
		x.Records++
		x.OldFen += o
		x.NewFen += n
		x.ChangeFen += n - o
		if o != n {
			x.RecordsChanged++
		}
	}
	for k, r := range old.recs {
		if r.Network == netShop {
			e.notInTable++
			e.notInTableFen += int64(r.Amount)
			continue
		}
		nr, ok := new.recs[k]
		if !ok || nr.Date != r.Date || nr.Time != r.Time || nr.Station != r.Station {
			t.Fatalf("card %v counter %d: the new world has %+v for %+v", k.asn, k.counter, nr, r)
		}
		o, n := int64(r.Amount), int64(nr.Amount)
		add(&e.all, o, n)
		if e.byNet[r.Network] == nil {
			e.byNet[r.Network] = &Totals{}
		}
		add(e.byNet[r.Network], o, n)
		if e.byCat[r.RiderCategory] == nil {
			e.byCat[r.RiderCategory] = &Totals{}
		}
		add(e.byCat[r.RiderCategory], o, n)
		h := int(r.Time[0]>>4)*10 + int(r.Time[0]&0xF)
		add(&e.byHour[h], o, n)
		e.perCard[r.ASN] += n - o
	}
	return e
}

func sameSums(t *testing.T, where string, got Totals, want Totals) {
	t.Helper()
	if got.Records != want.Records || got.OldFen != want.OldFen || got.NewFen != want.NewFen || got.ChangeFen != want.ChangeFen || got.RecordsChanged != want.RecordsChanged {
		t.Errorf("%s: %d records, old %d, new %d, change %d, %d changed; want %d, %d, %d, %d, %d", where,
			got.Records, got.OldFen, got.NewFen, got.ChangeFen, got.RecordsChanged,
			want.Records, want.OldFen, want.NewFen, want.ChangeFen, want.RecordsChanged)
	}
	if got.RepricedOldFen == nil || *got.RepricedOldFen != got.OldFen || got.RecordsUnreproduced == nil || *got.RecordsUnreproduced != 0 {
		t.Errorf("%s: the old table replayed gives %v fen and %v records unreproduced, want %d and 0", where, deref(got.RepricedOldFen), deref(got.RecordsUnreproduced), got.OldFen)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestReplayCity rides a day of a small city with real cards and
// terminals under the sample feed, ingests its records (batches shuffled,
// so that each card's records reach the journal out of order), and
// replays the journal under a table with dearer buses and 6-12 km metro
// legs. The same script ridden under the new table by terminals of the new
// table is the independent answer: the replay must give, record by
// record, what those terminals charged (summed per network, rider
// category, hour and card), and the old table replayed must give back
// what the records charged.
func TestReplayCity(t *testing.T) {
	oldT, newT := ningbo(t), ningbo(t, busFare, metroFare)
	script := cityScript(len(cityCards()), 7)
	old, new := ride(t, oldT, script), ride(t, newT, script)
	j := acquire.NewMemJournal()
	ingest(t, old, j, 11)
	e := expect(t, old, new)
	// Dearer buses reach the day cap sooner: some metro legs pay less.
	if e.all.ChangeFen <= 0 || e.byNet[netBus].ChangeFen <= 0 || e.byNet[netMetro].RecordsChanged == 0 || e.notInTable == 0 {
		t.Fatalf("the script does not exercise the change: %+v bus %+v metro %+v", e.all, e.byNet[netBus], e.byNet[netMetro])
	}

	var reports []*Report
	for _, workers := range []int{1, 3} {
		rep, err := Run(context.Background(), j, Config{From: day, To: day, New: newT, Old: oldT, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rep)
	}
	rep := reports[0]
	a, _ := json.Marshal(reports[0])
	b, _ := json.Marshal(reports[1])
	if string(a) != string(b) {
		t.Errorf("1 worker and 3 workers report differently:\n%s\n%s", a, b)
	}

	sameSums(t, "all", rep.Totals, e.all)
	for _, n := range rep.ByNetwork {
		sameSums(t, "network "+n.NetworkID, n.Totals, *e.byNet[n.Network])
		delete(e.byNet, n.Network)
	}
	if len(e.byNet) > 0 {
		t.Errorf("networks %v missing from the report", e.byNet)
	}
	for _, c := range rep.ByRiderCategory {
		sameSums(t, "rider category "+c.RiderCategoryID, c.Totals, *e.byCat[c.RiderCategory])
	}
	for h, r := range rep.ByHour {
		if r.Hour != h {
			t.Fatalf("hour row %d is hour %d", h, r.Hour)
		}
		if e.byHour[h].Records == 0 {
			if r.Records != 0 {
				t.Errorf("hour %d: %d records, want none", h, r.Records)
			}
			continue
		}
		sameSums(t, "hour", r.Totals, e.byHour[h])
	}
	var lineSum Totals
	for _, l := range rep.ByLine {
		lineSum.Records += l.Records
		lineSum.NewFen += l.NewFen
	}
	if lineSum.Records != e.all.Records || lineSum.NewFen != e.all.NewFen {
		t.Errorf("lines sum to %d records, %d fen; want %d, %d", lineSum.Records, lineSum.NewFen, e.all.Records, e.all.NewFen)
	}

	// The cards, and the change per card in bands.
	var more, less, same, affected int64
	bands := make([]Band, len(BandEdges)+1)
	for _, c := range e.perCard {
		switch {
		case c > 0:
			more++
		case c < 0:
			less++
		default:
			same++
		}
		bands[bandOf(c)].Cards++
		bands[bandOf(c)].ChangeFen += c
	}
	for k, r := range old.recs {
		if r.Network != netShop && new.recs[k].Amount != r.Amount {
			affected++
		}
	}
	if rep.Cards != int64(len(e.perCard)) || rep.CardsPayMore != more || rep.CardsPayLess != less || rep.CardsPaySame != same {
		t.Errorf("cards %d: %d pay more, %d less, %d the same; want %d: %d, %d, %d", rep.Cards, rep.CardsPayMore, rep.CardsPayLess, rep.CardsPaySame,
			len(e.perCard), more, less, same)
	}
	if rep.CardsAffected == 0 || rep.CardsAffected > affected {
		t.Errorf("%d cards affected, want 1 to %d (cards with a record priced differently)", rep.CardsAffected, affected)
	}
	for i, b := range rep.ChangePerCard {
		if b.Cards != bands[i].Cards || b.ChangeFen != bands[i].ChangeFen {
			t.Errorf("band %d [%v, %v]: %d cards, %d fen; want %d, %d", i, deref(b.MinFen), deref(b.MaxFen), b.Cards, b.ChangeFen, bands[i].Cards, bands[i].ChangeFen)
		}
	}
	if rep.Skipped.NotInTableRecords != e.notInTable || rep.Skipped.NotInTableFen != e.notInTableFen || rep.Skipped.UnpricedRecords != 0 || rep.Skipped.GreyRecords != 0 {
		t.Errorf("skipped %+v, want %d records of the shop (%d fen) and nothing else", rep.Skipped, e.notInTable, e.notInTableFen)
	}
	// Every card's records were in the journal: nothing was late, after a
	// gap, or a tap-off without its tap-on replayed.
	if as := rep.Assumed; as.LateRecords != 0 || as.AfterGapRecords != 0 || as.EntryFromRecord != 0 || as.HeldProducts == 0 {
		t.Errorf("assumed %+v", as)
	}
	if rep.RecordsRead != int64(len(old.recs)) || rep.JournalFirstPos != 1 {
		t.Errorf("read %d records from %d, want %d from 1", rep.RecordsRead, rep.JournalFirstPos, len(old.recs))
	}
	if !reflect.DeepEqual(rep.From, "2026-11-24") || rep.To != rep.From || rep.NewFareVersion != newT.Version() || rep.OldFareVersion != oldT.Version() {
		t.Errorf("report of %s to %s, versions %s, %s", rep.From, rep.To, rep.NewFareVersion, rep.OldFareVersion)
	}
}
