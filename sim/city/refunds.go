package city

import (
	"context"
	"time"

	"github.com/citycard/citycard/cms"
)

// Loss refunds. Of the lost cards reported (FaultLost), one in
// lossRefundOneIn is not replaced: its holder asks for the balance back
// and the card closed. After the cooling period (so that the old card's
// offline records up to the report have come), staff refund it at the
// counter through the API over HTTP (api.StaffClient.RefundCard): the
// server reckons the balance as of the loss report from card
// management's book less the purchases booked (api.ShadowBalances), the
// deposit kept (the card was not handed back), the product's fee, paid
// out in cash; the issuer bears the purchases after the report
// (cms.SplitAtCut), and those that come later still
// (settleLateLosses). Now and then the clerk's answer is lost and the
// refund sent again under its key: it must be answered replayed, with the
// same quote. Whoever holds the old card goes on tapping it, refused by
// the terminals that have the blacklist. Conservation per card still
// holds: loads - purchases - refunds + loss borne is 0 for the card
// once refunded (checkBook), its refund flow what the city was paid.

// lossRefundOneIn: one lost card in this many is refunded, not replaced.
const lossRefundOneIn = 2

// Where a lost card's refund stands (rider.lossRefund).
const (
	lossRefundNone    uint8 = iota // replaced, or not lost
	lossRefundWaiting              // waiting for its cooling period
	lossRefundDone                 // refunded and closed
)

// refundAgainPct is the percent of loss refunds sent again.
const refundAgainPct = 25

// replaceOrRefund deals with rider ri's card, just reported lost: most
// are replaced at once (replace), one in lossRefundOneIn waits for its
// cooling period to be refunded.
func (c *City) replaceOrRefund(ctx context.Context, ri int32) {
	if rngFor(c.cfg.Seed, "loss-refunds", uint64(ri)).IntN(lossRefundOneIn) != 0 {
		c.replace(ctx, ri)
		return
	}
	c.riders[ri].lossRefund = lossRefundWaiting
	c.lossRefunds = append(c.lossRefunds, ri)
}

// refundLost refunds the lost cards whose cooling period is over, over
// HTTP, at a day's end (endCooling).
func (c *City) refundLost(ctx context.Context) {
	clerk, _ := c.bo.Staff()
	left := c.lossRefunds[:0]
	for _, ri := range c.lossRefunds {
		r := c.riders[ri]
		end, ok := c.coolingEnd(ctx, r)
		if !ok {
			continue
		}
		if c.now().Before(end) {
			left = append(left, ri)
			continue
		}
		key := "sim-loss-refund:" + r.asn.String()
		q, replayed, waiting, err := clerk.RefundCard(ctx, key, Issuer, r.asn, cash, 0)
		if err == nil && (replayed || waiting != 0 || q.DepositFen != 0) {
			c.violate("card %v: its loss refund answered replayed %v, approval %d, deposit paid back %d fen (kept %d): want a refund made, the deposit kept", r.asn, replayed, waiting, q.DepositFen, q.DepositKeptFen)
		}
		if err == nil && c.rng.IntN(100) < refundAgainPct {
			again, replayed, _, err2 := clerk.RefundCard(ctx, key, Issuer, r.asn, cash, 0)
			switch {
			case err2 != nil:
				c.violate("card %v: its loss refund sent again: %v (want it replayed)", r.asn, err2)
			case !replayed || again != q:
				c.violate("card %v: its loss refund sent again answered %+v, replayed %v; first %+v", r.asn, again, replayed, q)
			default:
				c.fig.LossRefundsReplayed++
			}
		}
		if err != nil {
			c.violate("card %v: refunding it after its loss: %v", r.asn, err)
			continue
		}
		r.lossRefund, r.refundedFen = lossRefundDone, q.BalanceFen
		c.fig.LossRefunds++
		c.fig.LossRefundsFen += q.BalanceFen
	}
	c.lossRefunds = left
}

// lossRefundsCoolingEnd returns when the last cooling period of the lost
// cards waiting for their refund ends (zero for none), for finalMoves.
func (c *City) lossRefundsCoolingEnd(ctx context.Context) time.Time {
	var last time.Time
	for _, ri := range c.lossRefunds {
		if end, ok := c.coolingEnd(ctx, c.riders[ri]); ok && end.After(last) {
			last = end
		}
	}
	return last
}

// coolingEnd reads r's card in card management and returns when its
// cooling period ends; false (a violation told) when the card cannot be
// read.
func (c *City) coolingEnd(ctx context.Context, r *rider) (time.Time, bool) {
	m, _ := c.bo.Cards()
	cd, err := m.Card(ctx, Issuer, r.asn)
	if err != nil {
		c.violate("card %v: reading it: %v", r.asn, err)
		return time.Time{}, false
	}
	return cms.CoolingEnds(c.products[r.product], &cd), true
}

// cut reports whether rider r's card has a cut whose balance left it
// (replaced, or refunded after its loss): its purchases are read from the
// journal and the issuer bears its use after the report.
func (r *rider) cut() bool { return r.replacedBy != -1 || r.lossRefund != lossRefundNone }
