package city

import (
	"context"
	"fmt"
	"io"
	"reflect"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// The invariants the checks establish, by name (Report.Invariants).
const (
	InvRan               = "city_ran_as_expected"
	InvNothingLost       = "nothing_received_lost"
	InvExactlyOnce       = "exactly_once"
	InvNothingForged     = "nothing_forged_booked"
	InvConservationCard  = "conservation_per_card"
	InvConservationTotal = "conservation_system_wide"
	InvFloatThreeWays    = "float_reconciled_three_ways"
	InvLedgerBalanced    = "ledger_balanced"
	InvRestart           = "state_rebuilt_on_restart"
)

// InvariantsNotYet are DESIGN.md's invariants that need parts of the
// platform not built yet, with what they wait for.
var InvariantsNotYet = map[string]string{}

// inv is one invariant being checked: its figures, and its offenders.
type inv struct {
	name      string
	detail    string
	bad       int
	first     string
	firstCard int32 // the first offender's card, -1 if none named
}

func (v *inv) fail(format string, args ...any) { v.failCard(-1, format, args...) }

// failCard records an offence of card ri (-1: none).
func (v *inv) failCard(ri int32, format string, args ...any) {
	if v.bad == 0 {
		v.first = fmt.Sprintf(format, args...)
		v.firstCard = ri
	}
	v.bad++
}

// tapAgg is what the journal holds of one tap: its records' classes.
type tapAgg struct {
	booked, suspense, recovered int32
	committed                   bool
	card                        int32
	rec                         int32 // one of its records, to name it
}

// check checks every invariant against the back office's stores and the
// cards themselves, once every queue is empty.
func (c *City) check(ctx context.Context) *Report {
	if c.bo.Acquirer() == nil {
		// The back office is down (a restart failed, said among the
		// violations): nothing can be checked.
		rep := c.report(0)
		rep.Violations = append(rep.Violations, InvRan+": the back office is not running; nothing was checked")
		for _, v := range c.violations {
			rep.Violations = append(rep.Violations, InvRan+": "+v)
		}
		return rep
	}
	j, l, acq := c.bo.Journal(), c.bo.Ledger(), c.bo.Acquirer()
	var invs []*inv
	newInv := func(name string) *inv { v := &inv{name: name, firstCard: -1}; invs = append(invs, v); return v }
	ran := newInv(InvRan)
	lost := newInv(InvNothingLost)
	once := newInv(InvExactlyOnce)
	forged := newInv(InvNothingForged)
	perCard := newInv(InvConservationCard)
	total := newInv(InvConservationTotal)
	three := newInv(InvFloatThreeWays)
	balanced := newInv(InvLedgerBalanced)
	restart := newInv(InvRestart)
	interopAnswered := newInv(InvInteropAnswered)
	incomingAnswered := newInv(InvIncomingAnswered)
	c.faults[string(FaultDB)] = c.fj.transients
	if c.fj.transients == 0 {
		delete(c.faults, string(FaultDB))
	}

	// What the journal holds of each record.
	var entries, booked, unknown int64
	err := j.Replay(ctx, 0, func(e *acquire.Journaled) error {
		entries++
		i, ok := c.byHash[hashRec(e.Raw[:])]
		if !ok && c.appJournaled(e) {
			return nil // an application gate's (appscheck.go)
		}
		if !ok {
			unknown++
			if e.Class != acquire.ClassDuplicate {
				r, _ := record.DecodeBinary(e.Raw[:])
				forged.fail("journal position %d: a record no terminal of the city queued was %v (terminal %v, sequence %d, card %v)", e.Pos, e.Class, e.Terminal, r.TerminalSeq, r.ASN)
			}
			return nil
		}
		sr := &c.recs[i]
		if c.devs[sr.dev].id != e.Terminal {
			forged.fail("journal position %d: a record of terminal %v journaled as terminal %v's", e.Pos, c.devs[sr.dev].id, e.Terminal)
		}
		switch e.Class {
		case acquire.ClassBooked:
			sr.booked++
		case acquire.ClassSuspense:
			sr.suspense++
			sr.suspensePos = e.Pos
		case acquire.ClassRecovered:
			sr.recovered++
		case acquire.ClassLoad:
			sr.loads++
		case acquire.ClassDuplicate:
			sr.dups++
		}
		if e.Class != acquire.ClassDuplicate {
			booked++
		}
		return nil
	})
	if err != nil {
		ran.fail("reading the journal: %v", err)
	}
	var rejections int64
	for after := int64(0); ; {
		rs, err := j.QueryRejections(ctx, acquire.RejectionFilter{After: after, Limit: acquire.MaxRejectionsPage})
		if err != nil {
			ran.fail("reading the rejection journal: %v", err)
			break
		}
		for _, r := range rs {
			rejections++
			after = r.Pos
			i, ok := c.byHash[hashRec(r.Raw)]
			if !ok && c.appRejected(r.Raw) {
				continue // an application gate's (appscheck.go)
			}
			if !ok {
				lost.fail("rejection %d (terminal %v, %s): a record no terminal of the city queued", r.Pos, r.Terminal, r.Reason)
				continue
			}
			c.recs[i].rejections++
		}
		if len(rs) < acquire.MaxRejectionsPage {
			break
		}
	}

	// Nothing received is lost: every queue is empty, every record a
	// terminal queued (and did not replace itself) was answered, and the
	// answer is kept: a booked record in the journal, a rejected one in
	// the rejection journal.
	var queued, answered int64
	for _, d := range c.devs {
		if n := d.queue.Len(); n > 0 {
			lost.fail("terminal %v still holds %d records after the last upload (%v)", d.id, n, c.lastFlushErr)
		}
	}
	taps := map[uint64]*tapAgg{}
	var tapOrder []*tapAgg // in the order the taps were made: the first offender is the same every run
	for i := range c.recs {
		sr := &c.recs[i]
		if sr.kind == recGenuine && sr.typ != citycard.TxLoad {
			k := tapKey(sr.dev, sr.seq)
			t := taps[k]
			if t == nil {
				t = &tapAgg{card: sr.card, rec: int32(i)}
				taps[k] = t
				tapOrder = append(tapOrder, t)
			}
			if sr.status != record.StatusGrey {
				t.rec = int32(i) // named by its complete or recovered record
			}
			t.booked += sr.booked
			t.suspense += sr.suspense
			t.recovered += sr.recovered
			t.committed = t.committed || sr.committed
		}
		if sr.ackedLocal {
			continue
		}
		queued++
		if sr.answer != 0 {
			answered++
		}
		inJournal := sr.booked+sr.suspense+sr.recovered+sr.loads > 0
		switch sr.answer {
		case 0:
			lost.failCard(sr.card, "%s: queued, never answered", c.recName(sr))
		case acquire.Rejected:
			if sr.rejections == 0 {
				lost.fail("%s: answered rejected, not in the rejection journal", c.recName(sr))
			}
		case acquire.Accepted, acquire.Flagged:
			if !inJournal {
				lost.failCard(sr.card, "%s: answered %v, not in the journal", c.recName(sr), sr.answer)
			}
		}
		if sr.kind != recGenuine && (inJournal || sr.dups > 0) {
			forged.fail("%s: journaled (booked %d, suspense %d, duplicate %d)", c.recName(sr), sr.booked, sr.suspense, sr.dups)
		}
		if sr.kind != recGenuine && sr.rejections == 0 {
			forged.fail("%s: not in the rejection journal", c.recName(sr))
		}
		if sr.kind == recGenuine && sr.rejections > 0 {
			lost.fail("%s: a genuine record in the rejection journal", c.recName(sr))
		}
	}
	for i := range c.recs {
		sr := &c.recs[i]
		if sr.answer == acquire.Duplicate && sr.kind == recGenuine {
			if sr.typ == citycard.TxLoad {
				if sr.loads == 0 {
					lost.failCard(sr.card, "%s: answered duplicate, and no copy of it is in the journal", c.recName(sr))
				}
			} else if t := taps[tapKey(sr.dev, sr.seq)]; t.committed && t.booked+t.suspense+t.recovered == 0 {
				// (A grey record of a debit the card never committed is a
				// duplicate once a record of its counter is in: right.)
				lost.failCard(sr.card, "%s: answered duplicate, and no record of its tap is in the journal", c.recName(sr))
			}
		}
	}
	lost.detail = fmt.Sprintf("%d records queued, %d answered; %d in the journal (%d entries), %d in the rejection journal; queues empty", queued, answered, booked, entries, rejections)

	// Exactly once: every tap a card committed moved its money once
	// (booked, or into suspense and then confirmed or recovered), and a
	// torn tap the card never committed was never booked; every load
	// once.
	var tapsCommitted, tapsUncommitted int64
	for _, t := range tapOrder {
		sr := &c.recs[t.rec]
		if t.committed {
			tapsCommitted++
			if t.booked+t.suspense != 1 || t.recovered > t.suspense {
				once.failCard(t.card, "%s: committed by the card, journaled booked %d, suspense %d, recovered %d", c.recName(sr), t.booked, t.suspense, t.recovered)
			}
		} else {
			tapsUncommitted++
			if t.booked != 0 || t.recovered != 0 || t.suspense > 1 {
				once.failCard(t.card, "%s: never committed by the card, journaled booked %d, suspense %d, recovered %d", c.recName(sr), t.booked, t.suspense, t.recovered)
			}
		}
	}
	var loadRecs int64
	for i := range c.recs {
		sr := &c.recs[i]
		if sr.kind == recGenuine && sr.typ == citycard.TxLoad {
			loadRecs++
			if sr.loads != 1 {
				once.failCard(sr.card, "%s: journaled as a load %d times", c.recName(sr), sr.loads)
			}
		}
	}
	once.detail = fmt.Sprintf("%d taps the cards committed, each booked once; %d torn taps never committed, none booked; %d loads, each kept once", tapsCommitted, tapsUncommitted, loadRecs)
	var forgedN, alteredN int64
	for i := range c.recs {
		switch c.recs[i].kind {
		case recForged:
			forgedN++
		case recAltered:
			alteredN++
		}
	}
	forged.detail = fmt.Sprintf("%d forged and %d altered records queued, all rejected and kept, none journaled; %d journaled records unknown to the city", forgedN, alteredN, unknown)

	// Conservation per card: its balance is its start, plus the loads
	// the back office saw, less the purchases it booked, less the torn
	// debits it still holds in suspense that the card did commit.
	type cardFig struct {
		loadsSeen, committedPending int64
		pending                     map[uint16]int32 // grey records pending, by counter
		maxCounter                  int32            // highest counter booked from a complete or recovered record
	}
	figs := make([]cardFig, len(c.riders))
	for i := range figs {
		figs[i].maxCounter = -1
	}
	for i := range c.recs {
		sr := &c.recs[i]
		if sr.kind != recGenuine {
			continue
		}
		f := &figs[sr.card]
		if sr.typ == citycard.TxLoad {
			f.loadsSeen += int64(sr.loads) * int64(sr.amount)
			continue
		}
		if sr.status != record.StatusGrey && sr.booked+sr.recovered > 0 {
			f.maxCounter = max(f.maxCounter, int32(sr.counter))
		}
	}
	// A grey debit the card committed, followed on the card by a load,
	// is confirmed by that load's balance before, whichever reached the
	// back office first (acquire's stepLoad and stepPurchase); a grey of
	// nothing (a tap-on) is confirmed on arrival, never pending.
	loadConfirmed := make(map[int]bool)
	lastGrey := make([]int, len(c.riders))
	for i := range lastGrey {
		lastGrey[i] = -1
	}
	for i := range c.recs {
		sr := &c.recs[i]
		if sr.kind != recGenuine {
			continue
		}
		switch {
		case sr.typ == citycard.TxLoad:
			if g := lastGrey[sr.card]; g >= 0 && c.recs[g].committed && sr.loads > 0 {
				loadConfirmed[g] = true
			}
			lastGrey[sr.card] = -1
		case sr.status == record.StatusGrey:
			lastGrey[sr.card] = i
		default:
			lastGrey[sr.card] = -1
		}
	}
	for i := range c.recs {
		sr := &c.recs[i]
		if sr.kind != recGenuine || sr.status != record.StatusGrey || sr.suspense == 0 || loadConfirmed[i] || sr.amount == 0 {
			continue
		}
		if t := taps[tapKey(sr.dev, sr.seq)]; t.recovered > 0 {
			continue
		}
		f := &figs[sr.card]
		if int32(sr.counter) <= f.maxCounter {
			continue // confirmed or released by a later record
		}
		if f.pending == nil {
			f.pending = map[uint16]int32{}
		}
		// Of two grey records of one counter, the later releases the first.
		if p, ok := f.pending[sr.counter]; !ok || c.recs[p].suspensePos < sr.suspensePos {
			f.pending[sr.counter] = int32(i)
		}
	}
	type issuerFig struct{ spent, pending, shadows, suspense, booked int64 }
	byIssuer := make([]issuerFig, len(c.issuers))
	shadows := make([]acquire.Shadow, len(c.riders))
	var sumCards, sumShadows, lossBorne int64
	cut, err := c.cutPurchases(ctx)
	if err != nil {
		perCard.fail("the replaced cards' purchases from the journal: %v", err)
	}
	for ri, r := range c.riders {
		f := &figs[ri]
		var pendingFen, pendingN int64
		for _, p := range f.pending {
			pendingFen += int64(c.recs[p].amount)
			pendingN++
			if c.recs[p].committed {
				f.committedPending += int64(c.recs[p].amount)
			}
		}
		sh, _ := acq.Shadow(c.issuers[r.issuer].code, r.asn)
		shadows[ri] = sh
		bal := r.card.State().BalanceFen
		if sh.SuspenseFen != pendingFen || int64(sh.GreysPending) != pendingN {
			perCard.failCard(int32(ri), "card %v: its shadow holds %d grey records (%d fen) in suspense, the city's records leave %d (%d fen)", r.asn, sh.GreysPending, sh.SuspenseFen, pendingN, pendingFen)
		}
		if f.loadsSeen != r.loadsFen {
			perCard.failCard(int32(ri), "card %v: loaded %d fen, the journal holds loads of %d fen", r.asn, r.loadsFen, f.loadsSeen)
		}
		// Its purchases in other cities accepted from their INC files
		// (travel.go): the shadow sees only our journal.
		elsewhere := c.travel.acceptedOf[int32(ri)]
		if want := r.startFen + sh.BookedFen - f.committedPending - elsewhere; bal != want {
			perCard.failCard(int32(ri), "card %v: balance %d fen; start %d + booked %d (loads %d less purchases) - torn debits in suspense %d - purchases elsewhere accepted %d = %d", r.asn, bal, r.startFen, sh.BookedFen, f.loadsSeen, f.committedPending, elsewhere, want)
		}
		spent := r.startFen + r.loadsFen - bal - f.committedPending
		is := &byIssuer[r.issuer]
		if r.issuer == 0 {
			book, borne := c.checkBook(ctx, perCard, int32(ri), f.loadsSeen-sh.BookedFen+elsewhere, int64(bal)+f.committedPending, f.committedPending, cut)
			is.booked += book
			lossBorne += borne
		}
		is.spent += spent
		is.pending += f.committedPending
		is.shadows += f.loadsSeen - sh.BookedFen + elsewhere
		is.suspense += sh.SuspenseFen
		sumCards += spent
		sumShadows += f.loadsSeen - sh.BookedFen + elsewhere
	}
	perCard.detail = fmt.Sprintf("%d cards: balance = start + loads - purchases booked - torn debits in suspense - purchases elsewhere accepted; of each of ours, loads - purchases - refunds - moved out + moved in + loss borne = its balance (0 once closed); %d replaced, %d fen moved, %d fen of loss borne", len(c.riders), c.fig.Replacements, c.fig.BalancesMovedFen, lossBorne)

	// System-wide, per issuer: what its cards spent reached the
	// operators (the card float, or another city's receivable, less
	// what suspense holds), and suspense is what the shadows hold.
	var sumLedger, spentAll int64
	for ii, is := range c.issuers {
		code := is.code.String()
		bal := func(t ledger.AccountType) int64 {
			b, err := l.Balance(ctx, ledger.Account{Type: t, Party: code})
			if err != nil {
				ran.fail("ledger balance %v:%s: %v", t, code, err)
			}
			return b.NetFen()
		}
		float, recv, susp := bal(ledger.CardFloat), bal(ledger.InterconnectReceivable), bal(ledger.Suspense)
		if ii == 0 {
			// What the issuer bore of its lost cards' use is card
			// management's loss borne, and is in its book (booked).
			if loss := bal(ledger.IssuerLoss); loss != lossBorne {
				total.fail("issuer %v: its loss account holds %d fen, card management's flows bore %d", is.code, loss, lossBorne)
			}
		}
		f := byIssuer[ii]
		// What card management credited to the float (sales and loads)
		// is not the operators'.
		// What its issuer's answers rejected was reversed from the
		// receivable: spent by the card, paid to no operator.
		// What its city's INC files moved into its receivable from our
		// float is our cards' spending there, not its cards' (travel.go).
		paid := float + recv + susp + f.booked + c.counterpart().rejectedIssuer[code] + c.travel.incomingOf[ii]
		sumLedger += paid
		spentAll += f.spent
		if paid != f.spent {
			total.fail("issuer %v: its cards spent %d fen (less %d torn in suspense); the ledger moved %d to operators (float %d, receivable %d, suspense %d)", is.code, f.spent, f.pending, paid, float, recv, susp)
		}
		if -susp != f.suspense {
			total.fail("issuer %v: suspense holds %d fen in the ledger, %d in the card shadows", is.code, -susp, f.suspense)
		}
	}
	total.detail = fmt.Sprintf("the cards spent %d fen; the ledger moved %d fen from card float and receivables to the operators; the issuer's loss account bore %d fen, as card management's flows", spentAll, sumLedger, lossBorne)
	if sumCards != sumShadows || sumShadows != sumLedger {
		three.fail("purchases: cards %d fen, card shadows %d, ledger %d", sumCards, sumShadows, sumLedger)
	}
	three.detail = fmt.Sprintf("purchases booked: %d fen by the cards, %d by the card shadows, %d by the ledger", sumCards, sumShadows, sumLedger)

	// The ledger: its hash chain and running balances, summing to zero.
	if vr, err := ledger.Verify(ctx, l); err != nil || vr.Broken != nil {
		balanced.fail("ledger verify: %v %v", err, vr.Broken)
	} else {
		all, err := l.Balances(ctx)
		if err != nil {
			balanced.fail("ledger balances: %v", err)
		}
		var sum int64
		for _, b := range all {
			sum += b.NetFen()
		}
		if sum != 0 {
			balanced.fail("the balances sum to %d fen", sum)
		}
		balanced.detail = fmt.Sprintf("%d entries, hash chain intact, %d accounts summing to 0", vr.Entries, len(all))
	}

	// The state is a function of the journal: a restart rebuilds it.
	if err := c.bo.Stop(false); err != nil {
		restart.fail("stopping: %v", err)
	} else if c.start(ctx, "starting the back office again"); c.bo.Acquirer() == nil {
		restart.fail("the back office did not start again")
	} else {
		acq = c.bo.Acquirer()
		for ri, r := range c.riders {
			sh, _ := acq.Shadow(c.issuers[r.issuer].code, r.asn)
			if !reflect.DeepEqual(sh, shadows[ri]) {
				restart.failCard(int32(ri), "card %v: shadow %+v before the restart, %+v after", r.asn, shadows[ri], sh)
			}
		}
		restart.detail = fmt.Sprintf("%d card shadows equal after a clean restart; %d crash restarts during the run", len(c.riders), c.restarts)
	}

	cycles := c.checkClearing(ctx, newInv, c.bo.Journal(), c.bo.Ledger())
	c.checkInterop(ctx, interopAnswered)
	c.checkIncoming(ctx, incomingAnswered)
	c.checkApps(ctx, newInv)

	for _, v := range c.violations {
		ran.fail("%s", v)
	}
	ran.bad += c.violationsDropped
	ran.detail = fmt.Sprintf("%d taps and loads, no failure the city did not expect", c.fig.Taps)

	c.checkTopUps(ctx, newInv(InvTopUps))
	rep := c.report(booked)
	c.reportApps(rep)
	rep.Cycles = cycles
	if rep.Cycles == nil {
		rep.Cycles = []CycleFigures{}
	}
	explained := map[int32]bool{}
	for _, v := range invs {
		ck := Check{Name: v.name, OK: v.bad == 0, Detail: v.detail}
		if v.bad > 0 {
			more := ""
			if v.bad > 1 {
				more = fmt.Sprintf(" (and %d more)", v.bad-1)
			}
			msg := v.first + more
			if v.name != InvRan {
				msg += fmt.Sprintf(" (seed %d)", c.cfg.Seed)
			}
			ck.Detail = msg
			rep.Violations = append(rep.Violations, v.name+": "+msg)
		}
		rep.Checks = append(rep.Checks, ck)
		if v.bad > 0 && v.firstCard >= 0 && c.cfg.Explain != nil && !explained[v.firstCard] {
			explained[v.firstCard] = true
			c.explain(c.cfg.Explain, v.firstCard)
		}
		rep.Invariants[v.name] = ck.OK
	}
	return rep
}

// recName names a record for a violation: its card, terminal, sequence
// and status.
func (c *City) recName(sr *simRec) string {
	d := c.devs[sr.dev]
	if sr.card < 0 {
		return fmt.Sprintf("%s record of terminal %v (%v), sequence %d", kindName(sr.kind), d.id, d.kind, sr.seq)
	}
	what := "purchase"
	if sr.typ == citycard.TxLoad {
		what = "load"
	}
	return fmt.Sprintf("card %v: %s record of terminal %v (%v), sequence %d, counter %d, %d fen, %v", c.riders[sr.card].asn, what, d.id, d.kind, sr.seq, sr.counter, sr.amount, sr.status)
}

// explain writes what the city knows of rider ri's card: every record its
// taps queued, what the back office answered and journaled, and the
// card's own log.
func (c *City) explain(w io.Writer, ri int32) {
	r := c.riders[ri]
	st := r.card.State()
	fmt.Fprintf(w, "card %v (%v, %s, issuer %v): start %d fen, loads %d fen, balance %d fen, offline counter %d, online counter %d, lost on day %d\n",
		r.asn, r.profile, personaNames[r.persona], c.issuers[r.issuer].code, r.startFen, r.loadsFen, st.BalanceFen, st.OfflineCounter, st.OnlineCounter, r.lostOn)
	for i := range c.recs {
		sr := &c.recs[i]
		if sr.card != ri {
			continue
		}
		d := c.devs[sr.dev]
		fmt.Fprintf(w, "  %-10v %v seq %-6d counter %-4d %6d fen %-9v committed %-5v answered %-9v local-ack %-5v journal: booked %d suspense %d (pos %d) recovered %d load %d dup %d\n",
			d.kind, d.id, sr.seq, sr.counter, sr.amount, sr.status, sr.committed, sr.answer, sr.ackedLocal, sr.booked, sr.suspense, sr.suspensePos, sr.recovered, sr.loads, sr.dups)
	}
	sh, ok := c.bo.Acquirer().Shadow(c.issuers[r.issuer].code, r.asn)
	fmt.Fprintf(w, "  shadow (%v): %+v\n", ok, sh)
	for _, l := range st.Log {
		fmt.Fprintf(w, "  log: %+v\n", l)
	}
}
