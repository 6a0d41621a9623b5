package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
)

// envAppToken holds an application's API token (citycard app add prints
// it once) for the app commands that talk to the API.
const envAppToken = "CITYCARD_APP_TOKEN"

// appAPIOptions are the flags of the app commands that talk to the API
// under the application's own token (the school's, the venue's), not
// the store: what the application's own system does, from a shell.
type appAPIOptions struct {
	server, tokenFile, limitFen, periods, outMax string
	asCSV, asJSON                                bool
}

// appAPICommands are the app commands that talk to the API.
var appAPICommands = map[string]bool{"canteen-limit": true, "periods": true, "periods set": true, "rentals": true}

// runAppAPI runs app command cmd of application app (card c for
// canteen-limit) through the API, printing its JSON answer.
func runAppAPI(ctx context.Context, e env, cmd, app string, c apps.CardRef, o *appAPIOptions) error {
	ac, err := (&apiOptions{server: o.server, tokenFile: o.tokenFile}).client(e)
	if err != nil {
		return err
	}
	if o.tokenFile == "" {
		ac.token = e.getenv(envAppToken) // the application's, not a member of staff's
	}
	if ac.token == "" {
		return fmt.Errorf("app %s: no application token: set $%s or pass --token-file: %w", cmd, envAppToken, errUsage)
	}
	base := "/v1/apps/" + url.PathEscape(app)
	switch cmd {
	case "canteen-limit":
		fen, err := strconv.ParseInt(o.limitFen, 10, 64)
		if err != nil {
			return fmt.Errorf("app canteen-limit: --limit-fen %q: want fen, an integer: %w", o.limitFen, errUsage)
		}
		return ac.show(ctx, e.stdout, http.MethodPost, base+"/cards/"+c.Issuer.String()+"/"+c.ASN.String()+"/canteen-limit", map[string]int64{"limit_fen": fen})
	case "periods set":
		ps, err := parsePeriods(o.periods)
		if err != nil {
			return err
		}
		return ac.show(ctx, e.stdout, http.MethodPut, base+"/periods", map[string]any{"periods": ps})
	case "rentals":
		return appRentals(ctx, e, ac, base, o)
	}
	return ac.show(ctx, e.stdout, http.MethodGet, base+"/periods", nil)
}

// periodArg is one period as the API reads it.
type periodArg struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	Capacity int64  `json:"capacity"`
}

// parsePeriods reads --periods: START-END=CAPACITY items separated by
// commas, or none. The times and capacities are the server's to check;
// a list that does not read as one is a usage error naming the item.
func parsePeriods(s string) ([]periodArg, error) {
	out := []periodArg{}
	if s == "none" {
		return out, nil
	}
	for i, item := range strings.Split(s, ",") {
		span, n, ok := strings.Cut(strings.TrimSpace(item), "=")
		start, end, ok2 := strings.Cut(span, "-")
		capacity, err := strconv.ParseInt(n, 10, 64)
		if !ok || !ok2 || err != nil {
			return nil, fmt.Errorf("app periods set: --periods item %d %q: want START-END=CAPACITY (HHMMSS-HHMMSS=N), or none: %w", i, item, errUsage)
		}
		out = append(out, periodArg{Start: start, End: end, Capacity: capacity})
	}
	return out, nil
}

// appRentals prints a bike operator's bikes out (GET
// .../reports/open-rentals): a table, CSV (--csv) or the API's JSON
// (--json).
func appRentals(ctx context.Context, e env, ac *apiClient, base string, o *appAPIOptions) error {
	path := base + "/reports/open-rentals"
	if o.outMax != "" {
		path += "?out_max_minutes=" + url.QueryEscape(o.outMax)
	}
	_, b, err := ac.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if o.asJSON {
		return printIndented(e.stdout, b)
	}
	var rep api.OpenRentalsJSON
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("app rentals: the answer: %w", err)
	}
	head := []string{"issuer", "asn", "hired", "dock", "terminal", "overdue"}
	rows := make([][]string, 0, len(rep.Rentals))
	for _, r := range rep.Rentals {
		rows = append(rows, []string{r.Issuer, r.ASN, r.Hired, strconv.FormatUint(uint64(r.Dock), 10), r.Terminal, strconv.FormatBool(r.Overdue)})
	}
	if o.asCSV {
		w := csv.NewWriter(e.stdout)
		w.Write(head)
		w.WriteAll(rows)
		return w.Error()
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%s at %s: %d bikes out, %d overdue (out over %d minutes)\n", rep.App, rep.At, len(rep.Rentals), rep.Overdue, rep.OutMaxMinutes)
	fmt.Fprintln(w, strings.ToUpper(strings.Join(head, "\t")))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}
