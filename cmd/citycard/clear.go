package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/registry"
)

// clearSubcommands are the subcommands of `citycard clear`.
var clearSubcommands = []struct{ name, summary string }{
	{"run", "open the day's cycle if need be, claim its journal range, prove it complete and clear it (again)"},
	{"show", "show the cycle: its state, range, totals, who did what when, and the positions"},
	{"approve", "sign the computed result off: the first person reviews it, a second approves it"},
	{"close", "make the approved cycle final and keep the hashes of its settlement files"},
	{"fees", "fee schedules: fees set FILE stores new versions, fees show prints them (citycard clear fees -h)"},
	{"adjust", "correct a closed cycle in a later one; adjust approve, a second person; adjust list (citycard clear adjust -h)"},
	{"concessions", "funders' concession shares: concessions set FILE, concessions show (citycard clear concessions -h)"},
	{"commissions", "top-up agents' and partner banks' commission schedules on loads: commissions set FILE, commissions show"},
	{"caps", "net debit caps per party: caps set FILE, caps show"},
}

// clearFlags are the flags of clear and settle.
type clearFlags struct {
	fs     *flag.FlagSet
	date   *string
	db     *string
	by     *string
	asJSON *bool
	out    *string
}

func newClearFlags(e env, name string) *clearFlags {
	f := &clearFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.SetOutput(e.stderr)
	f.date = f.fs.String("date", "", "the cycle's business day, YYYY-MM-DD (required)")
	f.db = f.fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	f.by = f.fs.String("by", "", "the member of staff who does it (run, approve, close)")
	f.asJSON = f.fs.Bool("json", false, "print JSON for a program instead of text for a person")
	return f
}

// runClear runs `citycard clear run|show|approve|close --date YYYY-MM-DD
// [--db URL] [--by NAME] [--json]`.
func runClear(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "fees" {
		return runClearFees(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "adjust" {
		return runClearAdjust(ctx, e, args[1:])
	}
	if len(args) > 0 && clearParamKinds[args[0]] != nil {
		return runClearParams(ctx, e, args[0], args[1:])
	}
	f := newClearFlags(e, "citycard clear")
	faresDir := f.fs.String("fares", "", "run: the fare table in force (a GTFS-Fares directory): concessions' category discounts are priced with it")
	f.fs.Usage = func() { clearUsage(e.stderr, f.fs) }
	pos, err := parseInterleaved(f.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 || !isClearSubcommand(pos[0]) || pos[0] == "fees" || pos[0] == "adjust" || clearParamKinds[pos[0]] != nil {
		clearUsage(e.stderr, f.fs)
		return errUsage
	}
	day, err := clearing.ParseDay(*f.date)
	if err != nil {
		return fmt.Errorf("clear: --date: %v: %w", err, errUsage)
	}
	if pos[0] != "show" && *f.by == "" {
		return fmt.Errorf("clear %s: --by NAME: who does it: %w", pos[0], errUsage)
	}
	st, cs, err := openCycles(ctx, *f.db, pos[0] == "show")
	if err != nil {
		return err
	}
	defer st.close()
	if *faresDir != "" {
		t, err := fare.Load(os.DirFS(*faresDir))
		if err != nil {
			return err
		}
		if cs.Fares, err = clearing.NewTableFares(t); err != nil {
			return err
		}
	}
	var s *clearing.Stored
	switch pos[0] {
	case "run":
		s, err = cs.Run(ctx, day, *f.by)
	case "approve":
		s, err = cs.Approve(ctx, day, *f.by)
	case "close":
		var parties map[string]exchange.Party
		if parties, err = partiesOf(ctx, st.registry); err != nil {
			return err
		}
		s, err = cs.Close(ctx, day, *f.by, exchange.CloseFiles(parties))
	default:
		var got clearing.Stored
		got, err = cs.Cycle(ctx, day)
		s = &got
	}
	if err != nil {
		return err
	}
	return showCycle(e.stdout, s, *f.asJSON)
}

func isClearSubcommand(s string) bool {
	for _, c := range clearSubcommands {
		if c.name == s {
			return true
		}
	}
	return false
}

func clearUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: citycard clear <subcommand> --date YYYY-MM-DD [--db URL] [--by NAME] [--json]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "subcommands:")
	for _, s := range clearSubcommands {
		fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "flags:")
	fs.PrintDefaults()
}

// openCycles opens the stores and the cycles over them, under the
// default calendar, our issuer collecting the fees, each day cleared
// under the fee schedules stored in force on it (clear fees set). Reading must not leave an empty
// database behind a typo, so a read of a SQLite file that is not there
// is NotFound.
func openCycles(ctx context.Context, db string, reading bool) (*stores, *clearing.Cycles, error) {
	if u, err := dburl.Parse(db); err == nil && u.Engine == dburl.SQLite && reading {
		if _, err := os.Stat(u.Path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, citycard.E("citycard.clear", citycard.NotFound, "no database at %s", u.Path)
		}
	}
	st, err := openStores(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	cs, err := cyclesOver(ctx, st, time.Now)
	if err != nil {
		st.close()
		return nil, nil, err
	}
	return st, cs, nil
}

// cyclesOver returns the cycles over st's stores, with clock now, taking
// the stored adjustments, under fees if given, else under the stored
// fee schedules.
func cyclesOver(ctx context.Context, st *stores, now func() time.Time, fees ...clearing.FeeSchedule) (*clearing.Cycles, error) {
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		return nil, err
	}
	clr, err := clearing.NewClearer(clearing.Config{Calendar: clearing.DefaultCalendar(), Collector: own.String(), Rounding: clearing.RoundHalfEven, Fees: fees})
	if err != nil {
		return nil, err
	}
	cs := &clearing.Cycles{Clearer: clr, Store: st.clearing, Journal: st.clearing, Adjustments: st.clearing, Terminals: registryTerminals{st.registry}, Now: now}
	cs.PartyType = func(ctx context.Context, id string) (registry.PartyType, error) {
		p, err := st.registry.Party(ctx, id)
		return p.Type, err
	}
	if len(fees) == 0 {
		// The stored schedules and parameters, and the loads of the
		// ledger, unless the caller (the bench) gives its own fees.
		cs.Fees, cs.Params, cs.Ledger = st.clearing, st.clearing, st.ledger
	}
	// The interconnection files imported settle in the next cycle run.
	cs.Interconnect = &interop.Interop{Own: own, Centre: interop.Centre, Store: st.interop, Cycles: cs, Journal: st.clearing, Now: now,
		Known: func(ctx context.Context, party string) error { _, err := st.registry.Party(ctx, party); return err }}
	return cs, nil
}

// registryTerminals answers clearing's look-ups from the registry.
type registryTerminals struct{ rs registry.Store }

func (r registryTerminals) Terminal(ctx context.Context, id citycard.TerminalID) (clearing.TerminalInfo, error) {
	t, err := r.rs.Terminal(ctx, id)
	if err != nil {
		return clearing.TerminalInfo{}, err
	}
	return clearing.TerminalInfo{Operator: t.Operator, Type: t.Type}, nil
}

// partiesOf returns every registry party's name and settlement account,
// by ID: what the settlement files say of them.
func partiesOf(ctx context.Context, rs registry.Store) (map[string]exchange.Party, error) {
	ps, err := rs.Parties(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]exchange.Party, len(ps))
	for _, p := range ps {
		out[p.ID] = exchange.Party{Name: p.Name, Account: p.SettlementAccount}
	}
	return out, nil
}

// jsonTotals, jsonPosition, jsonCycle: the JSON of clear's output; the
// field names are its contract (README.md).
type jsonTotals struct {
	Count     int64 `json:"count"`
	AmountFen int64 `json:"amount_fen"`
}

type jsonPosition struct {
	Party         string `json:"party"`
	ReceivableFen int64  `json:"receivable_fen"`
	PayableFen    int64  `json:"payable_fen"`
	NetFen        int64  `json:"net_fen"`
}

type jsonBreach struct {
	Party  string `json:"party"`
	NetFen int64  `json:"net_fen"`
	CapFen int64  `json:"cap_fen"`
}

// jsonConcession, jsonCommission: a cycle's compensation claims and
// commissions in clear show --json.
type jsonConcession struct {
	Funder         string `json:"funder"`
	Operator       string `json:"operator"`
	RiderCategory  uint8  `json:"rider_category"`
	Kind           string `json:"kind"`
	Records        int64  `json:"records"`
	DiscountFen    int64  `json:"discount_fen"`
	ClaimFen       int64  `json:"claim_fen"`
	RemainderMicro int64  `json:"remainder_micro"`
}

type jsonCommission struct {
	Channel        string `json:"channel"`
	Issuer         string `json:"issuer"`
	Rule           string `json:"rule"`
	Loads          int64  `json:"loads"`
	LoadedFen      int64  `json:"loaded_fen"`
	CommissionFen  int64  `json:"commission_fen"`
	RemainderMicro int64  `json:"remainder_micro"`
}

// jsonTopUps is a cycle's remote top-up line (clearing.TopUpLine) in
// clear show --json.
type jsonTopUps struct {
	Payer          string `json:"payer"`
	Issuer         string `json:"issuer"`
	Rule           string `json:"rule"`
	Paid           int64  `json:"paid"`
	PaidFen        int64  `json:"paid_fen"`
	Refunded       int64  `json:"refunded"`
	RefundedFen    int64  `json:"refunded_fen"`
	CommissionFen  int64  `json:"commission_fen"`
	RemainderMicro int64  `json:"remainder_micro"`
}

type jsonCycle struct {
	Day        string                `json:"day"`
	State      string                `json:"state"`
	Cutoff     string                `json:"cutoff"`
	RangeFrom  int64                 `json:"range_from"`
	RangeTo    int64                 `json:"range_to"`
	OpenedAt   string                `json:"opened_at"`
	ComputedAt string                `json:"computed_at,omitempty"`
	ComputedBy string                `json:"computed_by,omitempty"`
	ReviewedAt string                `json:"reviewed_at,omitempty"`
	ReviewedBy string                `json:"reviewed_by,omitempty"`
	ApprovedAt string                `json:"approved_at,omitempty"`
	ApprovedBy string                `json:"approved_by,omitempty"`
	ClosedAt   string                `json:"closed_at,omitempty"`
	ClosedBy   string                `json:"closed_by,omitempty"`
	Totals     map[string]jsonTotals `json:"totals,omitempty"`
	Positions  []jsonPosition        `json:"positions"`
	Breaches   []jsonBreach          `json:"breaches"`
	Files      []clearing.File       `json:"files"`
	// FareVersion names the fare table the category discounts were
	// priced under ("" for none).
	FareVersion string           `json:"fare_version,omitempty"`
	Concessions []jsonConcession `json:"concessions"`
	Commissions []jsonCommission `json:"commissions"`
	TopUps      []jsonTopUps     `json:"top_ups"`

	// SettlementVersion is the settlement rules the cycle was computed
	// under, which its files are written under (clearing.SettlementVersion).
	SettlementVersion uint8 `json:"settlement_version"`
}

// clearTime formats a cycle's time in its calendar's zone; "" for none.
func clearTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(clearing.DefaultCalendar().Zone).Format(time.RFC3339)
}

// totalsOf names what a result did with the entries it took.
func totalsOf(res *clearing.Result) []struct {
	name string
	t    clearing.Totals
} {
	return []struct {
		name string
		t    clearing.Totals
	}{
		{"claimed", res.Claim.Totals}, {"cleared", res.Cleared}, {"late", res.Late}, {"pending_issuer", res.Pending},
		{"suspense", res.Suspense}, {"duplicates", res.Duplicates}, {"loads", res.Loads},
		{"grey_decisions", res.Claim.Greys}, {"grey_confirmed", res.Confirmed}, {"grey_released", res.Released}, {"grey_reversed", res.Reversed},
		{"interop_accepted", res.Interop.Accepted}, {"interop_rejected", res.Interop.Rejected}, {"interop_incoming", res.Interop.Incoming},
		{"interop_corrected", res.Interop.Corrections},
		{"unpriced", res.Unpriced}, {"ledger_loads", res.Loaded},
		{"top_ups_paid", res.TopUpsPaid}, {"top_ups_refunded", res.TopUpsRefunded},
	}
}

// showCycle prints s: a summary and the positions as a table for a
// person, or one JSON object for a program.
func showCycle(w io.Writer, s *clearing.Stored, asJSON bool) error {
	c := &s.Cycle
	if asJSON {
		jc := jsonCycle{Day: c.Day.String(), State: c.State.String(), Cutoff: clearTime(c.Cutoff), RangeFrom: c.Range.From, RangeTo: c.Range.To,
			OpenedAt: clearTime(c.OpenedAt), ComputedAt: clearTime(c.ComputedAt), ComputedBy: c.ComputedBy, ReviewedAt: clearTime(c.ReviewedAt), ReviewedBy: c.ReviewedBy,
			ApprovedAt: clearTime(c.ApprovedAt), ApprovedBy: c.ApprovedBy, ClosedAt: clearTime(c.ClosedAt), ClosedBy: c.ClosedBy,
			SettlementVersion: uint8(c.SettlementVersion), Positions: []jsonPosition{}, Breaches: []jsonBreach{}, Files: s.Files, Concessions: []jsonConcession{}, Commissions: []jsonCommission{}, TopUps: []jsonTopUps{}}
		if jc.Files == nil {
			jc.Files = []clearing.File{}
		}
		if res := s.Result; res != nil {
			jc.Totals = map[string]jsonTotals{}
			for _, t := range totalsOf(res) {
				jc.Totals[t.name] = jsonTotals{t.t.Count, t.t.AmountFen}
			}
			for _, p := range res.Positions {
				jc.Positions = append(jc.Positions, jsonPosition{p.Party, p.ReceivableFen, p.PayableFen, p.NetFen})
			}
			for _, b := range res.Breaches {
				jc.Breaches = append(jc.Breaches, jsonBreach{b.Party, b.NetFen, b.CapFen})
			}
			jc.FareVersion = res.FareVersion
			for _, l := range res.Concessions {
				jc.Concessions = append(jc.Concessions, jsonConcession(l))
			}
			for _, l := range res.Commissions {
				jc.Commissions = append(jc.Commissions, jsonCommission(l))
			}
			for _, l := range res.TopUps {
				jc.TopUps = append(jc.TopUps, jsonTopUps(l))
			}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(jc)
	}
	fmt.Fprintf(w, "cycle %v: %v (cut-off %s)\n", c.Day, c.State, clearTime(c.Cutoff))
	for _, step := range []struct{ what, at, by string }{
		{"opened", clearTime(c.OpenedAt), ""}, {"computed", clearTime(c.ComputedAt), c.ComputedBy}, {"reviewed", clearTime(c.ReviewedAt), c.ReviewedBy},
		{"approved", clearTime(c.ApprovedAt), c.ApprovedBy}, {"closed", clearTime(c.ClosedAt), c.ClosedBy},
	} {
		if step.at == "" {
			continue
		}
		fmt.Fprintf(w, "  %-9s %s", step.what, step.at)
		if step.by != "" {
			fmt.Fprintf(w, " by %s", step.by)
		}
		fmt.Fprintln(w)
	}
	res := s.Result
	if res == nil {
		fmt.Fprintln(w, "  not computed yet: citycard clear run")
		return nil
	}
	fmt.Fprintf(w, "  journal range %v\n", c.Range)
	for _, t := range totalsOf(res) {
		if t.t.Count != 0 || t.name == "claimed" || t.name == "cleared" {
			fmt.Fprintf(w, "  %-17s %d, %s CNY\n", t.name, t.t.Count, citycard.Yuan(t.t.AmountFen))
		}
	}
	fmt.Fprintln(w)
	width := len("PARTY")
	for _, p := range res.Positions {
		width = max(width, len(p.Party))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tRECEIVABLE (CNY)\tPAYABLE (CNY)\tNET (CNY)\t\n", width, "PARTY")
	var rec, pay, net int64
	for _, p := range res.Positions {
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t\n", width, p.Party, citycard.Yuan(p.ReceivableFen), citycard.Yuan(p.PayableFen), citycard.Yuan(p.NetFen))
		rec, pay, net = rec+p.ReceivableFen, pay+p.PayableFen, net+p.NetFen
	}
	fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t\n", width, "total", citycard.Yuan(rec), citycard.Yuan(pay), citycard.Yuan(net))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, b := range res.Breaches {
		fmt.Fprintf(w, "BREACH: %s nets %s CNY, past its net debit cap of %s CNY: the cycle cannot be reviewed\n", b.Party, citycard.Yuan(b.NetFen), citycard.Yuan(b.CapFen))
	}
	for _, l := range res.Concessions {
		fmt.Fprintf(w, "  concession: %s owes %s %s CNY for %d records of rider category %d (%s discounts of %s CNY)\n",
			l.Funder, l.Operator, citycard.Yuan(l.ClaimFen), l.Records, l.RiderCategory, l.Kind, citycard.Yuan(l.DiscountFen))
	}
	for _, l := range res.Commissions {
		fmt.Fprintf(w, "  commission: %s earns %s CNY on %d loads of %s CNY onto %s's cards\n", l.Channel, citycard.Yuan(l.CommissionFen), l.Loads, citycard.Yuan(l.LoadedFen), l.Issuer)
	}
	for _, l := range res.TopUps {
		fmt.Fprintf(w, "  top-ups: %s owes %s %s CNY for %d remote top-ups of %s CNY less %d refunded of %s CNY, and earns %s CNY\n",
			l.Payer, l.Issuer, citycard.Yuan(l.NetFen()), l.Paid, citycard.Yuan(l.PaidFen), l.Refunded, citycard.Yuan(l.RefundedFen), citycard.Yuan(l.CommissionFen))
	}
	for _, f := range s.Files {
		fmt.Fprintf(w, "  file %s  sha256 %s  %d bytes\n", f.Name, f.SHA256, f.Size)
	}
	return nil
}

// runSettle runs `citycard settle files --date YYYY-MM-DD --out DIR
// [--db URL] [--json]`: the settlement files of a closed cycle, written
// again from its stored result and close time, and checked against the
// hashes kept at close, so that they are the files the cycle closed with,
// byte for byte.
func runSettle(ctx context.Context, e env, args []string) error {
	f := newClearFlags(e, "citycard settle")
	f.out = f.fs.String("out", "", "the directory to write the files to (required)")
	f.fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: citycard settle files --date YYYY-MM-DD --out DIR [--db URL] [--json]")
		fmt.Fprintln(e.stderr)
		fmt.Fprintln(e.stderr, "Writes a closed cycle's positions CSV, settlement instructions CSV and pain.001, and each operator's statement (CSV and report).")
		fmt.Fprintln(e.stderr)
		fmt.Fprintln(e.stderr, "flags:")
		f.fs.PrintDefaults()
	}
	pos, err := parseInterleaved(f.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 || pos[0] != "files" {
		f.fs.Usage()
		return errUsage
	}
	day, err := clearing.ParseDay(*f.date)
	if err != nil {
		return fmt.Errorf("settle: --date: %v: %w", err, errUsage)
	}
	if *f.out == "" {
		return fmt.Errorf("settle: --out DIR: where to write the files: %w", errUsage)
	}
	st, cs, err := openCycles(ctx, *f.db, true)
	if err != nil {
		return err
	}
	defer st.close()
	files, err := settleFiles(ctx, st, cs, day, *f.out, true)
	if err != nil {
		return err
	}
	if *f.asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(files)
	}
	for _, file := range files {
		fmt.Fprintf(e.stdout, "%s  sha256 %s  %d bytes\n", filepath.Join(*f.out, file.Name), file.SHA256, file.Size)
	}
	return nil
}

// settleFiles writes closed cycle day's files into dir (cycleFiles),
// with its statements unless the caller (the bench, which times the
// cycle's files) leaves them out. Kinds of cycleFiles, IO for a failed
// write.
func settleFiles(ctx context.Context, st *stores, cs *clearing.Cycles, day clearing.Day, dir string, statements bool) ([]clearing.File, error) {
	const op = "citycard.settle"
	fs, err := cycleFiles(ctx, st, cs, day, statements)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, citycard.E(op, citycard.IO, "%w", err)
	}
	for _, f := range fs {
		if err := writeFileAtomic(filepath.Join(dir, f.Name), f.Data); err != nil {
			return nil, citycard.E(op, citycard.IO, "%w", err)
		}
	}
	return exchange.Kept(fs), nil
}

// cycleFiles returns closed cycle day's settlement files, each checked
// against the hash kept at close, then its operators' statements (read
// again from the journal and checked against the cycle's result; not
// hashed at close: they are written from the same inputs, so as
// identical). Kind Conflict for a cycle not closed or a file that
// differs from the one it closed with (the registry's names or accounts
// changed since), and the kinds of Statements.
func cycleFiles(ctx context.Context, st *stores, cs *clearing.Cycles, day clearing.Day, statements bool) ([]exchange.SettlementFile, error) {
	const op = "citycard.settle"
	s, err := cs.Cycle(ctx, day)
	if err != nil {
		return nil, err
	}
	if s.Cycle.State != clearing.Closed {
		return nil, citycard.E(op, citycard.Conflict, "cycle %v is %v: settlement files are written for a closed cycle", day, s.Cycle.State)
	}
	parties, err := partiesOf(ctx, st.registry)
	if err != nil {
		return nil, err
	}
	fs, err := exchange.Files(&s.Cycle, s.Result, parties)
	if err != nil {
		return nil, err
	}
	if err := exchange.CheckKept(&s, fs); err != nil {
		return nil, err
	}
	if !statements {
		return fs, nil
	}
	sts, err := cs.Statements(ctx, day)
	if err != nil {
		return nil, err
	}
	sfs, err := exchange.StatementFiles(sts)
	if err != nil {
		return nil, err
	}
	return append(fs, sfs...), nil
}

// clearingAPI is the API's clearing (api.Clearing): the cycles over the
// stores, closed with their settlement files.
type clearingAPI struct {
	*clearing.Cycles
	st *stores
}

// Close closes day d's approved cycle, its files written from the
// registry's parties.
func (c clearingAPI) Close(ctx context.Context, d clearing.Day, by string) (*clearing.Stored, error) {
	parties, err := partiesOf(ctx, c.st.registry)
	if err != nil {
		return nil, err
	}
	return c.Cycles.Close(ctx, d, by, exchange.CloseFiles(parties))
}

// Files returns closed cycle d's files (cycleFiles).
func (c clearingAPI) Files(ctx context.Context, d clearing.Day) ([]exchange.SettlementFile, error) {
	return cycleFiles(ctx, c.st, c.Cycles, d, true)
}

// Before returns the latest cycle before d, in the calendar's zone.
func (c clearingAPI) Before(ctx context.Context, d clearing.Day) (clearing.Stored, bool, error) {
	return c.Cycles.Store.Before(ctx, d)
}

// writeFileAtomic writes data to path through a temporary file renamed
// over it, so that a reader never sees half a settlement file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(tmp, bytes.NewReader(data)); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
