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

// clearParamKind is one kind of clearing parameter the CLI sets and
// shows as `clear fees` does fee schedules: a file format, its stored
// versions, and their JSON.
type clearParamKind struct {
	what, format string
	// set decodes file name's versions and stores them; it returns how
	// many.
	set func(ctx context.Context, cs *clearing.Cycles, name string, r io.Reader, by string) (int, error)
	// show prints the stored versions (those in force on d when inForce)
	// in the file format, or as JSON.
	show func(ctx context.Context, cs *clearing.Cycles, w io.Writer, d clearing.Day, inForce, asJSON bool) error
}

// clearParamKinds are `clear concessions`, `clear commissions` and
// `clear caps`.
var clearParamKinds = map[string]*clearParamKind{
	"concessions": {what: "concession", format: "Concession files", set: setConcessions, show: showConcessions},
	"commissions": {what: "commission schedule", format: "Fee schedule files (a commission's rules list no products, card types or channels)", set: setCommissions, show: showCommissions},
	"caps":        {what: "net debit cap", format: "Net debit cap files", set: setCaps, show: showCaps},
}

// runClearParams runs `citycard clear KIND set FILE --by NAME [--db URL]`
// and `citycard clear KIND show [--date YYYY-MM-DD] [--db URL] [--json]`.
func runClearParams(ctx context.Context, e env, name string, args []string) error {
	k := clearParamKinds[name]
	fs := flag.NewFlagSet("citycard clear "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	by := fs.String("by", "", "the member of staff who sets them (set)")
	date := fs.String("date", "", "show only the versions in force on this day, YYYY-MM-DD (show)")
	asJSON := fs.Bool("json", false, "print JSON for a program instead of the file format (show)")
	fs.Usage = flagUsage(e.stderr, fs,
		"usage: citycard clear "+name+" set FILE --by NAME [--db URL]",
		"       citycard clear "+name+" show [--date YYYY-MM-DD] [--db URL] [--json]",
		"",
		"set stores the "+k.what+" versions of FILE (README.md, \""+k.format+"\"), all or none;",
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
			return fmt.Errorf("clear %s set: --by NAME: who sets them: %w", name, errUsage)
		}
		f, err := os.Open(pos[1])
		if err != nil {
			return citycard.E("citycard.clear."+name, citycard.IO, "%w", err)
		}
		defer f.Close()
		st, cs, err := openCycles(ctx, *db, false)
		if err != nil {
			return err
		}
		defer st.close()
		n, err := k.set(ctx, cs, pos[1], f, *by)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d %s versions set from %s\n", n, k.what, pos[1])
		return nil
	case len(pos) == 1 && pos[0] == "show":
		var d clearing.Day
		if *date != "" {
			if d, err = clearing.ParseDay(*date); err != nil {
				return fmt.Errorf("clear %s show: --date: %v: %w", name, err, errUsage)
			}
		}
		st, cs, err := openCycles(ctx, *db, true)
		if err != nil {
			return err
		}
		defer st.close()
		return k.show(ctx, cs, e.stdout, d, *date != "", *asJSON)
	}
	fs.Usage()
	return errUsage
}

func setConcessions(ctx context.Context, cs *clearing.Cycles, name string, r io.Reader, by string) (int, error) {
	vs, err := clearing.DecodeConcessions(name, r)
	if err != nil {
		return 0, err
	}
	return len(vs), cs.SetConcessions(ctx, vs, by)
}

func setCommissions(ctx context.Context, cs *clearing.Cycles, name string, r io.Reader, by string) (int, error) {
	vs, err := clearing.DecodeFees(name, r)
	if err != nil {
		return 0, err
	}
	return len(vs), cs.SetCommissions(ctx, vs, by)
}

func setCaps(ctx context.Context, cs *clearing.Cycles, name string, r io.Reader, by string) (int, error) {
	vs, err := clearing.DecodeCaps(name, r)
	if err != nil {
		return 0, err
	}
	return len(vs), cs.SetCaps(ctx, vs, by)
}

func showConcessions(ctx context.Context, cs *clearing.Cycles, w io.Writer, d clearing.Day, inForce, asJSON bool) error {
	vs, err := cs.Concessions(ctx)
	if err != nil {
		return err
	}
	if inForce {
		vs = clearing.ConcessionsInForce(vs, d)
	}
	if !asJSON {
		return clearing.EncodeConcessions(w, vs)
	}
	return encodeJSON(w, api.ConcessionVersionsJSON(vs))
}

func showCommissions(ctx context.Context, cs *clearing.Cycles, w io.Writer, d clearing.Day, inForce, asJSON bool) error {
	vs, err := cs.Commissions(ctx)
	if err != nil {
		return err
	}
	if inForce {
		vs = clearing.VersionsInForce(vs, d)
	}
	if asJSON {
		return encodeJSON(w, api.FeeVersionsJSON(vs))
	}
	return clearing.EncodeFees(w, vs)
}

func showCaps(ctx context.Context, cs *clearing.Cycles, w io.Writer, d clearing.Day, inForce, asJSON bool) error {
	vs, err := cs.Caps(ctx)
	if err != nil {
		return err
	}
	if inForce {
		vs = clearing.CapVersionsInForce(vs, d)
	}
	if !asJSON {
		return clearing.EncodeCaps(w, vs)
	}
	return encodeJSON(w, api.CapVersionsJSON(vs))
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
