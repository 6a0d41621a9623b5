package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/ledger"
)

// ledgerSubcommands are the subcommands of `citycard ledger`.
var ledgerSubcommands = []struct{ name, summary string }{
	{"verify", "walk the journal's hash chain from the first entry and check every balance; name the first broken entry"},
	{"balances", "show every account's debits, credits and balance"},
}

// runLedger runs `citycard ledger verify|balances [--db URL] [--json]`.
func runLedger(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("citycard ledger", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	asJSON := fs.Bool("json", false, "print JSON for a program instead of text for a person")
	fs.Usage = func() { ledgerUsage(e.stderr, fs) }
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 || (pos[0] != "verify" && pos[0] != "balances") {
		ledgerUsage(e.stderr, fs)
		return errUsage
	}
	// Reading must not leave an empty database behind a typo.
	if u, err := dburl.Parse(*db); err == nil && u.Engine == dburl.SQLite {
		if _, err := os.Stat(u.Path); errors.Is(err, os.ErrNotExist) {
			return citycard.E("citycard.ledger", citycard.NotFound, "no database at %s", u.Path)
		}
	}
	st, err := openStores(ctx, *db)
	if err != nil {
		return err
	}
	defer st.close()
	if pos[0] == "verify" {
		return ledgerVerify(ctx, e.stdout, st.ledger, *asJSON)
	}
	return ledgerBalances(ctx, e.stdout, st.ledger, *asJSON)
}

func ledgerUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: citycard ledger <subcommand> [--db URL] [--json]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "subcommands:")
	for _, s := range ledgerSubcommands {
		fmt.Fprintf(w, "  %-9s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "flags:")
	fs.PrintDefaults()
}

type jsonLink struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

type jsonBreak struct {
	Seq     int64  `json:"seq,omitempty"`
	Account string `json:"account,omitempty"`
	Reason  string `json:"reason"`
}

type jsonReport struct {
	Sound    bool       `json:"sound"`
	Entries  int64      `json:"entries"`
	Postings int64      `json:"postings"`
	Accounts int        `json:"accounts"`
	Head     jsonLink   `json:"head"` // the last sound entry
	Broken   *jsonBreak `json:"broken,omitempty"`
}

// ledgerVerify prints what ledger.Verify found; a broken ledger is also
// its error (kind Crypto), so the exit status says it.
func ledgerVerify(ctx context.Context, w io.Writer, s ledger.Store, asJSON bool) error {
	rep, err := ledger.Verify(ctx, s)
	if err != nil && rep.Broken == nil {
		return err // the store failed: nothing was established
	}
	if asJSON {
		jr := jsonReport{Sound: rep.Broken == nil, Entries: rep.Entries, Postings: rep.Postings, Accounts: rep.Accounts,
			Head: jsonLink{Seq: rep.Head.Seq, Hash: hex.EncodeToString(rep.Head.Hash[:])}}
		if b := rep.Broken; b != nil {
			jr.Broken = &jsonBreak{Seq: b.Seq, Account: b.Account, Reason: b.Reason}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(jr); werr != nil {
			return werr
		}
		return err
	}
	if rep.Broken != nil {
		fmt.Fprintf(w, "BROKEN at %v\n", rep.Broken)
		fmt.Fprintf(w, "sound up to entry %d (hash %x): %d entries, %d postings checked\n", rep.Head.Seq, rep.Head.Hash, rep.Entries, rep.Postings)
		return err
	}
	fmt.Fprintf(w, "sound: %d entries, %d postings, %d account balances checked\n", rep.Entries, rep.Postings, rep.Accounts)
	fmt.Fprintf(w, "head: entry %d hash %x\n", rep.Head.Seq, rep.Head.Hash)
	fmt.Fprintln(w, "(record the head elsewhere: only a recorded head reveals entries removed from the end)")
	return nil
}

type jsonBalance struct {
	Account    string `json:"account"`
	Type       string `json:"type"` // the account's type: card_float, operator_payable, ...
	Party      string `json:"party,omitempty"`
	DebitsFen  int64  `json:"debits_fen"`
	CreditsFen int64  `json:"credits_fen"`
	NetFen     int64  `json:"net_fen"` // debits minus credits
	Postings   int64  `json:"postings"`
	LastSeq    int64  `json:"last_seq"`
}

// ledgerBalances prints every account's running balance: a table in yuan
// for a person, JSON in fen for a program.
func ledgerBalances(ctx context.Context, w io.Writer, s ledger.Store, asJSON bool) error {
	bs, err := s.Balances(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]jsonBalance, len(bs))
		for i, b := range bs {
			out[i] = jsonBalance{Account: b.Account.String(), Type: b.Account.Type.String(), Party: b.Account.Party,
				DebitsFen: b.DebitsFen, CreditsFen: b.CreditsFen, NetFen: b.NetFen(), Postings: b.Postings, LastSeq: b.LastSeq}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	// Amounts align right; account names are padded to one width first so
	// that they read flush left.
	width := len("ACCOUNT")
	for _, b := range bs {
		width = max(width, len(b.Account.String()))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tDEBITS (CNY)\tCREDITS (CNY)\tBALANCE (CNY)\t\tPOSTINGS\tLAST ENTRY\t\n", width, "ACCOUNT")
	var debits, credits int64
	for _, b := range bs {
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", width, b.Account, citycard.Yuan(b.DebitsFen), citycard.Yuan(b.CreditsFen),
			citycard.Yuan(abs(b.NetFen())), side(b.NetFen()), b.Postings, b.LastSeq)
		debits += b.DebitsFen
		credits += b.CreditsFen
	}
	fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t\t\t\n", width, "total", citycard.Yuan(debits), citycard.Yuan(credits), citycard.Yuan(abs(debits-credits)), side(debits-credits))
	return tw.Flush()
}

// side names the side of a balance: Dr for a debit balance, Cr for a
// credit balance (liabilities: float, payables).
func side(netFen int64) string {
	switch {
	case netFen > 0:
		return "Dr"
	case netFen < 0:
		return "Cr"
	}
	return "-"
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
