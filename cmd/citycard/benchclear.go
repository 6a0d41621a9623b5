package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

const benchClearUsage = `usage: citycard bench clear [--records N] [--seed S] [--db URL] [--out DIR] [--json] [--cpuprofile F]

Books N records of one business day (2026-12-01) into the journal before
the clock starts: our cards and two other issuers' of the city, across
many operators' terminals (bus validators, gates, POS), with a share of
other cities' cards (pending their issuer) and of duplicates, drawn from
the seed, each batch with its chunk totals as acquisition commits them.
Then, timed: the day's cycle is run (claimed, read, proved complete,
cleared under the operators' fee schedules), approved by two people,
closed, and its settlement files written to DIR. It prints the speed and
the checks (positions net to 0, every record claimed); with --json the
last line is one JSON object. The same seed gives byte-identical files.
Without --db it uses a fresh SQLite file in a temporary directory; a
postgres:// URL without search_path gets a fresh schema, dropped at the
end. Without --out the files go to a temporary directory, removed.

flags:
`

// Limits and shape of the bench's day.
const (
	benchClearRecordsMax = 1 << 30 // clearing.ItemsMax
	benchOperators       = 100
	benchBatchRecords    = 1000 // a terminal's upload
	benchBatchesACommit  = 64   // a group commit of the sequencer
)

// benchClearDay is the business day the bench books and clears.
var benchClearDay = clearing.DayOf(2026, 12, 1)

type benchClearOptions struct {
	records             int
	seed                uint64
	db, out, cpuProfile string
	json                bool
}

// benchClearResult is the outcome; the JSON field names are the contract
// of `--json`.
type benchClearResult struct {
	Records         int64           `json:"records"`
	Seconds         float64         `json:"seconds"`
	RecordsPerS     float64         `json:"records_per_s"`
	Parties         int             `json:"parties"`
	PositionsSumFen int64           `json:"positions_sum_fen"`
	Files           []clearing.File `json:"files"`
	Cleared         int64           `json:"cleared"`
	Pending         int64           `json:"pending_issuer"`
	Duplicates      int64           `json:"duplicates"`
	ClaimedFen      int64           `json:"claimed_fen"`
	BookSeconds     float64         `json:"booking_seconds"`
	RunSeconds      float64         `json:"run_seconds"`   // claim, read, prove, clear
	FilesSeconds    float64         `json:"files_seconds"` // approve, close, write the files
	PeakRSSMiB      float64         `json:"peak_rss_mib"`
	Cores           int             `json:"cores"`
	DB              string          `json:"db"`
	OK              bool            `json:"ok"`
}

func runBenchClear(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("bench clear", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, benchClearUsage); fs.PrintDefaults() }
	o := benchClearOptions{}
	fs.IntVar(&o.records, "records", 1_000_000, "records to book and clear")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the day's records")
	fs.StringVar(&o.db, "db", "", "database URL (default: a fresh SQLite file in a temporary directory)")
	fs.StringVar(&o.out, "out", "", "directory for the settlement files (default: a temporary one, removed)")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on the last line")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed part to this file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("bench clear: unexpected %q: %w", fs.Arg(0), errUsage)
	}
	if o.records <= 0 || o.records > benchClearRecordsMax {
		return fmt.Errorf("bench clear: --records must be 1 to %d: %w", benchClearRecordsMax, errUsage)
	}
	res, err := benchClear(ctx, e, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "clear on %s, %d cores\n", res.DB, res.Cores)
	fmt.Fprintf(e.stdout, "  %-22s %d (%d cleared, %d pending their issuer, %d duplicates)\n", "records booked", res.Records, res.Cleared, res.Pending, res.Duplicates)
	fmt.Fprintf(e.stdout, "  %-22s %.2f s (untimed)\n", "booking", res.BookSeconds)
	fmt.Fprintf(e.stdout, "  %-22s %.2f s: run %.2f s, approve, close and files %.2f s\n", "clearing", res.Seconds, res.RunSeconds, res.FilesSeconds)
	fmt.Fprintf(e.stdout, "  %-22s %.0f\n", "records/s cleared", res.RecordsPerS)
	fmt.Fprintf(e.stdout, "  %-22s %d, netting to %d fen\n", "parties", res.Parties, res.PositionsSumFen)
	fmt.Fprintf(e.stdout, "  %-22s %.0f MiB\n", "peak memory (RSS)", res.PeakRSSMiB)
	for _, f := range res.Files {
		fmt.Fprintf(e.stdout, "  file %s  sha256 %s  %d bytes\n", f.Name, f.SHA256, f.Size)
	}
	if o.json {
		if err := jsonLine(e.stdout, res); err != nil {
			return err
		}
	}
	if !res.OK {
		return fmt.Errorf("bench clear: a check failed: positions net to %d fen, %d of %d records claimed", res.PositionsSumFen, res.Records, o.records)
	}
	return nil
}

func benchClear(ctx context.Context, e env, o benchClearOptions) (*benchClearResult, error) {
	progress := func(format string, args ...any) { fmt.Fprintf(e.stderr, "bench clear: "+format+"\n", args...) }
	db, dropDB, err := benchDB(ctx, o.db, "citycard-bench-clear-")
	if err != nil {
		return nil, err
	}
	defer dropDB()
	out := o.out
	if out == "" {
		dir, err := os.MkdirTemp("", "citycard-bench-clear-files-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		out = dir
	}
	st, err := openStores(ctx, db)
	if err != nil {
		return nil, err
	}
	defer st.close()
	res := &benchClearResult{Cores: runtime.GOMAXPROCS(0), DB: st.url.Engine.String()}

	t0 := time.Now()
	bk, err := bookBenchDay(ctx, st, benchClearDay, o.seed, o.records, progress)
	if err != nil {
		return nil, err
	}
	res.BookSeconds = time.Since(t0).Seconds()

	// The cycle's clock: an hour after the cut-off, so that the close time
	// in the files is the same on every run.
	cal := clearing.DefaultCalendar()
	at := cal.End(benchClearDay).Add(time.Hour)
	cs, err := cyclesOver(ctx, st, func() time.Time { return at }, bk.fees...)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	progress("clearing %v", benchClearDay)
	t1 := time.Now()
	s, err := cs.Run(ctx, benchClearDay, "bench")
	if err != nil {
		return nil, err
	}
	res.RunSeconds = time.Since(t1).Seconds()
	progress("cleared in %.2f s; approving, closing, writing the files to %s", res.RunSeconds, out)
	t2 := time.Now()
	for _, by := range []string{"bench-reviewer", "bench-approver"} {
		if _, err := cs.Approve(ctx, benchClearDay, by); err != nil {
			return nil, err
		}
	}
	parties, err := partiesOf(ctx, st.registry)
	if err != nil {
		return nil, err
	}
	if _, err := cs.Close(ctx, benchClearDay, "bench", exchange.CloseFiles(parties)); err != nil {
		return nil, err
	}
	if res.Files, err = settleFiles(ctx, st, cs, benchClearDay, out, false); err != nil {
		return nil, err
	}
	res.FilesSeconds = time.Since(t2).Seconds()
	res.Seconds = time.Since(t1).Seconds()

	r := s.Result
	res.Records = r.Claim.Count
	res.ClaimedFen = r.Claim.AmountFen
	res.Cleared, res.Pending, res.Duplicates = r.Cleared.Count, r.Pending.Count, r.Duplicates.Count
	res.RecordsPerS = float64(res.Records) / res.Seconds
	res.Parties = len(r.Positions)
	for _, p := range r.Positions {
		res.PositionsSumFen += p.NetFen
	}
	res.PeakRSSMiB = peakRSSMiB()
	res.OK = res.PositionsSumFen == 0 && res.Records == int64(o.records) && res.ClaimedFen == bk.fen
	return res, nil
}

// benchBooked is what the bench booked.
type benchBooked struct {
	fen  int64 // the sum of the records' amounts
	fees []clearing.FeeSchedule
}

// bookBenchDay registers the day's parties and terminals and commits n
// records of day to the journal, drawn from seed: batches of one
// terminal each, committed a few at a time with their chunk totals, their
// commit times spread over the day. The records are not verified (the
// clearing does not read their MACs), and no ledger entry is made:
// clearing reads the journal alone.
func bookBenchDay(ctx context.Context, st *stores, day clearing.Day, seed uint64, n int, progress func(string, ...any)) (*benchBooked, error) {
	reg := registry.New(st.registry, time.Now)
	own := citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	issuers := []citycard.IssuerCode{own,
		{0x31, 0x50, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 0xFF}, {0x31, 0x50, 0x00, 0x03, 0xFF, 0xFF, 0xFF, 0xFF}, // the city's other issuers
		{0x21, 0x00, 0x00, 0x07, 0xFF, 0xFF, 0xFF, 0xFF}, {0x10, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}, {0x44, 0x03, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}, // other cities'
	}
	for i, code := range issuers {
		p := registry.Party{ID: code.String(), Type: registry.PartyIssuer, Code: code, Name: fmt.Sprintf("Issuer %v", code), Own: i == 0,
			SettlementAccount: fmt.Sprintf("ICBC 3901 %04d 0000", i)}
		if _, err := reg.AddParty(ctx, p); err != nil {
			return nil, err
		}
	}
	bk := &benchBooked{}
	types := []registry.TerminalType{registry.TerminalBusValidator, registry.TerminalGate, registry.TerminalPOS}
	sectors := []registry.Sector{registry.SectorBus, registry.SectorMetro, registry.SectorParking}
	terminals := min(4000, max(16, n/5000))
	var terms []citycard.TerminalID
	for i := range benchOperators {
		id := fmt.Sprintf("op-%03d", i)
		code := citycard.IssuerCode{0x31, 0x50, 0x10, byte(i), 0, 0, 0, 1}
		if _, err := reg.AddParty(ctx, registry.Party{ID: id, Type: registry.PartyOperator, Code: code, Sector: sectors[i%len(sectors)],
			Name: fmt.Sprintf("Operator %d", i), SettlementAccount: fmt.Sprintf("BOC 3580 %04d 0001", i)}); err != nil {
			return nil, err
		}
		bk.fees = append(bk.fees, clearing.FeeSchedule{Party: id, Rules: []clearing.FeeRule{
			{Name: "students", CardTypes: []uint8{2}, RatePPM: 2000},
			{Name: "passes", Products: []uint16{3}, FixedFen: 1},
			{Name: "pos", TerminalTypes: []registry.TerminalType{registry.TerminalPOS}, RatePPM: 6000, MinFen: 1, MaxFen: 50},
			{Name: "rest", RatePPM: 3800},
		}})
	}
	for i := range terminals {
		tid := citycard.TerminalID{0x31, 0x50, 0x20, byte(i >> 16), byte(i >> 8), byte(i)}
		op := i % benchOperators
		t := registry.Terminal{ID: tid, PSAM: citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0x20, byte(i >> 16), byte(i >> 8), byte(i)},
			Operator: fmt.Sprintf("op-%03d", op), Type: types[op%len(types)]}
		if _, err := reg.AddTerminal(ctx, t); err != nil {
			return nil, err
		}
		terms = append(terms, tid)
	}
	progress("booking %d records on %d terminals of %d operators", n, terminals, benchOperators)

	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	cal := clearing.DefaultCalendar()
	start := cal.Start(day)
	dayNs := int64(24 * time.Hour)
	seqs := make([]uint32, terminals)
	var pos int64
	batches := (n + benchBatchRecords - 1) / benchBatchRecords
	step := n / 10
	nextReport := step
	for b := 0; b < batches; b += benchBatchesACommit {
		// The commit's time: spread over the day, before its cut-off.
		c := &acquire.Commit{At: start.Add(time.Duration(int64(b) * dayNs / int64(batches+1)))}
		for k := b; k < min(b+benchBatchesACommit, batches); k++ {
			ti := rng.IntN(terminals)
			tid := terms[ti]
			id := fmt.Sprintf("b%07d", k)
			size := min(benchBatchRecords, n-k*benchBatchRecords)
			for range size {
				pos++
				r := record.Record{Type: citycard.TxPurchase, TerminalID: tid, PSAMID: citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0x20, tid[3], tid[4], tid[5]},
					CardType: uint8(1 + rng.IntN(4)), Product: uint16(rng.IntN(4)), Amount: uint32(100 + rng.IntN(900)), BalanceBefore: 100000}
				e := acquire.Journaled{Pos: pos, Terminal: tid, BatchID: id, Outcome: acquire.OutcomeVerified, Class: acquire.ClassBooked}
				switch x := rng.IntN(100); {
				case x < 85:
					r.Issuer = issuers[0]
				case x < 95:
					r.Issuer = issuers[1+rng.IntN(2)]
				default:
					r.Issuer = issuers[3+rng.IntN(3)]
					e.Outcome = acquire.OutcomePendingIssuer
					e.Flags = acquire.FlagPendingIssuer
				}
				if rng.IntN(200) == 0 {
					e.Class = acquire.ClassDuplicate
				}
				card := rng.Uint32N(2_000_000)
				r.ASN = citycard.ASN{0, 0, 0x31, 0x50, 0, 0x01, byte(card >> 24), byte(card >> 16), byte(card >> 8), byte(card)}
				r.Counter = uint16(rng.IntN(60000))
				seqs[ti]++
				r.TerminalSeq = seqs[ti]
				r.Date, r.Time = citycard.DateTime(c.At)
				copy(e.Raw[:], r.AppendBinary(nil))
				c.Entries = append(c.Entries, e)
				bk.fen += int64(r.Amount)
			}
			c.Batches = append(c.Batches, acquire.StoredBatch{Terminal: tid, ID: id, Answer: []byte("{}"), At: c.At})
			c.Movements = append(c.Movements, nil)
		}
		if err := st.journal.Commit(ctx, c); err != nil {
			return nil, err
		}
		if int(pos) >= nextReport {
			progress("booked %d of %d", pos, n)
			nextReport += step
		}
	}
	return bk, nil
}
