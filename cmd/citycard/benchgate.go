package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

const benchGateUsage = `usage: citycard bench gate --app campus|venue|library|site|parking --taps N [--json]
       citycard bench gate --app bike --feed DIR --taps N [--json]

Taps N virtual cards, each with an entitlement of the application, on one
offline application gate, on one core: per tap the gate reads the card's
entitlement file over APDUs, has its PSAM check the grant MAC, decides by
the application's rules, writes the stamp on the card, checks the card's
stamp MAC and seals the non-financial record. The cards are made before
each tap is timed. It prints taps per second and the decision latency in
host CPU time per tap (p50, p99, max; target p99 under 1 ms), then checks
that every tap was allowed and every record verifies in the back office's
Verifier; it exits non-zero if a check fails.

With --app bike a tap is a pair at one bike dock (terminal.BikeDock):
the hire (a stamp) and, 90 minutes later, the return (a stamp, the time
fare priced by the fare engine over the feed DIR, 1.00 on the sample
feed fare/testdata/ningbo, whose codes the dock takes: network 3, route
1, stop 3001, and the e-purse purchase): three records a pair.

flags:
`

// gateBenchResult is the outcome; the JSON field names are the contract
// of --json.
type gateBenchResult struct {
	App        string  `json:"app"`
	Taps       int     `json:"taps"`
	Allowed    int     `json:"allowed"`
	Verified   int     `json:"verified"`
	TapsPerS   float64 `json:"taps_per_s"`  // taps / the CPU time they took, on one core
	P50Ms      float64 `json:"p50_ms"`      // host CPU time of one tap
	P99Ms      float64 `json:"p99_ms"`      // host CPU time of one tap
	MaxMs      float64 `json:"max_ms"`      // host CPU time of one tap
	P99WallMs  float64 `json:"p99_wall_ms"` // wall time of one tap, the machine's load included
	APDUsTap   int     `json:"apdus_per_tap"`
	RecordsTap int     `json:"records_per_tap"` // records verified of a tap: 1, 3 for a bike's pair
	SetupS     float64 `json:"setup_seconds"`   // making the cards, untimed
	OK         bool    `json:"ok"`
	P99Target  float64 `json:"p99_target_ms"`
	CPUSource  string  `json:"cpu_source"` // thread or process CPU time
	cpuSamples []time.Duration
}

func runBenchGate(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("bench gate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, benchGateUsage); fs.PrintDefaults() }
	appName := fs.String("app", "campus", "the application: campus, venue, library, site, parking or bike")
	feed := fs.String("feed", "", "bike: the fare table's `directory` (GTFS-Fares; the sample: fare/testdata/ningbo)")
	taps := fs.Int("taps", 10000, "taps, one virtual card each")
	asJSON := fs.Bool("json", false, "print the result as one JSON object on the last line")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("bench gate: unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	app, err := apps.ParseApp(*appName)
	if err != nil {
		return fmt.Errorf("bench gate: %w: %w", err, errUsage)
	}
	if *taps <= 0 || *taps > 10_000_000 {
		return fmt.Errorf("bench gate: --taps must be 1 to 10000000: %w", errUsage)
	}
	var fares *fare.Table
	switch {
	case app == card.AppBike && *feed == "":
		return fmt.Errorf("bench gate: --app bike needs --feed, the fare table pricing the returns: %w", errUsage)
	case app == card.AppBike:
		if fares, err = fare.Load(os.DirFS(*feed)); err != nil {
			return fmt.Errorf("bench gate: --feed %s: %w", *feed, err)
		}
	case *feed != "":
		return fmt.Errorf("bench gate: --feed is for --app bike: %w", errUsage)
	}
	res, err := benchGate(ctx, app, *taps, fares)
	if err != nil {
		return err
	}
	return reportBench(e, "bench gate", res, res.OK, *asJSON)
}

// counting counts the APDUs a card or PSAM answers.
type counting struct {
	apdu.Transport
	n int
}

func (c *counting) Transmit(b []byte) ([]byte, error) {
	c.n++
	return c.Transport.Transmit(b)
}

// benchSpool keeps the gate's records for verification.
type benchSpool struct{ recs [][]byte }

func (s *benchSpool) Append(b []byte) (uint64, error) {
	s.recs = append(s.recs, b)
	return uint64(len(s.recs)), nil
}
func (s *benchSpool) Ack(...uint64) error { return nil }

// gateBenchChunk is how many cards are made at a time, before their taps.
const gateBenchChunk = 4096

func benchGate(ctx context.Context, app card.Application, n int, fares *fare.Table) (*gateBenchResult, error) {
	issuer := citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, citycard.ChinaTime)
	// Fixed master keys: the bench measures taps, not key generation.
	keyOf := func(t keys.KeyType) []byte {
		k := make([]byte, keys.KeyLen)
		for j := range k {
			k[j] = byte(31*int(t) + 7*j + 1)
		}
		return k
	}
	store := keys.NewMemStore()
	for _, t := range append(slices.Clone(keys.CardKeyTypes), keys.KeyRecord, keys.KeyTransport, keys.KeyApplication) {
		if _, err := store.Put(keys.Ref{Issuer: issuer, Type: t, Version: 1}, keys.Alg3DES, keyOf(t), "bench", now); err != nil {
			return nil, err
		}
	}
	transport := keys.Ref{Issuer: issuer, Type: keys.KeyTransport, Version: 1}
	vendor, err := terminal.NewPSAMVendor(transport, keys.Alg3DES, keyOf(keys.KeyTransport))
	if err != nil {
		return nil, err
	}
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x70, 0x01}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x70, 0x01}
	psam := vendor.NewPSAM(psamID)
	pk := terminal.PSAMKeys{Operator: issuer, RecordKeyVersion: 1, Issuers: []keys.Ref{{Issuer: issuer, Type: keys.KeyApplication, Version: 1}}}
	if app == card.AppBike {
		// The dock's POS shares the PSAM: it needs the purchase keys too.
		pk.Issuers = append(pk.Issuers, keys.Ref{Issuer: issuer, Type: keys.KeyPurchase, Version: 1}, keys.Ref{Issuer: issuer, Type: keys.KeyMaintenance, Version: 1})
	}
	if err := terminal.ProvisionPSAM(store, psam, tid, pk, 1); err != nil {
		return nil, err
	}
	action, scope, place, limit := apps.Admit, uint32(3), uint32(1), uint16(0)
	switch app {
	case card.AppCampus, card.AppParking:
		action = apps.CheckIn
	case card.AppLibrary:
		action, limit = apps.Loan, 10
	case card.AppVenue:
		limit = 8
	case card.AppSite:
		place = 7
	case card.AppBike:
		action, place = apps.Hire, bikeStop
	}
	sp := &benchSpool{}
	clock := now
	ps := &counting{Transport: psam}
	g, err := terminal.NewGate(terminal.GateConfig{PSAM: ps, PSAMID: psamID, RecordKeyVersion: 1, App: app, Scope: scope,
		Place: place, Action: action, Spool: sp, Now: func() time.Time { return clock }})
	if err != nil {
		return nil, err
	}
	tap, perTap := func(cd apdu.Transport) (bool, error) {
		r, err := g.Tap(cd)
		return r.Reason == apps.Allowed, err
	}, 1
	if app == card.AppBike {
		pos, err := terminal.New(terminal.Config{PSAM: ps, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModePOS, Network: bikeNetwork, Line: bikeLine,
			Station: bikeStop, Fare: terminal.FlatFare{}, Spool: sp, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: func() time.Time { return clock }})
		if err != nil {
			return nil, err
		}
		dock, err := terminal.NewBikeDock(terminal.BikeConfig{Gate: g, POS: pos, Fare: terminal.NewFareEngine(fares)})
		if err != nil {
			return nil, err
		}
		tap, perTap = func(cd apdu.Transport) (bool, error) {
			h, err := dock.Hire(cd)
			if err != nil {
				return false, err
			}
			clock = clock.Add(bikeRide)
			r, err := dock.Return(cd)
			clock = clock.Add(-bikeRide)
			return h.Reason == apps.Allowed && r.Reason == apps.Allowed && r.Paid, err
		}, 3
	}
	start, _ := citycard.DateTime(now.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(now.AddDate(3, 0, 0))
	from, _ := citycard.DateTime(now.AddDate(0, -1, 0))
	to, _ := citycard.DateTime(now.AddDate(1, 0, 0))
	mkCard := func(i int) (*counting, error) {
		asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		ks, err := card.DeriveKeySet(store, issuer, asn, 1)
		if err != nil {
			return nil, err
		}
		f := card.Entitlements{KeyVersion: 1, Version: 1, Slots: []card.Entitlement{{App: app, Scope: scope, ValidFrom: from, ValidTo: to, Limit: limit}}}
		k, err := apps.SignGrants(store, issuer, asn, &f)
		if err != nil {
			return nil, err
		}
		cd, err := card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: issuer, ASN: asn, CardType: 1,
			Start: start, Expiry: expiry, KeySets: []card.KeySet{ks}, AppKey: &k, Entitlements: &f, Rand: zeroRand{}, InitialBalanceFen: 10000})
		if err != nil {
			return nil, err
		}
		return &counting{Transport: cd}, nil
	}

	res := &gateBenchResult{App: app.String(), Taps: n, P99Target: 1, CPUSource: cpuSource, RecordsTap: perTap}
	// One core: the taps run on one locked thread, as a gate's CPU does.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res.cpuSamples = make([]time.Duration, 0, n)
	wall := make([]time.Duration, 0, n)
	var setup time.Duration
	cards := make([]*counting, 0, gateBenchChunk)
	for done := 0; done < n; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		cards = cards[:0]
		for i := done; i < min(n, done+gateBenchChunk); i++ {
			cd, err := mkCard(i + 1)
			if err != nil {
				return nil, err
			}
			cards = append(cards, cd)
		}
		runtime.GC() // the cards' garbage is not the taps'
		setup += time.Since(t0)
		for _, cd := range cards {
			clock = clock.Add(10 * time.Millisecond)
			ps.n = 0
			c0, w0 := cpuNow(), time.Now()
			allowed, err := tap(cd)
			w1, c1 := time.Now(), cpuNow()
			if err != nil {
				return nil, err
			}
			if allowed {
				res.Allowed++
			}
			res.cpuSamples = append(res.cpuSamples, c1-c0)
			wall = append(wall, w1.Sub(w0))
			res.APDUsTap = max(res.APDUsTap, cd.n+ps.n)
		}
		done += len(cards)
	}
	res.SetupS = setup.Seconds()
	var cpuTotal time.Duration
	for _, d := range res.cpuSamples {
		cpuTotal += d
	}
	if cpuTotal > 0 {
		res.TapsPerS = float64(n) / cpuTotal.Seconds()
	}
	slices.Sort(res.cpuSamples)
	slices.Sort(wall)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	res.P50Ms, res.P99Ms, res.MaxMs = ms(quantile(res.cpuSamples, 0.50)), ms(quantile(res.cpuSamples, 0.99)), ms(res.cpuSamples[len(res.cpuSamples)-1])
	res.P99WallMs = ms(quantile(wall, 0.99))

	v := record.NewVerifier(store, issuer)
	for _, b := range sp.recs {
		r, err := record.DecodeBinary(b)
		if err == nil && v.Verify(&r) == nil {
			res.Verified++
		}
	}
	res.OK = res.Allowed == n && res.Verified == n*perTap && res.P99Ms < res.P99Target
	return res, nil
}

// The bike dock of bench gate --app bike: the sample feed's codes
// (fare/testdata/ningbo fare_codes.txt) and the ride priced.
const (
	bikeNetwork = 3
	bikeLine    = 1
	bikeStop    = 3001
	bikeRide    = 90 * time.Minute
)

// quantile returns the q-quantile of sorted samples (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// zeroRand is the bench cards' random source: the gate draws none, and
// crypto/rand would only cost the setup time.
type zeroRand struct{}

func (zeroRand) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func (r *gateBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "gate %s, %d taps on one core (%s CPU time)\n", r.App, r.Taps, r.CPUSource)
	fmt.Fprintf(w, "  %-24s %d of %d\n", "allowed", r.Allowed, r.Taps)
	fmt.Fprintf(w, "  %-24s %d of %d\n", "records verified", r.Verified, r.Taps*r.RecordsTap)
	fmt.Fprintf(w, "  %-24s %.0f\n", "taps/s (one core)", r.TapsPerS)
	fmt.Fprintf(w, "  %-24s p50 %.3f ms, p99 %.3f ms, max %.3f ms (target p99 < %.0f ms)\n", "CPU per tap", r.P50Ms, r.P99Ms, r.MaxMs, r.P99Target)
	fmt.Fprintf(w, "  %-24s p99 %.3f ms\n", "wall per tap", r.P99WallMs)
	fmt.Fprintf(w, "  %-24s %d\n", "APDUs per tap", r.APDUsTap)
	fmt.Fprintf(w, "  %-24s %.2f s\n", "making the cards", r.SetupS)
	verdict := "ok"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "  %-24s %s\n", "checks", verdict)
}
