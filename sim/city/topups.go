package city

import (
	"context"
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// Remote top-ups (补登) in the city. Each day some of our cardholders
// pay a top-up for their card online: the payment company's notice
// reaches the back office through the staff API over HTTP
// (api.StaffClient.PayTopUp, the clerk's token; now and then the notice
// comes twice, under the same key, and must be answered replayed with
// the same top-up). Most claim it on the card at their home station's
// kiosk a few hours later, within the product's claim time
// (DefaultTopUpDays): the kiosk asks the load host over HTTP which
// top-ups it may claim (api.LoadClient.TopUps) and claims one through
// the terminal's load flow with api.LoadClient.Claim as its host (the
// card's INITIALIZE FOR LOAD answer to the claim route, MAC2 back, the
// TAC to loads/confirm), all over HTTP. The rest never come: at each
// day's end a supervisor sweeps (api.StaffClient.SweepTopUps) and the
// top-ups past their claim time expire and are refunded to their payer;
// after the last day the city's clock runs on to the last claim time and
// the sweep runs once more. With the tear fault a claim tears at CREDIT
// now and then (claimTearPM) and the cardholder asks again at once: the
// kiosk recovers the torn claim (GET TRANSACTION PROOF: the card did
// credit it, the host confirms it by its TAC and refuses the new claim,
// the card holding the money) or the host reverses it at the new
// session, whose claim then goes through. A claim the card's limits
// refuse (its balance cap, the day's loads) is predicted as a load's
// refusal is, and its top-up waits, and expires.

// DefaultTopUpDays is the claim time of a remote top-up in the city's
// products (Products): one day, so that a run of two days sees top-ups
// expire; the sample products' is cms.DefaultTopUpDays.
const DefaultTopUpDays = 1

// Remote top-ups' rates.
const (
	topUpsPerCards = 400 // a top-up paid a day per 400 cards
	topUpsMin      = 4   // and at least this many
	claimPct       = 80  // percent of top-ups claimed at a kiosk
	claimTearPM    = 80  // per mille of claims torn at CREDIT (the tear fault)
	payAgainPct    = 10  // percent of payments whose notice comes twice
)

// simTopUp is a remote top-up the city paid, and what it knows of it.
type simTopUp struct {
	key       string
	id        string // the back office's; "" until paid
	rider     int32
	amountFen int64
	day       int   // the day it is paid
	payAt     int64 // seconds after that day's midnight
	claimDay  int   // the day it is claimed; -1 never
	claimAt   int64
	claimBy   time.Time
	claimed   bool // on the card, by the city's claim
}

// topUpPayer is the payment company the city's cardholders pay through.
const topUpPayer = "sim-pay"

// planTopUps draws the day's remote top-ups and adds the events of the
// day: the payments drawn now, and the claims due today (of today's
// payments and yesterday's).
func (c *City) planTopUps(p *planner) {
	rng := rngFor(c.cfg.Seed, "topups", uint64(p.day))
	for k := 0; k < max(topUpsMin, c.cfg.Cards/topUpsPerCards); k++ {
		ri := int32(rng.IntN(len(c.riders)))
		t := &simTopUp{key: fmt.Sprintf("sim-topup:%d:%d", p.day, k), rider: ri, claimDay: -1,
			amountFen: []int64{3000, 5000, 10000, 20000}[rng.IntN(4)], day: p.day, payAt: int64(420+rng.IntN(14*60)) * 60}
		if rng.IntN(100) < claimPct {
			at := t.payAt + int64(30+rng.IntN(20*60))*60 // within the day of claim time
			t.claimDay, t.claimAt = p.day+int(at/86400), at%86400
		}
		if c.riders[ri].issuer != 0 {
			continue
		}
		c.topUps = append(c.topUps, t)
		p.add(t.payAt, evTopUp, 0, ri, -1, int32(len(c.topUps)-1), 0)
	}
	for i, t := range c.topUps {
		if t.claimDay == p.day {
			p.add(t.claimAt, evTopUp, 0, t.rider, -1, int32(i), 1)
		}
	}
}

// topUpEvent plays a top-up's event: its payment (claim 0) or its claim.
func (c *City) topUpEvent(ctx context.Context, i int32, claim bool) {
	if claim {
		c.claimTopUp(i)
		return
	}
	c.payTopUp(ctx, i)
}

// inUse reports whether rider r's card is ours and in use: not lost,
// refunded, damaged or replaced.
func (r *rider) inUse() bool {
	return r.issuer == 0 && r.lostOn < 0 && !r.handedIn() && r.replacedBy == -1
}

// handedIn reports whether rider r's card was handed in at a counter:
// handed back for a refund, or reported damaged. It taps no more.
func (r *rider) handedIn() bool { return r.refundedOn >= 0 || r.damagedOn >= 0 }

// payTopUp pays top-up i through the staff API (the payment company's
// notice), sometimes twice.
func (c *City) payTopUp(ctx context.Context, i int32) {
	t := c.topUps[i]
	r := c.riders[t.rider]
	if !r.inUse() {
		return
	}
	clerk, _ := c.bo.Staff()
	payer := cms.Channel{Type: cms.ThirdParty, Party: topUpPayer, Reference: "pay-" + t.key}
	tu, replayed, err := clerk.PayTopUp(ctx, t.key, Issuer, r.asn, payer, t.amountFen)
	if err == nil && c.rng.IntN(100) < payAgainPct {
		again, replayedAgain, err2 := clerk.PayTopUp(ctx, t.key, Issuer, r.asn, payer, t.amountFen)
		switch {
		case err2 != nil:
			err = fmt.Errorf("its notice again: %w", err2)
		case !replayedAgain || again.ID != tu.ID:
			err = fmt.Errorf("its notice again: top-up %s, replayed %v; want %s, replayed", again.ID, replayedAgain, tu.ID)
		default:
			c.fig.TopUpsReplayed++
		}
	}
	if err == nil && (replayed || tu.ID != cms.TopUpID(t.key) || tu.State != cms.TopUpPending || tu.AmountFen != t.amountFen) {
		err = fmt.Errorf("answered top-up %s %v of %d fen, replayed %v", tu.ID, tu.State, tu.AmountFen, replayed)
	}
	if err != nil {
		c.violate("card %v: paying a remote top-up of %d fen (%s): %v", r.asn, t.amountFen, t.key, err)
		return
	}
	t.id, t.claimBy = tu.ID, tu.ClaimBy
	c.fig.TopUpsPaid++
	c.fig.TopUpsPaidFen += t.amountFen
}

// claimTopUp claims top-up i at the kiosk of its cardholder's home
// station, over HTTP, asking again at once after a tear.
func (c *City) claimTopUp(i int32) {
	t := c.topUps[i]
	r := c.riders[t.rider]
	if t.id == "" || !r.inUse() || len(c.kiosks) == 0 || !c.now().Before(t.claimBy) {
		return // not paid, the card no longer in use (the top-up expires, or follows the replacement)
	}
	d := c.devs[c.kiosks[r.home%len(c.kiosks)]]
	torn := c.cfg.has(FaultTear) && c.frng.IntN(1000) < claimTearPM
	for try := 0; try < 2; try++ {
		if c.claimOnce(t, t.rider, d, torn && try == 0) {
			return
		}
	}
}

// claimOnce makes one claim of t on rider ri's card at kiosk d, torn at
// CREDIT if tear; it reports whether the claim is over (claimed, or
// refused: the rider does not ask again).
func (c *City) claimOnce(t *simTopUp, ri int32, d *device, tear bool) bool {
	ctx := context.Background()
	r := c.riders[ri]
	c.fig.Taps++
	c.cur = ri
	defer func() { c.cur = -1 }()
	lc := d.link.Loads(cms.Channel{Type: cms.BankCard, Party: Issuer.String()})
	offered, err := lc.TopUps(ctx, Issuer, r.asn)
	if err != nil {
		c.violate("card %v at kiosk %v: its remote top-ups: %v", r.asn, d.id, err)
		return true
	}
	if !offers(offered, t.id) {
		c.violate("card %v at kiosk %v: remote top-up %s (%s) not offered to claim before %v: %+v", r.asn, d.id, t.id, t.key, t.claimBy, offered)
		return true
	}
	expect := c.loadRefusal(r, t.amountFen, "claim", true)
	if tear && expect == "" {
		r.card.Tear([]card.TearStep{card.TearBeforeCommit, card.TearAfterCommit}[c.frng.IntN(2)])
	}
	res, err := d.term.Load(r.card, uint32(t.amountFen), lc.Claim(t.id))
	r.card.Tear(card.TearNone)
	c.keepGrey()
	recovered := res.Recovered != nil
	if recovered {
		// The torn claim, which the card did credit: recovered and
		// confirmed by its TAC before this session.
		amt := int64(res.Recovered.Amount)
		if amt != t.amountFen {
			c.violate("card %v at kiosk %v: a load of %d fen recovered at the claim of remote top-up %s of %d fen", r.asn, d.id, amt, t.id, t.amountFen)
		}
		c.claimed(t, r, amt, res.Recovered.BalanceBeforeFen()+amt)
		c.fig.TopUpClaimsRecovered++
	}
	switch {
	case err == nil && expect != "":
		c.violate("card %v at kiosk %v: a claim of remote top-up %s of %d fen card management should have refused (%s)", r.asn, d.id, t.id, t.amountFen, expect)
	case err == nil && recovered:
		c.violate("card %v at kiosk %v: remote top-up %s claimed twice", r.asn, d.id, t.id)
	case err == nil:
		c.claimed(t, r, t.amountFen, res.BalanceAfter)
		return true
	case tear && citycard.IsKind(err, citycard.IO):
		c.fault(FaultTear)
		c.fig.TopUpClaimsTorn++
		c.setNow(c.now().Add(20 * time.Second))
		return false
	case recovered && citycard.IsKind(err, citycard.Conflict):
		return true // the new claim refused: the card holds the money already
	case expect != "" && citycard.IsKind(err, refusalKind(expect)):
		c.fig.Refusals[expect]++
		return true
	default:
		c.refusal(r, d, err)
	}
	return true
}

// offers reports whether the kiosk was offered top-up id.
func offers(l []api.KioskTopUp, id string) bool {
	for _, k := range l {
		if k.ID == id {
			return true
		}
	}
	return false
}

// claimed counts top-up t on rider r's card: a load of fen (the card's
// loads, as the back office's load records and card management's flows
// hold it), leaving balanceFen.
func (c *City) claimed(t *simTopUp, r *rider, fen, balanceFen int64) {
	if t.claimed {
		c.violate("card %v: remote top-up %s counted claimed twice", r.asn, t.id)
		return
	}
	r.balance = balanceFen
	if c.cfg.ForgetClaim && !c.forgotClaim {
		c.forgotClaim = true
		return
	}
	t.claimed = true
	r.loadsFen += fen
	r.loadedToday += fen
	r.loads++
	c.fig.TopUpsClaimed++
	c.fig.TopUpsClaimedFen += fen
}

// sweepTopUps has a supervisor sweep the top-ups past their claim time
// (refunded to their payer), as serve does hourly.
func (c *City) sweepTopUps(ctx context.Context) {
	_, sup := c.bo.Staff()
	n, err := sup.SweepTopUps(ctx)
	if err != nil {
		c.violate("sweeping the expired remote top-ups: %v", err)
	}
	c.fig.TopUpsSwept += int64(n)
}

// finalTopUps ends the run's top-ups: the city's clock runs on to the
// last claim time of those not claimed, and the sweep expires them.
func (c *City) finalTopUps(ctx context.Context) {
	for _, t := range c.topUps {
		if t.id != "" && !t.claimed && t.claimBy.After(c.now()) {
			c.setNow(t.claimBy)
		}
	}
	c.sweepTopUps(ctx)
}

// InvTopUps is the remote top-ups' invariant.
const InvTopUps = "remote_topups_conserved"

// checkTopUps checks the remote top-ups: each the city paid is, in the
// back office (read over HTTP), claimed if the city claimed it, else
// expired and refunded to its payer, or still pending; in count and fen,
// paid = claimed + expired + pending, and the sweep expired as many as
// are expired. The ledger agrees: the top-up pending account holds the
// pending ones, the payer's settlement account what it paid less what was
// refunded, and the card float took exactly the claimed (its load
// entries from top-up pending, less any reversed).
func (c *City) checkTopUps(ctx context.Context, v *inv) {
	clerk, _ := c.bo.Staff()
	var paid, claimed, expired, pending, paidFen, claimedFen, expiredFen, pendingFen int64
	for _, t := range c.topUps {
		if t.id == "" {
			continue
		}
		paid++
		paidFen += t.amountFen
		tu, err := clerk.TopUp(ctx, t.id)
		if err != nil {
			v.failCard(t.rider, "remote top-up %s (%s): reading it: %v", t.id, t.key, err)
			continue
		}
		switch {
		case tu.AmountFen != t.amountFen:
			v.failCard(t.rider, "remote top-up %s (%s): %d fen, the city paid %d", t.id, t.key, tu.AmountFen, t.amountFen)
		case t.claimed != (tu.State == cms.TopUpClaimed):
			v.failCard(t.rider, "remote top-up %s (%s) of card %v: %v; the city claimed it: %v", t.id, t.key, c.riders[t.rider].asn, tu.State, t.claimed)
		}
		switch tu.State {
		case cms.TopUpClaimed:
			claimed++
			claimedFen += tu.AmountFen
		case cms.TopUpExpired:
			expired++
			expiredFen += tu.AmountFen
		case cms.TopUpPending, cms.TopUpClaiming:
			pending++
			pendingFen += tu.AmountFen
		default:
			v.failCard(t.rider, "remote top-up %s (%s): %v, and no one asked for its refund", t.id, t.key, tu.State)
		}
	}
	c.fig.TopUpsExpired, c.fig.TopUpsExpiredFen, c.fig.TopUpsPending, c.fig.TopUpsPendingFen = expired, expiredFen, pending, pendingFen
	if paid != c.fig.TopUpsPaid || claimed != c.fig.TopUpsClaimed || claimedFen != c.fig.TopUpsClaimedFen {
		v.fail("the city paid %d remote top-ups and claimed %d (%d fen); the back office holds %d paid, %d claimed (%d fen)", c.fig.TopUpsPaid, c.fig.TopUpsClaimed, c.fig.TopUpsClaimedFen, paid, claimed, claimedFen)
	}
	if paid != claimed+expired+pending || paidFen != claimedFen+expiredFen+pendingFen {
		v.fail("remote top-ups paid %d (%d fen) != claimed %d (%d fen) + expired %d (%d fen) + pending %d (%d fen)", paid, paidFen, claimed, claimedFen, expired, expiredFen, pending, pendingFen)
	}
	if expired != c.fig.TopUpsSwept {
		v.fail("%d remote top-ups expired, the sweeps expired %d", expired, c.fig.TopUpsSwept)
	}
	l := c.bo.Ledger()
	bal := func(a ledger.Account) int64 {
		b, err := l.Balance(ctx, a)
		if err != nil {
			v.fail("ledger balance %v: %v", a, err)
		}
		return b.NetFen()
	}
	if got := -bal(ledger.Account{Type: ledger.TopUpPending, Party: Issuer.String()}); got != pendingFen {
		v.fail("the top-up pending account holds %d fen, the pending top-ups %d", got, pendingFen)
	}
	if got := bal(ledger.Account{Type: ledger.Settlement, Party: topUpPayer}); got != paidFen-expiredFen {
		v.fail("the payer %s paid %d fen net, want %d paid less %d refunded", topUpPayer, got, paidFen, expiredFen)
	}
	var floatFen int64
	err := l.Scan(ctx, 0, func(p *ledger.Posted) error {
		if p.Type != ledger.EntryLoad && p.Type != ledger.EntryReversal {
			return nil // a torn claim the card never credited is reversed: a reversal entry, its postings the load's negated
		}
		fromPending := false
		var float int64
		for _, q := range p.Postings {
			switch q.Account.Type {
			case ledger.TopUpPending, ledger.ErrorReceivable:
				fromPending = true
			case ledger.CardFloat:
				float += q.AmountFen
			}
		}
		if fromPending {
			floatFen -= float
		}
		return nil
	})
	if err != nil {
		v.fail("reading the ledger: %v", err)
	}
	if floatFen != claimedFen {
		v.fail("the card float took %d fen from remote top-ups, %d fen were claimed", floatFen, claimedFen)
	}
	v.detail = fmt.Sprintf("%d paid (%d fen) = %d claimed (%d fen) + %d expired and refunded (%d fen) + %d pending (%d fen); the card float took %d fen from top-up pending; %d claims torn (%d recovered)",
		paid, paidFen, claimed, claimedFen, expired, expiredFen, pending, pendingFen, floatFen, c.fig.TopUpClaimsTorn, c.fig.TopUpClaimsRecovered)
}
