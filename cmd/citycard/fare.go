package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/fare"
)

const fareUsage = `usage: citycard fare check --feed DIR [--json]
       citycard fare price --feed DIR --journey FILE|-
       citycard fare replay --from DATE --to DATE --feed NEW [flags] (see citycard fare replay -h)

  check  load a GTFS-Fares v2 feed (with citycard's extension files),
         print its warnings and a summary; fail on any error, each naming
         its file, line and field
  price  price a journey (JSON, see fare/README.md) and print the quote
         as JSON: total, currency, and per leg the product chosen, the
         amount, an explanation and every offer the rules allow; a leg
         no rule prices is shown with no offers (priced false, the quote
         complete false) and does not fail the command
  replay the fare what-if: re-price the journal's journeys under another
         table and report the revenue change

flags:
`

// journeyBytesMax bounds the journey document read from a file or stdin.
const journeyBytesMax = 1 << 20

// runFare runs `citycard fare check|price`.
func runFare(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "replay" {
		return runFareReplay(ctx, e, args[1:])
	}
	fs := flag.NewFlagSet("citycard fare", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, fareUsage); fs.PrintDefaults() }
	feed := fs.String("feed", "", "the feed `directory`")
	journey := fs.String("journey", "", "price: the journey JSON `file`; - is standard input")
	asJSON := fs.Bool("json", false, "check: print the summary as JSON")
	sub, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *feed == "" {
		fs.Usage()
		return fmt.Errorf("fare %s: --feed is required: %w", sub, errUsage)
	}
	switch sub {
	case "check":
		if *journey != "" {
			return fmt.Errorf("fare check: --journey does not apply: %w", errUsage)
		}
		return fareCheck(e, *feed, *asJSON)
	case "price":
		if *journey == "" {
			fs.Usage()
			return fmt.Errorf("fare price: --journey is required: %w", errUsage)
		}
		return farePrice(e, *feed, *journey)
	}
	fs.Usage()
	return fmt.Errorf("fare: unknown subcommand %q, want check, price or replay: %w", sub, errUsage)
}

func fareCheck(e env, dir string, asJSON bool) error {
	t, err := fare.Load(os.DirFS(dir))
	var list fare.ErrorList
	if errors.As(err, &list) {
		for _, fe := range list {
			fmt.Fprintf(e.stderr, "error: %s\n", fe)
		}
		return fmt.Errorf("fare check: %s: %d errors", dir, len(list))
	}
	if err != nil {
		return fmt.Errorf("fare check: %w", err)
	}
	for _, w := range t.Warnings() {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	s := t.Summary()
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	w := e.stdout
	fmt.Fprintf(w, "feed %s: ok, version %s, currency %s\n", dir, s.Version, s.Currency)
	fmt.Fprintf(w, "  files             %s\n", strings.Join(s.Files, " "))
	fmt.Fprintf(w, "  networks          %d (%d with a maximum fare)\n", s.Networks, s.NetworksWithMax)
	fmt.Fprintf(w, "  routes, stops     %d, %d\n", s.Routes, s.Stops)
	fmt.Fprintf(w, "  areas             %d\n", s.Areas)
	fmt.Fprintf(w, "  rider categories  %d (default %q)\n", s.RiderCategories, s.DefaultCategory)
	fmt.Fprintf(w, "  fare media        %d\n", s.FareMedia)
	fmt.Fprintf(w, "  fare products     %d (%d time-based, %d passes and count tickets)\n", s.FareProducts, s.TimeFares, s.HeldProducts)
	fmt.Fprintf(w, "  leg rules         %d (%d by distance; rule_priority: %v)\n", s.LegRules, s.DistanceFares, s.RulePriority)
	fmt.Fprintf(w, "  join rules        %d\n", s.JoinRules)
	fmt.Fprintf(w, "  transfer rules    %d\n", s.TransferRules)
	fmt.Fprintf(w, "  timeframe groups  %d\n", s.TimeframeGroups)
	fmt.Fprintf(w, "  fare caps         %d\n", s.Caps)
	fmt.Fprintf(w, "  spend tiers       %d\n", s.Tiers)
	fmt.Fprintf(w, "  numeric codes     %d\n", s.NumericCodes)
	fmt.Fprintf(w, "  warnings          %d\n", s.Warnings)
	return nil
}

func farePrice(e env, dir, journeyFile string) error {
	t, err := fare.Load(os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("fare price: %w", err)
	}
	var r io.Reader
	if journeyFile == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(journeyFile)
		if err != nil {
			return fmt.Errorf("fare price: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, journeyBytesMax+1))
	if err != nil {
		return fmt.Errorf("fare price: reading the journey: %w", err)
	}
	j, err := t.ParseJourney(data)
	if err != nil {
		return fmt.Errorf("fare price: %w", err)
	}
	var q fare.Quote
	if err := t.Price(j, &q); err != nil {
		return fmt.Errorf("fare price: %w", citycard.Wrap("fare.price", citycard.Other, err))
	}
	// A leg no rule prices is not a failure of the command: the quote
	// says so (complete false, the leg's offers empty), and so does this.
	for i := range q.Legs {
		if !q.Legs[i].Priced && q.Legs[i].JoinedTo < 0 {
			fmt.Fprintf(e.stderr, "warning: leg %d: %s\n", i, q.Explanation(i))
		}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(q.JSON())
}
