package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/postgres"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

const benchUsage = `usage: citycard bench ingest [--records N] [--cards M] [--db URL] [--json]
       citycard bench clear ... (the clearing benchmark: citycard bench clear -h)
       citycard bench gate --app campus|venue|library|site --taps N [--json]   (bench gate -h)
       citycard bench load [--cards N] [--rate R] [--seconds S] [--db URL] [--json] (bench load -h)
       citycard bench api-check [--rate R] [--seconds S] [--db URL] [--json]     (bench api-check -h)

Makes N genuine signed records of M virtual cards on simulated terminals
(plus a small share of duplicates and forgeries) before the clock starts,
then uploads them over loopback HTTP in batches; the back office verifies,
classifies, journals and books them. It prints records/s booked, batch
latency p50/p99 and peak memory, and checks that every genuine record is
booked once, no forgery is, and the ledger balances; it exits non-zero if
a check fails. Without --db it uses a fresh SQLite file in a temporary
directory; a postgres:// URL without search_path gets a fresh schema,
dropped at the end.

flags:
`

func runBench(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "clear" {
		return runBenchClear(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "gate" {
		return runBenchGate(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "load" {
		return runBenchLoad(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "api-check" {
		return runBenchAppCheck(ctx, e, args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, benchUsage); fs.PrintDefaults() }
	o := benchOptions{}
	fs.IntVar(&o.records, "records", 200000, "genuine records to upload")
	fs.IntVar(&o.cards, "cards", 50000, "cards that make them")
	fs.IntVar(&o.terminals, "terminals", 0, "terminals (0: one per 5000 records, at least 16)")
	fs.IntVar(&o.batch, "batch", 1000, "records per upload batch")
	fs.IntVar(&o.uploaders, "uploaders", 8, "concurrent uploading terminals")
	fs.StringVar(&o.db, "db", "", "database URL (default: a fresh SQLite file in a temporary directory)")
	fs.StringVar(&o.alg, "alg", "3des", "card algorithm: 3des or sm4")
	fs.Float64Var(&o.dup, "dup", 0.01, "share of genuine records uploaded twice")
	fs.Float64Var(&o.forge, "forge", 0.001, "share of genuine records with a forged copy")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on the last line")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the upload phase to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write allocation profiles at the start (`file`.start) and end (file) of the upload phase: go tool pprof -sample_index=alloc_space -diff_base file.start file")
	what, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if what != "ingest" {
		fs.Usage()
		return fmt.Errorf("bench: unknown benchmark %q (want ingest, or clear, gate or load first: citycard bench load -h): %w", what, errUsage)
	}
	if o.records <= 0 || o.cards <= 0 || o.batch <= 0 || o.batch > acquire.MaxBatchRecords || o.uploaders <= 0 {
		return fmt.Errorf("bench: --records, --cards, --uploaders must be positive and --batch 1 to %d: %w", acquire.MaxBatchRecords, errUsage)
	}
	res, err := benchIngest(ctx, e, o)
	if err != nil {
		return err
	}
	return reportBench(e, "bench", res, res.OK, o.json)
}

type benchOptions struct {
	records, cards, terminals, batch, uploaders int
	db, alg, cpuProfile, memProfile             string
	dup, forge                                  float64
	json                                        bool
}

// benchResult is the outcome; the JSON field names are the contract of
// `--json`.
type benchResult struct {
	Records        int64   `json:"records"` // uploaded, duplicates and forgeries included
	Genuine        int64   `json:"genuine"`
	Booked         int64   `json:"booked"`
	Duplicates     int64   `json:"duplicates"` // uploaded as duplicates
	DuplicatesSeen int64   `json:"duplicates_answered"`
	Forged         int64   `json:"forged"`
	ForgedBooked   int64   `json:"forged_booked"`
	Rejected       int64   `json:"rejected"`
	Seconds        float64 `json:"seconds"`
	RecordsPerS    float64 `json:"records_per_s"`
	// CPUSeconds is the process's CPU time (user and system) over the
	// upload phase, server and uploaders together: on a shared machine a
	// truer figure than the wall time.
	CPUSeconds     float64 `json:"cpu_seconds"`
	RecordsPerCPUS float64 `json:"records_per_cpu_s"`
	BatchP50Ms     float64 `json:"batch_p50_ms"`
	BatchP99Ms     float64 `json:"batch_p99_ms"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
	GenerateS      float64 `json:"generate_seconds"`
	RestartS       float64 `json:"restart_seconds"` // reloading the state from checkpoint and journal
	ChainIntact    bool    `json:"ledger_chain_intact"`
	BalancesSumFen int64   `json:"ledger_balances_sum_fen"`
	FloatFen       int64   `json:"float_moved_fen"`
	GenuineFen     int64   `json:"genuine_fen"`
	Cores          int     `json:"cores"`
	DB             string  `json:"db"`
	Batches        int64   `json:"batches"`
	// Checks are the verdicts, computed once (judge) from the figures
	// above: the table prints them, the JSON carries them, and the exit
	// status follows them.
	Checks []benchCheck `json:"checks"`
	OK     bool         `json:"ok"`
}

// benchCheck is one of the bench's checks.
type benchCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// judge computes the checks from the figures, once.
func (r *benchResult) judge() {
	r.Checks = []benchCheck{
		{"every genuine record once", r.Booked == r.Genuine && r.DuplicatesSeen == r.Duplicates && r.Rejected == r.Forged,
			fmt.Sprintf("%d booked of %d genuine; %d duplicates answered of %d sent; %d rejected of %d forged", r.Booked, r.Genuine, r.DuplicatesSeen, r.Duplicates, r.Rejected, r.Forged)},
		{"no forgery booked", r.ForgedBooked == 0, fmt.Sprintf("%d of %d forged booked", r.ForgedBooked, r.Forged)},
		{"ledger balanced", r.ChainIntact && r.BalancesSumFen == 0, fmt.Sprintf("hash chain intact: %v; balances sum to %d fen", r.ChainIntact, r.BalancesSumFen)},
		{"float moved = cards spent", r.FloatFen == r.GenuineFen, fmt.Sprintf("float moved %d fen, cards spent %d", r.FloatFen, r.GenuineFen)},
	}
	r.OK = true
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
}

func (r *benchResult) print(w io.Writer) {
	fmt.Fprintf(w, "ingest on %s, %d cores\n", r.DB, r.Cores)
	fmt.Fprintf(w, "  %-28s %d (%d genuine, %d duplicates, %d forged)\n", "records uploaded", r.Records, r.Genuine, r.Duplicates, r.Forged)
	fmt.Fprintf(w, "  %-28s %d in %d batches\n", "booked", r.Booked, r.Batches)
	fmt.Fprintf(w, "  %-28s %.2f s\n", "upload and booking", r.Seconds)
	fmt.Fprintf(w, "  %-28s %.0f\n", "records/s booked", r.RecordsPerS)
	fmt.Fprintf(w, "  %-28s %.2f s (%.0f records per CPU second)\n", "CPU time (user+system)", r.CPUSeconds, r.RecordsPerCPUS)
	fmt.Fprintf(w, "  %-28s p50 %.1f ms, p99 %.1f ms\n", "batch latency", r.BatchP50Ms, r.BatchP99Ms)
	fmt.Fprintf(w, "  %-28s %.0f MiB\n", "peak memory (RSS)", r.PeakRSSMiB)
	fmt.Fprintf(w, "  %-28s %.2f s\n", "generating the records", r.GenerateS)
	fmt.Fprintf(w, "  %-28s %.2f s\n", "restart (load state)", r.RestartS)
	for _, c := range r.Checks {
		verdict := "ok"
		if !c.OK {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "  %-28s %s (%s)\n", c.Name, verdict, c.Detail)
	}
}

func benchIngest(ctx context.Context, e env, o benchOptions) (*benchResult, error) {
	progress := func(format string, args ...any) { fmt.Fprintf(e.stderr, "bench: "+format+"\n", args...) }
	alg, err := keys.ParseAlg(o.alg)
	if err != nil {
		return nil, err
	}
	st, closeStores, err := openBenchStores(ctx, e, o.db)
	if err != nil {
		return nil, err
	}
	defer closeStores()
	res := &benchResult{Cores: runtime.GOMAXPROCS(0), DB: st.url.Engine.String()}

	nTerm := o.terminals
	if nTerm == 0 {
		nTerm = max(16, o.records/5000)
	}
	nTerm = min(nTerm, 65536)
	t0 := time.Now()
	progress("making a city: %d terminals, %d cards", nTerm, o.cards)
	city, err := sim.NewCity(sim.Config{Seed: 1, Alg: alg, Terminals: nTerm, Cards: o.cards})
	if err != nil {
		return nil, err
	}
	progress("sealing %d records", o.records)
	ups := city.Day(o.records, func(done int) {
		if done%(1<<20) == 0 {
			progress("  %d sealed", done)
		}
	})
	dups, forged := sim.Spoil(ups, o.dup, o.forge, 2)
	res.Duplicates, res.Forged = int64(dups), int64(forged)
	for _, u := range ups {
		res.Records += int64(len(u.Records))
		res.Genuine += int64(u.Genuine)
		res.GenuineFen += u.GenuineFen
	}
	res.GenerateS = time.Since(t0).Seconds()
	progress("made %d records (%d duplicates, %d forged) in %.1f s", res.Records, dups, forged, res.GenerateS)

	// The registry: our issuer, the operators, every terminal with a token.
	reg := registry.NewAuthCaching(st.registry, time.Now, 0)
	if _, err := reg.AddParty(ctx, registry.Party{ID: sim.Issuer.String(), Type: registry.PartyIssuer, Code: sim.Issuer, Name: "Simulated city card", Own: true, SettlementAccount: "bank 0001 account 1"}); err != nil {
		return nil, err
	}
	for i, op := range city.Operators {
		if _, err := reg.AddParty(ctx, registry.Party{ID: op, Type: registry.PartyOperator, Code: city.OperatorCodes[i], Sector: registry.Sector(1), Name: op, SettlementAccount: "bank 0001 account " + op}); err != nil {
			return nil, err
		}
	}
	tokens := make([]string, len(city.Terminals))
	for i, t := range city.Terminals {
		if _, err := reg.AddTerminal(ctx, registry.Terminal{ID: t.ID, PSAM: t.PSAM, Operator: t.Operator, Type: registry.TerminalType(1), Line: t.Line, Station: t.Station}); err != nil {
			return nil, err
		}
		if tokens[i], err = reg.IssueCredential(ctx, t.ID); err != nil {
			return nil, err
		}
	}

	acq, srv, addr, err := startBackOffice(ctx, st, city.Store, reg)
	if err != nil {
		return nil, err
	}
	defer srv.Close()

	// Upload: each uploader takes terminals in turn and sends their
	// records in batches, in the order each terminal sealed them.
	progress("uploading over %s with %d uploaders, batches of %d", addr, o.uploaders, o.batch)
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var sent atomic.Int64
	var firstErr error
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.uploaders, DisableCompression: true}}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				progress("  %d of %d records answered", sent.Load(), res.Records)
			}
		}
	}()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	if err := writeAllocs(o.memProfile, ".start"); err != nil {
		return nil, err
	}
	start, cpu0 := time.Now(), processCPU()
	var wg sync.WaitGroup
	for w := 0; w < o.uploaders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ups) {
					break
				}
				u := ups[i]
				c := &api.Client{BaseURL: "http://" + addr, Terminal: u.Terminal.ID, Token: tokens[i], HTTP: client}
				for k := 0; k < len(u.Records); k += o.batch {
					recs := u.Records[k:min(k+o.batch, len(u.Records))]
					b := terminal.UploadBatch{Terminal: u.Terminal.ID, ID: fmt.Sprintf("bench-%d", k), Records: recs}
					for _, r := range recs {
						fen, _ := record.AmountOf(r)
						b.AmountFen += int64(fen)
					}
					t := time.Now()
					ans, err := c.Upload(ctx, b)
					mine = append(mine, time.Since(t))
					if err == nil && len(ans.Records) != len(recs) {
						err = fmt.Errorf("batch %s: %d answers for %d records", b.ID, len(ans.Records), len(recs))
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					sent.Add(int64(len(recs)))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	close(done)
	if err := writeAllocs(o.memProfile, ""); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, fmt.Errorf("bench: upload: %w", firstErr)
	}
	stats := acq.Stats()
	res.Seconds = elapsed.Seconds()
	res.Booked = stats.Accepted + stats.Flagged
	res.Rejected = stats.Rejected
	res.Batches = stats.Batches
	res.RecordsPerS = float64(res.Booked) / res.Seconds
	res.CPUSeconds = cpu.Seconds()
	res.RecordsPerCPUS = float64(res.Booked) / res.CPUSeconds
	slices.Sort(lat)
	p50, p99, _ := percentiles(lat)
	res.BatchP50Ms, res.BatchP99Ms = msOf(p50), msOf(p99)
	progress("booked %d records in %.1f s: %.0f records/s", res.Booked, res.Seconds, res.RecordsPerS)

	res.ForgedBooked = max(0, res.Forged-res.Rejected)
	res.DuplicatesSeen = stats.Duplicates
	if err := srv.Close(); err != nil {
		return nil, err
	}
	if err := acq.Close(); err != nil {
		return nil, err
	}
	rep, err := ledger.Verify(ctx, st.ledger)
	if err != nil {
		return nil, err
	}
	bal, err := st.ledger.Balance(ctx, ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()})
	if err != nil {
		return nil, err
	}
	res.FloatFen = bal.NetFen()
	all, err := st.ledger.Balances(ctx)
	if err != nil {
		return nil, err
	}
	var sum int64
	for _, b := range all {
		sum += b.NetFen()
	}
	res.ChainIntact, res.BalancesSumFen = rep.Broken == nil, sum
	if rep.Broken != nil {
		progress("ledger: %v", rep.Broken)
	}

	// A restart: the state comes back from the checkpoint and the journal.
	t1 := time.Now()
	acq2, err := acquire.Open(ctx, acquire.Config{Journal: st.journal, Terminals: terminalsOf(st.registry), Verifier: record.NewVerifier(city.Store, sim.Issuer)})
	if err != nil {
		return nil, err
	}
	res.RestartS = time.Since(t1).Seconds()
	acq2.Close()
	res.PeakRSSMiB = peakRSSMiB()
	res.judge()
	return res, nil
}

// startBackOffice starts acquisition and the HTTP API on a loopback port.
func startBackOffice(ctx context.Context, st *stores, ks keys.Store, reg *registry.Registry) (*acquire.Acquirer, *http.Server, string, error) {
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		return nil, nil, "", err
	}
	acq, err := acquire.Open(ctx, acquire.Config{
		Journal: st.journal, Terminals: terminalsOf(st.registry),
		Verifier: record.NewVerifier(ks, own),
	})
	if err != nil {
		return nil, nil, "", err
	}
	s := &api.Server{
		Acquirer: acq, Terminals: terminalAuth{reg}, Blacklist: blacklist.New(nil, nil), Rejections: st.journal,
		Params: func() api.Parameters {
			return api.Parameters{KeyVersions: []uint8{1}, RecordKeyVersion: 1, UploadBatchMax: acquire.MaxBatchRecords}
		},
		Logger: slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		acq.Close()
		return nil, nil, "", err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return acq, srv, ln.Addr().String(), nil
}

// ownIssuer returns the issuer code of our own issuer in the registry.
func ownIssuer(ctx context.Context, rs registry.Store) (citycard.IssuerCode, error) {
	ps, err := rs.Parties(ctx)
	if err != nil {
		return citycard.IssuerCode{}, err
	}
	for _, p := range ps {
		if p.Own {
			return p.Code, nil
		}
	}
	return citycard.IssuerCode{}, citycard.E("citycard.ownIssuer", citycard.NotFound, "the registry has no own issuer: add it first")
}

// processCPU is the process's CPU time so far, user plus system, all
// threads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeAllocs writes the allocation profile so far to path+suffix, if
// path is set.
func writeAllocs(path, suffix string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("bench: allocation profile %s: %w", path+suffix, err)
	}
	return f.Close()
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// benchDB is the store a benchmark runs on: db, or without it a fresh
// SQLite file in a temporary directory named after prefix; a postgres://
// URL without a search_path gets a schema of the bench's own. drop
// removes what benchDB made.
func benchDB(ctx context.Context, db, prefix string) (url string, drop func(), err error) {
	var undo []func()
	drop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if db == "" {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			return "", drop, err
		}
		undo = append(undo, func() { os.RemoveAll(dir) })
		db = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	if u, err := dburl.Parse(db); err == nil && u.Engine == dburl.Postgres && !strings.Contains(db, "search_path=") {
		fresh, dropSchema, err := postgres.FreshSchema(ctx, db, "citycard_bench_")
		if err != nil {
			return "", drop, err
		}
		undo = append(undo, func() { dropSchema(context.Background()) })
		db = fresh
	}
	return db, drop, nil
}

// jsonLine writes v as one JSON object on a line of its own: the last
// line of a command's output with --json, which programs read.
func jsonLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
