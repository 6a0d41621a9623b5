package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/dburl"
)

const appUsage = `usage: citycard app <command> [--db URL] [flags]

Application systems (a school, the library, a venue, a site group, a
parking or a bike operator) and their entitlements on cards, on the store itself.

  add --id ID --name NAME --kind K --scope N --party P [--webhook URL]
          an application (kind campus, library, venue, site, parking or
          bike, at scope N: its school, library, venue, site group or
          zone code),
          operated by registry party P, told of its cards' loss and
          replacement at URL; its webhook secret and API token are printed
          once, the token alone on the last line
  list [--json]
          the applications
  grant --app ID --card ISSUER/ASN --from YYYYMMDD --to YYYYMMDD [--class N] [--limit N]
          give the card the application's entitlement (or change it); the
          card's entitlement file version moves
  revoke --app ID --card ISSUER/ASN
          end it; the version moves, gates refuse the old file stale
  show --app ID --card ISSUER/ASN [--json]
          the application's grant on the card
  quarantine [--json]
          card management's audit records the applications' lifecycle
          could not read (kept, passed over), with why
  report --app ID --date YYYYMMDD [--json]
          the application's day: taps and distinct cards by action, from
          its records (serve files them from the journal every 2 s)
  report attendance --app ID --date YYYYMMDD --class N [--late HHMMSS] [--csv | --json]
          a school's class on the day: each pupil present, late (the
          first check-in after --late, default 080000) or absent, with the
          first check-in and the last check-out; on a day that is not a
          school day of the school's calendar (a weekend, a holiday: PUT
          /v1/apps/ID/calendar) nobody is absent or late (no_school)

Through the API, under the application's own token ($CITYCARD_APP_TOKEN
or --token-file; the API at --server, $CITYCARD_SERVER, else
http://127.0.0.1:8080), each answer printed as the API's JSON:

  canteen-limit --app ID --card ISSUER/ASN --limit-fen N
          a school's: the pupil's daily canteen limit, in fen (0: none,
          at most 65535), as the parents ask
  periods --app ID
          a venue's periods of the day, with their capacity
  periods set --app ID --periods START-END=CAPACITY,... | none
          replace them (HHMMSS, END 240000 for midnight; at most 48, by
          start, none overlapping); none: no periods, no capacity
  rentals --app ID [--out-max-minutes N] [--csv | --json]
          a bike operator's bikes out now, from its docks' records: card,
          hire time, dock, terminal, overdue when out over N minutes (1 to
          1440, default 1440: the docks' limit, past which a bike pays the
          network's maximum fare)

flags:
`

func runApp(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, appUsage); fs.PrintDefaults() }
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	id := fs.String("id", "", "add: the application's ID (a-z, 0-9, -)")
	name := fs.String("name", "", "add: its name")
	kind := fs.String("kind", "", "add: campus, library, venue, site, parking or bike")
	scope := fs.Uint("scope", 0, "add: its scope code")
	party := fs.String("party", "", "add: the registry party operating its terminals")
	webhook := fs.String("webhook", "", "add: the `URL` its lifecycle webhooks are posted to")
	app := fs.String("app", "", "the application's ID")
	cardArg := fs.String("card", "", "the card, ISSUER/ASN")
	from := fs.String("from", "", "grant: first valid day, YYYYMMDD")
	to := fs.String("to", "", "grant: last valid day, YYYYMMDD")
	class := fs.Uint("class", 0, "grant: a pupil's class (campus); report attendance: the class")
	late := fs.String("late", "", "report attendance: a first check-in after this time, HHMMSS, is late (default 080000)")
	asCSV := fs.Bool("csv", false, "report attendance, rentals: CSV")
	limit := fs.Uint("limit", 0, "grant: loans at once (library), admissions a month (venue)")
	day := fs.String("date", "", "report: the day, YYYYMMDD")
	asJSON := fs.Bool("json", false, "list, show, report, rentals: JSON")
	var ao appAPIOptions
	fs.StringVar(&ao.server, "server", "", "canteen-limit, periods: the API's base `URL` (default $"+envServer+", else http://127.0.0.1:8080)")
	fs.StringVar(&ao.tokenFile, "token-file", "", "canteen-limit, periods: `file` holding the application's API token (default $"+envAppToken+")")
	fs.StringVar(&ao.limitFen, "limit-fen", "", "canteen-limit: the pupil's daily canteen limit in fen, 0 (none) to 65535")
	fs.StringVar(&ao.periods, "periods", "", "periods set: START-END=CAPACITY,... (HHMMSS; END 240000: midnight), or none")
	fs.StringVar(&ao.outMax, "out-max-minutes", "", "rentals: a bike out longer is overdue, 1 to 1440 (default 1440)")
	pos, err := parsePositional(fs, args)
	if err != nil {
		return err
	}
	cmd := strings.Join(pos, " ")
	if len(pos) == 0 {
		fs.Usage()
		return fmt.Errorf("app: no command: %w", errUsage)
	}
	need := map[string][]string{
		"add":               {"id", "name", "kind", "party"},
		"grant":             {"app", "card", "from", "to"},
		"revoke":            {"app", "card"},
		"show":              {"app", "card"},
		"report":            {"app", "date"},
		"report attendance": {"app", "date", "class"},
		"canteen-limit":     {"app", "card", "limit-fen"},
		"periods":           {"app"},
		"periods set":       {"app", "periods"},
		"rentals":           {"app"},
	}
	if _, ok := need[cmd]; !ok && cmd != "list" && cmd != "quarantine" {
		fs.Usage()
		return fmt.Errorf("app: no command %q: %w", cmd, errUsage)
	}
	for _, n := range need[cmd] {
		if fs.Lookup(n).Value.String() == "" {
			return fmt.Errorf("app %s: --%s is required (%s): %w", cmd, n, fs.Lookup(n).Usage, errUsage)
		}
	}
	if *scope > 1<<32-1 || *class > 1<<16-1 || *limit > 1<<16-1 {
		return fmt.Errorf("app %s: --scope at most %d, --class and --limit at most %d: %w", cmd, uint32(1<<32-1), 1<<16-1, errUsage)
	}
	var c apps.CardRef
	if *cardArg != "" {
		if c, err = apps.ParseCard(*cardArg); err != nil {
			return err
		}
	}
	if appAPICommands[cmd] {
		ao.asCSV, ao.asJSON = *asCSV, *asJSON
		return runAppAPI(ctx, e, cmd, *app, c, &ao)
	}
	st, err := openStores(ctx, *db)
	if err != nil {
		return err
	}
	defer st.close()
	o := apps.NewOffice(st.apps, time.Now, rand.Reader).WithCards(api.CMSCards{Store: st.cms})
	switch cmd {
	case "add":
		k, err := card.ParseApplication(*kind)
		if err != nil {
			return err
		}
		a, tok, err := o.Add(ctx, apps.App{ID: *id, Name: *name, Kind: k, Scope: uint32(*scope), Party: *party, WebhookURL: *webhook})
		if err != nil {
			return err
		}
		// The token alone on the last line, for scripts (| tail -n 1).
		fmt.Fprintf(e.stdout, "added application %s (%s, %v scope %d, party %s)\nits webhook secret (X-Citycard-Signature), shown this once: %s\nits API token, shown this once:\n%s\n",
			a.ID, a.Name, a.Kind, a.Scope, a.Party, a.WebhookSecret, tok)
	case "list":
		list, err := o.Apps(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			type appJSON struct {
				ID        string `json:"id"`
				Name      string `json:"name"`
				Kind      string `json:"kind"`
				Scope     uint32 `json:"scope"`
				Party     string `json:"party"`
				CreatedAt string `json:"created_at"`
			}
			out := make([]appJSON, 0, len(list))
			for _, a := range list {
				out = append(out, appJSON{a.ID, a.Name, a.Kind.String(), a.Scope, a.Party, a.CreatedAt.Format(time.RFC3339)})
			}
			return json.NewEncoder(e.stdout).Encode(out)
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tKIND\tSCOPE\tPARTY\tNAME")
		for _, a := range list {
			fmt.Fprintf(w, "%s\t%v\t%d\t%s\t%s\n", a.ID, a.Kind, a.Scope, a.Party, a.Name)
		}
		return w.Flush()
	case "grant":
		t := apps.Terms{Class: uint16(*class), Limit: uint16(*limit)}
		if t.ValidFrom, err = apps.ParseDate(*from); err != nil {
			return err
		}
		if t.ValidTo, err = apps.ParseDate(*to); err != nil {
			return err
		}
		g, v, err := o.Grant(ctx, *app, c, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "granted %s on card %v: %v to %v; the card's entitlement file is now version %d\n", g.App, g.Card, g.Slot.ValidFrom, g.Slot.ValidTo, v)
	case "revoke":
		g, v, err := o.Revoke(ctx, *app, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked %s on card %v; the card's entitlement file is now version %d\n", g.App, g.Card, v)
	case "quarantine":
		var all []apps.Quarantined
		for after := int64(0); ; {
			page, err := o.Quarantine(ctx, after, apps.QuarantinePageMax)
			if err != nil {
				return err
			}
			all = append(all, page...)
			if len(page) < apps.QuarantinePageMax {
				break
			}
			after = page[len(page)-1].Seq
		}
		if *asJSON {
			type quarantinedJSON struct {
				AuditSeq int64  `json:"audit_seq"`
				Subject  string `json:"subject"`
				Action   string `json:"action"`
				Reason   string `json:"reason"`
				At       string `json:"at"`
			}
			out := make([]quarantinedJSON, 0, len(all))
			for _, q := range all {
				out = append(out, quarantinedJSON{q.Seq, q.Subject, q.Action, q.Reason, q.At.Format(time.RFC3339)})
			}
			return json.NewEncoder(e.stdout).Encode(out)
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "AUDIT SEQ\tACTION\tSUBJECT\tREASON")
		for _, q := range all {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", q.Seq, q.Action, q.Subject, q.Reason)
		}
		return w.Flush()
	case "report":
		d, err := apps.ParseDate(*day)
		if err != nil {
			return err
		}
		counts, err := o.Report(ctx, *app, d)
		if err != nil {
			return err
		}
		rep := api.NewAppReportJSON(*app, d, counts)
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(rep)
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "%s on %s\nACTION\tTAPS\tCARDS\n", rep.App, rep.Date)
		for _, l := range rep.Actions {
			fmt.Fprintf(w, "%s\t%d\t%d\n", l.Action, l.Taps, l.Cards)
		}
		return w.Flush()
	case "report attendance":
		d, err := apps.ParseDate(*day)
		if err != nil {
			return err
		}
		var lateAt citycard.BCDTime
		if *late != "" {
			if lateAt, err = apps.ParseTime(*late); err != nil {
				return err
			}
		}
		if *class == 0 {
			return fmt.Errorf("app report attendance: --class 1 to %d: %w", 1<<16-1, errUsage)
		}
		rep, err := o.Attendance(ctx, *app, uint16(*class), d, lateAt)
		if err != nil {
			return err
		}
		switch {
		case *asJSON:
			return json.NewEncoder(e.stdout).Encode(api.NewAttendanceJSON(&rep))
		case *asCSV:
			return rep.WriteCSV(e.stdout)
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		if rep.SchoolDay {
			fmt.Fprintf(w, "%s class %d on %s (late after %s): %d present, %d late, %d absent\n", rep.App, rep.Class, rep.Date, rep.Late, rep.Present, rep.Lates, rep.Absent)
		} else {
			fmt.Fprintf(w, "%s class %d on %s: not a school day (the school's calendar), nobody absent or late: %d present\n", rep.App, rep.Class, rep.Date, rep.Present)
		}
		fmt.Fprintf(w, "ISSUER\tASN\tPRESENCE\tFIRST IN\tLAST OUT\tTAPS\n")
		for _, r := range rep.Rows() {
			fmt.Fprintf(w, "%s\n", strings.Join(r[3:], "\t"))
		}
		return w.Flush()
	case "show":
		g, err := o.Entitlement(ctx, *app, c)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(api.NewEntitlementJSON(&g, 0))
		}
		fmt.Fprintf(e.stdout, "%s on card %v: %v, %v to %v, class %d, limit %d (changed %s)\n", g.App, g.Card, g.State, g.Slot.ValidFrom, g.Slot.ValidTo, g.Slot.Class, g.Slot.Limit, g.ChangedAt.Format(time.RFC3339))
	}
	return nil
}

// Every followInterval, serve files the applications' records from the
// journal, carries card management's lifecycle to them and delivers the outbox's due webhooks, webhookBatch at a
// time.
const (
	followInterval = 2 * time.Second
	webhookBatch   = 100
)

// followLifecycle runs until ctx ends; a round's error is logged and the
// next round tries again (the cursor and the outbox are in the store).
func followLifecycle(ctx context.Context, o *apps.Office, st cms.Store, j acquire.Journal, logger *slog.Logger) {
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := o.IndexRecords(ctx, api.AcquireJournal{Journal: j}); err != nil {
			logger.Warn("applications: filing their records from the journal", "err", err)
		}
		_, q, err := o.Follow(ctx, api.CMSLifecycle{Store: st})
		if err != nil {
			logger.Warn("applications: following card management's audit log", "err", err)
		}
		if q > 0 {
			logger.Warn("applications: audit records quarantined, passed over (citycard app quarantine lists them)", "quarantined", q)
		}
		if d, f, err := o.Deliver(ctx, api.WebhookSender{}, webhookBatch); err != nil {
			logger.Warn("applications: delivering webhooks", "err", err)
		} else if f > 0 {
			logger.Warn("applications: webhooks failed for good", "failed", f, "delivered", d)
		}
	}
}
