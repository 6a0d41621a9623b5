package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"text/tabwriter"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/dburl"
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
	asJSON := fs.Bool("json", false, "print JSON (fen) for a program instead of a table (yuan) for a person")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil || len(pos) != 0 {
		fs.Usage()
		return errUsage
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
	if err := printFloat(e.stdout, rep, *asJSON); err != nil {
		return err
	}
	if !rep.Sound {
		return citycard.E("citycard.float", citycard.Conflict, "the float does not reconcile: see the lines marked off")
	}
	return nil
}

// floatFigures gathers each issuer's three figures: the ledger's card
// float accounts, the card shadows (the journal replayed: no record is
// verified, so the acquirer needs no keys) and card management's book
// for our own issuer.
func floatFigures(ctx context.Context, st *stores) ([]clearing.FloatFigures, error) {
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		return nil, err
	}
	acq, err := acquire.Open(ctx, acquire.Config{Journal: st.journal, Terminals: terminalsOf(st.registry), Verifier: record.NewVerifier(nil, own)})
	if err != nil {
		return nil, err
	}
	shadows := acq.Float()
	if err := acq.Close(); err != nil {
		return nil, err
	}
	bs, err := st.ledger.Balances(ctx)
	if err != nil {
		return nil, err
	}
	totals, err := st.cms.FlowTotals(ctx)
	if err != nil {
		return nil, err
	}
	byIssuer := map[string]*clearing.FloatFigures{}
	fig := func(issuer string) *clearing.FloatFigures {
		f := byIssuer[issuer]
		if f == nil {
			f = &clearing.FloatFigures{Issuer: issuer}
			byIssuer[issuer] = f
		}
		return f
	}
	var ownDebits int64
	for _, b := range bs {
		if b.Account.Type == ledger.CardFloat {
			fig(b.Account.Party).LedgerFen = -b.NetFen()
			if b.Account.Party == own.String() {
				ownDebits = b.DebitsFen
			}
		}
	}
	seen, err := loadsSeen(ctx, st.journal)
	if err != nil {
		return nil, err
	}
	// The shadows' purchases: loads seen less booked, suspense included.
	shadowPurchases := map[string]int64{}
	for _, s := range shadows {
		shadowPurchases[s.Issuer.String()] = seen[s.Issuer] - s.BookedFen + s.SuspenseFen
		fig(s.Issuer.String()).ShadowFen = s.BookedFen - s.SuspenseFen
	}
	fig(own.String()).ShadowFen = cms.BookTotal(totals) - shadowPurchases[own.String()]
	// The purchases booked are the float's debits less card management's,
	// less acquisition's own credits: the grey records released or
	// reversed, as the journal's grey decisions count them (without
	// them, a store with such a decision showed it as a book
	// difference).
	greys, err := greyCredits(ctx, st.clearing)
	if err != nil {
		return nil, err
	}
	purchases := ownDebits - totals[cms.FlowRefund] - totals[cms.FlowLoadReversed] - totals[cms.FlowMovedOut] - greys[own]
	f := fig(own.String())
	f.BookFen, f.HasBook = cms.BookTotal(totals)-purchases, true
	out := make([]clearing.FloatFigures, 0, len(byIssuer))
	for _, f := range byIssuer {
		out = append(out, *f)
	}
	return out, nil
}

// greyCredits sums, per issuer, the grey records the journal's grey
// decisions released (back to the card float) or reversed (a
// confirmation undone: the operator's money back to the card float):
// acquisition's credits to the float.
func greyCredits(ctx context.Context, j clearing.Journal) (map[citycard.IssuerCode]int64, error) {
	m := map[citycard.IssuerCode]int64{}
	err := j.Greys(ctx, clearing.Range{From: 0, To: math.MaxInt64}, func(g *acquire.GreyDecision) error {
		if g.Move == acquire.GreyReleased || g.Move == acquire.GreyReversed {
			m[g.Issuer] += g.AmountFen
		}
		return nil
	})
	return m, err
}

// loadsSeen sums the amounts of the load records the journal holds
// (class load: each counted once), per issuer: what the shadows' booked
// balances took in.
func loadsSeen(ctx context.Context, j acquire.Journal) (map[citycard.IssuerCode]int64, error) {
	m := map[citycard.IssuerCode]int64{}
	err := j.Replay(ctx, 0, func(e *acquire.Journaled) error {
		if e.Class != acquire.ClassLoad {
			return nil
		}
		r, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.Wrap("citycard.float", citycard.Invalid, fmt.Errorf("journal position %d: %w", e.Pos, err))
		}
		m[r.Issuer] += int64(r.Amount)
		return nil
	})
	return m, err
}

type jsonFloatLine struct {
	Issuer        string `json:"issuer"`
	LedgerFen     int64  `json:"ledger_fen"`
	ShadowsFen    int64  `json:"shadows_fen"`
	BookFen       *int64 `json:"book_fen,omitempty"` // absent for an issuer card management does not keep
	ShadowDiffFen int64  `json:"shadows_diff_fen"`   // shadows minus ledger
	BookDiffFen   *int64 `json:"book_diff_fen,omitempty"`
	Off           string `json:"off,omitempty"`
}

type jsonFloat struct {
	Sound  bool            `json:"sound"`
	Issuer []jsonFloatLine `json:"issuers"`
}

// printFloat prints the report: a table in yuan, or JSON in fen.
func printFloat(w io.Writer, rep clearing.FloatReport, asJSON bool) error {
	if asJSON {
		out := jsonFloat{Sound: rep.Sound, Issuer: []jsonFloatLine{}}
		for _, l := range rep.Lines {
			jl := jsonFloatLine{Issuer: l.Issuer, LedgerFen: l.LedgerFen, ShadowsFen: l.ShadowFen, ShadowDiffFen: l.ShadowDiffFen, Off: l.Off}
			if l.HasBook {
				jl.BookFen, jl.BookDiffFen = &l.BookFen, &l.BookDiffFen
			}
			out.Issuer = append(out.Issuer, jl)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-16s\tLEDGER (CNY)\tSHADOWS (CNY)\tBOOK (CNY)\tSHADOWS-LEDGER\tBOOK-LEDGER\t %s\n", "ISSUER", "OFF")
	for _, l := range rep.Lines {
		book, bookDiff := "-", "-"
		if l.HasBook {
			book, bookDiff = citycard.Yuan(l.BookFen), citycard.Yuan(l.BookDiffFen)
		}
		fmt.Fprintf(tw, "%-16s\t%s\t%s\t%s\t%s\t%s\t %s\n", l.Issuer, citycard.Yuan(l.LedgerFen), citycard.Yuan(l.ShadowFen), book,
			citycard.Yuan(l.ShadowDiffFen), bookDiff, l.Off)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Sound {
		fmt.Fprintln(w, "sound: the three figures agree for every issuer (per issuer only: card management keeps no product on a flow)")
	} else {
		fmt.Fprintln(w, "NOT SOUND: a figure disagrees (OFF names it)")
	}
	return nil
}
