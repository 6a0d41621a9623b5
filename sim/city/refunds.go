package city

import (
	"context"
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// Refunds of cards with a cut (refunds.go). Of the lost cards reported
// (FaultLost), one in lossRefundOneIn is not replaced: its holder asks
// for the balance back and the card closed; of the cards reported
// damaged (damaged.go), one in damagedRefundOneIn. After the cooling
// period (so that the card's offline records up to the report have
// come), staff refund it at the counter through the API over HTTP
// (api.StaffClient.RefundCard): the server reckons the balance as of the
// report from card management's book less the purchases booked
// (api.ShadowBalances), the deposit kept for a lost card (it was not
// handed back) and paid back for a damaged one (it was), the product's
// fee, paid out in cash; the issuer bears the purchases after the
// report (cms.SplitAtCut), and those that come later still
// (settleLateLosses). A refund paying out more than RefundApprovalFen
// waits for a supervisor: the clerk's request is answered 202 with an
// approval, which the clerk cannot approve (Permission) and a
// supervisor, a second person, does (api.StaffClient.Approve); the
// clerk sends the refund again naming it, and it is made. Now and then
// the clerk's answer is lost and the refund sent again under its key: it
// must be answered replayed, with the same quote. Whoever holds a lost
// card goes on tapping it, refused by the terminals that have the
// blacklist. Conservation per card still holds: loads - purchases -
// refunds + adjusted + loss borne is 0 for the card once refunded
// (checkBook), its refund flow what the city was paid.

// lossRefundOneIn: one lost card in this many is refunded, not replaced.
const lossRefundOneIn = 2

// RefundApprovalFen is the approval limit of the city's counters
// (api.Server.RefundApprovalFen, which cmd/citycard wires to it): a
// refund paying out more waits for a supervisor's approval. 100 yuan,
// under the API's default (api.DefaultRefundApprovalFen, 500), so that a
// run has refunds on both sides of it.
const RefundApprovalFen = 10000

// Where the refund of a card with a cut (lost or damaged, not replaced)
// stands (rider.cutRefund).
const (
	cutRefundNone    uint8 = iota // replaced, or neither lost nor damaged
	cutRefundWaiting              // waiting for its cooling period
	cutRefundDone                 // refunded and closed
)

// refundAgainPct is the percent of the refunds of cards with a cut sent
// again.
const refundAgainPct = 25

// replaceOrRefund deals with rider ri's card, just reported lost: most
// are replaced at once (replace), one in lossRefundOneIn waits for its
// cooling period to be refunded.
func (c *City) replaceOrRefund(ctx context.Context, ri int32) {
	if rngFor(c.cfg.Seed, "loss-refunds", uint64(ri)).IntN(lossRefundOneIn) != 0 {
		c.replace(ctx, ri)
		return
	}
	c.waitForRefund(ri)
}

// waitForRefund puts rider ri's card, lost or damaged, among those
// refunded once their cooling period is over.
func (c *City) waitForRefund(ri int32) {
	c.riders[ri].cutRefund = cutRefundWaiting
	c.cutRefunds = append(c.cutRefunds, ri)
}

// refundCut refunds the lost and damaged cards whose cooling period is
// over, over HTTP, at a day's end (endCooling).
func (c *City) refundCut(ctx context.Context) {
	left := c.cutRefunds[:0]
	for _, ri := range c.cutRefunds {
		r := c.riders[ri]
		end, ok := c.coolingEnd(ctx, r)
		if !ok {
			continue
		}
		if c.now().Before(end) {
			left = append(left, ri)
			continue
		}
		what := "loss"
		if r.damagedOn >= 0 {
			what = "damage"
		}
		q, err := c.refundOverHTTP(ctx, r, "sim-"+what+"-refund:"+r.asn.String())
		if err == nil && (q.DepositFen == 0) != (r.damagedOn < 0) {
			err = fmt.Errorf("deposit paid back %d fen (kept %d): want it kept for a lost card, paid back for a damaged one", q.DepositFen, q.DepositKeptFen)
		}
		if err != nil {
			c.violate("card %v: refunding it after its %s report: %v", r.asn, what, err)
			continue
		}
		r.cutRefund, r.refundedFen = cutRefundDone, q.BalanceFen
		if r.damagedOn >= 0 {
			c.fig.DamagedRefunds++
			c.fig.DamagedRefundsFen += q.BalanceFen
			continue
		}
		c.fig.LossRefunds++
		c.fig.LossRefundsFen += q.BalanceFen
	}
	c.cutRefunds = left
}

// refundOverHTTP refunds rider r's card at the counter over HTTP under
// key, paid out in cash, as its clerk does: a refund paying out more
// than RefundApprovalFen waits for a supervisor's approval (approveAs),
// then is sent again naming it; now and then (refundAgainPct) the
// clerk's answer is lost and the refund sent again under its key, to be
// answered replayed with the same quote. It returns the refund's quote,
// or what went otherwise than the city expects.
func (c *City) refundOverHTTP(ctx context.Context, r *rider, key string) (cms.RefundQuote, error) {
	clerk, _ := c.bo.Staff()
	q, replayed, waiting, err := clerk.RefundCard(ctx, key, Issuer, r.asn, cash, 0)
	switch {
	case err != nil:
		return q, err
	case replayed:
		return q, fmt.Errorf("answered replayed at its first request")
	case (waiting != 0) != (q.PaidFen > RefundApprovalFen):
		return q, fmt.Errorf("paying out %d fen, the approval limit %d: answered approval %d", q.PaidFen, RefundApprovalFen, waiting)
	}
	approval := waiting
	if approval != 0 {
		if err := c.approveAs(ctx, approval, "refund"); err != nil {
			return q, err
		}
		again, replayed, waiting, err := clerk.RefundCard(ctx, key, Issuer, r.asn, cash, approval)
		switch {
		case err != nil:
			return q, fmt.Errorf("sent again with approval %d: %w", approval, err)
		case replayed || waiting != 0 || again != q:
			return q, fmt.Errorf("sent again with approval %d: answered %+v, replayed %v, approval %d; first %+v", approval, again, replayed, waiting, q)
		}
		c.fig.RefundApprovals++
	}
	if c.rng.IntN(100) < refundAgainPct {
		again, replayed, _, err := clerk.RefundCard(ctx, key, Issuer, r.asn, cash, approval)
		switch {
		case err != nil:
			return q, fmt.Errorf("sent again: %w (want it replayed)", err)
		case !replayed || again != q:
			return q, fmt.Errorf("sent again: answered %+v, replayed %v; first %+v", again, replayed, q)
		}
		c.fig.RefundsReplayed++
	}
	return q, nil
}

// approveAs has approval id, which the city's clerk asked for (action
// "refund" or "adjust"), approved as a counter's is: the clerk may not
// approve their own request (the API answers Permission), a supervisor,
// another person, does. It returns what went otherwise.
func (c *City) approveAs(ctx context.Context, id int64, action string) error {
	clerk, sup := c.bo.Staff()
	if _, err := clerk.Approve(ctx, id); !citycard.IsKind(err, citycard.Permission) {
		return fmt.Errorf("the clerk approving their own %s's approval %d: %v, want it refused (permission)", action, id, err)
	}
	a, err := sup.Approve(ctx, id)
	switch {
	case err != nil:
		return fmt.Errorf("the supervisor approving %s approval %d: %w", action, id, err)
	case a.State != cms.ApprovalApproved || a.Action != action || a.DecidedBy == a.RequestedBy:
		return fmt.Errorf("approval %d answered %+v: want an approved %s, decided by another than its requester", id, a, action)
	}
	return nil
}

// cutRefundsCoolingEnd returns when the last cooling period of the
// cards waiting for their refund ends (zero for none), for finalMoves.
func (c *City) cutRefundsCoolingEnd(ctx context.Context) time.Time {
	var last time.Time
	for _, ri := range c.cutRefunds {
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
// (replaced, or refunded after its loss or damage report): its purchases
// are read from the journal and the issuer bears its use after the
// report.
func (r *rider) cut() bool { return r.replacedBy != -1 || r.cutRefund != cutRefundNone }
