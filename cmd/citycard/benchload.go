package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

const benchLoadUsage = `usage: citycard bench load [--cards N] [--rate R] [--seconds S] [--kiosks K] [--db URL] [--json]

Makes its own keys (no key store or KEK), N virtual cards and K kiosks,
sells the cards in card management, then runs online loads (INITIALIZE
FOR LOAD, the host's MAC2, CREDIT FOR LOAD, the TAC confirmed) over
loopback HTTP against the load host, at R loads a second for S seconds,
held open-loop: a load that cannot start on time is late, not skipped,
and its latency counts from its scheduled start. It prints p50/p99/max
latency and errors, progress on stderr, and checks that every load was
booked once and confirmed, and the ledger's float is what the cards
hold; it exits non-zero if a check fails. Without --db it uses a fresh
SQLite file in a temporary directory; a postgres:// URL without
search_path gets a fresh schema, dropped at the end.

flags:
`

// benchLoadAmountFen is each load's amount: 1 yuan, so that a card takes
// a thousand loads in a day under the transit product's daily limit.
const benchLoadAmountFen = 100

type benchLoadOptions struct {
	cards, rate, seconds, kiosks int
	db, cpuProfile               string
	json                         bool
}

// benchLoadResult is the outcome; the JSON field names are the contract
// of --json.
type benchLoadResult struct {
	Loads     int64   `json:"loads"`  // loads scheduled
	Errors    int64   `json:"errors"` // loads that failed
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	Late      int64   `json:"late"` // loads that started more than 1 ms after their schedule
	RatePerS  float64 `json:"rate_per_s"`
	Achieved  float64 `json:"achieved_per_s"`
	Seconds   float64 `json:"seconds"`
	Cards     int     `json:"cards"`
	Kiosks    int     `json:"kiosks"`
	Cores     int     `json:"cores"`
	DB        string  `json:"db"`
	BookedFen int64   `json:"booked_fen"` // the issuer's card float in the ledger
	CardsFen  int64   `json:"cards_fen"`  // what the cards hold, loaded during the bench
	Open      int64   `json:"unconfirmed"`
	// Transactions and Operations count the group commits and the
	// operations they took (an authorization and a confirmation a load).
	Transactions int64 `json:"transactions"`
	Operations   int64 `json:"operations"`
	// The group commits' largest size and their durations (the store's
	// transaction, without the wait for the one in progress).
	CommitOpsMax int64   `json:"commit_ops_max"`
	CommitP50Ms  float64 `json:"commit_p50_ms"`
	CommitP99Ms  float64 `json:"commit_p99_ms"`
	CommitMaxMs  float64 `json:"commit_max_ms"`
	FirstErr     string  `json:"first_error,omitempty"`
	OK           bool    `json:"ok"`
}

func runBenchLoad(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, benchLoadUsage); fs.PrintDefaults() }
	o := benchLoadOptions{}
	fs.IntVar(&o.cards, "cards", 2000, "virtual cards")
	fs.IntVar(&o.rate, "rate", 1000, "loads a second, scheduled open-loop")
	fs.IntVar(&o.seconds, "seconds", 10, "how long")
	fs.IntVar(&o.kiosks, "kiosks", 64, "kiosks loading at once")
	fs.StringVar(&o.db, "db", "", "database URL (default: a fresh SQLite file in a temporary directory)")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on the last line")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the loading phase to this file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("bench load: unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	if o.cards <= 0 || o.cards > 1<<20 || o.rate <= 0 || o.rate > 100000 || o.seconds <= 0 || o.seconds > 3600 || o.kiosks <= 0 || o.kiosks > 4096 {
		return fmt.Errorf("bench load: --cards 1 to 2^20, --rate 1 to 100000, --seconds 1 to 3600, --kiosks 1 to 4096: %w", errUsage)
	}
	// Each card must stay under its product's daily limit.
	if perCard := (o.rate*o.seconds + o.cards - 1) / o.cards; int64(perCard)*benchLoadAmountFen > 100000 {
		return fmt.Errorf("bench load: %d loads of 1 yuan a card pass the daily limit of 1,000: more --cards: %w", perCard, errUsage)
	}
	res, err := benchLoad(ctx, e, o)
	if err != nil {
		return err
	}
	return reportBench(e, "bench load", res, res.OK, o.json)
}

func (r *benchLoadResult) print(w io.Writer) {
	fmt.Fprintf(w, "online loads on %s, %d cores: %d cards, %d kiosks\n", r.DB, r.Cores, r.Cards, r.Kiosks)
	fmt.Fprintf(w, "  %-24s %d at %.0f/s over %.1f s (%.0f/s achieved)\n", "loads", r.Loads, r.RatePerS, r.Seconds, r.Achieved)
	fmt.Fprintf(w, "  %-24s p50 %.2f ms, p99 %.2f ms, max %.2f ms (from the scheduled start)\n", "latency", r.P50Ms, r.P99Ms, r.MaxMs)
	fmt.Fprintf(w, "  %-24s %d\n", "late starts (> 1 ms)", r.Late)
	fmt.Fprintf(w, "  %-24s %d operations in %d transactions (at most %d), each p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", "group commits",
		r.Operations, r.Transactions, r.CommitOpsMax, r.CommitP50Ms, r.CommitP99Ms, r.CommitMaxMs)
	fmt.Fprintf(w, "  %-24s %d %s\n", "errors", r.Errors, r.FirstErr)
	fmt.Fprintf(w, "  %-24s %d fen booked, the cards hold %d more; %d unconfirmed\n", "float", r.BookedFen, r.CardsFen, r.Open)
	verdict := "ok"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "  %-24s %s\n", "checks", verdict)
}

// benchKiosk is a kiosk of the bench: its terminal and its connection.
type benchKiosk struct {
	t    *sim.DeviceTerminal
	host *api.LoadClient
}

func benchLoad(ctx context.Context, e env, o benchLoadOptions) (*benchLoadResult, error) {
	progress := func(format string, args ...any) { fmt.Fprintf(e.stderr, "bench: "+format+"\n", args...) }
	st, closeStores, err := openBenchStores(ctx, e, o.db)
	if err != nil {
		return nil, err
	}
	defer closeStores()
	res := &benchLoadResult{Cores: runtime.GOMAXPROCS(0), DB: st.url.Engine.String(), Cards: o.cards, Kiosks: o.kiosks, RatePerS: float64(o.rate)}

	progress("making %d cards and %d kiosks with their own keys", o.cards, o.kiosks)
	stops := make([]sim.DeviceStop, o.kiosks)
	for i := range stops {
		stops[i] = sim.DeviceStop{Mode: terminal.ModePOS}
	}
	devCards := make([]sim.DeviceCard, o.cards)
	for i := range devCards {
		devCards[i].BalanceFen = 1
	}
	city, err := sim.NewDeviceCity(sim.DeviceConfig{Seed: 1, Alg: keys.Alg3DES, Fare: terminal.FlatFare{}, Stops: stops, Cards: devCards})
	if err != nil {
		return nil, err
	}

	// The registry: our issuer, an operator, the kiosks with their tokens.
	reg := registry.NewAuthCaching(st.registry, time.Now, 0)
	if _, err := reg.AddParty(ctx, registry.Party{ID: sim.Issuer.String(), Type: registry.PartyIssuer, Code: sim.Issuer, Name: "Simulated city card", Own: true, SettlementAccount: "bank 0001 account 1"}); err != nil {
		return nil, err
	}
	if _, err := reg.AddParty(ctx, registry.Party{ID: "transit", Type: registry.PartyOperator, Code: sim.OperatorCode(0), Sector: registry.Sector(1), Name: "transit", SettlementAccount: "bank 0001 account 2"}); err != nil {
		return nil, err
	}
	kiosks := make([]benchKiosk, o.kiosks)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.kiosks, DisableCompression: true}}
	cash := cms.Channel{Type: cms.Cash, Party: sim.Issuer.String()}
	for i, t := range city.Terminals {
		if _, err := reg.AddTerminal(ctx, registry.Terminal{ID: t.ID, PSAM: t.PSAM, Operator: t.Operator, Type: registry.TerminalKiosk}); err != nil {
			return nil, err
		}
		tok, err := reg.IssueCredential(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		kiosks[i] = benchKiosk{t: t, host: &api.LoadClient{Terminal: t.ID, Token: tok, HTTP: client, Channel: cash}}
	}

	// Card management: every card issued (a transit card, anonymous).
	t0 := time.Now()
	at := time.Now()
	for i, cd := range city.Cards {
		c := cms.Card{Issuer: sim.Issuer, ASN: cd.State().ASN, Product: "transit", State: cms.Issued, Version: 1, AppliedAt: at, IssuedAt: at,
			Expiry: cms.Today(at.AddDate(3, 0, 0))}
		a := &cms.AuditRecord{At: at, Actor: "bench", ServicePoint: "bench", Subject: "card:" + c.String(), Action: "issue", After: c.Snapshot()}
		if err := st.cms.CreateCard(ctx, &c, a); err != nil {
			return nil, err
		}
		if (i+1)%10000 == 0 {
			progress("  %d cards issued", i+1)
		}
	}
	progress("issued %d cards in %.1f s", o.cards, time.Since(t0).Seconds())

	counted := &countedCommits{Store: st.cms}
	m := cms.NewManager(cms.NewGroupCommit(counted), cms.DefaultProducts(), nil, time.Now)
	host := cms.NewLoadHost(m, city.Store, nil)
	var lostConfirmations atomic.Int64
	host.ConfirmLater = func(error) { lostConfirmations.Add(1) }
	s := &api.Server{Terminals: terminalAuth{reg}, Blacklist: blacklist.New(nil, nil), Loads: host, Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	for i := range kiosks {
		kiosks[i].host.BaseURL = "http://" + ln.Addr().String()
	}

	// Open loop: load i is due at start + i/rate, on card i mod N; a
	// kiosk takes the next due load when it is free.
	total := o.rate * o.seconds
	res.Loads = int64(total)
	cardMu := make([]sync.Mutex, o.cards)
	progress("loading over %s: %d loads at %d/s with %d kiosks", ln.Addr(), total, o.rate, o.kiosks)
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	load := func(k, i int) error {
		kiosk, card := &kiosks[k], i%o.cards
		cardMu[card].Lock()
		defer cardMu[card].Unlock()
		_, err := kiosk.t.Load(city.Cards[card], benchLoadAmountFen, kiosk.host)
		return err
	}
	tick := func(done, errs int64) { progress("  %d of %d loads done, %d errors", done, total, errs) }
	r, err := openLoop{rate: o.rate, total: total, workers: o.kiosks, do: load, tick: tick}.run(ctx)
	if err != nil {
		return nil, err
	}
	res.Seconds, res.Achieved = r.elapsed.Seconds(), float64(total)/r.elapsed.Seconds()
	res.Errors, res.Late, res.FirstErr = r.errs, r.late, r.firstErr
	res.P50Ms, res.P99Ms, res.MaxMs = msOf(r.p50), msOf(r.p99), msOf(r.max)

	// The confirmations still queued join the next group commit: wait
	// (a second at most) until none is left.
	for wait := 0; wait < 100; wait++ {
		open, err := st.cms.UnconfirmedLoads(ctx, "", 1)
		if err != nil {
			return nil, err
		}
		if len(open) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.Errors += lostConfirmations.Load()
	res.Transactions, res.Operations, res.CommitOpsMax = counted.batches.Load(), counted.ops.Load(), counted.maxOps.Load()
	c50, c99, cmax := counted.times()
	res.CommitP50Ms, res.CommitP99Ms, res.CommitMaxMs = msOf(c50), msOf(c99), msOf(cmax)

	// The checks: the float booked is what the cards were loaded, every
	// load confirmed.
	b, err := st.ledger.Balance(ctx, ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()})
	if err != nil && !citycard.IsKind(err, citycard.NotFound) {
		return nil, err
	}
	res.BookedFen = -b.NetFen()
	for _, cd := range city.Cards {
		res.CardsFen += cd.State().BalanceFen - 1
	}
	open, err := st.cms.UnconfirmedLoads(ctx, "", 1000)
	if err != nil {
		return nil, err
	}
	res.Open = int64(len(open))
	res.OK = res.Errors == 0 && res.BookedFen == res.CardsFen && res.BookedFen == (res.Loads-res.Errors)*benchLoadAmountFen && res.Open == 0
	return res, nil
}

// countedCommits counts the group commits under the load host, and
// times them.
type countedCommits struct {
	cms.Store
	batches, ops atomic.Int64
	maxOps       atomic.Int64
	mu           sync.Mutex
	took         []time.Duration // at most 1<<20
}

func (c *countedCommits) CommitBatch(ctx context.Context, ops []*cms.Operation) ([]cms.CommitResult, error) {
	c.batches.Add(1)
	c.ops.Add(int64(len(ops)))
	if n := int64(len(ops)); n > c.maxOps.Load() {
		c.maxOps.Store(n) // one leader commits at a time
	}
	t0 := time.Now()
	res, err := c.Store.CommitBatch(ctx, ops)
	d := time.Since(t0)
	c.mu.Lock()
	if len(c.took) < 1<<20 {
		c.took = append(c.took, d)
	}
	c.mu.Unlock()
	return res, err
}

// times returns the commits' p50, p99 and max durations.
func (c *countedCommits) times() (p50, p99, max time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	slices.Sort(c.took)
	return percentiles(c.took)
}
