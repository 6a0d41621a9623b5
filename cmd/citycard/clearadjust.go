package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/dburl"
)

// jsonAdjustment is the JSON of clear adjust --json; the field names are
// its contract (README.md).
type jsonAdjustment struct {
	Key        string `json:"key"`
	Of         string `json:"of"`
	Payer      string `json:"payer"`
	Payee      string `json:"payee"`
	AmountFen  int64  `json:"amount_fen"`
	Reason     string `json:"reason"`
	EnteredBy  string `json:"entered_by"`
	EnteredAt  string `json:"entered_at"`
	ApprovedBy string `json:"approved_by,omitempty"`
	ApprovedAt string `json:"approved_at,omitempty"`
	TakenBy    string `json:"taken_by,omitempty"`
}

func adjustmentJSON(a *clearing.Entered) jsonAdjustment {
	j := jsonAdjustment{Key: a.Ref, Of: a.Of.String(), Payer: a.Payer, Payee: a.Payee, AmountFen: a.AmountFen, Reason: a.Reason,
		EnteredBy: a.EnteredBy, EnteredAt: clearTime(a.EnteredAt), ApprovedBy: a.ApprovedBy, ApprovedAt: clearTime(a.ApprovedAt)}
	if a.TakenBy != 0 {
		j.TakenBy = a.TakenBy.String()
	}
	return j
}

// adjustKey is the idempotency key of an adjustment entered without
// --key: a hash of what was entered, so that the same command run again
// enters nothing new.
func adjustKey(of clearing.Day, party string, amountFen int64, reason, by string) string {
	h := sha256.New()
	for _, s := range []string{of.String(), party, strconv.FormatInt(amountFen, 10), reason, by} {
		io.WriteString(h, strconv.Itoa(len(s))+":"+s)
	}
	return "adj-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// runClearAdjust runs `citycard clear adjust --date D --party P
// --amount-fen N --reason TEXT --by NAME [--key KEY]`, `clear adjust
// approve --key KEY --by NAME` and `clear adjust list`.
func runClearAdjust(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("citycard clear adjust", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	by := fs.String("by", "", "the member of staff who enters or approves it (required)")
	date := fs.String("date", "", "the closed cycle it corrects, YYYY-MM-DD")
	party := fs.String("party", "", "the party paid (a positive amount) or paying (a negative one), by the collector")
	amount := fs.Int64("amount-fen", 0, "the amount in fen: positive paid to --party, negative paid by it")
	reason := fs.String("reason", "", "why (required)")
	key := fs.String("key", "", "the idempotency key (default: a hash of what is entered)")
	asJSON := fs.Bool("json", false, "print JSON for a program instead of text for a person")
	fs.Usage = flagUsage(e.stderr, fs,
		"usage: citycard clear adjust --date D --party P --amount-fen N --reason TEXT --by NAME [--key KEY] [--db URL] [--json]",
		"       citycard clear adjust approve --key KEY --by NAME [--db URL] [--json]",
		"       citycard clear adjust list [--db URL] [--json]",
		"",
		"An adjustment corrects a closed cycle in the next cycle run after a second person approves it.",
	)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil || len(pos) > 1 || len(pos) == 1 && pos[0] != "approve" && pos[0] != "list" {
		fs.Usage()
		return errUsage
	}
	sub := ""
	if len(pos) == 1 {
		sub = pos[0]
	}
	if sub != "list" && *by == "" {
		return fmt.Errorf("clear adjust: --by NAME: who does it: %w", errUsage)
	}
	var of clearing.Day
	if sub == "" {
		if of, err = clearing.ParseDay(*date); err != nil {
			return fmt.Errorf("clear adjust: --date: %v: %w", err, errUsage)
		}
		if *party == "" || *amount == 0 || *reason == "" {
			return fmt.Errorf("clear adjust: --party, --amount-fen (not 0) and --reason are required: %w", errUsage)
		}
		if *key == "" {
			*key = adjustKey(of, *party, *amount, *reason, *by)
		}
	}
	if sub == "approve" && *key == "" {
		return fmt.Errorf("clear adjust approve: --key KEY: which adjustment: %w", errUsage)
	}
	st, cs, err := openCycles(ctx, *db, sub == "list")
	if err != nil {
		return err
	}
	defer st.close()
	var shown []clearing.Entered
	switch sub {
	case "":
		a, err := cs.Adjust(ctx, of, *party, *amount, *reason, *key, *by)
		if err != nil {
			return err
		}
		shown = append(shown, a)
	case "approve":
		a, err := cs.ApproveAdjustment(ctx, *key, *by)
		if err != nil {
			return err
		}
		shown = append(shown, a)
	default:
		if shown, err = st.clearing.OpenAdjustments(ctx); err != nil {
			return err
		}
	}
	if *asJSON {
		out := make([]jsonAdjustment, len(shown))
		for i := range shown {
			out[i] = adjustmentJSON(&shown[i])
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, a := range shown {
		state := "awaiting approval by a second person"
		if a.ApprovedBy != "" {
			state = "approved by " + a.ApprovedBy + ": the next cycle run takes it"
		}
		fmt.Fprintf(e.stdout, "%s: %s pays %s %s CNY, correcting cycle %v (%s), entered by %s; %s\n",
			a.Ref, a.Payer, a.Payee, citycard.Yuan(a.AmountFen), a.Of, a.Reason, a.EnteredBy, state)
	}
	return nil
}
