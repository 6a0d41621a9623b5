package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/postgres"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim/city"
	"github.com/citycard/citycard/terminal"
	"golang.org/x/crypto/bcrypt"
)

const simUsage = `usage: citycard sim [--seed S | --seeds A..B] [--cards N] [--days D] [--faults LIST] [--db URL] [--json]

Simulates a city, deterministically from its seed: cards of our issuer
(citizen, MOHURD and MoT profiles, every rider category, some with
passes) and visiting cities' cards; metro lines priced by distance, bus
lines, coach lines by zone, bikes, parking, taxis, merchants, kiosks and
service points; trips drawn from daily patterns (morning and evening
peaks, home-work chains, weekends). Every tap runs the real APDU flow
between a virtual card, a PSAM and a terminal; terminals queue their
records on disk and upload them over HTTP to a back office started here
(acquisition and the API on SQLite, or --db). At the end it checks every
invariant it can and prints them with their figures; a violation exits
non-zero naming the first offending card or record and the seed.

Faults (--faults all, or some of them separated by commas):
  offline    terminals offline for days, then uploading at once
  duplicate  batches sent again, under their ID and under another
  reorder    a shuffled copy of a batch sent before it
  tear       taps torn at DEBIT (grey records; some never recovered)
  forge      forged records in terminals' queues (PSAM-sealed, no card)
  alter      altered copies of records (changed after sealing)
  lost       cards reported lost to card management (blacklisted) and still used
  skew       terminals whose clock is wrong
  db         a database that fails now and then, transiently
  crash      the back office killed mid-upload and restarted
  crash-clearing  the back office killed mid-clearing (gathering a
             cycle's records, or at a save of it) and restarted: the
             cycle resumes from the state its store kept
  counterpart  a counterpart city (the visiting cards' issuer, which
             answers each day's interconnection file) rejecting some
             records whose TAC verifies, and sending its INC file of our
             cards' records there twice, with a forged record in it or
             one it sent before
  webhook    the applications' webhook receiver answering 503 now and
             then, before taking an event or after (its answer lost)

Each day is cleared at its cut-off (run, reviewed, approved by a second
person, closed) and its settlement files written (--out DIR keeps them;
default: the run's temporary directory).

The same seed and commit give the same report, byte for byte (--json:
all but its "timing" object). sim makes its own keys: it needs no key
store or KEK. --seeds A..B runs seeds A to B and reports seeds per
minute.

flags:
`

// simOptions are sim's flags.
type simOptions struct {
	seed         uint64
	seeds        string
	cards, days  int
	faults, db   string
	alg, dir     string
	out          string // where the cycles' settlement files are kept; "": the run's temporary directory
	cpuProfile   string
	json, quiet  bool
	explain      bool
	coolingDays  int
	parsedFaults []city.Fault
	// dropClearedRecord breaks conservation across clearing on purpose
	// (city.Config.DropClearedRecord): tests only.
	dropClearedRecord bool
	// forgetClaim breaks the remote top-ups' invariant on purpose
	// (city.Config.ForgetClaim): tests only.
	forgetClaim bool
	// loseIncoming breaks the conservations on purpose
	// (city.Config.LoseIncoming): tests only.
	loseIncoming bool
	// wrap, if not nil, wraps the back office (tests break it on purpose).
	wrap func(city.BackOffice) city.BackOffice
	// start is the first day's midnight; zero: the city's default.
	start time.Time
	// then, if not nil, runs after the city, on its back office still
	// running (demo serves the console over it).
	then func(ctx context.Context, rep *city.Report, bo *simBackOffice) error
}

func runSim(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, simUsage); fs.PrintDefaults() }
	o := &simOptions{}
	fs.Uint64Var(&o.seed, "seed", 1, "the city's seed")
	fs.StringVar(&o.seeds, "seeds", "", "run seeds `A..B` (inclusive) instead of one")
	fs.IntVar(&o.cards, "cards", 1000, "cards in the city")
	fs.IntVar(&o.days, "days", 1, "days to simulate")
	fs.StringVar(&o.faults, "faults", "", "faults to inject: all, or a `list` separated by commas")
	fs.StringVar(&o.db, "db", "", "database URL (default: a fresh SQLite file in a temporary directory; a postgres:// URL gets a fresh schema, dropped at the end)")
	fs.StringVar(&o.alg, "alg", "3des", "card algorithm: 3des or sm4")
	fs.StringVar(&o.dir, "dir", "", "directory for the terminals' queues (default: a temporary one, in /dev/shm when there is one)")
	fs.IntVar(&o.coolingDays, "cooling-days", city.DefaultCoolingDays, "the cooling period of a replacement in the city's products, days (1 to 365; the sample products': 7)")
	fs.BoolVar(&o.json, "json", false, "print the report as one JSON object on the last line")
	fs.BoolVar(&o.explain, "explain", false, "on a violation, print the history of the first card it names (stderr)")
	fs.StringVar(&o.out, "out", "", "keep the cycles' settlement files in `DIR` (with --seeds, DIR/seed-N)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this `file`")
	if err := o.parse(fs, args, "sim"); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if o.seeds != "" {
		return runSeeds(ctx, e, o)
	}
	fmt.Fprintf(e.stdout, "replay: citycard sim --seed %d --cards %d --days %d --faults %s --alg %s\n", o.seed, o.cards, o.days, faultList(o.parsedFaults), o.alg)
	rep, err := simOnce(ctx, e, o, o.seed)
	if err != nil {
		return err
	}
	rep.Print(e.stdout)
	if o.json {
		if err := jsonLine(e.stdout, rep); err != nil {
			return err
		}
	}
	if !rep.OK() {
		return fmt.Errorf("sim: %d invariants violated, first: %s", len(rep.Violations), rep.Violations[0])
	}
	return nil
}

// parse parses the flags of cmd (sim or demo) into o and checks them:
// errUsage for a flag that does not parse, an argument, an unknown fault,
// or cards or days out of bounds.
func (o *simOptions) parse(fs *flag.FlagSet, args []string, cmd string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("%s: unexpected argument %q: %w", cmd, fs.Arg(0), errUsage)
	}
	var err error
	if o.parsedFaults, err = city.ParseFaults(o.faults); err != nil {
		return fmt.Errorf("%s: --faults: %v: %w", cmd, err, errUsage)
	}
	if o.cards < 1 || o.cards > city.CardsMax || o.days < 1 || o.days > city.DaysMax {
		return fmt.Errorf("%s: --cards 1 to %d and --days 1 to %d: %w", cmd, city.CardsMax, city.DaysMax, errUsage)
	}
	if o.coolingDays < 1 || o.coolingDays > 365 {
		return fmt.Errorf("%s: --cooling-days %d: want 1 to 365: %w", cmd, o.coolingDays, errUsage)
	}
	return nil
}

func faultList(fs []city.Fault) string {
	if len(fs) == 0 {
		return "none"
	}
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}

// seedsMax bounds one --seeds range.
const seedsMax = 100000

// parseSeeds parses "A..B": seeds A to B, at most seedsMax of them.
func parseSeeds(s string) (from, to uint64, err error) {
	a, b, ok := strings.Cut(s, "..")
	from, err1 := strconv.ParseUint(a, 10, 64)
	to, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || to < from || to-from >= seedsMax {
		return 0, 0, fmt.Errorf("sim: --seeds %q: want A..B, A <= B, at most %d seeds: %w", s, seedsMax, errUsage)
	}
	return from, to, nil
}

// runSeeds runs every seed of o.seeds, one line each, and reports seeds
// per minute; it fails if any seed violated an invariant, naming them.
func runSeeds(ctx context.Context, e env, o *simOptions) error {
	from, to, err := parseSeeds(o.seeds)
	if err != nil {
		return err
	}
	type result struct {
		Seed          uint64 `json:"seed"`
		OK            bool   `json:"ok"`
		Taps          int64  `json:"taps"`
		RecordsBooked int64  `json:"records_booked"`
		Violation     string `json:"first_violation,omitempty"`
	}
	var out struct {
		From           uint64   `json:"from"`
		To             uint64   `json:"to"`
		Cards          int      `json:"cards"`
		Days           int      `json:"days"`
		Faults         string   `json:"faults"`
		Failed         []uint64 `json:"failed"`
		Results        []result `json:"results"`
		Seconds        float64  `json:"seconds"`
		SeedsPerMinute float64  `json:"seeds_per_minute"`
	}
	out.From, out.To, out.Cards, out.Days, out.Faults, out.Failed = from, to, o.cards, o.days, faultList(o.parsedFaults), []uint64{}
	start := time.Now()
	for s := from; ; s++ {
		rep, err := simOnce(ctx, e, o, s)
		if err != nil {
			return fmt.Errorf("sim: seed %d: %w", s, err)
		}
		r := result{Seed: s, OK: rep.OK(), Taps: rep.Taps, RecordsBooked: rep.RecordsBooked}
		verdict := "ok"
		if !r.OK {
			r.Violation = rep.Violations[0]
			out.Failed = append(out.Failed, s)
			verdict = "VIOLATED: " + r.Violation
		}
		out.Results = append(out.Results, r)
		fmt.Fprintf(e.stdout, "seed %-8d %8d taps %8d booked  %s\n", s, r.Taps, r.RecordsBooked, verdict)
		if s == to {
			break
		}
	}
	out.Seconds = time.Since(start).Seconds()
	out.SeedsPerMinute = float64(to-from+1) / out.Seconds * 60
	fmt.Fprintf(e.stdout, "%d seeds in %.1f s: %.1f seeds per minute; %d failed\n", to-from+1, out.Seconds, out.SeedsPerMinute, len(out.Failed))
	if o.json {
		if err := jsonLine(e.stdout, out); err != nil {
			return err
		}
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("sim: %d of %d seeds violated an invariant: %v", len(out.Failed), to-from+1, out.Failed)
	}
	return nil
}

// simOnce runs one seed on a fresh store and fresh queues.
func simOnce(ctx context.Context, e env, o *simOptions, seed uint64) (*city.Report, error) {
	alg, err := keys.ParseAlg(o.alg)
	if err != nil {
		return nil, fmt.Errorf("sim: --alg: %v: %w", err, errUsage)
	}
	scratch := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		// The terminals' queues fsync every record three times a
		// tap, and card management commits each of a card's sale's
		// four steps alone (holder, application, personalization,
		// sale): on tmpfs a commit costs microseconds, on a disk
		// half a millisecond, and selling 20,000 cards took 36 s on
		// disk, 14 s here. The scratch store is removed at the end
		// and the crash is simulated in process (a killed journal,
		// not a killed disk), so its fsyncs prove nothing: it goes
		// on tmpfs too; --db puts it anywhere.
		scratch = "/dev/shm"
	}
	base := o.dir
	if base == "" {
		base = scratch
	}
	dir, err := os.MkdirTemp(base, "citycard-sim-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db := o.db
	if db == "" {
		dbDir, err := os.MkdirTemp(scratch, "citycard-sim-db-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dbDir)
		db = "sqlite:" + filepath.Join(dbDir, "sim.db")
	}
	if u, err := dburl.Parse(db); err == nil && u.Engine == dburl.Postgres && !strings.Contains(db, "search_path=") {
		fresh, drop, err := postgres.FreshSchema(ctx, db, "citycard_sim_")
		if err != nil {
			return nil, err
		}
		defer drop(context.Background())
		db = fresh
	}
	bo := newSimBackOffice(db)
	defer bo.close(e.stderr)
	var cbo city.BackOffice = bo
	if o.wrap != nil {
		cbo = o.wrap(bo)
	}
	var progress io.Writer = e.stderr
	if o.quiet {
		progress = nil
	}
	cfg := city.Config{Seed: seed, Cards: o.cards, Days: o.days, Faults: o.parsedFaults, Alg: alg, Dir: dir, Progress: progress, Timings: time.Now, Start: o.start,
		SettleDir: o.out, DropClearedRecord: o.dropClearedRecord, CoolingDays: o.coolingDays,
		ForgetClaim: o.forgetClaim, LoseIncoming: o.loseIncoming}
	if o.out != "" && o.seeds != "" {
		cfg.SettleDir = filepath.Join(o.out, fmt.Sprintf("seed-%d", seed))
	}
	if o.explain {
		cfg.Explain = e.stderr
	}
	rep, err := city.Run(ctx, cfg, cbo)
	if err != nil || o.then == nil {
		return rep, err
	}
	return rep, o.then(ctx, rep, bo)
}

// simBackOffice is the back office sim runs against: serve's stores,
// acquisition and API, wired as serve wires them, in process on a
// loopback port, with the city's clock, keys and fare table.
type simBackOffice struct {
	db     string
	st     *stores
	lock   writerLock
	acq    *acquire.Acquirer
	srv    *http.Server
	url    string
	client *http.Client
	staff  string // the API's staff token (a service point's clerk)
	super  string // the API's staff token of a supervisor (the top-up sweep, approvals)
	logger *slog.Logger
	bl     *blacklist.List
	params api.Parameters
	now    func() time.Time // the city's clock, from Start
	// fares prices the concessions' category discounts: the city's fare
	// table, nil without one.
	fares *clearing.TableFares
	// keys is the city's key store, from Start: the interconnection
	// verifies our cards' TACs in INC files under it, as serve's does.
	keys  keys.Store
	cards *cms.Manager
	loads *cms.LoadHost
	// topUps is remote top-up over loads, for the API's top-up routes.
	topUps *cms.TopUps
	// staffing is the stored staff accounts, whose store keeps the
	// approvals (refunds over the city's limit, adjustments).
	staffing *cms.Staffing
	// dataKey is card management's data key (cardholders' personal
	// data): the sim's own, drawn at random, as it needs no key store.
	dataKey []byte
}

func newSimBackOffice(db string) *simBackOffice {
	tok := make([]byte, 16)
	crand.Read(tok)
	dk := make([]byte, cms.DataKeyLen)
	crand.Read(dk)
	sup := make([]byte, 16)
	crand.Read(sup)
	return &simBackOffice{db: db, staff: hex.EncodeToString(tok), super: hex.EncodeToString(sup), logger: slog.New(slog.DiscardHandler), dataKey: dk}
}

func (b *simBackOffice) open(ctx context.Context) error {
	if b.st != nil {
		return nil
	}
	st, err := openStores(ctx, b.db)
	if err != nil {
		return err
	}
	lock, err := lockWriter(ctx, st)
	if err != nil {
		st.close()
		return fmt.Errorf("sim: %w", err)
	}
	b.st, b.lock = st, lock
	return nil
}

// Open implements city.BackOffice.
func (b *simBackOffice) Open(ctx context.Context) (*registry.Registry, error) {
	if err := b.open(ctx); err != nil {
		return nil, err
	}
	// The city registers its parties in an empty store: one that holds
	// another run's would answer its first registration Exists.
	ps, err := b.st.registry.Parties(ctx)
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		return nil, citycard.E("citycard.sim", citycard.Exists, "the database %s holds a city already (%d parties, %s the first): the sim builds its own in an empty one (no --db, a new SQLite file, or a PostgreSQL URL without search_path for a fresh schema)", b.db, len(ps), ps[0].ID)
	}
	return registry.New(b.st.registry, time.Now), nil
}

// Start implements city.BackOffice: as openAcquisition and serve do, but
// on the city's clock.
func (b *simBackOffice) Start(ctx context.Context, s city.Setup) error {
	if err := b.open(ctx); err != nil {
		return err
	}
	own, err := ownIssuer(ctx, b.st.registry)
	if err != nil {
		return err
	}
	bl, err := blacklist.Load(ctx, b.st.blacklist, s.Now)
	if err != nil {
		return err
	}
	var j acquire.Journal = b.st.journal
	if s.Journal != nil {
		j = s.Journal(j)
	}
	var fares acquire.Fares
	if s.Fares != nil {
		fares = fareRecheck{terminal.NewFareEngine(s.Fares), b.logger}
	}
	acq, err := acquire.Open(ctx, acquire.Config{
		Journal: j, Terminals: terminalsOf(b.st.registry), Verifier: record.NewVerifier(s.Keys, own),
		Fares: fares, Blacklist: bl, Now: s.Now, CheckpointEvery: s.CheckpointEvery, Logger: b.logger,
	})
	if err != nil {
		return err
	}
	staff := &api.StaticStaff{}
	staff.Add(b.staff, api.Staff{Name: simClerk, Role: api.RoleClerk})
	staff.Add(b.super, api.Staff{Name: simSupervisor, Role: api.RoleSupervisor})
	b.staffing = cms.NewStaffing(b.st.staff, s.Now, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	if err := addSimStaff(ctx, b.staffing); err != nil {
		acq.Close()
		return err
	}
	b.keys = s.Keys
	b.params = api.Parameters{KeyVersions: []uint8{1}, RecordKeyVersion: 1, UploadBatchMax: acquire.MaxBatchRecords}
	if s.Fares != nil {
		b.params.FareTableVersion = s.Fares.Version()
		if b.fares, err = clearing.NewTableFares(s.Fares); err != nil {
			acq.Close()
			return err
		}
	}
	p, err := cms.NewProtector(b.dataKey, nil)
	if err != nil {
		acq.Close()
		return err
	}
	b.acq, b.bl, b.now = acq, bl, s.Now
	products := s.Products
	if products == nil {
		products = cms.DefaultProducts()
	}
	b.cards = cms.NewManager(cms.NewGroupCommit(b.st.cms), products, p, s.Now).WithBlacklist(bl)
	b.loads = cms.NewLoadHost(b.cards, s.Keys, acq)
	b.topUps = cms.NewTopUps(b.loads, b.st.topups)
	server := b.apiServer(staff)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		acq.Close()
		b.acq = nil
		return err
	}
	b.srv = &http.Server{Handler: server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	b.url = "http://" + ln.Addr().String()
	b.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	return nil
}

// apiServer is the API over the running back office, for staff.
func (b *simBackOffice) apiServer(staff api.StaffAuth) *api.Server {
	params := b.params
	return &api.Server{
		Acquirer: b.acq, Terminals: terminalAuth{registry.NewAuthCaching(b.st.registry, time.Now, 0)}, Staff: staff,
		Blacklist: b.bl, Rejections: b.st.journal, Batches: b.st.journal, Logger: b.logger,
		Params: func() api.Parameters { return params },
		// Card management, the load host and remote top-up, for the
		// city's remote top-ups and their claims at kiosks, its refunds
		// of lost and damaged cards and its manual adjustments, over
		// HTTP. The staff accounts' store keeps the approvals: a refund
		// over the city's limit, and every adjustment, waits for its
		// supervisor's.
		Cards: b.cards, Loads: b.loads, TopUps: b.topUps, RefundApprovalFen: city.RefundApprovalFen, Staffing: b.staffing,
		// Our cards' purchases in the counterpart cities, which a lost
		// card's refund is reckoned less.
		Elsewhere: api.InteropElsewhere{Store: b.st.interop},
	}
}

// The sim's members of staff: a service point's clerk and a supervisor,
// whose tokens are the server's static ones.
const (
	simClerk      = "sim-service-point"
	simSupervisor = "sim-supervisor"
)

// addSimStaff stores the accounts of the sim's members of staff, once:
// the approvals they ask for and decide name them. They never log in
// (their tokens are static), so their passwords are random and
// forgotten.
func addSimStaff(ctx context.Context, st *cms.Staffing) error {
	for _, m := range []cms.StaffMember{{Name: simClerk, Role: cms.RoleClerk}, {Name: simSupervisor, Role: cms.RoleSupervisor}} {
		pw := make([]byte, 16)
		crand.Read(pw)
		m.ServicePoint, m.PointType = "sim-counter", cms.OwnCounter
		if _, err := st.Add(ctx, cms.Actor{Who: "sim", ServicePoint: "sim-counter"}, m, hex.EncodeToString(pw)); err != nil && !citycard.IsKind(err, citycard.Exists) {
			return fmt.Errorf("sim: the account of %s: %w", m.Name, err)
		}
	}
	return nil
}

// Stop implements city.BackOffice. After a crash acquisition's final
// checkpoint fails (its journal is dead), as a killed process writes
// none: that error is the crash's, not Stop's.
func (b *simBackOffice) Stop(crash bool) error {
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.Close())
		b.client.CloseIdleConnections()
		b.srv = nil
	}
	if b.acq != nil {
		if err := b.acq.Close(); err != nil && !crash {
			errs = append(errs, err)
		}
		b.acq = nil
	}
	if b.st != nil {
		if err := b.lock.Release(); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, b.st.close())
		b.st = nil
	}
	return errors.Join(errs...)
}

func (b *simBackOffice) close(stderr io.Writer) {
	if err := b.Stop(false); err != nil {
		fmt.Fprintf(stderr, "sim: stopping the back office: %v\n", err)
	}
}

// Link implements city.BackOffice: the terminal's api.Client on the
// running server, whichever it is when called.
func (b *simBackOffice) Link(id citycard.TerminalID, token string) city.Link {
	return simLink{b: b, id: id, token: token}
}

type simLink struct {
	b     *simBackOffice
	id    citycard.TerminalID
	token string
}

func (l simLink) client() *api.Client {
	return &api.Client{BaseURL: l.b.url, Terminal: l.id, Token: l.token, HTTP: l.b.client}
}

func (l simLink) Upload(ctx context.Context, batch terminal.UploadBatch) (acquire.Answer, error) {
	return l.client().Upload(ctx, batch)
}

func (l simLink) SyncBlacklist(ctx context.Context, local *blacklist.List) (int, error) {
	return l.client().SyncBlacklist(ctx, local)
}

func (l simLink) SyncGateVersions(ctx context.Context, kind card.Application, scope uint32, local *terminal.MinVersions) (int, error) {
	return l.client().SyncGateVersions(ctx, kind, scope, local)
}

// Cards implements city.BackOffice: card management as serve wires it
// (cardManagement: every operation group-committed, a loss listed on the
// blacklist), on the city's clock, and its online load host.
func (b *simBackOffice) Cards() (*cms.Manager, *cms.LoadHost) { return b.cards, b.loads }

// CardFlows implements city.BackOffice.
func (b *simBackOffice) CardFlows(ctx context.Context, asn citycard.ASN) ([]cms.Flow, error) {
	return b.st.cms.Flows(ctx, city.Issuer, asn)
}

// Staff implements city.BackOffice: the API's staff clients, of the
// service point's clerk and of a supervisor, on the running server.
func (b *simBackOffice) Staff() (clerk, supervisor *api.StaffClient) {
	return &api.StaffClient{BaseURL: b.url, Token: b.staff, HTTP: b.client}, &api.StaffClient{BaseURL: b.url, Token: b.super, HTTP: b.client}
}

// Loads implements city.Link: the terminal's load client on the running
// server, paying through ch.
func (l simLink) Loads(ch cms.Channel) *api.LoadClient {
	return &api.LoadClient{BaseURL: l.b.url, Terminal: l.id, Token: l.token, HTTP: l.b.client, Channel: ch}
}

// Acquirer implements city.BackOffice.
func (b *simBackOffice) Acquirer() *acquire.Acquirer { return b.acq }

// Journal implements city.BackOffice.
func (b *simBackOffice) Journal() acquire.Journal { return b.st.journal }

// Ledger implements city.BackOffice.
func (b *simBackOffice) Ledger() ledger.Store { return b.st.ledger }

// InteropCards implements city.BackOffice: nil while the store is
// closed.
func (b *simBackOffice) InteropCards() interop.CardStore {
	if b.st == nil {
		return nil
	}
	return b.st.interop
}

// Clearing implements city.BackOffice: the cycles as citycard clear
// runs them (cyclesOver), on the city's clock, and the registry's
// parties as citycard settle writes them.
func (b *simBackOffice) Clearing(ctx context.Context) (*clearing.Cycles, map[string]exchange.Party, error) {
	if b.st == nil || b.now == nil {
		return nil, nil, citycard.E("citycard.sim", citycard.Unavailable, "the back office is not running")
	}
	cs, err := cyclesOver(ctx, b.st, b.now)
	if err != nil {
		return nil, nil, err
	}
	if b.fares != nil {
		cs.Fares = b.fares
	}
	if b.keys != nil {
		x := cs.Interconnect.(*interop.Interop)
		x.Verifier = record.NewVerifier(b.keys, x.Own)
	}
	parties, err := partiesOf(ctx, b.st.registry)
	if err != nil {
		return nil, nil, err
	}
	return cs, parties, nil
}
