package city

import (
	"context"

	"github.com/citycard/citycard/cms"
)

// Damaged cards (damaged.go). Now and then (about one card in
// damagedPerCards a day, at least one) a rider of ours hands a card in
// at a counter in the evening, reported damaged: its chip is unreadable,
// so the counter reads nothing of it and card management cuts its
// liability at the report (cms.ReportDamaged), as a loss report does;
// the card taps no more. One in damagedRefundOneIn is refunded from its
// shadow once the cooling period is over (refunds.go: the API's quote at
// the cut, the deposit paid back, a supervisor's approval over the
// limit); the others are replaced at once (replace: the new card handed
// over with the balance as of the report once the cooling period is
// over, as a lost card's). Not damaged: a card that travelled (a lost
// one is, planLostTraveller, whose balance as of the report counts its
// purchases elsewhere as a damaged one's would), or one with a bike out
// (its rental would go with it).

// Damaged cards' rates.
const (
	damagedPerCards    = 2500
	damagedRefundOneIn = 2
)

// planDamaged draws the day's damaged cards: a rider of ours at a
// counter in the evening, 16:00 to 19:00.
func (c *City) planDamaged(p *planner) {
	rng := rngFor(c.cfg.Seed, "damaged", uint64(p.day))
	for k := 0; k < max(1, c.cfg.Cards/damagedPerCards); k++ {
		ri := rng.IntN(len(c.riders))
		if c.riders[ri].issuer == 0 {
			p.add(int64(960+rng.IntN(180))*60, evDamaged, 0, int32(ri), -1, 0, 0)
		}
	}
}

// damage reports rider ri's card damaged at a counter, as its holder
// hands it in: card management activates a card never loaded since its
// sale (a damage report is from active), moves it to damaged, its
// report the cut of its liability; then it is replaced, or waits for its
// cooling period to be refunded, and may be adjusted (adjust.go).
func (c *City) damage(ctx context.Context, ri int32, day int) {
	r := c.riders[ri]
	if !r.inUse() || r.travelled || c.travelling(ri) || r.bikeOut {
		return
	}
	m, _ := c.bo.Cards()
	clerk, _ := c.bo.Staff()
	if cd, err := m.Card(ctx, Issuer, r.asn); err == nil && cd.State == cms.Issued {
		if st, _, err := clerk.MoveCard(ctx, Issuer, r.asn, cms.Activate); err != nil || st != cms.Active {
			c.violate("card %v: activating it: answered %v, %v", r.asn, st, err)
			return
		}
	}
	if st, _, err := clerk.MoveCard(ctx, Issuer, r.asn, cms.ReportDamaged); err != nil || st != cms.Damaged {
		c.violate("card %v: reporting it damaged: answered %v, %v", r.asn, st, err)
		return
	}
	r.damagedOn, r.lostAt = day, c.now()
	c.fig.Damaged++
	if rngFor(c.cfg.Seed, "damaged-refunds", uint64(ri)).IntN(damagedRefundOneIn) == 0 {
		c.waitForRefund(ri)
	} else {
		c.replace(ctx, ri)
	}
	c.mayAdjust(ri)
}
