package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/recon"
)

// cycleSettlements gives reconciliation the closed cycles' settlement
// instructions: written again from each cycle's stored result and the
// registry, and checked against the files it closed with, so that what
// is matched is what the bank was sent.
type cycleSettlements struct {
	st *stores
	cs *clearing.Cycles
}

// Settlements implements recon.Settlements, newest cycle first. A cycle
// is closed only after the one before it, so close days grow with the
// cycles' days, and the walk back stops at the first closed before from.
func (c cycleSettlements) Settlements(ctx context.Context, from, to clearing.Day) ([]*exchange.Settlement, error) {
	parties, err := partiesOf(ctx, c.st.registry)
	if err != nil {
		return nil, err
	}
	var out []*exchange.Settlement
	for before := clearing.Day(math.MaxInt32); ; {
		s, ok, err := c.cs.Store.Before(ctx, before)
		if err != nil || !ok {
			return out, err
		}
		before = s.Cycle.Day
		if s.Cycle.State != clearing.Closed {
			continue
		}
		if s, err = c.cs.Cycle(ctx, s.Cycle.Day); err != nil {
			return nil, err
		}
		closed := s.Cycle.ClosedAt
		switch due := clearing.DayOf(closed.Year(), closed.Month(), closed.Day()); {
		case due < from:
			return out, nil
		case due > to:
			continue
		}
		fs, err := exchange.Files(&s.Cycle, s.Result, parties)
		if err != nil {
			return nil, err
		}
		if err := exchange.CheckKept(&s, fs); err != nil {
			return nil, err
		}
		set, err := exchange.Settle(&s.Cycle, s.Result, parties)
		if err != nil {
			return nil, err
		}
		out = append(out, set)
	}
}

// reconcilerOver returns the reconciliation over st, with clock now:
// statements of the collector's settlement account only, matched within
// tolerance days (0: the default).
func reconcilerOver(ctx context.Context, st *stores, now func() time.Time, tolerance int) (*recon.Reconciler, error) {
	cs, err := cyclesOver(ctx, st, now)
	if err != nil {
		return nil, err
	}
	own, err := ownIssuer(ctx, st.registry) // cyclesOver found it
	if err != nil {
		return nil, err
	}
	p, err := st.registry.Party(ctx, own.String())
	if err != nil {
		return nil, err
	}
	return recon.New(recon.Config{ToleranceDays: tolerance, Account: p.SettlementAccount, Zone: clearing.DefaultCalendar().Zone}, st.recon, cycleSettlements{st, cs}, now)
}

// runRecon runs `citycard recon import FILE [--format camt053|csv]`,
// `recon list [--open] [--format table|csv|json]` and `recon resolve ID
// --by NAME --decision D --note TEXT [--point P]`.
func runRecon(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("citycard recon", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	format := fs.String("format", "", "import: camt053 or csv (default: from the file); list: table, csv or json (default table)")
	by := fs.String("by", "", "the member of staff who imports (default cli) or resolves (required)")
	open := fs.Bool("open", false, "list: only the findings still open")
	note := fs.String("note", "", "resolve: why (required)")
	decision := fs.String("decision", "", "resolve: corrected, accepted, not_ours (a movement's) or written_off (required)")
	point := fs.String("point", "back-office", "import, resolve: the service point it is done at")
	tolerance := fs.Int("tolerance-days", recon.DefaultToleranceDays, "import: how many days a movement matched by reference may be booked from its instruction's due day (0 to 31)")
	asJSON := fs.Bool("json", false, "import, resolve: print JSON for a program instead of text for a person")
	fs.Usage = flagUsage(e.stderr, fs,
		"usage: citycard recon import FILE [--format camt053|csv] [--by NAME] [--tolerance-days N] [--db URL] [--json]",
		"       citycard recon list [--open] [--format table|csv|json] [--db URL]",
		"       citycard recon resolve ID --by NAME --decision D --note TEXT [--point P] [--db URL] [--json]",
		"",
		"Reconciliation (对账): the bank's statement of the collector's account (ISO 20022 camt.053, or CSV) matched against the closed cycles' settlement instructions; what does not match stays open until staff resolve it.",
	)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	want := map[string]int{"import": 2, "list": 1, "resolve": 2}
	if len(pos) == 0 || want[pos[0]] != len(pos) {
		fs.Usage()
		return errUsage
	}
	tol := *tolerance
	if tol == 0 {
		tol = -1 // recon.Config's 0 days
	}
	switch pos[0] {
	case "import":
		f := recon.Format(0)
		if *format != "" {
			if f, err = recon.ParseFormat(*format); err != nil {
				return fmt.Errorf("recon import: --format: %v: %w", err, errUsage)
			}
		}
		if *by == "" {
			*by = "cli"
		}
		return reconImport(ctx, e, *db, pos[1], f, *by, *point, tol, *asJSON)
	case "list":
		switch *format {
		case "":
			*format = "table"
		case "table", "csv", "json":
		default:
			return fmt.Errorf("recon list: --format %q: want table, csv or json: %w", *format, errUsage)
		}
		return reconList(ctx, e, *db, *open, *format)
	}
	if *by == "" || *note == "" || *decision == "" {
		return fmt.Errorf("recon resolve: --by NAME, --decision D and --note TEXT: who decided what, and why: %w", errUsage)
	}
	d, err := recon.ParseDecision(*decision)
	if err != nil {
		return fmt.Errorf("recon resolve: --decision: %v: %w", err, errUsage)
	}
	st, r, err := openReconciler(ctx, *db, false, tol)
	if err != nil {
		return err
	}
	defer st.close()
	f, err := r.Resolve(ctx, pos[1], d, *note, *by, *point)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, f.View())
	}
	fmt.Fprintf(e.stdout, "%s (%v): %v by %s at %s: %s\n", f.ID, f.State, f.Resolution.Decision, f.Resolution.By, f.Resolution.Point, f.Resolution.Note)
	return nil
}

// openReconciler opens the stores and the reconciliation over them; a
// read of a SQLite file that is not there is NotFound (openCycles).
func openReconciler(ctx context.Context, db string, reading bool, tolerance int) (*stores, *recon.Reconciler, error) {
	st, _, err := openCycles(ctx, db, reading)
	if err != nil {
		return nil, nil, err
	}
	r, err := reconcilerOver(ctx, st, time.Now, tolerance)
	if err != nil {
		st.close()
		return nil, nil, err
	}
	return st, r, nil
}

// reconImport imports the statement in file (format f, or sniffed).
func reconImport(ctx context.Context, e env, db, file string, f recon.Format, by, point string, tolerance int, asJSON bool) error {
	const op = "citycard.recon"
	info, err := os.Stat(file)
	if err != nil {
		return citycard.E(op, citycard.NotFound, "%w", err)
	}
	if info.Size() > recon.FileBytesMax {
		return citycard.E(op, citycard.Invalid, "%s: %d bytes, at most %d", file, info.Size(), recon.FileBytesMax)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return citycard.E(op, citycard.IO, "%w", err)
	}
	if f == 0 {
		f = recon.Sniff(data)
	}
	bs, err := recon.Parse(f, filepath.Base(file), data)
	if err != nil {
		return err
	}
	st, r, err := openReconciler(ctx, db, false, tolerance)
	if err != nil {
		return err
	}
	defer st.close()
	got, err := r.Import(ctx, bs, by, point)
	if err != nil {
		return err
	}
	open, err := r.Findings(ctx, true)
	if err != nil {
		return err
	}
	sum := got.Summary()
	if asJSON {
		return writeJSON(e, struct {
			recon.ImportSummary
			Open int `json:"open"`
		}{sum, len(open)})
	}
	if got.Replayed {
		fmt.Fprintf(e.stdout, "statement %s (sha256 %s) was imported before: nothing changed; %d findings open\n", got.Statement, got.SHA256, len(open))
		return nil
	}
	fmt.Fprintf(e.stdout, "statement %s: %d movements, %d matched, %d mismatched; %d findings open (citycard recon list --open)\n", got.Statement, got.Movements, sum.Matched, sum.Mismatched, len(open))
	return nil
}

// reconList prints the findings in format.
func reconList(ctx context.Context, e env, db string, open bool, format string) error {
	st, r, err := openReconciler(ctx, db, true, 0)
	if err != nil {
		return err
	}
	defer st.close()
	fs, err := r.Findings(ctx, open)
	if err != nil {
		return err
	}
	switch format {
	case "csv":
		return recon.WriteFindingsCSV(e.stdout, fs)
	case "json":
		vs := make([]recon.FindingView, len(fs))
		for i := range fs {
			vs[i] = fs[i].View()
		}
		return writeJSON(e, struct {
			Findings []recon.FindingView `json:"findings"`
		}{vs})
	}
	return recon.WriteFindingsTable(e.stdout, fs)
}

func writeJSON(e env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
