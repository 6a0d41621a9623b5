package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/dburl"
)

const rejectionsUsage = `usage: citycard rejections list [--db URL] [--terminal ID] [--reason R] [--after POS] [--limit N] [--open] [--format table|csv|json]
       citycard rejections resubmit --by NAME (--pos N[,N...] | --terminal ID | --reason R) [--after POS] [--limit N] [--db URL] [--store KEYS] [--kek-file F] [--fares DIR]

list shows the rejection journal: every record the back office refused,
with its reason, and whether it was resubmitted (by whom, with what
answer). Pages hold at most 1000 rejections; the next page starts after
the last position shown (stderr says which).

resubmit runs the acquisition rules again on kept rejections, with the
registry and keys as they are now: records rejected for a reason staff
fixed since (a terminal registered late, a PSAM swapped, a key loaded
late) are booked. Each rejection is resubmitted exactly once: asking
again shows the first resubmission's answer. --by names who asks; it is
kept with the answer in the journal. It opens the store as serve does, so
it runs while no server writes the store: it takes the store's writer
lock, and refuses to run while another process holds it.

flags:
`

// rejectionsOptions are the flags of `citycard rejections`.
type rejectionsOptions struct {
	db, terminal, reason, format, by, pos, faresDir string
	after                                           int64
	limit                                           int
	open                                            bool
	keys                                            keysOptions
}

func runRejections(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("citycard rejections", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, rejectionsUsage); fs.PrintDefaults() }
	o := &rejectionsOptions{}
	fs.StringVar(&o.db, "db", dburl.Default, "database: sqlite:PATH or postgres://...")
	fs.StringVar(&o.terminal, "terminal", "", "only the rejections of this terminal `ID` (12 hex digits)")
	fs.StringVar(&o.reason, "reason", "", "only the rejections of this `reason` (unknown_terminal, psam_not_registered, key_unknown, ...)")
	fs.Int64Var(&o.after, "after", 0, "start after this rejection `position`")
	fs.IntVar(&o.limit, "limit", 100, fmt.Sprintf("at most this many rejections (1 to %d)", acquire.MaxRejectionsPage))
	fs.BoolVar(&o.open, "open", false, "list: only the rejections never resubmitted")
	fs.StringVar(&o.format, "format", "table", "list: table (for a person), csv or json (for a program)")
	fs.StringVar(&o.by, "by", "", "resubmit: who asks (kept in the journal)")
	fs.StringVar(&o.pos, "pos", "", "resubmit: these rejection `positions`, comma-separated")
	fs.StringVar(&o.faresDir, "fares", "", "resubmit: the fare table `dir` serve uses, so that fares are re-checked alike")
	fs.StringVar(&o.keys.store, "store", "citycard-keys.json", "resubmit: the key store `file`")
	fs.StringVar(&o.keys.kekFile, "kek-file", "", "resubmit: `file` holding the key-encryption key (default: $"+envKEK+")")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rejections: %v: %w", err, errUsage)
	}
	if len(pos) != 1 || (pos[0] != "list" && pos[0] != "resubmit") {
		fs.Usage()
		return fmt.Errorf("rejections: want list or resubmit, have %q: %w", strings.Join(pos, " "), errUsage)
	}
	f, err := o.filter()
	if err != nil {
		return err
	}
	if pos[0] == "list" {
		return o.list(ctx, e, f)
	}
	return o.resubmit(ctx, e, f)
}

// filter builds the query of the flags; kind Invalid for a flag out of
// bounds (a usage error).
func (o *rejectionsOptions) filter() (acquire.RejectionFilter, error) {
	f := acquire.RejectionFilter{Reason: o.reason, After: o.after, Limit: o.limit}
	if o.terminal != "" {
		t, err := citycard.ParseTerminalID(o.terminal)
		if err != nil {
			return f, fmt.Errorf("rejections: --terminal: %v: %w", err, errUsage)
		}
		f.Terminal = t
	}
	if err := f.Check(); err != nil {
		return f, fmt.Errorf("rejections: --limit, --after or --reason: %v: %w", err, errUsage)
	}
	return f, nil
}

// rejectionRow is one rejection as list shows it; the JSON names are the
// contract of --format json.
type rejectionRow struct {
	Pos         int64  `json:"pos"`
	Terminal    string `json:"terminal"`
	BatchID     string `json:"batch_id"`
	Index       int    `json:"index"`
	Reason      string `json:"reason"`
	Detail      string `json:"detail"`
	At          string `json:"at"`
	Raw         string `json:"raw"`
	Resubmitted bool   `json:"resubmitted"`
	By          string `json:"resubmitted_by,omitempty"`
	Verdict     string `json:"resubmission_verdict,omitempty"` // the resubmitted record's verdict
}

func (o *rejectionsOptions) list(ctx context.Context, e env, f acquire.RejectionFilter) error {
	if o.format != "table" && o.format != "csv" && o.format != "json" {
		return fmt.Errorf("rejections: --format %q: want table, csv or json: %w", o.format, errUsage)
	}
	if err := mustExist("citycard.rejections", o.db); err != nil {
		return err
	}
	st, err := openStores(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.close()
	rs, err := st.journal.QueryRejections(ctx, f)
	if err != nil {
		return err
	}
	rows := make([]rejectionRow, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		row := rejectionRow{Pos: r.Pos, Terminal: r.Terminal.String(), BatchID: r.BatchID, Index: r.Index, Reason: r.Reason,
			Detail: r.Detail, At: r.At.UTC().Format(time.RFC3339), Raw: fmt.Sprintf("%X", r.Raw)}
		ans, ok, err := acquire.ResubmissionOf(ctx, st.journal, r)
		if err != nil {
			return err
		}
		if ok {
			row.Resubmitted = true
			if ans.Resubmission != nil {
				row.By = ans.Resubmission.By
			}
			if len(ans.Records) == 1 {
				row.Verdict = ans.Records[0].Status
			}
		}
		if o.open && ok {
			continue
		}
		rows = append(rows, row)
	}
	if len(rs) == f.Limit {
		fmt.Fprintf(e.stderr, "rejections: more may follow: next page --after %d\n", rs[len(rs)-1].Pos)
	}
	return writeRejections(e.stdout, o.format, rows)
}

func writeRejections(w io.Writer, format string, rows []rejectionRow) error {
	switch format {
	case "json":
		return json.NewEncoder(w).Encode(rows)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"pos", "terminal", "batch_id", "index", "reason", "detail", "at", "raw", "resubmitted", "resubmitted_by", "resubmission_verdict"})
		for _, r := range rows {
			cw.Write([]string{strconv.FormatInt(r.Pos, 10), r.Terminal, r.BatchID, strconv.Itoa(r.Index), r.Reason, r.Detail, r.At, r.Raw,
				strconv.FormatBool(r.Resubmitted), r.By, r.Verdict})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POS\tTERMINAL\tBATCH\tINDEX\tREASON\tAT\tRESUBMITTED\tDETAIL")
	for _, r := range rows {
		status := "no"
		if r.Resubmitted {
			status = r.Verdict + " (by " + r.By + ")"
		}
		detail := r.Detail
		if len(detail) > 72 {
			detail = detail[:69] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Pos, r.Terminal, r.BatchID, r.Index, r.Reason, r.At, status, detail)
	}
	fmt.Fprintf(tw, "%d rejections\n", len(rows))
	return tw.Flush()
}

// maxResubmitPositions bounds --pos.
const maxResubmitPositions = acquire.MaxRejectionsPage

func (o *rejectionsOptions) resubmit(ctx context.Context, e env, f acquire.RejectionFilter) error {
	const op = "citycard.rejections.resubmit"
	by := strings.TrimSpace(o.by)
	if by == "" {
		return fmt.Errorf("rejections resubmit: --by is required (who asks is kept in the journal): %w", errUsage)
	}
	var positions []int64
	if o.pos != "" {
		for _, p := range strings.Split(o.pos, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil || n < 1 {
				return fmt.Errorf("rejections resubmit: --pos %q: want positions of 1 or more: %w", p, errUsage)
			}
			positions = append(positions, n)
		}
		if len(positions) > maxResubmitPositions {
			return fmt.Errorf("rejections resubmit: %d positions, at most %d at once: %w", len(positions), maxResubmitPositions, errUsage)
		}
	} else if f.Terminal == (citycard.TerminalID{}) && f.Reason == "" {
		return fmt.Errorf("rejections resubmit: say which: --pos, --terminal or --reason: %w", errUsage)
	}
	if err := mustExist(op, o.db); err != nil {
		return err
	}
	ks, err := o.keys.open(op, e)
	if err != nil {
		return err
	}
	st, err := openStores(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.close()
	lock, err := lockWriter(ctx, st)
	if err != nil {
		return fmt.Errorf("rejections resubmit: not while another process writes the store: %w", err)
	}
	defer releaseWriter(lock, e.stderr)
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	bo, err := openAcquisition(ctx, st, ks, o.faresDir, logger)
	if err != nil {
		return err
	}
	var rs []acquire.PositionedRejection
	if positions != nil {
		for _, p := range positions {
			r, err := bo.acq.Rejection(ctx, p)
			if err != nil {
				bo.acq.Close()
				return err
			}
			rs = append(rs, r)
		}
	} else if rs, err = st.journal.QueryRejections(ctx, f); err != nil {
		bo.acq.Close()
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POS\tREASON\tNOW\tDETAIL")
	counts := map[string]int{}
	var failed error
	for i := range rs {
		r := &rs[i]
		ans, err := bo.acq.Resubmit(ctx, *r, by)
		if err != nil {
			fmt.Fprintf(tw, "%d\t%s\terror\t%v\n", r.Pos, r.Reason, err)
			failed = errors.Join(failed, err)
			continue
		}
		ra := ans.Records[0]
		now := ra.Status
		if ans.Repeat {
			now += " (resubmitted before"
			if ans.Resubmission != nil {
				now += " by " + ans.Resubmission.By
			}
			now += ")"
		}
		counts[ra.Status]++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Pos, r.Reason, now, strings.Join(ra.Reasons, "; "))
	}
	fmt.Fprintf(tw, "%d resubmitted: %d accepted, %d flagged, %d duplicate, %d rejected again\n",
		len(rs), counts["accepted"], counts["flagged"], counts["duplicate"], counts["rejected"])
	tw.Flush()
	if err := bo.acq.Close(); err != nil {
		return errors.Join(failed, err)
	}
	return failed
}

// mustExist refuses a SQLite database that does not exist: reading or
// resubmitting must not leave an empty database behind a typo.
func mustExist(op, db string) error {
	u, err := dburl.Parse(db)
	if err != nil || u.Engine != dburl.SQLite {
		return err
	}
	if _, err := os.Stat(u.Path); errors.Is(err, os.ErrNotExist) {
		return citycard.E(op, citycard.NotFound, "no database at %s", u.Path)
	}
	return nil
}
