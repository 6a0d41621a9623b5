package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim/city"
)

const demoUsage = `usage: citycard demo [--cards N] [--days D] [--seed S] [--faults LIST] [--addr HOST:PORT] [--serve=false]

The platform's main job: a commute traced APDU by APDU (card, PSAM,
terminal, the record and its TAC verified), then a small city simulated
(citycard sim: every tap through the real APDU flow, terminals uploading
over HTTP, faults injected, every invariant checked) on the embedded
store, its last day three days ago (its late uploads come after); then the web console and the API served
over what the city made, on --addr, with a demo staff login printed,
until interrupted. --serve=false exits after the city instead.

flags:
`

func runDemo(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, demoUsage); fs.PrintDefaults() }
	o := &simOptions{alg: "3des", coolingDays: city.DefaultCoolingDays}
	fs.IntVar(&o.cards, "cards", 3000, "cards in the city")
	fs.IntVar(&o.days, "days", 2, "days to simulate, the last one three days ago")
	fs.Uint64Var(&o.seed, "seed", 1, "the city's seed")
	fs.StringVar(&o.faults, "faults", "all", "faults to inject (see citycard sim -h)")
	addr := fs.String("addr", "127.0.0.1:8080", "address the console and the API listen on")
	serve := fs.Bool("serve", true, "serve the console after the city, until interrupted (false: exit)")
	if err := o.parse(fs, args, "demo"); err != nil {
		return err
	}
	// The city's days end three days ago: its last uploads (terminals
	// offline for days, then the final flush) come two days after its
	// last day, and must not be in the console's future.
	now := time.Now().In(citycard.ChinaTime)
	o.start = time.Date(now.Year(), now.Month(), now.Day()-o.days-2, 0, 0, 0, 0, citycard.ChinaTime)

	fmt.Fprintln(e.stdout, "### 1. A commute, APDU by APDU (citycard trace commute)")
	if err := runTrace(ctx, e, []string{"commute"}); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	fmt.Fprintf(e.stdout, "### 2. A city of %d cards for %d days, every tap through the real devices and back office (citycard sim)\n", o.cards, o.days)
	fmt.Fprintf(e.stdout, "replay: citycard sim --seed %d --cards %d --days %d --faults %s\n", o.seed, o.cards, o.days, faultList(o.parsedFaults))
	o.then = func(ctx context.Context, rep *city.Report, bo *simBackOffice) error {
		rep.Print(e.stdout)
		if !rep.OK() {
			return fmt.Errorf("demo: %d invariants violated, first: %s", len(rep.Violations), rep.Violations[0])
		}
		if !*serve {
			return nil
		}
		fmt.Fprintln(e.stdout)
		fmt.Fprintln(e.stdout, "### 3. The web console over the city")
		return serveDemo(ctx, e, bo, *addr)
	}
	_, err := simOnce(ctx, e, o, o.seed)
	return err
}

// serveDemo serves the console and the API over the city's back office
// on addr until ctx ends, with card management and a demo administrator
// stored as any (the bootstrap of citycard staff add), whose password is
// drawn now and printed with a session token for the API.
func serveDemo(ctx context.Context, e env, bo *simBackOffice, addr string) error {
	b := make([]byte, 12)
	crand.Read(b)
	password := hex.EncodeToString(b)
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := bo.apiServer(nil)
	s.Logger = logger
	if err := cardManagement(s, bo.st, bo.dataKey, "", logger); err != nil {
		return err
	}
	// The city's application systems (citycard app add would give
	// their tokens); the run filed their records.
	s.Apps, _ = bo.Apps()
	staffing := s.Staffing
	if _, err := staffing.Add(ctx, cms.Actor{Who: "bootstrap", ServicePoint: "cli"},
		cms.StaffMember{Name: "demo", Role: cms.RoleAdmin, ServicePoint: "demo-counter", PointType: cms.OwnCounter}, password); err != nil {
		return fmt.Errorf("demo: the demo login: %w", err)
	}
	sess, err := staffing.Login(ctx, "demo", password)
	if err != nil {
		return fmt.Errorf("demo: the demo login: %w", err)
	}
	token := sess.Token
	// The city's cycles, cleared by the run; its key store is the
	// simulator's own, not served.
	more, err := consoleStores(ctx, bo.st, nil)
	if err != nil {
		return err
	}
	h, err := withConsole(s.Handler(), s, staffLogin{staffing}, bo.st.journal, bo.st.registry, bo.bl, more, false, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo: the console: %w (--addr changes the address)", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(e.stdout, "console: http://%s/\nlog in as: demo\npassword:  %s\ntoken:     %s\n(the API is beside it, e.g. curl -H 'Authorization: Bearer %s' http://%s/v1/rejections,\nor CITYCARD_SERVER=http://%s CITYCARD_TOKEN=%s citycard card show ...; Ctrl-C stops)\n",
		ln.Addr(), password, token, token, ln.Addr(), ln.Addr(), token)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
