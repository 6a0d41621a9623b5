package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/record"
)

// interopSubcommands are the subcommands of `citycard interop`.
var interopSubcommands = []struct{ name, summary string }{
	{"export", "write a closed cycle's OUT file (other cities' cards' records pending their issuer, and their grey records it confirmed), or with --type ERR or DSP our error or dispute cases of a day that is over, to --out, and store it"},
	{"import", "import a file from the national centre (ANS, INC, ERR, DSP, CTY, BLK): all of it or nothing, once"},
	{"files", "list the stored files: type, direction, records, amount, the cycle that settled them"},
	{"show", "write a stored file's bytes (our answer to an INC file, say) to stdout or --out"},
	{"records", "list the records of an OUT or INC file with their state and reason"},
	{"cities", "the interconnected cities terminals accept on --date"},
}

// interopFileMax bounds the file interop import reads (interop.FileLenMax).
const interopFileMax = interop.FileLenMax

// runInterop runs `citycard interop export|import|files|show|records|cities`.
func runInterop(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("citycard interop", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	date := fs.String("date", "", "export, cities: the business day, YYYY-MM-DD")
	out := fs.String("out", "", "export: the file to write (required); import: where to write our answer to an INC file; show: the file to write (default stdout)")
	typ := fs.String("type", "OUT", "export: OUT (a closed cycle's records), ERR or DSP (our cases raised on --date)")
	centre := fs.String("centre", interop.Centre.String(), "export: the national centre's institution `code` (16 hex digits), the OUT file's receiver")
	asJSON := fs.Bool("json", false, "print JSON for a program instead of text for a person")
	ko := &keysOptions{}
	fs.StringVar(&ko.store, "store", "citycard-keys.json", "import of an INC file: the key store `file` (our cards' TAC keys)")
	fs.StringVar(&ko.kekFile, "kek-file", "", "import of an INC file: `file` holding the key-encryption key (default: $"+envKEK+")")
	fs.Usage = func() { interopUsage(e.stderr, fs) }
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) == 0 || !slices.ContainsFunc(interopSubcommands, func(c struct{ name, summary string }) bool { return c.name == pos[0] }) {
		interopUsage(e.stderr, fs)
		return errUsage
	}
	want := map[string]int{"export": 1, "import": 2, "files": 1, "show": 2, "records": 2, "cities": 1}[pos[0]]
	if len(pos) != want {
		return fmt.Errorf("interop %s: %d arguments, want %d: %w", pos[0], len(pos)-1, want-1, errUsage)
	}
	var day clearing.Day
	if pos[0] == "export" || pos[0] == "cities" {
		if day, err = clearing.ParseDay(*date); err != nil {
			return fmt.Errorf("interop %s: --date: %v: %w", pos[0], err, errUsage)
		}
	}
	if pos[0] == "export" && *out == "" {
		return fmt.Errorf("interop export: --out FILE: where to write the file: %w", errUsage)
	}
	var body []byte
	if pos[0] == "import" {
		// Read before opening the store: a missing file changes nothing.
		if body, err = readBounded(pos[1], interopFileMax); err != nil {
			return err
		}
	}
	st, cs, err := openCycles(ctx, *db, pos[0] != "export" && pos[0] != "import")
	if err != nil {
		return err
	}
	defer st.close()
	x := cs.Interconnect.(*interop.Interop)
	switch pos[0] {
	case "export":
		c, err := citycard.ParseIssuerCode(*centre)
		if err != nil {
			return fmt.Errorf("interop export: --centre: %v: %w", err, errUsage)
		}
		x.Centre = c
		var b []byte
		switch *typ {
		case "OUT":
			b, err = x.Export(ctx, day)
		case "ERR", "DSP":
			t, _ := interop.ParseFileType(*typ)
			b, err = x.ExportCases(ctx, t, interop.Day(day))
		default:
			return fmt.Errorf("interop export: --type %q: want OUT, ERR or DSP: %w", *typ, errUsage)
		}
		if err != nil {
			return err
		}
		if err := writeFileAtomic(*out, b); err != nil {
			return err
		}
		f, err := interop.Decode(*out, b)
		if err != nil {
			return err
		}
		return printInteropFile(e.stdout, interop.StoredOf(f, b, true), *asJSON)
	case "import":
		if imp, err := peekKind(pos[1], body); err == nil && imp == interop.FileIncoming {
			ks, err := ko.open("citycard.interop", e)
			if err != nil {
				return err
			}
			x.Verifier = record.NewVerifier(ks, x.Own)
		}
		imp, err := x.Import(ctx, pos[1], body)
		if err != nil {
			return err
		}
		if imp.Answer != nil && *out != "" {
			if err := writeFileAtomic(*out, imp.Answer); err != nil {
				return err
			}
		}
		return printImported(e.stdout, imp, *asJSON)
	case "files":
		fs, err := st.interop.Files(ctx)
		if err != nil {
			return err
		}
		return printInteropFiles(e.stdout, fs, *asJSON)
	case "show":
		f, err := st.interop.File(ctx, pos[1])
		if err != nil {
			return err
		}
		if *out != "" {
			return writeFileAtomic(*out, f.Body)
		}
		_, err = e.stdout.Write(f.Body)
		return err
	case "records":
		return printInteropRecords(ctx, e.stdout, st.interop, pos[1], *asJSON)
	default:
		c, err := x.Cities(ctx)
		if err != nil {
			return err
		}
		return printCities(e.stdout, c.InForce(interop.Day(day)), *asJSON)
	}
}

func interopUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: citycard interop export --date YYYY-MM-DD --out FILE | import FILE [--out ANSWER] | files | show ID | records ID | cities --date YYYY-MM-DD [--db URL] [--json]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The files of the national interconnection centre (docs/interop.md). A received answer, incoming or error file settles")
	fmt.Fprintln(w, "in the next clearing cycle to close (citycard clear run).")
	fmt.Fprintln(w)
	fmt.Fprint(w, "subcommands:")
	for _, s := range interopSubcommands {
		fmt.Fprintf(w, "\n  %-8s %s", s.name, s.summary)
	}
	fmt.Fprint(w, "\n\nflags:\n")
	fs.PrintDefaults()
}

// readBounded reads file path, at most max bytes. Kind NotFound, IO,
// Invalid (longer than max).
func readBounded(path string, max int64) ([]byte, error) {
	const op = "citycard.readBounded"
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, citycard.E(op, citycard.NotFound, "no file %s", path)
	}
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "%w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, citycard.E(op, citycard.Invalid, "%s: more than %d bytes", path, max)
	}
	return b, nil
}

// peekKind reads the kind of a file from its header, before the file is
// checked whole (by Import): to know whether it needs the key store.
func peekKind(name string, b []byte) (interop.FileType, error) {
	f, err := interop.Decode(name, b)
	if err != nil {
		return 0, err
	}
	return f.Header.Type, nil
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printInteropFile(w io.Writer, f interop.Stored, asJSON bool) error {
	if asJSON {
		return writeIndentedJSON(w, f.View())
	}
	return printInteropFiles(w, []interop.Stored{f}, false)
}

func printInteropFiles(w io.Writer, fs []interop.Stored, asJSON bool) error {
	if asJSON {
		out := make([]interop.FileView, 0, len(fs))
		for i := range fs {
			out = append(out, fs[i].View())
		}
		return writeIndentedJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tDIRECTION\tDAY\tRECORDS\tAMOUNT (yuan)\tREFERS\tSETTLED BY")
	for i := range fs {
		j := fs[i].View()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.Type, j.Direction, j.Day, j.Records, citycard.Yuan(j.AmountFen), j.Refers, j.TakenBy)
	}
	return tw.Flush()
}

type jsonImported struct {
	File     interop.FileView `json:"file"`
	Already  bool             `json:"already"`
	Accepted interop.Totals   `json:"accepted"`
	Rejected interop.Totals   `json:"rejected"`
	Answer   string           `json:"answer,omitempty"` // our answer's ID
}

func printImported(w io.Writer, imp *interop.Imported, asJSON bool) error {
	j := jsonImported{File: imp.File.View(), Already: imp.Already, Accepted: imp.Accepted, Rejected: imp.Rejected}
	if imp.Answer != nil {
		j.Answer = interop.AnswerID(imp.File.ID)
	}
	if asJSON {
		return writeIndentedJSON(w, j)
	}
	if imp.Already {
		fmt.Fprintf(w, "%s %s: imported before (the same bytes): nothing changed\n", j.File.Type, j.File.ID)
		return nil
	}
	fmt.Fprintf(w, "%s %s: %d records, %s yuan", j.File.Type, j.File.ID, j.File.Records, citycard.Yuan(j.File.AmountFen))
	if imp.Accepted.Count+imp.Rejected.Count > 0 {
		fmt.Fprintf(w, "; accepted %d (%s yuan), rejected %d (%s yuan)", imp.Accepted.Count, citycard.Yuan(imp.Accepted.AmountFen), imp.Rejected.Count, citycard.Yuan(imp.Rejected.AmountFen))
	}
	fmt.Fprintln(w)
	if j.Answer != "" {
		fmt.Fprintf(w, "our answer %s is stored (citycard interop show %s)\n", j.Answer, j.Answer)
	}
	return nil
}

func printInteropRecords(ctx context.Context, w io.Writer, s interop.Store, id string, asJSON bool) error {
	var out []interop.RecView
	err := s.Records(ctx, id, func(r *interop.Rec) error {
		out = append(out, r.View())
		return nil
	})
	if err != nil {
		return err
	}
	if out == nil {
		if _, err := s.File(ctx, id); err != nil {
			return err
		}
		out = []interop.RecView{}
	}
	if asJSON {
		return writeIndentedJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tISSUER\tASN\tCOUNTER\tAMOUNT (yuan)\tACQUIRER\tSTATE\tREASON\tANSWERED BY\tGREY AT")
	for _, r := range out {
		// GREY AT: a G line's grey record, by its journal position.
		grey := ""
		if r.GreyPos != 0 {
			grey = strconv.FormatInt(r.GreyPos, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Issuer, r.ASN, r.Counter, citycard.Yuan(r.AmountFen), r.Acquirer, r.State, r.Reason, r.AnsweredBy, grey)
	}
	return tw.Flush()
}

func printCities(w io.Writer, cs []interop.City, asJSON bool) error {
	out := make([]interop.CityView, 0, len(cs))
	for i := range cs {
		out = append(out, cs[i].View())
	}
	if asJSON {
		return writeIndentedJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CITY\tINSTITUTION\tNAME\tANNOUNCED\tIN FORCE FROM")
	for _, c := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.City, c.Institution, c.Name, c.Announced, c.Effective)
	}
	return tw.Flush()
}
