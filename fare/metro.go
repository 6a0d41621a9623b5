package fare

import (
	"fmt"
	"strings"
	"time"
)

// The metro rules of Chinese cities that the GTFS reference cannot
// express (README.md, "Metro rules"): overtime in the paid area, an exit
// at the entry station and a minimum balance to enter, per network in
// fare_networks.txt; conditions on transfer discounts in
// fare_transfer_rules.txt.

// metroRules are the table's metro rules.
type metroRules struct {
	nets   []networkRule // by network index; shorter when the last networks have none
	priced bool          // some network has an overtime or same-station rule
	groups ids           // fare_transfer_rules.txt discount_group_id
}

// networkRule is a network's metro columns of fare_networks.txt.
type networkRule struct {
	line    int  // in fare_networks.txt, for explanations
	pricing bool // an overtime or same-station rule: pricing looks at the network's legs
	// overtimeS: a stay in the paid area longer than this is overtime;
	// -1 none. overtimeProd: -1, the network's maximum fare is the fare
	// of an overtime leg; else a surcharge charged on top of the fare.
	overtimeS    int64
	overtimeProd int32
	// sameProd: the fare of an exit at the entry station; -1, the rules
	// price it (a 0 m leg). sameFreeS: an exit at the entry station
	// within this is free; -1 none.
	sameProd      int32
	sameFreeS     int64
	minBalanceFen int64 // the balance a card needs to tap on; -1 none
}

// discountRule is a transfer rule's conditions (fare_transfer_rules.txt
// extension columns). The zero value has none.
type discountRule struct {
	minFromFen int64 // the earlier leg must pay at least this; 0 none
	group      int32 // discount_group_id index + 1; 0 none
	windowS    int64 // one transfer of the group per this many seconds; 0: one a journey
}

// overtimeFenMax bounds an overtime surcharge: 1,000,000.00 a leg, far
// above any fare, and within the 32 bits LegQuote keeps it in.
const overtimeFenMax = 100_000_000

// OvertimeFen is the overtime surcharge of the leg (fare_networks.txt
// overtime_product_id), which AmountFen and FullFen include; 0 for none.
func (l *LegQuote) OvertimeFen() int64 { return int64(l.overtimeFen) }

// exitKind marks an offer a metro rule changed, for the explanation.
type exitKind uint8

const (
	exitNone        exitKind = iota
	exitSameStation          // the same-station fare replaced the leg's
	exitOvertime             // the network's maximum fare raised the leg's
	exitFree                 // an exit at the entry station within the free minutes
)

// of returns network n's rule, or nil when it has none that pricing
// uses. It is small enough to inline: most legs are on networks without
// one, and pay only for it.
func (m *metroRules) of(n int32) *networkRule {
	if n < 0 || int(n) >= len(m.nets) || !m.nets[n].pricing {
		return nil
	}
	return &m.nets[n]
}

// MinBalanceFen returns the balance (fen) a card needs to tap on at a
// network (fare_networks.txt min_balance_amount), and false when the
// network has no minimum.
func (t *Table) MinBalanceFen(networkID string) (int64, bool) {
	n := t.networks.get(networkID)
	if n < 0 || int(n) >= len(t.metro.nets) || t.metro.nets[n].minBalanceFen < 0 {
		return 0, false
	}
	return t.metro.nets[n].minBalanceFen, true
}

// loadNetworkRule reads the metro columns of row i of fare_networks.txt,
// the row of network n.
func (l *loader) loadNetworkRule(f *table, i int, n int32) {
	m := &l.t.metro
	r := networkRule{line: f.lines[i], overtimeS: -1, overtimeProd: -1, sameProd: -1, sameFreeS: -1, minBalanceFen: -1}
	if f.get(i, "overtime_minutes") != "" {
		r.overtimeS = max(60*l.intField(f, i, "overtime_minutes", -1, 1, 7*24*60), -1)
		if f.get(i, "overtime_product_id") == "" && f.get(i, "max_fare_product_id") == "" {
			l.errf(f, i, "overtime_minutes", "needs max_fare_product_id (the fare of an overtime leg) or overtime_product_id (a surcharge on top)")
		}
	} else if f.get(i, "overtime_product_id") != "" {
		l.errf(f, i, "overtime_product_id", "forbidden without overtime_minutes")
	}
	var ok bool
	if r.overtimeProd, ok = l.productRef(f, i, "overtime_product_id", false, "no overtime is charged"); !ok {
		r.overtimeS = -1 // not the maximum fare in place of a surcharge the feed lacks
	}
	if r.overtimeProd >= 0 {
		for _, v := range l.t.products[r.overtimeProd].variants {
			if v.amount < 0 || v.amount > overtimeFenMax {
				l.errf(f, i, "overtime_product_id", "product %q costs %s: a surcharge is 0 to %s", f.get(i, "overtime_product_id"),
					formatAmount(v.amount, l.t.decimals), formatAmount(overtimeFenMax, l.t.decimals))
				break
			}
		}
	}
	r.sameProd, _ = l.productRef(f, i, "same_station_product_id", false, "the rules price an exit at the entry station")
	if f.get(i, "same_station_free_minutes") != "" {
		r.sameFreeS = max(60*l.intField(f, i, "same_station_free_minutes", -1, 1, 24*60), -1)
		if r.overtimeS >= 0 && r.sameFreeS >= r.overtimeS {
			l.errf(f, i, "same_station_free_minutes", "%d min is not less than overtime_minutes %d", r.sameFreeS/60, r.overtimeS/60)
		}
	}
	if f.get(i, "min_balance_amount") != "" {
		if r.minBalanceFen = l.amountField(f, i, "min_balance_amount", false); r.minBalanceFen < 0 {
			l.errf(f, i, "min_balance_amount", "a minimum balance is not negative")
		}
	}
	for len(m.nets) <= int(n) {
		m.nets = append(m.nets, networkRule{overtimeS: -1, overtimeProd: -1, sameProd: -1, sameFreeS: -1, minBalanceFen: -1})
	}
	r.pricing = r.overtimeS >= 0 || r.sameProd >= 0 || r.sameFreeS >= 0
	m.nets[n] = r
	m.priced = m.priced || r.pricing
}

// loadDiscountRule reads the condition columns of row i of
// fare_transfer_rules.txt.
func (l *loader) loadDiscountRule(f *table, i int) discountRule {
	var c discountRule
	if c.minFromFen = l.amountField(f, i, "min_from_leg_amount", false); c.minFromFen < 0 {
		l.errf(f, i, "min_from_leg_amount", "a minimum fare is not negative")
	}
	if g := f.get(i, "discount_group_id"); g != "" {
		c.group = l.t.metro.groups.add(g) + 1
	}
	if f.get(i, "discount_window") != "" {
		if c.group == 0 {
			l.errf(f, i, "discount_window", "forbidden without discount_group_id")
		}
		c.windowS = l.intField(f, i, "discount_window", 0, 1, 366*day)
	}
	return c
}

// timed reports whether effective leg e has its tap-on and tap-off times
// from the journey (not an end taken to be its start): the overtime and
// free-exit rules need both.
func timed(j *Journey, e *eleg) bool {
	return !e.missing && j.Legs[e.first].Start >= 0 && j.Legs[e.last].End >= 0
}

// stayS is the stay in seconds of a leg whose times are known.
func stayS(e *eleg) int64 { return int64(e.end - e.start) }

// stayOf is the stay of leg lq, from the legs Price resolved (kept in the
// quote), for the explanations: 0 when its times are unknown.
func (q *Quote) stayOf(lq *LegQuote) time.Duration {
	s := &q.scratch.search
	for e := 0; e < s.n; e++ {
		if ev := s.eff[e]; s.legs[e] == lq && ev.start >= 0 && ev.end >= 0 {
			return time.Duration(stayS(ev)) * time.Second
		}
	}
	return 0
}

// sameStation reports whether leg e of journey j ends at the station it
// began: the same stop, or stops of one station (parent_station). A stop
// the feed lacks is taken as given (a partial feed): the same id.
func (t *Table) sameStation(e *eleg, j *Journey) bool {
	a, b := e.from, e.to
	if a < 0 || b < 0 {
		from, to := j.Legs[e.first].FromStopID, j.Legs[e.last].ToStopID
		return from != "" && from == to
	}
	pa, pb := t.stopParent[a], t.stopParent[b]
	return a == b || pa >= 0 && (pa == pb || pa == b) || pb == a
}

// stationOffers applies the network's same-station fare and the overtime
// maximum fare to leg e's own offers, before the transfer offers are
// built on them: an exit at the entry station pays same_station_product_id
// in place of the fare its rules give; an overtime stay (longer than
// overtime_minutes, without overtime_product_id) pays at least the
// network's maximum fare. The offers keep their rule and leg group, so
// that transfers, held products and caps treat the fare as any other.
// legOffers calls it for a leg whose network has a rule (metroRules.of, r).
func (t *Table) stationOffers(r *networkRule, e *eleg, j *Journey, cat, media int32, lq *LegQuote) {
	if e.missing {
		return
	}
	if r.sameProd >= 0 && t.sameStation(e, j) {
		t.replaceLegFare(e, lq, r.sameProd, cat, media, exitSameStation)
	}
	if r.overtimeS >= 0 && r.overtimeProd < 0 && timed(j, e) && stayS(e) > r.overtimeS {
		if p := t.networkMax[e.net]; p >= 0 {
			t.replaceLegFare(e, lq, p, cat, media, exitOvertime)
		}
	}
}

// replaceLegFare gives the leg's own offers (OfferLeg) product p's price
// for the rider: every one for a same-station fare, those below it for
// overtime (the fare is at least p's). A leg without its own offer gets
// p's as its same-station fare; without one, an overtime leg is priced
// as before (a leg no rule prices has the maximum fare already, or none).
// A product with no price for the rider changes nothing.
func (t *Table) replaceLegFare(e *eleg, lq *LegQuote, p, cat, media int32, kind exitKind) {
	n := len(lq.Offers)
	base := Offer{Origin: OfferLeg, rule: -1, group: -1, xfer: -1, held: -1, RequiresLeg: -1, fromGroup: -1, exit: kind}
	lq.Offers = t.appendProduct(lq.Offers, p, cat, media, base, e)
	if len(lq.Offers) == n {
		return
	}
	v := lq.Offers[n]
	for _, o := range lq.Offers[n+1:] {
		if o.AmountFen < v.AmountFen {
			v = o
		}
	}
	own := false
	for i := range lq.Offers[:n] {
		o := &lq.Offers[i]
		if o.Origin != OfferLeg {
			continue
		}
		own = true
		if kind == exitOvertime && o.AmountFen >= v.AmountFen {
			continue
		}
		o.product, o.FareProductID, o.FareMediaID, o.AmountFen = v.product, v.FareProductID, v.FareMediaID, v.AmountFen
		o.pct, o.fromDefault, o.timeFee, o.minutes, o.exit = v.pct, v.fromDefault, v.timeFee, v.minutes, kind
	}
	lq.Offers = lq.Offers[:n]
	if !own && kind == exitSameStation {
		lq.Offers = append(lq.Offers, v)
	}
}

// freeExit reports whether leg e is an exit at its entry station within
// its network's same_station_free_minutes: nothing to pay.
func (t *Table) freeExit(e *eleg, j *Journey) bool {
	r := t.metro.of(e.net)
	return r != nil && r.sameFreeS >= 0 && e.start >= 0 && e.end >= 0 && stayS(e) <= r.sameFreeS && timed(j, e) && t.sameStation(e, j)
}

// waiveExit makes a free exit (freeExit) charge nothing: every offer of
// the leg. It runs once the offers are sorted, so that they keep the
// order of what they would charge (a transfer still comes first where it
// was the cheaper, and the quote says the leg continues the journey). No
// held product pays it: Price offers none on a free exit, which needs no
// pass or count ticket and would take a ride of one (a daily ride limit,
// a count ticket's rides) for nothing.
func waiveExit(lq *LegQuote) {
	for i := range lq.Offers {
		o := &lq.Offers[i]
		if !o.Covered {
			o.AmountFen = 0
		}
		o.chainFen, o.exit = 0, exitFree
	}
}

// sortLegOffers sorts a leg's offers (sortOffers), then waives a free
// exit at the entry station (free: Price asked freeExit once, for the
// held products too). Price calls it rather than the steps it takes, as
// Price is large and what it holds changes its code: inlined or called
// from it, the metro rules slowed a single bus leg by a fifth (CPU time
// per quote, the least of eight runs).
func sortLegOffers(lq *LegQuote, free bool) {
	sortOffers(lq.Offers)
	if free {
		waiveExit(lq)
	}
}

// capsThenOvertime applies the spend tiers and caps (applyCaps), then the
// overtime surcharges, which they leave alone.
func (t *Table) capsThenOvertime(q *Quote, s *search, j *Journey) {
	t.applyCaps(q, s, j)
	if t.metro.priced {
		t.chargeOvertime(q, s, j)
	}
}

// chargeOvertime adds the overtime surcharge (overtime_product_id) to
// each priced leg that stayed in the paid area longer than its network's
// overtime_minutes: on top of its fare, whatever paid that (a transfer, a
// held product), and after the spend tiers and caps, which neither count
// nor lower it (as a maximum fare for a missing tap-off). It is in the
// leg's AmountFen and FullFen, and stated apart (LegQuote.OvertimeFen);
// at most overtimeFenMax.
func (t *Table) chargeOvertime(q *Quote, s *search, j *Journey) {
	for e := 0; e < s.n; e++ {
		ev, lq := s.eff[e], s.legs[e]
		r := t.metro.of(ev.net)
		if r == nil || r.overtimeS < 0 || r.overtimeProd < 0 || ev.start < 0 || ev.end < 0 || stayS(ev) <= r.overtimeS || !lq.Priced || !timed(j, ev) {
			continue
		}
		n := len(lq.Offers)
		base := Offer{Origin: OfferLeg, rule: -1, group: -1, xfer: -1, held: -1, RequiresLeg: -1, fromGroup: -1}
		lq.Offers = t.appendProduct(lq.Offers, r.overtimeProd, q.cat, q.media, base, ev)
		fen := int64(-1)
		for _, o := range lq.Offers[n:] {
			if fen < 0 || o.AmountFen < fen {
				fen = o.AmountFen
			}
		}
		lq.Offers = lq.Offers[:n]
		if fen = min(fen, overtimeFenMax); fen > 0 {
			lq.overtimeFen = int32(fen)
			lq.AmountFen += fen
			lq.FullFen += fen
		}
	}
}

// discountOK checks transfer rule x's conditions for a transfer onto leg
// e from leg pe, as the combination so far paid them: the earlier leg
// paid at least min_from_leg_amount, and no leg before took a transfer
// of the rule's discount group within discount_window of e's start (or
// at all, without a window). A leg whose exit was free does not count.
func (s *search) discountOK(e, pe int, x *transferRule) bool {
	c := &x.cond
	return c.minFromFen <= 0 && c.group == 0 || s.discountOKOf(e, pe, c)
}

func (s *search) discountOKOf(e, pe int, c *discountRule) bool {
	if c.minFromFen > 0 && s.cost[pe] < c.minFromFen {
		return false
	}
	if c.group == 0 {
		return true
	}
	for k := 0; k < e; k++ {
		if s.cur[k] < 0 {
			continue
		}
		o := &s.legs[k].Offers[s.cur[k]]
		if o.Origin != OfferTransfer || o.exit == exitFree || s.t.transfers[o.xfer].cond.group != c.group {
			continue
		}
		a, b := s.eff[k].start, s.eff[e].start
		if c.windowS == 0 || a < 0 || b < 0 || int64(b-a) <= c.windowS {
			return false
		}
	}
	return true
}

// originExplained is what explainExit returns when it wrote the offer's
// explanation: no case of Explanation's switch matches it.
const originExplained OfferOrigin = 255

// explainExit writes the explanation of an offer a metro rule changed and
// returns originExplained; for any other offer it writes nothing and
// returns the offer's origin, for Explanation's switch.
func (q *Quote) explainExit(b *strings.Builder, lq *LegQuote, o *Offer) OfferOrigin {
	if o.exit == exitNone {
		return o.Origin
	}
	t := q.t
	r := t.metro.of(lq.net)
	name := t.products[o.product].name
	if name == "" {
		name = o.FareProductID
	}
	stay := q.stayOf(lq)
	switch o.exit {
	case exitFree:
		fmt.Fprintf(b, "exit at the entry station %s after %v, within the %d free minutes of fare_networks.txt line %d: nothing to pay",
			t.stopName(lq.to), stay, r.sameFreeS/60, r.line)
		if o.Origin == OfferTransfer {
			fmt.Fprintf(b, " (the leg continues the journey from leg %d)", o.RequiresLeg)
		}
		return originExplained
	case exitSameStation:
		fmt.Fprintf(b, "exit at the entry station %s", t.stopName(lq.to))
		if r.sameFreeS >= 0 {
			fmt.Fprintf(b, " after %v, past the %d free minutes", stay, r.sameFreeS/60)
		}
		fmt.Fprintf(b, ": the same-station fare %s (%s) of fare_networks.txt line %d", name, o.FareProductID, r.line)
	case exitOvertime:
		fmt.Fprintf(b, "%v in the paid area, over the %d min limit of fare_networks.txt line %d: the network's maximum fare %s (%s)",
			stay, r.overtimeS/60, r.line, name, o.FareProductID)
	}
	if o.pct != 100 {
		fmt.Fprintf(b, ", rider category %s pays %d%%", t.cats[q.cat].id, o.pct)
	}
	fmt.Fprintf(b, ": %s", t.FormatAmount(o.AmountFen))
	return originExplained
}

// explainMetro writes what the metro rules add to a leg's explanation:
// the overtime surcharge, and the conditions of the transfer discount the
// leg took.
func (q *Quote) explainMetro(b *strings.Builder, lq *LegQuote, o *Offer) {
	t := q.t
	if o.Origin == OfferTransfer {
		c := &t.transfers[o.xfer].cond
		if c.minFromFen > 0 {
			fmt.Fprintf(b, " (leg %d paid at least %s)", o.RequiresLeg, t.FormatAmount(c.minFromFen))
		}
		if c.group > 0 {
			fmt.Fprintf(b, " (the journey's one transfer of discount group %s", t.metro.groups.list[c.group-1])
			if c.windowS > 0 {
				fmt.Fprintf(b, " in %d min", c.windowS/60)
			}
			b.WriteString(")")
		}
	}
	if lq.OvertimeFen() > 0 {
		r := t.metro.of(lq.net)
		p := &t.products[r.overtimeProd]
		name := p.name
		if name == "" {
			name = p.id
		}
		fmt.Fprintf(b, "; %v in the paid area, over the %d min limit of fare_networks.txt line %d: overtime surcharge %s (%s) %s on top, not capped",
			q.stayOf(lq), r.overtimeS/60, r.line, name, p.id, t.FormatAmount(lq.OvertimeFen()))
	}
}

func (t *Table) stopName(s int32) string {
	if s < 0 {
		return "?"
	}
	return t.stops.list[s]
}
