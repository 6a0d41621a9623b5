package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/whatif"
)

const fareReplayUsage = `usage: citycard fare replay --from DATE --to DATE --feed NEW [--feed-old OLD] [--db URL]
                           [--json] [--out DIR] [--workers N] [--lag-days N] [--reorder-window N] [--whole-journal]

The fare what-if (票价模拟): re-prices every booked purchase the journal
holds, of the days DATE to DATE (YYYY-MM-DD, China time: operating days
of the table in service, at midnight unless its feed_info.txt says
otherwise; at most 31 days), as terminals pricing with the fare table NEW
would have charged it, and reports the revenue as charged (old) against
NEW's (new), per network, line, rider category and hour of day, the cards
affected and the change per card in bands. With --feed-old, the table in
service is re-priced the same way, so that what the replay cannot know
shows (records_unreproduced). It reads the store and writes nothing to
it; a progress line goes to stderr. What the replay knows and assumes:
see the package doc of whatif.

Output: a table for a person on stdout; --json one JSON object instead
(amounts in fen); --out DIR writes summary.csv, by_network.csv,
by_line.csv, by_rider_category.csv, by_hour.csv and change_per_card.csv.

flags:
`

// replayOptions are the flags of `citycard fare replay`.
type replayOptions struct {
	db, from, to, feed, feedOld, out string
	asJSON, whole                    bool
	workers, lagDays                 int
	window                           int64
}

func runFareReplay(ctx context.Context, e env, args []string) error {
	const op = "fare replay"
	fs := flag.NewFlagSet("citycard fare replay", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, fareReplayUsage); fs.PrintDefaults() }
	o := &replayOptions{}
	fs.StringVar(&o.db, "db", dburl.Default, "database: sqlite:PATH or postgres://...")
	fs.StringVar(&o.from, "from", "", "the first `day` replayed, YYYY-MM-DD")
	fs.StringVar(&o.to, "to", "", "the last `day` replayed, YYYY-MM-DD")
	fs.StringVar(&o.feed, "feed", "", "the new fare table's feed `directory`")
	fs.StringVar(&o.feedOld, "feed-old", "", "the table in service's feed `directory`, re-priced the same way")
	fs.StringVar(&o.out, "out", "", "write the report's CSV files into this `directory`")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as one JSON object")
	fs.BoolVar(&o.whole, "whole-journal", false, "read the whole journal, not only what was committed around the days (a simulated journal)")
	fs.IntVar(&o.workers, "workers", 1, "goroutines pricing (cards are split among them)")
	fs.IntVar(&o.lagDays, "lag-days", whatif.DefaultLagDays, "read the journal this many `days` past the last day, for late uploads")
	fs.Int64Var(&o.window, "reorder-window", whatif.DefaultReorderWindow, "journal `positions` a record waits for an earlier record of its card")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("%s: unexpected argument %q: %w", op, fs.Arg(0), errUsage)
	}
	for _, f := range []struct{ name, v string }{{"from", o.from}, {"to", o.to}, {"feed", o.feed}} {
		if f.v == "" {
			fs.Usage()
			return fmt.Errorf("%s: --%s is required: %w", op, f.name, errUsage)
		}
	}
	if o.workers < 1 || o.workers > 64 {
		return fmt.Errorf("%s: --workers %d: 1 to 64: %w", op, o.workers, errUsage)
	}
	if o.window < 1 {
		return fmt.Errorf("%s: --reorder-window %d: at least 1: %w", op, o.window, errUsage)
	}
	if o.lagDays < 0 {
		return fmt.Errorf("%s: --lag-days %d: 0 or more: %w", op, o.lagDays, errUsage)
	}
	cfg := whatif.Config{Workers: o.workers, LagDays: o.lagDays, ReorderWindow: o.window, WholeJournal: o.whole}
	if o.lagDays == 0 {
		cfg.LagDays = -1 // none
	}
	var err error
	if cfg.From, err = whatif.ParseDay(o.from); err != nil {
		return fmt.Errorf("%s: --from: %v: %w", op, err, errUsage)
	}
	if cfg.To, err = whatif.ParseDay(o.to); err != nil {
		return fmt.Errorf("%s: --to: %v: %w", op, err, errUsage)
	}
	if cfg.New, err = loadFeed("--feed", o.feed); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if o.feedOld != "" {
		if cfg.Old, err = loadFeed("--feed-old", o.feedOld); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if err := mustExist("citycard.fare.replay", o.db); err != nil {
		return err
	}
	st, err := openStores(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.close()

	bar := newProgressBar(e.stderr, time.Now)
	cfg.Progress = bar.show
	start := time.Now()
	rep, err := whatif.Run(ctx, st.journal, cfg)
	bar.done()
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(e.stderr, "fare replay: %d journaled records read, %d records re-priced in %.1f s: %.0f records/s (%d workers)\n",
		rep.RecordsRead, rep.Records, took.Seconds(), float64(rep.Records)/max(took.Seconds(), 1e-9), o.workers)
	if o.out != "" {
		if err := writeReplayCSV(o.out, rep); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	return rep.WriteText(e.stdout)
}

// loadFeed loads the fare table of a flag, its errors naming the flag.
func loadFeed(flagName, dir string) (*fare.Table, error) {
	t, err := fare.Load(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flagName, dir, err)
	}
	return t, nil
}

// writeReplayCSV writes the report's tables into dir, one file each.
func writeReplayCSV(dir string, rep *whatif.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, t := range rep.Tables() {
		f, err := os.Create(filepath.Join(dir, t.Name))
		if err != nil {
			return err
		}
		err = t.WriteCSV(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	return nil
}

// progressBar shows a replay's progress on stderr: redrawn in place on a
// terminal, a line every tenth otherwise (a log, a test).
type progressBar struct {
	w       io.Writer
	tty     bool
	now     func() time.Time
	start   time.Time
	lastTen int64
	drawn   bool
}

func newProgressBar(w io.Writer, now func() time.Time) *progressBar {
	b := &progressBar{w: w, now: now, start: now(), lastTen: -1}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

func (b *progressBar) show(p whatif.Progress) {
	if p.Total <= 0 {
		return
	}
	pct := p.Read * 100 / p.Total
	rate := float64(p.Read) / max(b.now().Sub(b.start).Seconds(), 1e-9)
	const width = 30
	n := int(pct * width / 100)
	line := fmt.Sprintf("fare replay [%s%s] %3d%% %d/%d journaled records, %.0f/s", strings.Repeat("#", n), strings.Repeat(".", width-n), pct, p.Read, p.Total, rate)
	switch {
	case b.tty:
		fmt.Fprintf(b.w, "\r%s", line)
		b.drawn = true
	case pct/10 > b.lastTen:
		b.lastTen = pct / 10
		fmt.Fprintln(b.w, line)
	}
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

// dirFeeds are the candidate fare feeds of serve --fare-feeds: each
// subdirectory of the directory is a feed, named by its directory and
// loaded when the API asks for it (a replay runs one at a time, and a
// feed loads in milliseconds), so that a feed dropped in is served
// without a restart.
type dirFeeds string

// FareFeed implements api.FareFeeds: kind NotFound for a name that is no
// subdirectory (or not a plain name), Invalid for a feed that does not
// load.
func (d dirFeeds) FareFeed(name string) (*fare.Table, error) {
	const op = "citycard.FareFeed"
	if !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) {
		return nil, citycard.E(op, citycard.NotFound, "no fare feed %q", name)
	}
	dir := filepath.Join(string(d), name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, citycard.E(op, citycard.NotFound, "no fare feed %q", name)
	}
	t, err := fare.Load(os.DirFS(dir))
	if err != nil {
		return nil, citycard.E(op, citycard.Invalid, "fare feed %q: %w", name, err)
	}
	return t, nil
}
