package city

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/terminal"
)

// City is a simulated city running against a back office.
type City struct {
	cfg   Config
	bo    BackOffice
	clock atomic.Int64 // the city's time: Unix nanoseconds

	store    *keys.MemStore
	vendor   *terminal.PSAMVendor
	products map[string]*cms.Product // the catalog card management sells from
	setup    Setup
	fj       *faultyJournal
	net      *network
	table    *fare.Table
	engine   *terminal.FareEngine
	cardRand *rand.ChaCha8 // the cards' randoms, one stream in tap order

	issuers   []issuer
	operators []operator
	devs      []*device
	perKind   [devKinds]int
	riders    []*rider
	waiting   []int32 // the riders whose replaced card waits for the cooling period, in order of report

	busVehicles       [][]int // per bus line (index)
	gatesIn, gatesOut [][]int // per station
	kiosks            []int   // per station
	coachIn, coachOut map[uint32]int
	docks             []*bikeDock // (bikes.go)
	parkIn, parkOut   []int       // per zone
	taxis, counters   []int
	pos               map[int][]int // merchant POS by operator
	rng, frng         *rand.Rand    // behaviour at run time; device-side faults
	recs              []simRec
	byHash            map[uint64]int32
	greyQ             map[uint64]int32 // grey records in queues: device<<40 | queue seq
	cur               int32            // the rider tapping now; -1 none
	copies            int
	restarts          int
	faults            map[string]int64
	fig               Figures
	violations        []string
	violationsDropped int
	lastFlushErr      error
	pendingGrey       *pendingGrey // the grey record of the tap in progress
	// tapErrors count the taps terminals refused with an error of their
	// own, by the innermost operation that failed; tapErrorFirst keeps
	// the first of each.
	tapErrors     counts
	tapErrorFirst map[string]string
	// The clearing: the cycles the city cleared, in order; what they took
	// of each journal position; the crash mid-clearing armed; whether the
	// test hook dropped its record.
	cycles  []cycleRun
	taken   []taken
	crash   clearCrash
	dropped bool
	cp      *counterpart // the counterpart cities' answers (counterpart.go)
	travel  *travel      // our cards in the counterpart cities (travel.go)
	apps    *cityApps    // the application systems (apps.go)
	// The remote top-ups paid (topups.go), and the lost cards waiting
	// for their refund (refunds.go).
	topUps      []*simTopUp
	cutRefunds  []int32
	toAdjust    []int32 // the cards reported damaged or replaced today, to be adjusted at its end (adjust.go)
	forgotClaim bool    // Config.ForgetClaim's claim forgotten
}

// innermostOp returns the operation of the innermost *citycard.Error of
// err's chain: where it failed.
func innermostOp(err error) string {
	op := ""
	for ; err != nil; err = errors.Unwrap(err) {
		if e, ok := err.(*citycard.Error); ok {
			op = e.Op
		}
	}
	return op
}

// Run simulates the city of cfg over bo and returns its report: a
// Report whose Violations list what broke (empty when every invariant
// held). The error is for a run that could not be made, and then nothing
// was checked: kind Invalid for a Config out of bounds; the back office's
// errors (it would not open or start) and the devices' (a queue that
// could not be created, a PSAM that would not personalize) as they come;
// ctx's error if it was cancelled between days.
func Run(ctx context.Context, cfg Config, bo BackOffice) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	c := &City{
		cfg: cfg, bo: bo, pos: map[int][]int{}, byHash: map[uint64]int32{}, greyQ: map[uint64]int32{}, cur: -1,
		faults: map[string]int64{}, tapErrors: counts{}, tapErrorFirst: map[string]string{},
		rng:      rngFor(cfg.Seed, "behaviour"),
		frng:     rngFor(cfg.Seed, "faults-devices"),
		cardRand: rand.NewChaCha8(seedOf(cfg.Seed, "cards")),
	}
	c.fig.init()
	c.fj = &faultyJournal{rng: rngFor(cfg.Seed, "faults-db")}
	c.setNow(cfg.Start.Add(5 * time.Hour))
	t0 := c.wall()
	c.setup = Setup{Now: c.now, Journal: c.fj.wrap, CheckpointEvery: checkpointEvery}
	defer c.closeQueues()
	defer c.closeHooks()
	cfg.progressf("seed %d: a city of %d cards over %d days, faults: %s", cfg.Seed, cfg.Cards, cfg.Days, faultNames(cfg.Faults))
	if err := c.build(ctx); err != nil {
		return nil, err
	}
	built := c.wall()
	cfg.progressf("built: %s", c.describe())
	for day := 0; day < cfg.Days; day++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d0, taps0 := c.wall(), c.fig.Taps
		c.runDay(ctx, day)
		cfg.progressf("day %d (%s): %d taps, %d records answered, %d restarts, in %.1f s",
			day+1, c.cfg.Start.AddDate(0, 0, day).Format("Mon 2006-01-02"), c.fig.Taps-taps0, c.fig.Verdicts.total(), c.restarts, c.wall().Sub(d0).Seconds())
	}
	ran := c.wall()
	c.finalUploads(ctx)
	c.finalMoves(ctx)
	c.finalTopUps(ctx)
	flushed := c.wall()
	rep := c.check(ctx)
	rep.Timing = Timing{
		BuildS: built.Sub(t0).Seconds(), DaysS: ran.Sub(built).Seconds(), FinalUploadS: flushed.Sub(ran).Seconds(),
		CheckS: c.wall().Sub(flushed).Seconds(), TotalS: c.wall().Sub(t0).Seconds(),
	}
	if s := rep.Timing.DaysS + rep.Timing.FinalUploadS; s > 0 {
		rep.Timing.TapsPerS = float64(c.fig.Taps) / s
	}
	cfg.progressf("checked: %d violations, in %.1f s", len(rep.Violations), rep.Timing.TotalS)
	return rep, nil
}

// checkpointEvery makes acquisition checkpoint often enough that a
// restart loads checkpoints and replays the journal after them.
const checkpointEvery = 20000

func seedOf(seed uint64, label string) [32]byte {
	var s [32]byte
	copy(s[:], fmt.Sprintf("%016x/%s", seed, label))
	return s
}

func (c *City) now() time.Time { return time.Unix(0, c.clock.Load()).In(citycard.ChinaTime) }

// setNow moves the city's clock to t; it never goes back.
func (c *City) setNow(t time.Time) {
	if n := t.UnixNano(); n > c.clock.Load() {
		c.clock.Store(n)
	}
}

func (c *City) wall() time.Time {
	if c.cfg.Timings == nil {
		return time.Time{}
	}
	return c.cfg.Timings()
}

func (c *City) closeQueues() {
	for _, d := range c.devs {
		d.queue.Close()
	}
}

// violate records a broken invariant or a failure the city did not
// expect, naming the card or record and the seed. Past maxViolations
// only the count grows.
func (c *City) violate(format string, args ...any) {
	if len(c.violations) >= maxViolations {
		c.violationsDropped++
		return
	}
	c.violations = append(c.violations, fmt.Sprintf(format, args...)+fmt.Sprintf(" (seed %d)", c.cfg.Seed))
}

// maxViolations bounds the violations a report lists.
const maxViolations = 100

func (c *City) describe() string {
	n := c.net
	return fmt.Sprintf("%d metro lines, %d stations, %d bus lines, %d coach lines, %d bike docks, %d parking zones; %d terminals of %d operators; %d cards of %d issuers",
		len(n.metro), len(n.stations), len(n.busLines), len(n.coach), n.docks, n.zones, len(c.devs), len(c.operators), len(c.riders), len(c.issuers))
}

// runDay plays one day: its events in time order.
func (c *City) runDay(ctx context.Context, day int) {
	p := c.planDay(day)
	midnight := c.cfg.Start.AddDate(0, 0, day)
	aborted := make([]bool, p.trips)
	c.appsDay(day)
	for i := range p.evs {
		ev := &p.evs[i]
		c.appsUntil(ctx, day, ev.at) // the applications' events before it
		c.setNow(midnight.Add(time.Duration(ev.at) * time.Second))
		switch ev.kind {
		case evTap:
			if ev.trip >= 0 && aborted[ev.trip] || c.riders[ev.rider].handedIn() {
				continue // a card handed back or in taps no more
			}
			if !c.step(ev) && ev.trip >= 0 {
				aborted[ev.trip] = true
			}
		case evUpload:
			c.upload(ctx, c.devs[ev.a])
		case evOffline:
			d := c.devs[ev.a]
			if d.offlineUntil.IsZero() && d.kind != devCounter {
				d.offlineUntil = c.now().Add(time.Duration(ev.fen) * time.Hour)
				c.fault(FaultOffline)
			}
		case evReportLost:
			c.reportLost(ctx, ev.rider, day)
		case evRefund:
			c.refund(ctx, ev.rider, day)
		case evDamaged:
			c.damage(ctx, ev.rider, day)
		case evArmCrash:
			c.fj.arm(int(ev.a), ev.fen == 1)
		case evTopUp:
			c.topUpEvent(ctx, ev.a, ev.fen == 1)
		}
	}
	c.appsUntil(ctx, day, 24*3600)
	// Loads whose TAC never came are settled from the card shadows, as
	// the back office's settler does now and then.
	c.settleLoads(ctx)
	c.endCooling(ctx)
	c.sweepTopUps(ctx)
	// The cut-off: the day's cycle is cleared and settled; its
	// interconnection file goes to the counterpart cities, whose answers
	// come back.
	c.clearDay(ctx, clearing.DayOf(midnight.Date()))
	c.exchangeInterop(ctx, clearing.DayOf(midnight.Date()))
	c.exchangeIncoming(ctx, clearing.DayOf(midnight.Date()))
}

// step plays one step of a trip; false ends the trip (the rider was
// refused, paid cash, or went home).
func (c *City) step(ev *event) bool {
	r := c.riders[ev.rider]
	var d *device
	switch ev.step {
	case stepBus:
		vs := c.busVehicles[ev.a]
		d = c.devs[vs[int(ev.at/1800+int64(ev.rider))%len(vs)]]
	case stepMetroIn, stepMetroOut:
		gs := c.gatesIn[ev.a]
		if ev.step == stepMetroOut {
			gs = c.gatesOut[ev.a]
		}
		d = c.devs[gs[int(ev.rider)%len(gs)]]
	case stepCoachIn:
		d = c.devs[c.coachIn[uint32(ev.a)]]
	case stepCoachOut:
		d = c.devs[c.coachOut[uint32(ev.a)]]
	case stepBikeRent:
		c.bikeHire(ev.rider, int(ev.a))
		return true // refused, the rider walks on
	case stepBikeReturn:
		c.bikeReturn(ev.rider, int(ev.a), ev.fen == bikeForgottenReturn)
		return true
	case stepParkIn:
		d = c.devs[c.parkIn[ev.a]]
	case stepParkOut:
		d = c.devs[c.parkOut[ev.a]]
	case stepTaxi:
		d = c.devs[c.taxis[(int(ev.rider)+int(ev.at/600))%len(c.taxis)]]
	case stepPOS:
		d = c.devs[ev.a]
	case stepLoad:
		c.load(ev.rider, c.devs[ev.a], false)
		return true
	case stepTravel:
		return c.travelTap(ev.rider, int(ev.a), ev.fen)
	}
	switch c.tap(ev.rider, d, ev.fen) {
	case tapDone:
		return true
	case tapInsufficient:
		if r.issuer != 0 || (ev.step != stepMetroIn && ev.step != stepMetroOut) {
			// Cash on the bus; the shop's purchase is paid otherwise.
			return ev.step == stepPOS || ev.step == stepTaxi
		}
		// At a gate: the station's kiosk, then the gate again.
		c.fig.LoadedAtGate++
		if !c.load(ev.rider, c.devs[c.kiosks[ev.a]], true) {
			return false
		}
		return c.tap(ev.rider, d, ev.fen) == tapDone
	}
	return false
}

type tapOutcome uint8

const (
	tapDone         tapOutcome = iota
	tapInsufficient            // the balance does not cover it
	tapRefused                 // blacklisted, blocked, expired
	tapFailed                  // an error the city did not expect: a violation
)

// tap taps rider ri's card on d, through the real APDU flow, with the
// tear fault now and then.
func (c *City) tap(ri int32, d *device, fen uint32) tapOutcome {
	r := c.riders[ri]
	c.fig.Taps++
	c.cur = ri
	defer func() { c.cur = -1 }()
	// A traveller's taps do not tear on the travel day (travel.go).
	torn := c.cfg.has(FaultTear) && c.frng.IntN(1000) < tearPM && !c.travelling(ri)
	if torn {
		r.card.Tear([]card.TearStep{card.TearBeforeCommit, card.TearAfterCommit}[c.frng.IntN(2)])
	}
	res, err := d.term.Tap(r.card, fen)
	c.keepGrey()
	r.card.Tear(card.TearNone) // a tear armed for a tap refused before DEBIT goes with it
	if res.Recovered != nil {
		c.fig.GreysRecovered++
	}
	if res.Grey {
		if !torn {
			c.violate("card %v at terminal %v: a grey record without a tear: %v", r.asn, d.id, err)
		}
		c.fault(FaultTear)
		c.noteGrey(r, &res.Record)
		if c.frng.IntN(100) >= tearRetryPct {
			c.fig.TearsWalkedAway++
			return tapDone
		}
		// The rider taps again at once: within the retry window the
		// terminal recovers the torn debit (nothing more to pay) or, if
		// the card never debited, charges this tap.
		c.fig.TearsRetried++
		c.setNow(c.now().Add(20 * time.Second))
		res, err = d.term.Tap(r.card, fen)
		c.keepGrey()
		if res.Recovered != nil {
			c.fig.GreysRecovered++
		}
	}
	if err != nil {
		return c.refusal(r, d, err)
	}
	r.balance = int64(res.BalanceAfter)
	c.injectAfterTap(d, &res.Record)
	return tapDone
}

// refusal sorts a tap's or load's error: a refusal the city expects, or a
// violation.
func (c *City) refusal(r *rider, d *device, err error) tapOutcome {
	switch {
	case citycard.IsKind(err, citycard.Insufficient):
		c.fig.Refusals["insufficient_balance"]++
		return tapInsufficient
	case errors.Is(err, terminal.ErrBlacklisted):
		c.fig.Refusals["blacklisted"]++
		if r.lostOn >= 0 {
			c.fig.LostRefused++
		}
		return tapRefused
	case errors.Is(err, terminal.ErrBlocked):
		c.fig.Refusals["blocked"]++
		if r.lostOn >= 0 {
			c.fig.LostRefused++
		}
		return tapRefused
	case errors.Is(err, terminal.ErrExpired):
		c.fig.Refusals["expired"]++
		return tapRefused
	}
	if citycard.IsKind(err, citycard.Invalid) {
		// The terminal refused the tap before any debit, for a reason
		// of its own: its fare table cannot price it, or what it would
		// write on the card does not hold together (a clock behind the
		// card's entry). No money moved and nothing was recorded: a
		// finding about the platform, not a broken invariant. The report
		// lists them by the operation that failed.
		op := innermostOp(err)
		c.fig.Refusals["terminal_error"]++
		c.tapErrors[op]++
		if _, ok := c.tapErrorFirst[op]; !ok {
			c.tapErrorFirst[op] = fmt.Sprintf("card %v at terminal %v (%v), %s: %v", r.asn, d.id, d.kind, c.now().Format("2006-01-02 15:04"), err)
		}
		return tapRefused
	}
	c.violate("card %v at terminal %v (%v): %v", r.asn, d.id, d.kind, err)
	return tapFailed
}

// load loads rider ri's card at d (a kiosk or a counter) if its balance
// runs low, or if force; a visiting city's card loads at home. It
// reports whether the card was loaded. The load goes to card
// management's online load host, which books it under the product's
// limits: now and then a rider asks for more than one load may be
// (loadTooMuchPM), is refused and asks again for the usual amount; a
// lost card's finder is refused (the card is lost in card management).
// Any refusal the city does not expect is a violation. With the tear
// fault the card loses power at CREDIT now and then, and the rider asks
// again at once: the terminal recovers the torn load first (GET
// TRANSACTION PROOF) and the host confirms it, or settles it from the
// new session (the card never credited: reversed).
func (c *City) load(ri int32, d *device, force bool) bool {
	r := c.riders[ri]
	if r.issuer != 0 || (!force && r.balance >= loadBelowFen) {
		return false
	}
	fen := []int64{5000, 10000, 10000, 20000}[c.rng.IntN(4)]
	fen = min(fen, (card.BalanceMaxFenDefault-r.balance)/1000*1000)
	if fen <= 0 {
		return false
	}
	if c.rng.IntN(1000) < loadTooMuchPM {
		c.loadOnce(ri, d, loadLimitFen+10000)
	}
	ok := c.loadOnce(ri, d, fen)
	for tries := 0; !ok && r.loadTorn && tries < 3; tries++ {
		ok = c.loadOnce(ri, d, fen) // asked again at once after a tear
	}
	return ok
}

// loadLimitFen is the per-load limit of every product of the sample
// catalog (cms.DefaultProducts: 500 yuan); loadTooMuchPM loads in a
// thousand ask for more first.
const (
	loadLimitFen  = 50000
	loadTooMuchPM = 20
)

// loadRefusal starts r's load day over if the day changed, and names
// the refusal the city expects of a load of fen onto r's card
// (what+"_refused_"+the limit: the card lost, the per-load limit, the
// balance cap, the daily limit), "" for none. A claim of a remote top-up
// (claim true) meets the cap and the daily limit only: the top-up was
// checked against the card and the per-load limit when it was paid.
func (c *City) loadRefusal(r *rider, fen int64, what string, claim bool) string {
	if day := c.now().YearDay(); r.loadDay != day {
		r.loadDay, r.loadedToday = day, 0
	}
	p := c.products[r.product]
	switch {
	case !claim && r.lostOn >= 0:
		return what + "_refused_lost"
	case !claim && fen > p.LoadMaxFen:
		return what + "_refused_per_load_limit"
	case r.balance+fen > p.BalanceMaxFen:
		return what + "_refused_balance_cap"
	case r.loadedToday+fen > p.DailyLoadMaxFen:
		return what + "_refused_daily_limit"
	}
	return ""
}

// loadOnce makes one load of fen onto rider ri's card at d, counting it or its
// refusal. r.loadTorn says whether a tear cut it.
func (c *City) loadOnce(ri int32, d *device, fen int64) bool {
	r := c.riders[ri]
	c.fig.Taps++
	c.cur = ri
	defer func() { c.cur = -1 }()
	expect := c.loadRefusal(r, fen, "load", false)
	r.loadTorn = false
	if expect == "" && c.cfg.has(FaultTear) && c.frng.IntN(1000) < tearPM && !c.travelling(ri) {
		r.card.Tear([]card.TearStep{card.TearBeforeCommit, card.TearAfterCommit}[c.frng.IntN(2)])
		r.loadTorn = true
	}
	res, err := d.term.Load(r.card, uint32(fen), c.loadHost(d))
	r.card.Tear(card.TearNone)
	c.keepGrey()
	if res.Recovered != nil {
		// A torn load the card did credit, recovered before this one.
		c.fig.LoadsRecovered++
		r.loadsFen += int64(res.Recovered.Amount)
		r.loadedToday += int64(res.Recovered.Amount)
		r.balance = res.Recovered.BalanceBeforeFen() + int64(res.Recovered.Amount)
		r.loads++
		c.fig.Loads++
		c.fig.LoadsFen += int64(res.Recovered.Amount)
	}
	if err != nil {
		switch {
		case r.loadTorn && citycard.IsKind(err, citycard.IO):
			c.fault(FaultTear)
			c.fig.LoadsTorn++
			return false
		case expect != "" && citycard.IsKind(err, refusalKind(expect)) && strings.HasPrefix(innermostOp(err), "api.LoadClient."):
			// Card management's refusal, as the load route answered it.
			c.fig.Refusals[expect]++
			return false
		}
		r.loadTorn = false
		c.refusal(r, d, err)
		return false
	}
	if expect != "" {
		c.violate("card %v at terminal %v: a load of %d fen card management should have refused (%s)", r.asn, d.id, fen, expect)
	}
	r.loadTorn = false
	r.balance = int64(res.BalanceAfter)
	r.loadsFen += fen
	r.loadedToday += fen
	r.loads++
	c.fig.Loads++
	c.fig.LoadsFen += fen
	return true
}

// reportLost reports rider ri's card lost to card management, as staff
// do at a service point when its registered holder reports it: the card
// moves to lost and card management lists it on the blacklist. Whoever
// holds it now keeps tapping: terminals that downloaded the blacklist
// block it, the others book its records, flagged.
func (c *City) reportLost(ctx context.Context, ri int32, day int) {
	r := c.riders[ri]
	if r.lostOn >= 0 || !r.registered || r.handedIn() || c.travelling(ri) || r.bikeOut {
		// (A rider spending the day in another city is not at our
		// counter. A card that travelled before may be reported lost:
		// its balance as of the report counts its purchases elsewhere,
		// api.ShadowBalances' Elsewhere; see doc.go.)
		return
	}
	clerk, _ := c.bo.Staff()
	st, cut, err := clerk.MoveCard(ctx, Issuer, r.asn, cms.ReportLoss)
	if err != nil || st != cms.Lost || !cut.Equal(c.now().Truncate(time.Second)) {
		c.violate("card %v: reporting it lost at %v: answered %v cut at %v, %v", r.asn, c.now(), st, cut, err)
		return
	}
	r.lostOn, r.lostAt = day, c.now()
	if r.travelled {
		c.fig.Travel.Lost++
	}
	c.fault(FaultLost)
	c.replaceOrRefund(ctx, ri)
	if r.replacedBy == -2 {
		c.mayAdjust(ri) // (a lost card not replaced is adjusted nowhere: it may be found)
	}
}

// upload is a device's upload slot: if it is online, it downloads the
// blacklist and uploads its queue.
func (c *City) upload(ctx context.Context, d *device) {
	if !d.offlineUntil.IsZero() {
		if c.now().Before(d.offlineUntil) {
			return
		}
		d.offlineUntil = time.Time{}
	}
	if _, err := d.link.SyncBlacklist(ctx, d.bl); err != nil {
		c.fig.SyncFailures++
	}
	c.flush(ctx, d)
	if d.gate != nil {
		c.syncVersions(ctx, d.gate) // an application gate's, a bike dock's
	}
}

// flush uploads d's queue, restarting the back office when it crashed;
// what a few attempts could not upload stays queued for the next slot.
func (c *City) flush(ctx context.Context, d *device) {
	for attempt := 0; attempt < 5 && d.queue.Len() > 0; attempt++ {
		st, err := d.up.Flush(ctx, 3)
		c.fig.Batches += int64(st.Batches)
		if c.fj.isDead() {
			c.restart(ctx)
			continue
		}
		if err == nil {
			return
		}
		if citycard.IsKind(err, citycard.Invalid) || citycard.IsKind(err, citycard.Conflict) {
			c.violate("terminal %v: upload refused: %v", d.id, err)
			return
		}
		c.lastFlushErr = err
		c.fig.UploadsDeferred++
	}
}

// restart restarts the back office after its crash mid-upload, over the
// store as the crash left it.
func (c *City) restart(ctx context.Context) { c.restartAfter(ctx, FaultCrash) }

// restartAfter restarts the back office after crash f.
func (c *City) restartAfter(ctx context.Context, f Fault) {
	c.restarts++
	c.fault(f)
	if err := c.bo.Stop(true); err != nil {
		c.violate("stopping the crashed back office: %v", err)
	}
	c.start(ctx, "restarting the back office after its crash")
}

// start starts the back office as its supervisor would: again after a
// transient failure (the database busy at start), a few times.
func (c *City) start(ctx context.Context, what string) {
	if err := c.startRetrying(ctx); err != nil {
		c.violate("%s: %v", what, err)
	}
}

// startRetrying starts the back office, again after a transient failure,
// at most startAttempts times.
func (c *City) startRetrying(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < startAttempts; attempt++ {
		if err = c.bo.Start(ctx, c.setup); err == nil || !citycard.Transient(err) {
			return err
		}
		c.fig.StartRetries++
	}
	return err
}

// startAttempts bounds the starts of the back office in a row.
const startAttempts = 10

// finalUploads ends the run: terminals offline come back and upload
// everything at once (mid-upload, one more crash if crashes are on),
// every queue is emptied, then the faults stop so that the checks see
// the back office at rest.
func (c *City) finalUploads(ctx context.Context) {
	end := c.cfg.Start.AddDate(0, 0, c.cfg.Days)
	c.setNow(end)
	for _, d := range c.devs {
		if d.offlineUntil.After(c.now()) {
			c.setNow(d.offlineUntil)
		}
	}
	if c.cfg.has(FaultCrash) {
		c.fj.arm(1+c.frng.IntN(5), c.frng.IntN(2) == 0)
	}
	for round := 0; round < 20; round++ {
		if round == 10 {
			c.fj.setTransient(0)
			c.fj.arm(0, false)
		}
		left := 0
		for _, d := range c.devs {
			d.offlineUntil = time.Time{}
			if d.queue.Len() > 0 {
				c.upload(ctx, d)
			}
			left += d.queue.Len()
		}
		if left == 0 {
			break
		}
	}
	c.appFinalUploads(ctx)
	c.fj.setTransient(0)
	c.fj.arm(0, false)
	if c.fj.isDead() {
		c.restart(ctx)
	}
	c.settleLoads(ctx)
	c.endCooling(ctx)
	// The last uploads came after the last day's cut-off: their cycle,
	// that of the day they came on, takes them (the days between, if
	// any, have no cycle and are skipped).
	c.clearDay(ctx, clearing.DefaultCalendar().Day(c.now()))
}
