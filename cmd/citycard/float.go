package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// runFloat runs `citycard float [--db URL] [--json]`: the stored value
// outstanding per issuer, reconciled three ways (clearing's package doc,
// "Card float"). An unsound report is its error (kind Conflict), so the
// exit status says it.
func runFloat(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("citycard float", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	asJSON := fs.Bool("json", false, "print JSON (fen) for a program instead of a table (yuan) for a person (--format json)")
	format := fs.String("format", floatAsTable, "table (yuan, for a person), json or csv (fen, for a program)")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil || len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	if *asJSON {
		*format = floatAsJSON
	}
	if *format != floatAsTable && *format != floatAsJSON && *format != floatAsCSV {
		return fmt.Errorf("float: --format %q: want table, json or csv: %w", *format, errUsage)
	}
	if u, err := dburl.Parse(*db); err == nil && u.Engine == dburl.SQLite {
		if _, err := os.Stat(u.Path); errors.Is(err, os.ErrNotExist) {
			return citycard.E("citycard.float", citycard.NotFound, "no database at %s", u.Path)
		}
	}
	st, err := openStores(ctx, *db)
	if err != nil {
		return err
	}
	defer st.close()
	figs, err := floatFigures(ctx, st)
	if err != nil {
		return err
	}
	rep := clearing.ReconcileFloat(figs)
	if err := printFloat(e.stdout, rep, *format); err != nil {
		return err
	}
	if !rep.Sound {
		return citycard.E("citycard.float", citycard.Conflict, "the float does not reconcile: see the lines marked off")
	}
	return nil
}

// floatFigures gathers each issuer's three figures, and those of each of
// its card products (clearing.FloatSplit): the ledger's card float
// postings, put on products through their entries' drill-down; the card
// shadows (the journal replayed: no record is verified, so the acquirer
// needs no keys) and the journal's records and grey decisions; card
// management's book, by product, for our own issuer.
func floatFigures(ctx context.Context, st *stores) ([]clearing.FloatFigures, error) {
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		return nil, err
	}
	products := map[citycard.ASN]string{}
	if err := st.cms.CardProducts(ctx, func(asn citycard.ASN, p string) error { products[asn] = p; return nil }); err != nil {
		return nil, err
	}
	split := clearing.NewFloatSplit(own.String(), products)
	acq, err := acquire.Open(ctx, acquire.Config{Journal: st.journal, Terminals: terminalsOf(st.registry), Verifier: record.NewVerifier(nil, own)})
	if err != nil {
		return nil, err
	}
	acq.Shadows(split.Shadow)
	if err := acq.Close(); err != nil {
		return nil, err
	}
	// The interconnection's entries on our float, by their file: their
	// records are read once the scan is done.
	type interopEntry struct {
		t    ledger.EntryType
		file string
	}
	interopEntries := map[interopEntry]bool{}
	err = st.ledger.Scan(ctx, 0, func(p *ledger.Posted) error {
		for _, q := range p.Postings {
			if q.Account.Type != ledger.CardFloat {
				continue
			}
			split.Posting(q.Account.Party, p.Source, q.AmountFen)
			if q.Account.Party == own.String() && interop.MovesFloat(p.Type) {
				interopEntries[interopEntry{p.Type, p.Source}] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for e := range interopEntries {
		err := interop.FloatMoves(ctx, st.interop, e.t, e.file, func(asn citycard.ASN, fen int64) error {
			split.Incoming(e.file, asn, fen)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// The grey decisions, by the position of the record that made them:
	// few, so kept in memory to meet their batch in the journal's replay.
	greys := map[int64][]acquire.GreyDecision{}
	err = st.clearing.Greys(ctx, clearing.Range{From: 0, To: math.MaxInt64}, func(g *acquire.GreyDecision) error {
		greys[g.Pos] = append(greys[g.Pos], *g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = st.journal.Replay(ctx, 0, func(e *acquire.Journaled) error {
		for i := range greys[e.Pos] {
			split.Grey(acquire.LedgerSource(e.Terminal, e.BatchID), &greys[e.Pos][i])
		}
		return split.Record(e)
	})
	if err != nil {
		return nil, err
	}
	byProduct, err := st.cms.ProductFlowTotals(ctx)
	if err != nil {
		return nil, err
	}
	split.Book(byProduct)
	return split.Figures(), nil
}

type jsonFloatLine struct {
	Issuer        string `json:"issuer"`
	Product       string `json:"product,omitempty"` // absent on the issuer's whole float
	LedgerFen     int64  `json:"ledger_fen"`
	ShadowsFen    int64  `json:"shadows_fen"`
	BookFen       *int64 `json:"book_fen,omitempty"` // absent for an issuer card management does not keep
	ShadowDiffFen int64  `json:"shadows_diff_fen"`   // shadows minus ledger
	BookDiffFen   *int64 `json:"book_diff_fen,omitempty"`
	Off           string `json:"off,omitempty"`
}

type jsonFloat struct {
	Sound    bool            `json:"sound"`
	Issuer   []jsonFloatLine `json:"issuers"`  // each issuer's whole float
	Products []jsonFloatLine `json:"products"` // each issuer's per card product
}

// The outputs of citycard float.
const (
	floatAsTable = "table"
	floatAsJSON  = "json"
	floatAsCSV   = "csv"
)

// floatCSVHeader is the first row of citycard float --format csv: one row
// a line, the issuer's whole float with an empty product, amounts in fen
// (book columns empty where card management keeps no book).
var floatCSVHeader = []string{"issuer", "product", "ledger_fen", "shadows_fen", "book_fen", "shadows_diff_fen", "book_diff_fen", "off"}

// printFloat prints the report: a table in yuan, JSON or CSV in fen.
func printFloat(w io.Writer, rep clearing.FloatReport, format string) error {
	switch format {
	case floatAsJSON:
		out := jsonFloat{Sound: rep.Sound, Issuer: []jsonFloatLine{}, Products: []jsonFloatLine{}}
		for _, l := range rep.Lines {
			jl := jsonFloatLine{Issuer: l.Issuer, Product: l.Product, LedgerFen: l.LedgerFen, ShadowsFen: l.ShadowFen, ShadowDiffFen: l.ShadowDiffFen, Off: l.Off}
			if l.HasBook {
				jl.BookFen, jl.BookDiffFen = &l.BookFen, &l.BookDiffFen
			}
			if l.Product == "" {
				out.Issuer = append(out.Issuer, jl)
			} else {
				out.Products = append(out.Products, jl)
			}
		}
		return encodeJSON(w, out)
	case floatAsCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(floatCSVHeader); err != nil {
			return err
		}
		for _, l := range rep.Lines {
			book, bookDiff := "", ""
			if l.HasBook {
				book, bookDiff = strconv.FormatInt(l.BookFen, 10), strconv.FormatInt(l.BookDiffFen, 10)
			}
			if err := cw.Write([]string{l.Issuer, l.Product, strconv.FormatInt(l.LedgerFen, 10), strconv.FormatInt(l.ShadowFen, 10), book,
				strconv.FormatInt(l.ShadowDiffFen, 10), bookDiff, l.Off}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-16s\t%-12s\tLEDGER (CNY)\tSHADOWS (CNY)\tBOOK (CNY)\tSHADOWS-LEDGER\tBOOK-LEDGER\t %s\n", "ISSUER", "PRODUCT", "OFF")
	for _, l := range rep.Lines {
		book, bookDiff := "-", "-"
		if l.HasBook {
			book, bookDiff = citycard.Yuan(l.BookFen), citycard.Yuan(l.BookDiffFen)
		}
		product := l.Product
		if product == "" {
			product = "all"
		}
		fmt.Fprintf(tw, "%-16s\t%-12s\t%s\t%s\t%s\t%s\t%s\t %s\n", l.Issuer, product, citycard.Yuan(l.LedgerFen), citycard.Yuan(l.ShadowFen), book,
			citycard.Yuan(l.ShadowDiffFen), bookDiff, l.Off)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Sound {
		fmt.Fprintln(w, "sound: the three figures agree for every issuer and card product")
	} else {
		fmt.Fprintln(w, "NOT SOUND: a figure disagrees (OFF names it)")
	}
	return nil
}
