package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/citycard/citycard/apps"
)

// envAppToken holds an application's API token (citycard app add prints
// it once) for the app commands that talk to the API.
const envAppToken = "CITYCARD_APP_TOKEN"

// appAPIOptions are the flags of the app commands that talk to the API
// under the application's own token (the school's, the venue's), not
// the store: what the application's own system does, from a shell.
type appAPIOptions struct {
	server, tokenFile, limitFen, periods string
}

// appAPICommands are the app commands that talk to the API.
var appAPICommands = map[string]bool{"canteen-limit": true, "periods": true, "periods set": true}

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
