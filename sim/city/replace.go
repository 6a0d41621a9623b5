package city

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
)

// DefaultCoolingDays is the city's cooling period of a replacement
// (Config.CoolingDays): one day, so that a run of two or three days
// moves balances while the old cards' records still arrive; the sample
// products' is 7 days.
const DefaultCoolingDays = 1

var coolingLine = regexp.MustCompile(`(?m)^cooling_days = [0-9]+$`)

// topUpDaysOf is the products file's claim time of remote top-ups, after
// each product's cooling period.
var topUpDaysOf = "\ntopup_days = " + strconv.Itoa(DefaultTopUpDays)

// Products returns the catalog the city's card management sells from:
// the sample products file (cms.DefaultProductsFile) with every cooling
// period set to coolingDays and the claim time of a remote top-up to
// DefaultTopUpDays, read by cms.ParseProducts as any products file is.
// Kinds of ParseProducts.
func Products(coolingDays int) (*cms.Catalog, error) {
	text := coolingLine.ReplaceAll(cms.DefaultProductsFile(), []byte("cooling_days = "+strconv.Itoa(coolingDays)+topUpDaysOf))
	return cms.ParseProducts("products.conf (the city's cooling period)", text)
}

// replace replaces rider ri's card, just reported lost or damaged, at
// the counter where it was reported: card management replaces it (the replacement
// fee paid in cash) with a new card applied for, whose ASN is the old
// one's of the next generation. The new card is personalized and handed
// over when the cooling period ends (moveBalances), holding the balance
// moved.
func (c *City) replace(ctx context.Context, ri int32) {
	r := c.riders[ri]
	m, _ := c.bo.Cards()
	nu := r.asn
	nu[5] = r.gen + 1
	if _, err := m.Replace(ctx, counterStaff, "sim-replace:"+r.asn.String(), Issuer, r.asn, nu, cash); err != nil {
		c.violate("card %v: replacing it: %v", r.asn, err)
		return
	}
	r.replacedBy = -2 // replaced, its balance waiting
	if r.damagedOn >= 0 {
		c.fig.DamagedReplaced++
	} else {
		c.fig.Replacements++
	}
	c.waiting = append(c.waiting, ri)
}

// cash is the counter's cash channel.
var cash = cms.Channel{Type: cms.Cash, Party: Issuer.String()}

// purse is acquisition's view of our cards' purses, as the API's refund
// and balance move read it: their purchases here and, by the
// interconnection's store, in the counterpart cities.
func (c *City) purse() api.ShadowBalances {
	m, _ := c.bo.Cards()
	p := api.ShadowBalances{Acquirer: c.bo.Acquirer(), Cards: m}
	if cs := c.bo.InteropCards(); cs != nil {
		p.Elsewhere = api.InteropElsewhere{Store: cs}
	}
	return p
}

// moveBalances ends the cooling period of every replaced card whose
// period is over: the new card is personalized, issued (a replacement:
// no deposit, no fee) and its balance moved from the old one as of the
// loss report, reckoned from card management's book of the old card and
// its purchases booked (api.ShadowBalances, as the API's move does); the
// new card's chip is personalized with the balance moved, its keys
// derived from the key store, and its holder travels with it from the
// next day, as the old card's finder goes on with the old one.
func (c *City) moveBalances(ctx context.Context) {
	m, _ := c.bo.Cards()
	p := c.purse()
	left := c.waiting[:0]
	for _, ri := range c.waiting {
		r := c.riders[ri]
		old, err := m.Card(ctx, Issuer, r.asn)
		if err != nil {
			c.violate("card %v: reading it: %v", r.asn, err)
			continue
		}
		prod := c.products[r.product]
		if c.now().Before(cms.CoolingEnds(prod, &old)) {
			left = append(left, ri)
			continue
		}
		nu := old.ReplacedBy
		if _, err := m.Move(ctx, counterStaff, Issuer, nu, cms.Personalize); err != nil {
			c.violate("card %v, replacing %v: personalizing it: %v", nu, r.asn, err)
			continue
		}
		if _, err := m.Sell(ctx, counterStaff, "sim-sale:"+nu.String(), Issuer, nu, cash, 0); err != nil {
			c.violate("card %v, replacing %v: issuing it: %v", nu, r.asn, err)
			continue
		}
		bal, purchases, err := p.Balance(ctx, Issuer, r.asn)
		if err == nil {
			_, err = m.MoveBalance(ctx, counterStaff, "sim-move:"+r.asn.String(), Issuer, r.asn, bal, purchases)
		}
		if err != nil {
			c.violate("card %v: moving its balance to %v: %v", r.asn, nu, err)
			continue
		}
		flows, err := c.bo.CardFlows(ctx, nu)
		if err != nil {
			c.violate("card %v: its flows: %v", nu, err)
			continue
		}
		moved := cms.BookBalances(flows)[nu]
		if err := c.handOver(r, ri, nu, moved); err != nil {
			c.violate("card %v, replacing %v: personalizing the virtual card: %v", nu, r.asn, err)
			continue
		}
		c.fig.BalancesMoved++
		c.fig.BalancesMovedFen += moved
	}
	c.waiting = left
}

// handOver personalizes the virtual card nu that replaces rider ri's,
// holding movedFen, and gives it to a rider of its own: the old rider's
// holder, the same persona and places.
func (c *City) handOver(old *rider, ri int32, nu citycard.ASN, movedFen int64) error {
	ks, err := c.ourKeySets(old.profile, nu)
	if err != nil {
		return err
	}
	from, _ := citycard.DateTime(c.now())
	to, _ := citycard.DateTime(c.now().AddDate(6, 0, 0))
	appKey, appFile := c.appFile(nu)
	cd, err := card.New(card.Config{
		Profile: old.profile, Issuer: Issuer, ASN: nu, CardType: cardTypeOurs, RiderCategory: old.category,
		Start: from, Expiry: to, KeySets: ks, Rand: c.cardRand, InitialBalanceFen: uint32(movedFen), AppKey: appKey, Entitlements: appFile,
	})
	if err != nil {
		return err
	}
	r := *old
	r.card, r.asn, r.gen = cd, nu, old.gen+1
	r.startFen, r.balance, r.loadsFen, r.loads = movedFen, movedFen, 0, 0
	r.lostOn, r.refundedOn, r.refundedFen, r.loadDay, r.loadedToday, r.loadTorn = -1, -1, 0, 0, 0, false
	r.replaces, r.replacedBy, r.lostAt, r.expiry = ri, -1, time.Time{}, to
	r.damagedOn, r.adjustedFen, r.bikeOut = -1, 0, false
	old.replacedBy = int32(len(c.riders))
	c.riders = append(c.riders, &r)
	c.appHandedOver(old.replacedBy)
	return nil
}

// settleLateLosses has the issuer bear the old cards' records that came
// after their balance moved, as serve's settler does: every card closed
// with a cut (cms.Manager.ClosedCut), its late records borne
// (api.ShadowBalances.SettleLateLosses: its use after the report,
// offline, and any record before it that came after the cooling
// period).
func (c *City) settleLateLosses(ctx context.Context) {
	m, _ := c.bo.Cards()
	p := c.purse()
	err := m.ClosedCut(ctx, func(cards []cms.Card) error {
		n, fen, err := p.SettleLateLosses(ctx, counterStaff, cards)
		c.fig.LateLosses += int64(n)
		c.fig.LateLossesFen += fen
		return err
	})
	if err != nil {
		c.violate("settling the late losses of the closed lost cards: %v", err)
	}
}

// endCooling moves the balances whose cooling period is over and
// settles the late losses, at a day's end, with the back office alive
// (the journal is read).
func (c *City) endCooling(ctx context.Context) {
	if c.fj.isDead() {
		c.restart(ctx)
	}
	c.adjustCards(ctx)
	c.moveBalances(ctx)
	c.refundCut(ctx)
	c.settleLateLosses(ctx)
}

// finalMoves ends the cooling period of the cards replaced too late in
// the run for it to end within it: the city's clock goes on to the end
// of each (the days simulated for those cards alone, no one travelling),
// then the balances move and the late losses are settled.
func (c *City) finalMoves(ctx context.Context) {
	m, _ := c.bo.Cards()
	for _, ri := range c.waiting {
		old, err := m.Card(ctx, Issuer, c.riders[ri].asn)
		if err != nil {
			c.violate("card %v: reading it: %v", c.riders[ri].asn, err)
			continue
		}
		if end := cms.CoolingEnds(c.products[c.riders[ri].product], &old); end.After(c.now()) {
			c.setNow(end)
		}
	}
	if end := c.cutRefundsCoolingEnd(ctx); end.After(c.now()) {
		c.setNow(end)
	}
	c.endCooling(ctx)
}

// cutPurchases returns our replaced cards' purchases booked, from the
// journal, for the checks.
func (c *City) cutPurchases(ctx context.Context) (map[acquire.Card][]cms.Purchase, error) {
	var refs []acquire.Card
	for _, r := range c.riders {
		if r.cut() {
			refs = append(refs, acquire.Card{Issuer: Issuer, ASN: r.asn})
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	return c.purse().Purchases(ctx, refs)
}

// checkBook checks card management's book of rider ri's card against the
// city's record of it and acquisition's, and returns the book and its
// loss borne. Its terms (cms flows) are loads (the sale's first load, the
// online loads less those reversed), refunds, moved out and in, manual
// adjustments (credits less debits), loss borne; purchases are
// acquisition's (purchasesFen: the shadow's). Then loads - purchases -
// refunds - moved out + moved in + adjusted + loss borne must be what it
// owes: inUseFen (its balance, with the torn debits it made that
// suspense still holds) while the card is in use, refundedFen (those
// debits alone) once it was refunded at the counter, 0 once its balance
// moved or was refunded after its loss or damage report. The loads are
// the city's, the moved in its start (the balance its chip was
// personalized with), the refunds what it refunded, the adjustments
// those it made. A card with a cut has its purchases read from the
// journal (cut), which are the shadow's, and its loss borne at least
// those after its report.
func (c *City) checkBook(ctx context.Context, v *inv, ri int32, purchasesFen, inUseFen, refundedFen int64, cut map[acquire.Card][]cms.Purchase) (book, borne int64) {
	r := c.riders[ri]
	flows, err := c.bo.CardFlows(ctx, r.asn)
	if err != nil {
		v.failCard(ri, "card %v: its flows in card management: %v", r.asn, err)
		return 0, 0
	}
	t := map[cms.FlowType]int64{}
	for _, f := range flows {
		t[f.Type] += f.Fen
	}
	book = cms.BookBalances(flows)[r.asn]
	loads, wantLoads, movedIn := t[cms.FlowLoad]-t[cms.FlowLoadReversed], r.startFen+r.loadsFen, int64(0)
	if r.replaces >= 0 {
		wantLoads, movedIn = r.loadsFen, r.startFen
	}
	owes := inUseFen
	switch {
	case r.refundedOn >= 0:
		owes = refundedFen
	case r.replacedBy >= 0 || r.cutRefund == cutRefundDone:
		owes = 0 // its balance as of the report moved out, or was refunded
	}
	adjusted := t[cms.FlowAdjustCredit] - t[cms.FlowAdjustDebit]
	switch got := book - purchasesFen; {
	case loads != wantLoads || t[cms.FlowMovedIn] != movedIn || t[cms.FlowRefund] != r.refundedFen || adjusted != r.adjustedFen:
		v.failCard(ri, "card %v: card management booked loads %d, moved in %d, refunds %d, adjusted %d; the city loaded %d, moved in %d, refunded %d, adjusted %d",
			r.asn, loads, t[cms.FlowMovedIn], t[cms.FlowRefund], adjusted, wantLoads, movedIn, r.refundedFen, r.adjustedFen)
	case got != owes:
		v.failCard(ri, "card %v: loads %d - purchases %d - refunds %d - moved out %d + moved in %d + adjusted %d + loss borne %d = %d, want %d",
			r.asn, loads, purchasesFen, t[cms.FlowRefund], t[cms.FlowMovedOut], t[cms.FlowMovedIn], adjusted, t[cms.FlowLossBorne], got, owes)
	}
	if !r.cut() {
		return book, t[cms.FlowLossBorne]
	}
	ps := cut[acquire.Card{Issuer: Issuer, ASN: r.asn}]
	var after int64
	for _, p := range ps {
		if p.At.After(r.lostAt) {
			after += p.AmountFen
		}
	}
	switch {
	case cms.PurchasesFen(ps) != purchasesFen:
		v.failCard(ri, "card %v: the journal holds %d purchases of %d fen, its shadow %d fen", r.asn, len(ps), cms.PurchasesFen(ps), purchasesFen)
	case (r.replacedBy >= 0 || r.cutRefund == cutRefundDone) && t[cms.FlowLossBorne] < after:
		v.failCard(ri, "card %v: the issuer bore %d fen of its use, and it spent %d after its loss report", r.asn, t[cms.FlowLossBorne], after)
	}
	return book, t[cms.FlowLossBorne]
}
