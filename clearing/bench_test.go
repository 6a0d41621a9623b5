package clearing

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

// synthetic returns n booked records of our cards and three other
// issuers' across operators operators, with their fee schedules: a day
// of a city, drawn from a fixed seed.
func synthetic(n, operators int) (Config, *Input) {
	rng := rand.New(rand.NewPCG(10, 20))
	cfg := Config{Calendar: DefaultCalendar(), Collector: our, Rounding: RoundHalfEven}
	ops := make([]string, operators)
	tts := []registry.TerminalType{registry.TerminalBusValidator, registry.TerminalGate, registry.TerminalPOS}
	for i := range ops {
		ops[i] = fmt.Sprintf("op-%02d", i)
		cfg.Fees = append(cfg.Fees, FeeSchedule{Party: ops[i], Rules: []FeeRule{
			{Name: "students", CardTypes: []uint8{2}, RatePPM: 2000},
			{Name: "passes", Products: []uint16{3}, FixedFen: 1},
			{Name: "pos", TerminalTypes: []registry.TerminalType{registry.TerminalPOS}, RatePPM: 6000, MinFen: 1, MaxFen: 50},
			{Name: "rest", RatePPM: 3800},
		}})
	}
	issuers := []string{our, our, our, our, our, our, our, "3150000200000002", "3300000100000001", foreign}
	items := make([]Item, n)
	at := cst(2026, 12, 1, 5, 0, 0)
	for i := range items {
		items[i] = Item{
			AcceptedAt: at, Class: acquire.ClassBooked, Outcome: acquire.OutcomeVerified,
			Issuer: issuers[rng.IntN(len(issuers))], Operator: ops[rng.IntN(operators)],
			TerminalType: tts[rng.IntN(len(tts))], Product: uint16(rng.IntN(4)), CardType: uint8(1 + rng.IntN(4)),
			AmountFen: 100 + rng.Int64N(900),
		}
	}
	return cfg, input(day1, 0, items...)
}

// BenchmarkClear clears a cycle of a million booked records across 50
// operators (the benchmark, without the store): go test
// -bench Clear -benchtime 5x ./clearing/.
func BenchmarkClear(b *testing.B) {
	const n = 1_000_000
	cfg, in := synthetic(n, 50)
	c := mustClearer(b, cfg)
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Clear(in)
		if err != nil {
			b.Fatal(err)
		}
		if res.Cleared.Count != n {
			b.Fatalf("cleared %d of %d", res.Cleared.Count, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkClearConcessions is BenchmarkClear with a funder's shares of
// every category and transfer discount, a fifth of the records a
// student's with both: the cost of concessions per record.
func BenchmarkClearConcessions(b *testing.B) {
	const n = 1_000_000
	cfg, in := synthetic(n, 50)
	cfg.Concessions = []ConcessionVersion{{Effective: day1, Funder: "bureau", Shares: []ConcessionShare{
		{Kind: ConcessionCategory, RiderCategory: AnyCategory, SharePPM: 1_000_000},
		{Kind: ConcessionTransfer, RiderCategory: AnyCategory, SharePPM: 500_000},
	}}}
	for i := range in.Items {
		it := &in.Items[i]
		it.FareFullFen = it.AmountFen
		if i%5 == 0 {
			it.RiderCategory, it.CategoryFen, it.FareFullFen = 1, it.AmountFen, it.AmountFen+50
		}
	}
	c := mustClearer(b, cfg)
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Clear(in)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Concessions) == 0 {
			b.Fatal("no claims")
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCategoryDiscount re-prices a student's metro leg with the
// sample Ningbo table: the cost per concession record of Gather with a
// fare table.
func BenchmarkCategoryDiscount(b *testing.B) {
	tab, err := fare.Load(os.DirFS("../fare/testdata/ningbo"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := NewTableFares(tab)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 8, 40, 0, 0, citycard.ChinaTime)
	d, tm := citycard.DateTime(at)
	ed, et := citycard.DateTime(at.Add(-40 * time.Minute))
	r := record.Record{Type: citycard.TxCompositePurchase, RiderCategory: 1, Date: d, Time: tm, Network: 2, Line: 1, Station: 106,
		EntryLine: 1, EntryStation: 101, EntryDate: ed, EntryTime: et, Amount: 200, FareFull: 200}
	for b.Loop() {
		if fen, ok := f.CategoryDiscount(&r); fen != 200 || !ok {
			b.Fatalf("discount %d, %v", fen, ok)
		}
	}
}
