package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/dburl"
)

// runClearFees runs `citycard clear fees set FILE --by NAME [--db URL]`
// and `citycard clear fees show [--date YYYY-MM-DD] [--db URL] [--json]`.
func runClearFees(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("citycard clear fees", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	by := fs.String("by", "", "the member of staff who sets the schedules (set)")
	date := fs.String("date", "", "show only the schedules in force on this day, YYYY-MM-DD (show)")
	asJSON := fs.Bool("json", false, "print JSON for a program instead of the file format (show)")
	fs.Usage = flagUsage(e.stderr, fs,
		"usage: citycard clear fees set FILE --by NAME [--db URL]",
		"       citycard clear fees show [--date YYYY-MM-DD] [--db URL] [--json]",
		"",
		"set stores the fee schedule versions of FILE (README.md, \"Fee schedule files\"), all or none;",
		"show prints the stored versions in the same format, so that they can be set again.",
	)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	switch {
	case len(pos) == 2 && pos[0] == "set":
		if *by == "" {
			return fmt.Errorf("clear fees set: --by NAME: who sets them: %w", errUsage)
		}
		f, err := os.Open(pos[1])
		if err != nil {
			return citycard.E("citycard.clear.fees", citycard.IO, "%w", err)
		}
		vs, err := clearing.DecodeFees(pos[1], f)
		f.Close()
		if err != nil {
			return err
		}
		st, cs, err := openCycles(ctx, *db, false)
		if err != nil {
			return err
		}
		defer st.close()
		if err := cs.SetFees(ctx, vs, *by); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d fee schedule versions set from %s\n", len(vs), pos[1])
		return nil
	case len(pos) == 1 && pos[0] == "show":
		st, err := openReading(ctx, *db)
		if err != nil {
			return err
		}
		defer st.close()
		vs, err := st.clearing.FeeVersions(ctx)
		if err != nil {
			return err
		}
		if *date != "" {
			d, err := clearing.ParseDay(*date)
			if err != nil {
				return fmt.Errorf("clear fees show: --date: %v: %w", err, errUsage)
			}
			vs = clearing.VersionsInForce(vs, d)
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(api.FeeVersionsJSON(vs))
		}
		return clearing.EncodeFees(e.stdout, vs)
	}
	fs.Usage()
	return errUsage
}

// openReading opens the stores of db to read them: a SQLite file that is
// not there is NotFound, rather than an empty database left behind a
// typo.
func openReading(ctx context.Context, db string) (*stores, error) {
	if u, err := dburl.Parse(db); err == nil && u.Engine == dburl.SQLite {
		if _, err := os.Stat(u.Path); errors.Is(err, os.ErrNotExist) {
			return nil, citycard.E("citycard.clear", citycard.NotFound, "no database at %s", u.Path)
		}
	}
	return openStores(ctx, db)
}

// flagUsage returns a flag set's Usage: lines, a blank line, its flags.
func flagUsage(w io.Writer, fs *flag.FlagSet, lines ...string) func() {
	return func() {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "flags:")
		fs.PrintDefaults()
	}
}
