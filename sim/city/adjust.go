package city

import (
	"context"
	"fmt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/cms"
)

// Manual adjustments (adjust.go). Now and then (adjustPct of the cards
// reported damaged, or replaced after their loss or damage report) a
// clerk adjusts the book of a card whose balance the back office holds
// (cms.BookHeld: damaged, or replaced and waiting for its balance to
// move), at the day's end, before its cooling period is over: a credit
// (a fare charged twice, a tap the reader failed), or a debit (a load
// credited twice) within what the card is owed at its cut. Each goes
// through the API over HTTP (POST /v1/cards/{issuer}/{asn}/adjustments,
// api.StaffClient.AdjustCard): asked, answered 202 with an approval and
// nothing moved; the clerk cannot approve it, a supervisor does
// (approveAs); the clerk sends it again naming the approval and it is
// made (cms.Manager.Adjust), now and then sent once more and answered
// replayed. A debit past what the card is owed (adjustPastPct of the
// debits) is refused at the request, kind Insufficient, before any
// supervisor is asked, and nothing moves. The card's refund or balance
// move then carries the adjusted book: conservation per card counts the
// adjustments (checkBook), and system-wide the card float took them
// from the issuer's adjustment account as card management's book did.

// Adjustments' rates.
const (
	adjustPct       = 50 // percent of damaged and replaced cards adjusted
	adjustCreditPct = 45 // of the adjustments, credits; the rest debits
	adjustPastPct   = 30 // of the debits, past what the card is owed: refused
	adjustAgainPct  = 20 // of those made, sent again: replayed
)

// mayAdjust draws whether rider ri's card, just reported damaged or
// replaced, is adjusted at the day's end.
func (c *City) mayAdjust(ri int32) {
	if rngFor(c.cfg.Seed, "adjust", uint64(ri)).IntN(100) < adjustPct {
		c.toAdjust = append(c.toAdjust, ri)
	}
}

// adjustCards makes the day's adjustments, in the order their cards
// were reported. What each card is owed at its cut is read as the API
// reads it (api.ShadowBalances: card management's book less the
// purchases booked, Card.OwedFen), the purchases of all the day's cards
// from the journal in one pass (a pass a card would read the journal
// as many times).
func (c *City) adjustCards(ctx context.Context) {
	if len(c.toAdjust) == 0 {
		return
	}
	refs := make([]acquire.Card, len(c.toAdjust))
	for i, ri := range c.toAdjust {
		refs[i] = acquire.Card{Issuer: Issuer, ASN: c.riders[ri].asn}
	}
	ps, err := c.purse().Purchases(ctx, refs)
	if err != nil {
		c.violate("the purchases of the cards to adjust: %v", err)
	}
	for i, ri := range c.toAdjust {
		if err == nil {
			c.adjust(ctx, ri, ps[refs[i]])
		}
	}
	c.toAdjust = c.toAdjust[:0]
}

// adjust adjusts rider ri's card, whose purchases booked are purchases,
// at the counter: what the card is owed at its cut reckoned, the
// adjustment drawn, asked for, approved and made over HTTP; a debit past
// what it is owed refused Insufficient. What goes otherwise is a
// violation.
func (c *City) adjust(ctx context.Context, ri int32, purchases []cms.Purchase) {
	r := c.riders[ri]
	m, _ := c.bo.Cards()
	cd, err := m.Card(ctx, Issuer, r.asn)
	if err != nil {
		c.violate("card %v: reading it for an adjustment: %v", r.asn, err)
		return
	}
	if !cms.BookHeld(cd.State) {
		c.violate("card %v: to be adjusted, and %v: its balance is not the back office's", r.asn, cd.State)
		return
	}
	bal, err := m.BookPurse(ctx, Issuer, r.asn, purchases)
	if err != nil {
		c.violate("card %v: its balance for an adjustment: %v", r.asn, err)
		return
	}
	owed := cd.OwedFen(bal, purchases)
	rng := rngFor(c.cfg.Seed, "adjust-amount", uint64(ri))
	q := cms.AdjustRequest{Key: "sim-adjust:" + r.asn.String(), Direction: cms.AdjustCredit, AmountFen: int64(100 + 10*rng.IntN(200)),
		Reason: "a fare charged twice at a reader that failed"}
	past := false
	if rng.IntN(100) >= adjustCreditPct && owed > 0 {
		q.Direction, q.Reason = cms.AdjustDebit, "a load credited twice"
		q.AmountFen = 1 + rng.Int64N(min(owed, 5000))
		if past = rng.IntN(100) < adjustPastPct; past {
			q.AmountFen, q.Reason = owed+1+rng.Int64N(1000), "a debit past what the card is owed"
		}
	}
	clerk, _ := c.bo.Staff()
	asked, _, err := clerk.AdjustCard(ctx, Issuer, r.asn, q, 0)
	if past {
		if !citycard.IsKind(err, citycard.Insufficient) {
			c.violate("card %v: a debit of %d fen, owed %d: answered %+v, %v; want it refused (insufficient)", r.asn, q.AmountFen, owed, asked, err)
			return
		}
		c.fig.AdjustRefused++
		return
	}
	if err == nil {
		err = c.approveAs(ctx, asked.ApprovalID, cms.ApprovalAdjust)
	}
	if err == nil {
		err = c.makeAdjustment(ctx, r, q, asked.ApprovalID)
	}
	if err != nil {
		c.violate("card %v: adjusting it (%v %d fen, owed %d): %v", r.asn, q.Direction, q.AmountFen, owed, err)
		return
	}
	c.fig.Adjustments++
	if q.Direction == cms.AdjustCredit {
		r.adjustedFen += q.AmountFen
		c.fig.AdjustCredits++
		c.fig.AdjustCreditsFen += q.AmountFen
		return
	}
	r.adjustedFen -= q.AmountFen
	c.fig.AdjustDebits++
	c.fig.AdjustDebitsFen += q.AmountFen
}

// makeAdjustment sends the adjustment q of r's card again naming its
// approval, to be made, and now and then once more, to be replayed.
func (c *City) makeAdjustment(ctx context.Context, r *rider, q cms.AdjustRequest, approval int64) error {
	clerk, _ := c.bo.Staff()
	made, replayed, err := clerk.AdjustCard(ctx, Issuer, r.asn, q, approval)
	switch {
	case err != nil:
		return fmt.Errorf("sent with approval %d: %w", approval, err)
	case !made.Made || replayed || made.TopUp != "":
		return fmt.Errorf("sent with approval %d: answered %+v, replayed %v; want it made on the book", approval, made, replayed)
	}
	if c.rng.IntN(100) >= adjustAgainPct {
		return nil
	}
	again, replayed, err := clerk.AdjustCard(ctx, Issuer, r.asn, q, approval)
	switch {
	case err != nil:
		return fmt.Errorf("sent again: %w (want it replayed)", err)
	case !again.Made || !replayed:
		return fmt.Errorf("sent again: answered %+v, replayed %v; want it replayed", again, replayed)
	}
	c.fig.AdjustReplayed++
	return nil
}
