package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
)

const benchAppCheckUsage = `usage: citycard bench api-check [--rate R] [--seconds S] [--cards N] [--clients C] [--db URL] [--json]

Adds an application (a library) and grants N cards its entitlement in
the store, then asks the application API over loopback HTTP, as the
library's own system does, whether a card may borrow today (GET
/v1/apps/{app}/cards/{issuer}/{asn}/check with the application's token)
at R checks a second for S seconds, held open-loop: a check that cannot
start on time is late, not skipped, and its latency counts from its
scheduled start. C clients ask at once. It prints p50/p99/max latency
(target: p99 under 5 ms at 2,000 a second on the embedded store) and
errors (an answer other than allowed is one), and exits non-zero if a
check failed. Without --db it uses a fresh SQLite file in a temporary
directory; a postgres:// URL without search_path gets a fresh schema,
dropped at the end.

flags:
`

type benchAppCheckOptions struct {
	rate, seconds, cards, clients int
	db                            string
	json                          bool
}

// benchAppCheckResult is the outcome; the JSON field names are the
// contract of --json.
type benchAppCheckResult struct {
	Checks    int64   `json:"checks"` // checks scheduled
	Errors    int64   `json:"errors"` // checks that failed or were not answered allowed
	P50Ms     float64 `json:"p50_ms"` // from the scheduled start
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	Late      int64   `json:"late"` // checks that started more than 1 ms after their schedule
	RatePerS  float64 `json:"rate_per_s"`
	Achieved  float64 `json:"achieved_per_s"`
	Seconds   float64 `json:"seconds"`
	Cards     int     `json:"cards"`
	Clients   int     `json:"clients"`
	Cores     int     `json:"cores"`
	DB        string  `json:"db"`
	CPUms     float64 `json:"cpu_ms_per_check"` // the process's CPU time (server and clients) per check
	P99Target float64 `json:"p99_target_ms"`
	FirstErr  string  `json:"first_error,omitempty"`
	OK        bool    `json:"ok"`
}

func runBenchAppCheck(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("bench api-check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, benchAppCheckUsage); fs.PrintDefaults() }
	o := benchAppCheckOptions{}
	fs.IntVar(&o.rate, "rate", 2000, "checks a second, scheduled open-loop")
	fs.IntVar(&o.seconds, "seconds", 10, "how long")
	fs.IntVar(&o.cards, "cards", 2000, "cards granted the entitlement")
	fs.IntVar(&o.clients, "clients", 8, "clients asking at once")
	fs.StringVar(&o.db, "db", "", "database URL (default: a fresh SQLite file in a temporary directory)")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on the last line")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("bench api-check: unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	if o.rate <= 0 || o.rate > 100000 || o.seconds <= 0 || o.seconds > 3600 || o.cards <= 0 || o.cards > 1<<20 || o.clients <= 0 || o.clients > 4096 {
		return fmt.Errorf("bench api-check: --rate 1 to 100000, --seconds 1 to 3600, --cards 1 to 2^20, --clients 1 to 4096: %w", errUsage)
	}
	res, err := benchAppCheck(ctx, e, o)
	if err != nil {
		return err
	}
	return reportBench(e, "bench api-check", res, res.OK, o.json)
}

func (r *benchAppCheckResult) print(w io.Writer) {
	fmt.Fprintf(w, "entitlement checks on %s, %d cores: %d cards, %d clients\n", r.DB, r.Cores, r.Cards, r.Clients)
	fmt.Fprintf(w, "  %-24s %d at %.0f/s over %.1f s (%.0f/s achieved)\n", "checks", r.Checks, r.RatePerS, r.Seconds, r.Achieved)
	fmt.Fprintf(w, "  %-24s p50 %.2f ms, p99 %.2f ms, max %.2f ms (from the scheduled start; target p99 %.0f ms)\n", "latency", r.P50Ms, r.P99Ms, r.MaxMs, r.P99Target)
	fmt.Fprintf(w, "  %-24s %.3f ms\n", "CPU a check", r.CPUms)
	fmt.Fprintf(w, "  %-24s %d\n", "late starts (> 1 ms)", r.Late)
	fmt.Fprintf(w, "  %-24s %d %s\n", "errors", r.Errors, r.FirstErr)
	verdict := "ok"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "  %-24s %s\n", "checks", verdict)
}

// benchAppIssuer is the issuer of the bench's cards.
var benchAppIssuer = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}

func benchAppCheck(ctx context.Context, e env, o benchAppCheckOptions) (*benchAppCheckResult, error) {
	progress := func(format string, args ...any) { fmt.Fprintf(e.stderr, "bench: "+format+"\n", args...) }
	st, closeStores, err := openBenchStores(ctx, e, o.db)
	if err != nil {
		return nil, err
	}
	defer closeStores()
	res := &benchAppCheckResult{Cores: runtime.GOMAXPROCS(0), DB: st.url.Engine.String(), Cards: o.cards, Clients: o.clients, RatePerS: float64(o.rate), P99Target: 5}

	office := apps.NewOffice(st.apps, time.Now, rand.Reader)
	lib, token, err := office.Add(ctx, apps.App{ID: "bench-library", Name: "Bench library", Kind: card.AppLibrary, Scope: 1, Party: "bench-library"})
	if err != nil {
		return nil, err
	}
	now := time.Now().In(citycard.ChinaTime)
	from, _ := citycard.DateTime(now.AddDate(0, -1, 0))
	to, _ := citycard.DateTime(now.AddDate(1, 0, 0))
	today, _ := citycard.DateTime(now)
	t0 := time.Now()
	asns := make([]citycard.ASN, o.cards)
	for i := range asns {
		asns[i] = citycard.ASN{0, 0, 0x31, 0x50, 0, 0x09, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		if _, _, err := office.Grant(ctx, lib.ID, apps.CardRef{Issuer: benchAppIssuer, ASN: asns[i]}, apps.Terms{ValidFrom: from, ValidTo: to, Limit: 10}); err != nil {
			return nil, err
		}
	}
	progress("granted %d cards in %.1f s", o.cards, time.Since(t0).Seconds())

	s := &api.Server{Apps: office, Blacklist: blacklist.New(nil, nil), Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/v1/apps/" + lib.ID + "/cards/" + benchAppIssuer.String() + "/"
	query := "/check?action=loan&date=" + today.String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients, DisableCompression: true}, Timeout: 10 * time.Second}

	total := o.rate * o.seconds
	res.Checks = int64(total)
	check := func(i int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+asns[i].String()+query, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var v struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&v); err != nil {
			return fmt.Errorf("check of card %d: %d, %w", i, resp.StatusCode, err)
		}
		if resp.StatusCode != http.StatusOK || !v.Allowed {
			return fmt.Errorf("check of card %d: %d, %s", i, resp.StatusCode, v.Reason)
		}
		return nil
	}
	progress("checking over %s: %d checks at %d/s with %d clients", ln.Addr(), total, o.rate, o.clients)
	cpu0 := processCPU()
	r, err := openLoop{rate: o.rate, total: total, workers: o.clients, do: func(_, i int) error { return check(i % o.cards) }}.run(ctx)
	if err != nil {
		return nil, err
	}
	res.CPUms = float64((processCPU() - cpu0).Microseconds()) / 1000 / float64(total)
	res.Seconds, res.Achieved = r.elapsed.Seconds(), float64(total)/r.elapsed.Seconds()
	res.Errors, res.Late, res.FirstErr = r.errs, r.late, r.firstErr
	res.P50Ms, res.P99Ms, res.MaxMs = msOf(r.p50), msOf(r.p99), msOf(r.max)
	res.OK = res.Errors == 0
	return res, nil
}
