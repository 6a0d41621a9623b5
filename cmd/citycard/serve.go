package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

const serveUsage = `usage: citycard serve [--db URL] [--addr HOST:PORT] [--store KEYS] [--kek-file F] [--products F]

Runs the back office's HTTP API: terminals upload their batches of
records (verified against the key store, journaled and booked once) and
download the blacklist and their parameters; staff query rejections and
card shadows, and manage cards and cardholders (the OpenAPI document is
at /v1/openapi.json). The web console is at / (staff log in with their
name and password). The registry must hold our own issuer and the
terminals.

Staff accounts are stored: add the first admin with citycard staff add
--db URL --role admin (the others through the API); staff log in with
POST /v1/staff/login or citycard staff login. Cardholders' personal data
is encrypted under a key derived from the KEK. It stops cleanly on SIGINT
or SIGTERM, checkpointing its state; a kill -9 loses nothing committed.

One server per store: serve takes the store's writer lock and refuses to
start while another process holds it. The lock dies with its holder, so
a server killed with kill -9 restarts at once; a server that loses its
lock (a PostgreSQL session ended under it) stops.

flags:
`

// maxConns bounds the connections serve holds open: terminals upload in
// bursts after their depot's Wi-Fi comes up, and each idle keep-alive
// connection costs a goroutine and its buffers.
const maxConns = 4096

func runServe(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, serveUsage); fs.PrintDefaults() }
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	tlsCert := fs.String("tls-cert", "", "TLS certificate `file` (PEM); with --tls-key the API is served over HTTPS, as terminals on public networks need")
	tlsKey := fs.String("tls-key", "", "TLS private key `file` (PEM)")
	faresDir := fs.String("fares", "", "fare table `dir` (GTFS-Fares v2): composite purchases are re-priced and mismatches flagged; its version goes to terminals")
	productsFile := fs.String("products", "", "the products `file` of card management (default: the sample, cms/products.conf)")
	fareFeeds := fs.String("fare-feeds", "", "`dir` of candidate fare feeds, a subdirectory each, that staff may replay the journal under (GET /v1/fares/replay)")
	ko := &keysOptions{}
	fs.StringVar(&ko.store, "store", "citycard-keys.json", "the key store `file`")
	fs.StringVar(&ko.kekFile, "kek-file", "", "`file` holding the key-encryption key (default: $"+envKEK+")")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("serve: unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fmt.Errorf("serve: --tls-cert and --tls-key go together: %w", errUsage)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	ks, err := ko.open("citycard.serve", e)
	if err != nil {
		return err
	}
	st, err := openStores(ctx, *db)
	if err != nil {
		return err
	}
	defer st.close()
	lock, err := lockWriter(ctx, st)
	if err != nil {
		return fmt.Errorf("serve: not starting: %w", err)
	}
	defer releaseWriter(lock, e.stderr)
	if e.getenv("CITYCARD_STAFF") != "" {
		return fmt.Errorf("serve: CITYCARD_STAFF is no longer read: staff accounts are stored (citycard staff add --db %s --role admin ...), unset it: %w", *db, errUsage)
	}
	kek, err := ko.kek("citycard.serve", e)
	if err != nil {
		return err
	}
	dataKey := cmsDataKey(kek)
	clear(kek)
	bo, err := openAcquisition(ctx, st, ks, *faresDir, logger)
	if err != nil {
		return err
	}
	defer bo.acq.Close()
	acq, bl, fareVersion := bo.acq, bo.blacklist, bo.fareVersion
	clr, err := serveClearing(ctx, st)
	if err != nil {
		return err
	}
	s := &api.Server{
		Acquirer: acq, Terminals: terminalAuth{registry.NewAuthCaching(st.registry, time.Now, 0)},
		Blacklist: bl, Rejections: st.journal, Batches: st.journal, Logger: logger, Clearing: clr,
		Params: func() api.Parameters {
			return api.Parameters{FareTableVersion: fareVersion, KeyVersions: []uint8{1}, RecordKeyVersion: 1, UploadBatchMax: acquire.MaxBatchRecords}
		},
	}
	if ca, ok := clr.(clearingAPI); ok {
		s.ClearingParams = ca.Cycles // the parameters its cycles clear under, read-only
	}
	if clr != nil { // reconciliation needs the collector, as clearing does
		if s.Recon, err = reconcilerOver(ctx, st, time.Now, 0); err != nil {
			return err
		}
		// The interconnection's files, our cards' TACs in INC files
		// verified under the key store's keys.
		x := clr.(clearingAPI).Interconnect.(*interop.Interop)
		x.Verifier = record.NewVerifier(ks, x.Own)
		s.Interop = api.InteropOver(x)
	}
	if err := cardManagement(s, st, dataKey, *productsFile, logger); err != nil {
		return err
	}
	// The online load host (圈存): card management books the loads, MAC1
	// and the TAC checked under the key store's card keys, unconfirmed
	// loads settled from acquisition's card shadows once a minute.
	loads := cms.NewLoadHost(s.Cards, ks, acq)
	loads.ConfirmLater = func(err error) {
		logger.Warn("a load's confirmation was not stored: the load stays unconfirmed, settled from the card's next session or records", "err", err)
	}
	s.Loads = loads
	// Remote top-up (补登) claimed through the load host; the expired are
	// refunded to their payers by the sweep, hourly.
	s.TopUps = cms.NewTopUps(loads, st.topups)
	go sweepTopUps(ctx, s.TopUps, logger)
	go expireCards(ctx, s.Cards, logger)
	// The application systems' API (citycard app add gives their tokens).
	s.Apps = apps.NewOffice(st.apps, time.Now, rand.Reader).WithCards(api.CMSCards{Store: st.cms}).WithConcessions(api.CMSConcessions{Cards: s.Cards})
	s.Gates = terminalsOf(st.registry) // whose operator's gate versions a gate downloads
	go followLifecycle(ctx, s.Apps, st.cms, st.journal, logger)
	go settleLoads(ctx, loads, logger)
	if s.Interop != nil {
		go feedInterop(ctx, s, logger)
	}
	go settleLateLosses(ctx, s.ShadowBalances(), logger)
	if *fareFeeds != "" {
		if fi, err := os.Stat(*fareFeeds); err != nil || !fi.IsDir() {
			return fmt.Errorf("serve: --fare-feeds %s is not a directory: %w", *fareFeeds, errUsage)
		}
		s.Replays = &api.Replays{Journal: st.journal, Feeds: dirFeeds(*fareFeeds)}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// Bounded everywhere: at most maxConns connections open (more wait in
	// the kernel's backlog) and api.DefaultMaxUploads uploads in progress
	// (more are answered 503 with Retry-After); a terminal on a slow link
	// has a minute to send a batch (at most 10,000 records, about 1 MiB)
	// and to read the answer.
	ln = api.LimitListener(ln, maxConns)
	more, err := consoleStores(ctx, st, ks)
	if err != nil {
		return err
	}
	h, err := withConsole(s.Handler(), s, staffLogin{s.Staffing}, st.journal, st.registry, bl, more, *tlsCert != "", logger)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	logger.Info("serving", "addr", ln.Addr().String(), "db", st.url.Engine.String(), "replayed", acq.Stats().Replayed, "load", acq.Stats().ReplayTime)
	fmt.Fprintf(e.stdout, "listening on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	var lost error
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	case <-lock.Lost():
		lost = fmt.Errorf("serve: stopping, having lost the writer lock (another server may hold it now): %w", lock.Err())
		logger.Error("lost the writer lock", "err", lock.Err())
	}
	logger.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return errors.Join(lost, err)
	}
	return errors.Join(lost, acq.Close())
}

// settleLoads settles the unconfirmed loads from the card shadows every
// minute until ctx ends (cms.LoadHost.Settle); a fault is logged and
// tried again the next minute.
func settleLoads(ctx context.Context, h *cms.LoadHost, logger *slog.Logger) {
	every(ctx, time.Minute, func() {
		n, err := h.Settle(ctx, cms.Actor{Who: "load host", ServicePoint: "back office"})
		if err != nil {
			logger.Warn("settling unconfirmed loads", "err", err)
		}
		if n > 0 {
			logger.Info("unconfirmed loads settled from the card shadows", "loads", n)
		}
	})
}

// feedInterop feeds the other issuers' BLK listings in force to the
// terminals' blacklist at start and once an hour (a listing takes effect
// on its day), until ctx ends; a fault is logged and tried again.
func feedInterop(ctx context.Context, s *api.Server, logger *slog.Logger) {
	feed := func() {
		if _, err := s.FeedInterop(ctx); err != nil {
			logger.Warn("feeding the other issuers' blacklists", "err", err)
		}
	}
	feed()
	every(ctx, time.Hour, feed)
}

// sweepTopUps expires the remote top-ups past their claim time and
// refunds them to their payers, once an hour (citycard card topup sweep
// does it at once).
func sweepTopUps(ctx context.Context, t *cms.TopUps, logger *slog.Logger) {
	every(ctx, time.Hour, func() {
		n, err := t.Sweep(ctx, cms.Actor{Who: "topup sweep", ServicePoint: "back office"})
		if err != nil {
			logger.Warn("sweeping remote top-ups", "err", err)
		}
		if n > 0 {
			logger.Info("remote top-ups expired and refunded to their payers", "topups", n)
		}
	})
}

// expireRunsMax bounds the runs of cms.Manager.ExpireDue one round of
// expireCards makes: 20 of cms.ExpireDueMax, 10,000 cards an hour.
const expireRunsMax = 20

// expireCards expires the cards past their validity at start and once an
// hour (citycard card expire-due does it at once): a card's validity
// ends with a day in China time, so an hour's round expires it within
// the hour after. A fault is logged and tried again the next hour.
func expireCards(ctx context.Context, m *cms.Manager, logger *slog.Logger) {
	round := func() {
		total := 0
		for range expireRunsMax {
			n, more, err := m.ExpireDue(ctx, cms.Actor{Who: "expiry", ServicePoint: "back office"}, cms.ExpireDueMax)
			total += n
			if err != nil {
				logger.Warn("expiring the cards past their validity", "err", err)
				break
			}
			if !more {
				break
			}
		}
		if total > 0 {
			logger.Info("cards past their validity expired", "cards", total)
		}
	}
	round()
	every(ctx, time.Hour, round)
}

// every runs fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fn()
		}
	}
}

// serveClearing returns the clearing the API serves: the cycles over st,
// under the stored fee schedules and adjustments, as the CLI's clear; nil
// (the routes answer 503) while the registry has no own issuer, the
// collector of fees: add it and restart.
func serveClearing(ctx context.Context, st *stores) (api.Clearing, error) {
	cs, err := cyclesOver(ctx, st, time.Now)
	if citycard.IsKind(err, citycard.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return clearingAPI{cs, st}, nil
}
